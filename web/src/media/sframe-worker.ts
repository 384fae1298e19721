// The media worker: every sender's and receiver's frames go through the one
// Keyring held here (one counter per key, whatever the number of tracks).
// Started by e2ee.ts with
//   new Worker(new URL('./sframe-worker.ts', import.meta.url), { type: 'module' })
// It receives keys and, for Chromium's createEncodedStreams, the streams
// by postMessage; RTCRtpScriptTransform hands it frames through the
// `rtctransform` event.
import { handleMessage, frameTransform, Keyring, type FromWorker, type ToWorker, type TransformOptions } from './keyring';

interface TransformerLike {
  readable: ReadableStream;
  writable: WritableStream;
  options?: TransformOptions;
}

const scope = globalThis as unknown as {
  postMessage(m: FromWorker): void;
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
  onrtctransform: ((ev: { transformer: TransformerLike }) => void) | null;
};

const ring = new Keyring((f) => scope.postMessage({ op: 'failure', ...f }));

scope.onmessage = (ev) => handleMessage(ring, ev.data, (r) => scope.postMessage(r));

scope.onrtctransform = (ev) => {
  const t = ev.transformer;
  const o = t.options;
  if (!o || (o.role !== 'send' && o.role !== 'recv')) return;
  t.readable
    .pipeThrough(frameTransform(ring, o.role, o.kind, o.participant, o.slot))
    .pipeTo(t.writable)
    .catch(() => undefined);
};

scope.postMessage({ op: 'ready' });
