// Worker thread of a large sealed-queue drain: opens rows with the alias private key it was handed (held
// only here, wiped on "stop") and hands the envelope plaintext back by transfer, not copy. Opening a row
// (ML-KEM-768 decapsulation + X25519 + HKDF) costs a few ms of CPU, so the event loop keeps serving
// sessions and appending the previous messages meanwhile.
import { parentPort } from 'node:worker_threads';
import { SealError, unseal, wipe } from '../crypto/index.js';

export type UnsealRequest =
  | { readonly type: 'key'; readonly key: Uint8Array; readonly aad: Uint8Array }
  | { readonly type: 'open'; readonly id: number; readonly sealed: Uint8Array }
  | { readonly type: 'stop' };

export type UnsealReply = { readonly id: number; readonly plain: ArrayBuffer } | { readonly id: number; readonly sealError: string };

let key: Uint8Array | null = null;
let aad: Uint8Array = new Uint8Array(0);

parentPort?.on('message', (request: UnsealRequest) => {
  if (request.type === 'key') {
    key = request.key;
    aad = request.aad;
    return;
  }
  if (request.type === 'stop') {
    if (key) wipe(key);
    key = null;
    parentPort?.close();
    return;
  }
  let reply: UnsealReply;
  let transfer: ArrayBuffer[] = [];
  try {
    if (!key) throw new SealError('bad-key', 'No key was handed to the unseal worker.');
    const plain = unseal(key, request.sealed, aad);
    const bytes = plain.buffer.slice(plain.byteOffset, plain.byteOffset + plain.byteLength) as ArrayBuffer;
    wipe(plain);
    reply = { id: request.id, plain: bytes };
    transfer = [bytes];
  } catch (error) {
    // Only the error code crosses back (never bytes of the row).
    reply = { id: request.id, sealError: error instanceof SealError ? error.code : 'auth-failed' };
  }
  parentPort?.postMessage(reply, transfer);
});
