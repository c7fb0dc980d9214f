// Worker thread of a large sealed-queue drain: opens rows with the alias private key it was handed (held
// only here, wiped on "stop") and hands the envelope plaintext back by transfer, not copy. Opening a row
// (ML-KEM-768 decapsulation + X25519 + HKDF) costs a few ms of CPU, so the event loop keeps serving
// sessions and appending the previous messages meanwhile. It also tells whether the message must be delivered
// alone (deliversOutOfTurn: a MIME scan of the message), which would otherwise cost the event loop per row.
import { parentPort } from 'node:worker_threads';
import { SealError, sealOpener, wipe, type SealOpener } from '../crypto/index.js';
import { envelopeMessageBytes } from './envelope.js';
import { deliversOutOfTurn } from './turn.js';

export type UnsealRequest =
  | { readonly type: 'key'; readonly key: Uint8Array; readonly aad: Uint8Array }
  | { readonly type: 'open'; readonly rows: ReadonlyArray<{ readonly id: number; readonly sealed: Uint8Array }> }
  | { readonly type: 'stop' };

/** outOfTurn: null when the envelope does not parse (the drain then reports the row). */
export type UnsealReply =
  | { readonly id: number; readonly plain: ArrayBuffer; readonly outOfTurn: boolean | null }
  | { readonly id: number; readonly sealError: string };

let key: Uint8Array | null = null;
let opener: SealOpener | null = null;
let aad: Uint8Array = new Uint8Array(0);

parentPort?.on('message', (request: UnsealRequest) => {
  if (request.type === 'key') {
    key = request.key;
    aad = request.aad;
    try {
      opener = sealOpener(key);
    } catch {
      opener = null; // every row then reports bad-key
    }
    return;
  }
  if (request.type === 'stop') {
    if (key) wipe(key);
    key = null;
    opener = null;
    parentPort?.close();
    return;
  }
  // One reply per row, as soon as it is open (the drain waits for them in order), the plaintext moved, not copied.
  for (const row of request.rows) {
    let reply: UnsealReply;
    let transfer: ArrayBuffer[] = [];
    try {
      if (!opener) throw new SealError('bad-key', 'No usable key was handed to the unseal worker.');
      const plain = opener(row.sealed, aad);
      const outOfTurn = outOfTurnOf(plain);
      const bytes = plain.buffer.slice(plain.byteOffset, plain.byteOffset + plain.byteLength) as ArrayBuffer;
      wipe(plain);
      reply = { id: row.id, plain: bytes, outOfTurn };
      transfer = [bytes];
    } catch (error) {
      // Only the error code crosses back (never bytes of the row).
      reply = { id: row.id, sealError: error instanceof SealError ? error.code : 'auth-failed' };
    }
    parentPort?.postMessage(reply, transfer);
  }
});

function outOfTurnOf(plain: Buffer): boolean | null {
  try {
    return deliversOutOfTurn(envelopeMessageBytes(plain));
  } catch {
    return null;
  }
}
