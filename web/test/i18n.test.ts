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

describe('relay errors', () => {
  it('every code the app words has its text in both languages, with the server message as fallback', async () => {
    const { RELAY_CODES } = await import('../src/errors');
    for (const c of RELAY_CODES) {
      expect(Object.keys(fr), c).toContain(`srv_${c}`);
      expect(Object.keys(en), c).toContain(`srv_${c}`);
    }
    const { ApiError } = await import('../src/protocol/api');
    const { errorText } = await import('../src/ui/hooks');
    const before = getLang();
    setLang('fr');
    const limited = new ApiError(429, 'too many requests to join…', { error: 'too many requests to join…', code: 'join_rate_limited', retry_after: 420 });
    expect(errorText(limited)).toBe('Trop de demandes pour rejoindre une salle depuis ce réseau. Attendez 7 min, puis rouvrez le lien d’invitation.');
    expect(errorText(new ApiError(410, 'used', { error: 'used', code: 'invite_used' }))).toMatch(/déjà servi/);
    setLang('en');
    expect(errorText(new ApiError(410, 'used', { error: 'used', code: 'invite_used' }))).toMatch(/already been used/);
    // An unknown code, or none: the server's own message.
    expect(errorText(new ApiError(409, 'the roster moved on', { error: 'the roster moved on', code: 'some_new_code' }))).toBe('the roster moved on');
    expect(errorText(new ApiError(400, 'plain message', { error: 'plain message' }))).toBe('plain message');
    setLang(before);
  });
});
