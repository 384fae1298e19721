// Words and times of the console in the reader's language.
import { getLang } from '../i18n';
import { ct, type ConsoleKey } from '../i18n/console';
import { HttpError } from './api';
import { ageParts } from './status';

export function roleText(role?: string): string {
  return role ? ct(`role_${role}` as ConsoleKey) : '';
}

/** What a failed call means for a person. */
export function failureText(e: unknown): string {
  if (e instanceof HttpError) return e.message;
  if (e instanceof TypeError) return ct('c_network');
  return e instanceof Error ? e.message : String(e);
}

/** A date and time, in the reader's language. */
export function when(iso?: string): string {
  return iso ? whenIn(iso, undefined, getLang()) : ct('c_never');
}

/** A date and time in a time zone (the browser's when none, or an unknown one), in a language. */
export function whenIn(iso: string, timeZone: string | undefined, lang: string): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  const opts: Intl.DateTimeFormatOptions = { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' };
  const locale = lang === 'fr' ? 'fr-FR' : 'en-GB';
  try {
    return d.toLocaleString(locale, timeZone ? { ...opts, timeZone } : opts);
  } catch {
    return d.toLocaleString(locale, opts);
  }
}

/** A duration in seconds ("3 h 20 min"). */
export function age(seconds: number): string {
  const [k, v] = ageParts(seconds);
  return ct(k, v);
}
