import { describe, expect, it } from 'vitest';
import { en, fr } from '../src/i18n/dict';
import { getLang, problemText, setLang, t } from '../src/i18n';
import { Problem } from '../src/crypto/verify';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('dictionary', () => {
  it('French and English have the same keys and the same placeholders', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(fr).sort());
    for (const k of Object.keys(fr) as (keyof typeof fr)[]) {
      expect(placeholders(en[k]), k).toEqual(placeholders(fr[k]));
      expect(fr[k].trim(), k).not.toBe('');
    }
  });
  it('switches language and fills placeholders', () => {
    const before = getLang();
    setLang('fr');
    expect(t('outbox', { n: 3 })).toBe('3 en attente d’envoi');
    expect(problemText(new Problem('bad_sig', { name: 'Marie' }))).toMatch(/^signature invalide : ce n’est pas ce que Marie a écrit/);
    setLang('en');
    expect(t('outbox', { n: 3 })).toBe('3 waiting to be sent');
    expect(String(new Problem('gap_before', { from: 3, to: 5 }))).toBe('entries 3 to 5 are missing before this one');
    setLang(before);
  });
});
