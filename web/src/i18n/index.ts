// Language: from the browser, switchable, remembered on this device.
import { useEffect, useState } from 'preact/hooks';
import { en, fr, type Key } from './dict';

export type Lang = 'fr' | 'en';
const dicts = { fr, en };
const listeners = new Set<() => void>();

function initial(): Lang {
  try {
    const saved = globalThis.localStorage?.getItem('rempart-lang');
    if (saved === 'fr' || saved === 'en') return saved;
  } catch {
    /* storage refused: use the browser's language */
  }
  const nav = (globalThis.navigator?.language ?? 'fr').toLowerCase();
  return nav.startsWith('fr') ? 'fr' : 'en';
}

let lang: Lang = initial();

export function getLang(): Lang {
  return lang;
}

export function setLang(l: Lang): void {
  lang = l;
  try {
    globalThis.localStorage?.setItem('rempart-lang', l);
  } catch {
    /* not remembered: fine */
  }
  if (globalThis.document) document.documentElement.lang = l;
  for (const f of listeners) f();
}

/** Translates a key, replacing {name} placeholders. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const s = dicts[lang][key] ?? en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k: string) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** Re-renders the calling component when the language changes. */
export function useLang(): Lang {
  const [, set] = useState(0);
  useEffect(() => {
    const f = () => set((n) => n + 1);
    listeners.add(f);
    return () => {
      listeners.delete(f);
    };
  }, []);
  return lang;
}

export function formatTime(iso: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  return d.toLocaleString(lang === 'fr' ? 'fr-FR' : 'en-GB', {
    day: '2-digit',
    month: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** A verification finding in the reader's language. */
export function problemText(p: { code: string; v: Record<string, string | number> }): string {
  return t(`pb_${p.code}` as Key, p.v);
}
