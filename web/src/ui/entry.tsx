// Pieces shared by the tabs: the verification badge, the message for an
// entry this device cannot read, and the "show more" limiter.
import { useState } from 'preact/hooks';
import { keyMessage } from '../crypto/verify';
import { problemText, t } from '../i18n';
import type { Item } from '../protocol/room';

export function Badge(props: { it: Item }) {
  const c = props.it.check;
  const why = [...c.problems, ...c.warnings].map(problemText).join(' ; ');
  return c.verified ? (
    <span class="badge good" title={`${t('verified')}${why ? ' — ' + why : ''}\n${props.it.hash}`} aria-label={t('verified')}>
      ✔
    </span>
  ) : (
    <span class="badge bad" title={why} aria-label={t('not_verified')}>
      ✘ {t('not_verified')}
    </span>
  );
}

/** Problems of an entry (failed check) or why it cannot be read. */
export function EntryTrouble(props: { it: Item }) {
  const c = props.it.check;
  if (!c.verified) {
    return (
      <p class="trouble" data-testid="decrypt-error">
        {c.problems.map(problemText).join(' ; ')}
      </p>
    );
  }
  if (props.it.content === undefined) {
    return (
      <p class="trouble" data-testid="decrypt-error" data-key={c.key}>
        {c.key === 'missing' || c.key === 'before' || c.key === 'failed'
          ? t(`key_${c.key}`, { name: props.it.authorName })
          : keyMessage(c, props.it.authorName)}
      </p>
    );
  }
  if (props.it.content === null) return <p class="trouble">{t('newer_version')}</p>;
  return null;
}

/** Shows the last `step` items, with a button for more (10,000 entries must stay fast). */
export function useLimit<T>(list: T[], step = 500): [T[], () => void, number] {
  const [n, setN] = useState(step);
  const shown = list.length > n ? list.slice(list.length - n) : list;
  return [shown, () => setN(n + step), Math.max(0, list.length - n)];
}

export function ShowMore(props: { hidden: number; more(): void }) {
  if (props.hidden <= 0) return null;
  return (
    <button type="button" class="more" onClick={props.more}>
      {t('show_more', { n: Math.min(500, props.hidden) })}
    </button>
  );
}

/** datetime-local value (local time) to RFC 3339 UTC with milliseconds. */
export function localToIso(v: string): string {
  if (!v) return '';
  const d = new Date(v);
  return isNaN(d.getTime()) ? '' : d.toISOString();
}

export function nowLocalInput(): string {
  const d = new Date();
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}
