// The dependency graph drawn in SVG (layout: graph.ts). Each service is a
// focusable node that says, when read, its wave and what it depends on.
import { useId } from 'preact/hooks';
import { ct } from '../i18n/console';
import { fit, layoutGraph, type GraphInput } from './graph';

export function DependencyGraph(props: { town: string; input: GraphInput }) {
  const g = layoutGraph(props.input);
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const deps = new Map<string, string[]>();
  for (const e of g.edges) deps.set(e.to, [...(deps.get(e.to) ?? []), byId.get(e.from)?.name ?? e.from]);
  const waves = props.input.waves.length;
  const label = ct('c_graph_label', { town: props.town, n: g.nodes.length, w: waves });
  // The arrow heads' ids, unique on the page (the editor's preview and the town's graph show together).
  const arrow = `arrow-${useId()}`;
  return (
    <div class="graph-scroll" data-testid="plan-graph-box">
      <svg
        class="plan-graph"
        data-testid="plan-graph"
        data-nodes={g.nodes.length}
        data-edges={g.edges.length}
        viewBox={`0 0 ${g.width} ${g.height}`}
        width={g.width}
        height={g.height}
        role="group"
        aria-label={label}
      >
        <defs>
          <marker id={arrow} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
          </marker>
          <marker id={`${arrow}-bad`} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow-head bad" />
          </marker>
        </defs>
        {g.columns.map((c) => (
          <text key={c.x} x={c.x} y={28} class="col-title">
            {c.wave ? ct('c_wave', { n: c.wave }) : ct('c_unordered')}
          </text>
        ))}
        {g.edges.map((e) => (
          <path
            key={`${e.from}>${e.to}`}
            d={e.d}
            class={e.back ? 'edge back' : 'edge'}
            marker-end={e.back ? `url(#${arrow}-bad)` : `url(#${arrow})`}
            data-testid="graph-edge"
            data-from={e.from}
            data-to={e.to}
          />
        ))}
        {g.nodes.map((n) => {
          const d = deps.get(n.id);
          const where = n.unordered ? ct('c_unordered') : ct('c_wave', { n: n.column + 1 });
          return (
            <g
              key={n.id}
              class={`node${n.flagged ? ' flagged' : ''}${n.unordered ? ' unordered' : ''}`}
              transform={`translate(${n.x},${n.y})`}
              // lowercase: on an SVG element, Preact sets the attribute as written ("tabIndex" would not make it focusable)
              tabindex={0}
              role="img"
              aria-label={`${n.name} (${n.id}), ${where}${d ? ', ' + ct('c_depends_on', { list: d.join(', ') }) : ''}${n.flagged ? ', ' + ct('c_a11y_flagged') : ''}`}
              data-testid="graph-node"
              data-service={n.id}
              data-flagged={n.flagged ? 'true' : 'false'}
              data-column={n.column}
            >
              <title>{`${n.name} (${n.id})`}</title>
              <rect width={n.w} height={n.h} rx="8" ry="8" />
              <text x="10" y="23" class="node-name">
                {fit(n.name, 19)}
              </text>
              <text x="10" y="44" class="node-id">
                {fit(n.id, 22)}
                {n.flagged ? ' ⚠' : ''}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
