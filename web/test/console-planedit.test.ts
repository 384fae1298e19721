// The plan editor's state (src/console/planedit.ts): dirty state, checks
// (only the latest text's answer counts), the graph redrawn from the
// edited text, saving with the base version and a conflict.
import { describe, expect, it } from 'vitest';
import { HttpError, type PlanCheck, type PlanVersion } from '../src/console/api';
import { diffLines, PlanEditorModel, type EditorDeps } from '../src/console/planedit';

const V1 = 'format: 1\nservices:\n  - id: annuaire\n';

/** A fake server: a check "parses" lines `  - id: X` (deps with `needs: Y`) and flags `typo` on its line. */
function fakeServer() {
  const calls: string[] = [];
  let version = 1;
  let latestYaml = V1;
  let by = 'account:dsi';
  const resolvers: (() => void)[] = [];
  let hold = false;
  const deps: EditorDeps = {
    async check(yaml) {
      calls.push(`check ${yaml.length}`);
      if (hold) await new Promise<void>((r) => resolvers.push(r));
      const lines = yaml.split('\n');
      const bad = lines.findIndex((l) => l.includes('typo'));
      if (bad >= 0) return { valid: false, errors: [{ line: bad + 1, message: `line ${bad + 1}: unknown field` }], current_version: version } as PlanCheck;
      const services: { id: string; depends_on: string[] }[] = [];
      for (const l of lines) {
        const m = /- id: (\S+)(?: needs: (\S+))?/.exec(l);
        if (m) services.push({ id: m[1], depends_on: m[2] ? [m[2]] : [] });
      }
      const first = services.filter((s) => s.depends_on.length === 0);
      const second = services.filter((s) => s.depends_on.length > 0);
      const waves = [first, second].filter((w) => w.length).map((w, i) => ({ number: i + 1, services: w.map((s, j) => ({ position: j + 1, id: s.id, name: s.id, criticality: 'vital', rto: '4h', rpo: '1d', depends_on: s.depends_on })) }));
      return { valid: true, errors: [], current_version: version, plan: { services }, waves, unordered: [], problems: [] };
    },
    async save(base, yaml, note) {
      calls.push(`save ${base} ${note}`);
      if (base !== version) throw new HttpError(409, `the plan changed meanwhile: version ${version} was saved by ${by}`);
      version++;
      latestYaml = yaml;
      return { version, created: '', changes: { added: ['paie'], removed: [], changed: [] } } as PlanVersion;
    },
    async latest() {
      return { version, created: '', yaml: latestYaml };
    },
    async versions() {
      return [{ version, created: '', created_by: by, changes: { added: [], removed: [], changed: [{ id: 'annuaire', fields: ['rto'] }] } }];
    },
  };
  return {
    deps,
    calls,
    otherSaves(yaml: string) {
      version++;
      latestYaml = yaml;
      by = 'account:operator';
    },
    hold(on: boolean) {
      hold = on;
      if (!on) for (const r of resolvers.splice(0)) r();
    },
  };
}

describe('plan editor state', () => {
  it('is dirty once edited, clean again when the text is the saved one', async () => {
    const srv = fakeServer();
    const m = new PlanEditorModel(srv.deps, { version: 1, yaml: V1 }, 0);
    expect(m.dirty).toBe(false);
    expect(m.canSave).toBe(false);
    m.edit(V1 + '  - id: paie needs: annuaire\n');
    expect(m.dirty).toBe(true);
    expect(m.canSave).toBe(false); // not checked yet
    await m.idle();
    expect(m.check?.valid).toBe(true);
    expect(m.canSave).toBe(true);
    m.edit(V1);
    expect(m.dirty).toBe(false);
    m.dispose();
  });

  it('redraws the graph from the edited text, keeps the last valid graph while the text has an error', async () => {
    const srv = fakeServer();
    const m = new PlanEditorModel(srv.deps, { version: 1, yaml: V1 }, 0);
    await m.runCheck();
    expect(m.graph?.waves.map((w) => w.map((s) => s.id))).toEqual([['annuaire']]);
    m.edit(V1 + '  - id: paie needs: annuaire\n');
    await m.idle();
    expect(m.graph?.waves.map((w) => w.map((s) => s.id))).toEqual([['annuaire'], ['paie']]);
    expect(m.graph?.waves[1][0].dependsOn).toEqual(['annuaire']);
    // A typo: its line is flagged, saving is off, the graph is the last valid one.
    m.edit(V1 + '  - id: paie needs: annuaire\n    typo: x\n');
    await m.idle();
    expect(m.check?.valid).toBe(false);
    expect([...m.errorLines]).toEqual([5]);
    expect(m.canSave).toBe(false);
    expect(m.graphStale).toBe(true);
    expect(m.graph?.waves.flat().map((s) => s.id)).toEqual(['annuaire', 'paie']);
    // Fixed: a new service appears.
    m.edit(V1 + '  - id: paie needs: annuaire\n  - id: eau\n');
    await m.idle();
    expect(m.graphStale).toBe(false);
    expect(m.errorLines.size).toBe(0);
    expect(m.graph?.waves[0].map((s) => s.id)).toEqual(['annuaire', 'eau']);
    m.dispose();
  });

  it('uses only the answer to the latest text', async () => {
    const srv = fakeServer();
    const m = new PlanEditorModel(srv.deps, { version: 1, yaml: V1 }, 0);
    srv.hold(true);
    const first = m.runCheck(); // V1, held
    m.edit(V1 + '  - id: paie needs: annuaire\n    typo: x\n');
    const done = m.idle();
    await new Promise((r) => setTimeout(r, 5));
    srv.hold(false);
    await first;
    await done;
    // The first (older) answer was dropped: the check is the typo's.
    expect(m.check?.valid).toBe(false);
    expect(m.phase).toBe('idle');
    m.dispose();
  });

  it('saves from the base version, then the saved text is the base', async () => {
    const srv = fakeServer();
    const m = new PlanEditorModel(srv.deps, { version: 1, yaml: V1 }, 0);
    const next = V1 + '  - id: paie needs: annuaire\n';
    m.edit(next);
    await m.save('payroll added');
    expect(srv.calls).toContain('save 1 payroll added');
    expect(m.base).toEqual({ version: 2, yaml: next });
    expect(m.dirty).toBe(false);
    expect(diffLines(m.saved?.changes).added).toEqual(['paie']);
    m.dispose();
  });

  it('on a conflict keeps the text, says who saved what, and reloads on demand', async () => {
    const srv = fakeServer();
    const m = new PlanEditorModel(srv.deps, { version: 1, yaml: V1 }, 0);
    srv.otherSaves(V1 + '  - id: eau\n');
    const mine = V1 + '  - id: paie needs: annuaire\n';
    m.edit(mine);
    await m.save('mine');
    expect(m.conflict?.message).toMatch(/version 2 was saved by account:operator/);
    expect(m.conflict?.latest?.created_by).toBe('account:operator');
    expect(diffLines(m.conflict?.latest?.changes).changed).toEqual(['annuaire (rto)']);
    expect(m.text).toBe(mine);
    expect(m.dirty).toBe(true);
    expect(m.base.version).toBe(1);
    await m.reload();
    expect(m.conflict).toBeUndefined();
    expect(m.base).toEqual({ version: 2, yaml: V1 + '  - id: eau\n' });
    expect(m.text).toBe(m.base.yaml);
    expect(m.discarded).toBe(mine);
    expect(m.graph?.waves[0].map((s) => s.id)).toEqual(['annuaire', 'eau']);
    // Saving from the reloaded version works.
    m.edit(m.text + '  - id: paie needs: annuaire\n');
    await m.save('again');
    expect(m.base.version).toBe(3);
    m.dispose();
  });
});
