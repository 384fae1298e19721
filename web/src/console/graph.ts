// Layout of a plan's dependency graph (pure: tested in
// test/console-graph.test.ts): one column per recovery wave, left to
// right, then a last column for the services that cannot be placed (a
// dependency cycle); in a column, services in recovery order. An edge
// goes from a dependency to the service that needs it; an edge that does
// not go rightwards (inside a cycle) bends around the right side.

export interface GraphService {
  id: string;
  name: string;
  dependsOn: string[];
}

export interface GraphInput {
  /** Services of each wave, in recovery order. */
  waves: GraphService[][];
  /** Services that cannot be placed. */
  unordered: GraphService[];
  /** IDs of services with a problem (drawn flagged). */
  flagged?: Set<string>;
}

export interface GraphNode {
  id: string;
  name: string;
  column: number; // 0-based; waves.length for the unordered
  row: number;
  x: number;
  y: number;
  w: number;
  h: number;
  flagged: boolean;
  unordered: boolean;
}

export interface GraphEdge {
  from: string; // the dependency
  to: string; // the service that depends on it
  d: string; // SVG path
  back: boolean; // does not go rightwards (a cycle)
}

export interface GraphColumn {
  x: number;
  wave: number; // 1-based; 0 for the unordered
}

export interface GraphLayout {
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  columns: GraphColumn[];
}

export const NODE_W = 180;
export const NODE_H = 56;
const COL_GAP = 64;
const ROW_GAP = 20;
const PAD = 16;
const HEADER = 32; // the column's title
const BEND = 36; // how far a back edge goes right of its column

export function layoutGraph(input: GraphInput): GraphLayout {
  const cols = [...input.waves];
  if (input.unordered.length > 0) cols.push(input.unordered);
  const nodes: GraphNode[] = [];
  const byId = new Map<string, GraphNode>();
  const columns: GraphColumn[] = [];
  let rows = 0;
  cols.forEach((services, c) => {
    const x = PAD + c * (NODE_W + COL_GAP);
    const unordered = c >= input.waves.length;
    columns.push({ x, wave: unordered ? 0 : c + 1 });
    services.forEach((s, r) => {
      if (byId.has(s.id)) return; // a service is drawn once
      const n: GraphNode = {
        id: s.id,
        name: s.name || s.id,
        column: c,
        row: r,
        x,
        y: PAD + HEADER + r * (NODE_H + ROW_GAP),
        w: NODE_W,
        h: NODE_H,
        flagged: input.flagged?.has(s.id) ?? false,
        unordered,
      };
      nodes.push(n);
      byId.set(s.id, n);
    });
    rows = Math.max(rows, services.length);
  });
  const edges: GraphEdge[] = [];
  for (const services of cols) {
    for (const s of services) {
      const to = byId.get(s.id);
      if (!to) continue;
      for (const dep of new Set(s.dependsOn)) {
        const from = byId.get(dep);
        if (!from) continue; // an unknown dependency: reported as a problem, not drawn
        edges.push(edgeBetween(from, to));
      }
    }
  }
  const hasBack = edges.some((e) => e.back);
  const width = PAD * 2 + Math.max(1, cols.length) * NODE_W + Math.max(0, cols.length - 1) * COL_GAP + (hasBack ? BEND : 0);
  const height = PAD * 2 + HEADER + Math.max(1, rows) * NODE_H + Math.max(0, rows - 1) * ROW_GAP;
  return { width, height, nodes, edges, columns };
}

function edgeBetween(from: GraphNode, to: GraphNode): GraphEdge {
  if (from.column < to.column) {
    const x1 = from.x + from.w;
    const y1 = from.y + from.h / 2;
    const x2 = to.x;
    const y2 = to.y + to.h / 2;
    const mid = (x1 + x2) / 2;
    return { from: from.id, to: to.id, back: false, d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` };
  }
  // Same column (a cycle) or backwards: around the right side, into the
  // target's right edge, a little above or below the middle so that a
  // pair of opposite edges do not overlap.
  const x1 = from.x + from.w;
  const x2 = to.x + to.w;
  const y1 = from.y + from.h / 2 + (from.row < to.row ? 8 : -8);
  const y2 = to.y + to.h / 2 + (from.row < to.row ? -8 : 8);
  const bx = Math.max(x1, x2) + BEND;
  return { from: from.id, to: to.id, back: true, d: `M${x1},${y1} C${bx},${y1} ${bx},${y2} ${x2},${y2}` };
}

/** Cuts a label to max characters, with an ellipsis. */
export function fit(label: string, max: number): string {
  const chars = [...label];
  return chars.length <= max ? label : chars.slice(0, max - 1).join('') + '…';
}

/** What the graph needs of a recovery order (GET plan/order, POST plan/check). */
export interface OrderLike {
  waves: { services: { id: string; name?: string; depends_on?: string[] }[] }[];
  unordered?: string[];
  problems: { service?: string }[];
}

/** The graph's input from a recovery order and the plan's services (for the unordered ones). */
export function orderGraph(order: OrderLike, planServices?: { id: string; name?: string; depends_on?: string[] }[]): GraphInput {
  const services = new Map((planServices ?? []).map((s) => [s.id, s]));
  const waves: GraphService[][] = order.waves.map((w) => w.services.map((s) => ({ id: s.id, name: s.name || s.id, dependsOn: s.depends_on ?? [] })));
  const unordered: GraphService[] = (order.unordered ?? []).map((id) => {
    const s = services.get(id);
    return { id, name: s?.name || id, dependsOn: s?.depends_on ?? [] };
  });
  const flagged = new Set<string>();
  for (const p of order.problems) if (p.service) flagged.add(p.service);
  return { waves, unordered, flagged };
}
