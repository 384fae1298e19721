// Test media for the call suite.
import { writeFileSync } from 'node:fs';

/**
 * Writes a voice-like WAV loop for Chromium's fake microphone
 * (--use-file-for-fake-audio-capture): four syllables a second of a
 * gliding, harmonic-rich tone with short pauses, loud enough (about -15 dBov
 * after the browser's noise suppression and gain control) for the SFU's
 * speaker detection, which Chromium's default beep (20 ms every 500 ms) is
 * not.
 */
export function speechWav(path, seconds = 6, rate = 48000) {
  const n = seconds * rate;
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVE', 8);
  buf.write('fmt ', 12);
  buf.writeUInt32LE(16, 16); // PCM header size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(n * 2, 40);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const syl = (t * 4) % 1;
    const env = syl < 0.8 ? Math.sin((Math.PI * syl) / 0.8) : 0;
    const f0 = 120 + 40 * Math.sin(2 * Math.PI * 0.7 * t) + 20 * syl;
    phase += (2 * Math.PI * f0) / rate;
    let v = 0;
    for (let h = 1; h <= 12; h++) v += Math.sin(h * phase) / h;
    buf.writeInt16LE(Math.round(Math.max(-1, Math.min(1, 0.35 * env * v)) * 32767), 44 + i * 2);
  }
  writeFileSync(path, buf);
}
