// The dependency graph's layout (src/console/graph.ts).
import { describe, expect, it } from 'vitest';
import { fit, layoutGraph, NODE_H, NODE_W, type GraphService } from '../src/console/graph';
import { graphInput } from '../src/console/town';

const s = (id: string, ...dependsOn: string[]): GraphService => ({ id, name: id.toUpperCase(), dependsOn });

function overlaps(a: { x: number; y: number; w: number; h: number }, b: { x: number; y: number; w: number; h: number }) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

describe('graph layout', () => {
  // The small town of the documentation: 7 services in 3 waves.
  const waves = [
    [s('eau'), s('annuaire'), s('site-web')],
    [s('etat-civil', 'annuaire'), s('messagerie', 'annuaire'), s('fichiers', 'annuaire')],
    [s('paie', 'annuaire', 'fichiers')],
  ];

  it('draws one node per service, one column per wave, in recovery order', () => {
    const g = layoutGraph({ waves, unordered: [], flagged: new Set(['paie']) });
    expect(g.nodes.map((n) => n.id)).toEqual(['eau', 'annuaire', 'site-web', 'etat-civil', 'messagerie', 'fichiers', 'paie']);
    expect(g.nodes.map((n) => n.column)).toEqual([0, 0, 0, 1, 1, 1, 2]);
    expect(g.columns.map((c) => c.wave)).toEqual([1, 2, 3]);
    // Columns go right, rows go down, nothing overlaps, everything fits.
    const byId = new Map(g.nodes.map((n) => [n.id, n]));
    expect(byId.get('etat-civil')!.x).toBeGreaterThan(byId.get('annuaire')!.x + NODE_W);
    expect(byId.get('annuaire')!.y).toBeGreaterThan(byId.get('eau')!.y + NODE_H - 1);
    for (const a of g.nodes) {
      expect(a.x + a.w).toBeLessThanOrEqual(g.width);
      expect(a.y + a.h).toBeLessThanOrEqual(g.height);
      for (const b of g.nodes) if (a !== b) expect(overlaps(a, b), `${a.id} / ${b.id}`).toBe(false);
    }
    expect(g.nodes.filter((n) => n.flagged).map((n) => n.id)).toEqual(['paie']);
  });

  it('draws an arrow from each dependency to the service that needs it', () => {
    const g = layoutGraph({ waves, unordered: [] });
    expect(g.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(
      ['annuaire>etat-civil', 'annuaire>messagerie', 'annuaire>fichiers', 'annuaire>paie', 'fichiers>paie'].sort(),
    );
    expect(g.edges.every((e) => !e.back)).toBe(true);
    const e = g.edges.find((x) => x.from === 'fichiers' && x.to === 'paie')!;
    const f = g.nodes.find((n) => n.id === 'fichiers')!;
    const p = g.nodes.find((n) => n.id === 'paie')!;
    // From the right side of fichiers to the left side of paie.
    expect(e.d.startsWith(`M${f.x + f.w},${f.y + f.h / 2} `)).toBe(true);
    expect(e.d.endsWith(` ${p.x},${p.y + p.h / 2}`)).toBe(true);
  });

  it('puts services caught in a cycle in a last column, with back edges, and skips unknown dependencies', () => {
    const g = layoutGraph({
      waves: [[s('annuaire')]],
      unordered: [s('fichiers', 'annuaire', 'paie'), s('paie', 'fichiers', 'nowhere')],
    });
    expect(g.columns.map((c) => c.wave)).toEqual([1, 0]);
    expect(g.nodes.filter((n) => n.unordered).map((n) => `${n.id}@${n.column}`)).toEqual(['fichiers@1', 'paie@1']);
    const edges = Object.fromEntries(g.edges.map((e) => [`${e.from}>${e.to}`, e.back]));
    expect(edges).toEqual({ 'annuaire>fichiers': false, 'paie>fichiers': true, 'fichiers>paie': true });
    // Back edges bend right of their column: the picture is wider.
    expect(g.width).toBeGreaterThan(2 * NODE_W);
  });

  it('is an empty picture for a plan without services', () => {
    const g = layoutGraph({ waves: [], unordered: [] });
    expect(g.nodes).toEqual([]);
    expect(g.edges).toEqual([]);
    expect(g.width).toBeGreaterThan(0);
  });

  it('builds its input from the recovery order and the plan', () => {
    const input = graphInput(
      {
        tenant: 't',
        version: 2,
        waves: [{ number: 1, services: [{ position: 1, id: 'annuaire', name: 'Directory', criticality: 'essential', rto: '4h', rpo: '1d' }] }],
        unordered: ['fichiers', 'paie'],
        problems: [{ kind: 'dependency_cycle', severity: 'error', service: 'fichiers', cycle: ['fichiers', 'paie', 'fichiers'], message: 'cycle' }],
      },
      { version: 2, created: '', plan: { services: [{ id: 'annuaire' }, { id: 'fichiers', name: 'Files', depends_on: ['paie'] }, { id: 'paie', depends_on: ['fichiers'] }] } },
    );
    expect(input.waves[0][0]).toEqual({ id: 'annuaire', name: 'Directory', dependsOn: [] });
    expect(input.unordered).toEqual([
      { id: 'fichiers', name: 'Files', dependsOn: ['paie'] },
      { id: 'paie', name: 'paie', dependsOn: ['fichiers'] },
    ]);
    expect([...input.flagged!]).toEqual(['fichiers']);
  });

  it('cuts long names', () => {
    expect(fit('Civil registry (état civil)', 12)).toBe('Civil regis…');
    expect(fit('Payroll', 12)).toBe('Payroll');
  });
});
