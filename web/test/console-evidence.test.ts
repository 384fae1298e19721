import { describe, expect, it } from 'vitest';
import { defaultPeriod, evidenceFileName, periodProblem } from '../src/console/evidence';

describe('evidence period', () => {
  it('defaults to the 12 months up to today, in UTC', () => {
    expect(defaultPeriod(new Date('2026-12-05T23:30:00Z'))).toEqual({ from: '2025-12-05', to: '2026-12-05' });
    expect(defaultPeriod(new Date('2028-02-29T08:00:00Z'))).toEqual({ from: '2027-03-01', to: '2028-02-29' });
  });
  it('refuses an empty or reversed period', () => {
    expect(periodProblem('2026-01-01', '2026-12-31')).toBe('');
    expect(periodProblem('2026-01-01', '2026-01-01')).toBe('');
    expect(periodProblem('', '2026-12-31')).toBe('missing');
    expect(periodProblem('2026-12-31', '2026-01-01')).toBe('reversed');
  });
  it('names the file after the town and the period', () => {
    expect(evidenceFileName('mairie-c', '2025-12-05', '2026-12-05', 'csv')).toBe('evidence-mairie-c-2025-12-05-2026-12-05.csv');
  });
});
