// The call's media encryption currently open on this page, for the test
// hook (window.__rempartCrisis.media()): counters only, no key.
export interface MediaStatsSource {
  refreshStats(): Promise<unknown>;
}

let current: MediaStatsSource | undefined;

/** Sets (m) or clears (undefined, only if `was` is still current) the current media encryption. */
export function setCurrentMedia(m: MediaStatsSource | undefined, was?: MediaStatsSource): void {
  if (m) current = m;
  else if (!was || current === was) current = undefined;
}

export function currentMediaStats(): Promise<unknown> {
  return current ? current.refreshStats() : Promise.resolve(null);
}
