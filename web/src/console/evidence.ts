// The evidence report's period and file name (docs/evidence.md), and saving
// a fetched file from a blob URL (the API needs the token: no plain link).

/** A date as the date input and the API read it (YYYY-MM-DD, UTC). */
export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** The default period: the 12 months up to today (the server's default too). */
export function defaultPeriod(now: Date): { from: string; to: string } {
  const from = new Date(now.getTime());
  from.setUTCFullYear(from.getUTCFullYear() - 1);
  return { from: isoDay(from), to: isoDay(now) };
}

/** Why a period cannot be asked for, or '' when it can. */
export function periodProblem(from: string, to: string): 'missing' | 'reversed' | '' {
  const day = /^\d{4}-\d{2}-\d{2}$/;
  if (!day.test(from) || !day.test(to)) return 'missing';
  return from > to ? 'reversed' : '';
}

export function evidenceFileName(town: string, from: string, to: string, format: 'pdf' | 'csv'): string {
  return `evidence-${town}-${from}-${to}.${format}`;
}

/** Saves a blob under a file name through a temporary link. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
