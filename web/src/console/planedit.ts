// The plan editor's state (pure of the DOM: tested in
// test/console-planedit.test.ts). The text is the plan file being edited;
// the base is the saved version it starts from. Each edit is checked by
// the server (POST plan/check, nothing saved) after a short pause; only
// the answer to the latest text counts, and the graph is drawn from the
// latest valid answer. Saving PUTs the text with the base version: if
// someone saved meanwhile (409) the editor keeps the text and says who
// saved what, and "reload" takes the latest version (the text that was
// being edited stays readable, to copy from).
import { HttpError, type PlanCheck, type PlanVersion } from './api';
import { orderGraph, type GraphInput } from './graph';

export interface EditorDeps {
  check(yaml: string): Promise<PlanCheck>;
  save(baseVersion: number, yaml: string, note: string): Promise<PlanVersion>;
  /** The latest version with its YAML; undefined when there is none. */
  latest(): Promise<PlanVersion | undefined>;
  /** Every version, newest first (to say who saved what on a conflict). */
  versions(): Promise<PlanVersion[]>;
}

export interface Base {
  version: number; // 0: no plan yet
  yaml: string;
}

export type Phase = 'idle' | 'checking' | 'saving';

export class PlanEditorModel {
  base: Base;
  text: string;
  /** The answer to the latest check of the current text (undefined while it runs). */
  check?: PlanCheck;
  /** The latest valid answer (what the graph shows). */
  lastValid?: PlanCheck;
  phase: Phase = 'idle';
  /** A save was refused because another version was saved meanwhile. */
  conflict?: { message: string; latest?: PlanVersion };
  /** The text that was being edited when "reload" replaced it. */
  discarded?: string;
  /** The answer of the last successful save. */
  saved?: PlanVersion;
  error = '';

  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> = Promise.resolve();
  private listeners = new Set<() => void>();

  constructor(
    private deps: EditorDeps,
    base: Base,
    private delay = 400,
  ) {
    this.base = base;
    this.text = base.yaml;
  }

  /** The text differs from the saved version's. */
  get dirty(): boolean {
    return this.text !== this.base.yaml;
  }

  /** Save is possible: changed, checked valid, not busy. */
  get canSave(): boolean {
    return this.dirty && this.phase === 'idle' && this.check?.valid === true;
  }

  /** The lines (1-based) with an error. */
  get errorLines(): Set<number> {
    return new Set((this.check?.errors ?? []).map((e) => e.line ?? 0).filter((l) => l > 0));
  }

  /** The graph of the latest valid text (undefined before one). */
  get graph(): GraphInput | undefined {
    const c = this.lastValid;
    if (!c?.valid) return undefined;
    return orderGraph({ waves: c.waves ?? [], unordered: c.unordered, problems: c.problems ?? [] }, c.plan?.services);
  }

  /** Does the graph show an earlier text than the current one? */
  get graphStale(): boolean {
    return this.check !== undefined && !this.check.valid && this.lastValid !== undefined;
  }

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private emit() {
    for (const f of this.listeners) f();
  }

  /** The text was edited: check it after a pause. */
  edit(text: string): void {
    if (text === this.text) return;
    this.text = text;
    this.saved = undefined;
    this.error = '';
    this.schedule();
    this.emit();
  }

  private schedule() {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.check = undefined;
    this.seq++;
    if (this.phase === 'idle') this.phase = 'checking';
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runCheck();
    }, this.delay);
  }

  /** Checks the current text now. */
  runCheck(): Promise<void> {
    const my = ++this.seq;
    const text = this.text;
    if (this.phase === 'idle') this.phase = 'checking';
    this.emit();
    const p = this.deps.check(text).then(
      (r) => {
        if (my !== this.seq || text !== this.text) return; // a newer text is being checked
        this.check = r;
        if (r.valid) this.lastValid = r;
        if (this.phase === 'checking') this.phase = 'idle';
        this.emit();
      },
      (e: unknown) => {
        if (my !== this.seq) return;
        this.error = e instanceof Error ? e.message : String(e);
        if (this.phase === 'checking') this.phase = 'idle';
        this.emit();
        if (!(e instanceof HttpError)) throw e;
      },
    );
    this.running = p.catch(() => undefined);
    return p;
  }

  /** Resolves once no check is waiting or running. */
  async idle(): Promise<void> {
    for (;;) {
      if (this.timer !== undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
        await this.runCheck().catch(() => undefined);
        continue;
      }
      const r = this.running;
      await r;
      if (r === this.running && this.timer === undefined) return;
    }
  }

  /** Saves the text as a new version from the base version. */
  async save(note: string): Promise<void> {
    await this.idle();
    if (!this.dirty || this.phase !== 'idle') return;
    this.phase = 'saving';
    this.error = '';
    this.conflict = undefined;
    this.emit();
    try {
      const text = this.text;
      const v = await this.deps.save(this.base.version, text, note.trim());
      this.base = { version: v.version, yaml: text };
      this.saved = v;
      this.discarded = undefined;
    } catch (e) {
      if (e instanceof HttpError && e.status === 409) {
        this.conflict = { message: e.message };
        try {
          this.conflict.latest = (await this.deps.versions())[0];
        } catch {
          /* the message says who saved it already */
        }
      } else {
        this.error = e instanceof Error ? e.message : String(e);
      }
    } finally {
      this.phase = 'idle';
      this.emit();
    }
  }

  /** Takes the latest saved version; the edited text is kept aside. */
  async reload(): Promise<void> {
    const v = await this.deps.latest();
    if (this.dirty) this.discarded = this.text;
    this.base = { version: v?.version ?? 0, yaml: v?.yaml ?? '' };
    this.text = this.base.yaml;
    this.conflict = undefined;
    this.saved = undefined;
    this.error = '';
    this.emit();
    if (this.text) await this.runCheck();
  }

  /** Replaces the text (e.g. with the example), checked at once. */
  async replace(text: string): Promise<void> {
    this.text = text;
    this.saved = undefined;
    this.emit();
    await this.runCheck();
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.listeners.clear();
  }
}

/** A diff in one line per kind, for people ("added: a, b"). */
export function diffLines(d?: { added: string[]; removed: string[]; changed: { id: string; fields: string[] }[]; plan?: string[] }): {
  added: string[];
  removed: string[];
  changed: string[];
  plan: string[];
} {
  return {
    added: d?.added ?? [],
    removed: d?.removed ?? [],
    changed: (d?.changed ?? []).map((c) => `${c.id} (${c.fields.join(', ')})`),
    plan: d?.plan ?? [],
  };
}
