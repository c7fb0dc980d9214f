// Worker thread: parses one message per request and answers with v8-serialized bytes
// (v8.serialize keeps Buffers and Dates; plain structured clone would turn Buffers into Uint8Arrays).
import { parentPort } from 'node:worker_threads';
import { serialize } from 'node:v8';
import { parseMessageSync } from './parse.js';
import type { MimeLimits, MimeShape } from './limits.js';

export interface ParseRequest {
  readonly id: number;
  readonly raw: Uint8Array;
  /** Read on the calling thread, so a setting changed after the worker started still applies. */
  readonly limits: MimeLimits;
  /** mimeShape(raw), when the calling thread already scanned it. */
  readonly shape?: MimeShape;
}
export interface ParseReply {
  readonly id: number;
  readonly bytes: ArrayBuffer;
}

parentPort?.on('message', (req: ParseRequest) => {
  const raw = Buffer.from(req.raw.buffer, req.raw.byteOffset, req.raw.byteLength);
  const out = serialize(parseMessageSync(raw, req.limits, req.shape));
  const bytes = out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
  const reply: ParseReply = { id: req.id, bytes };
  parentPort?.postMessage(reply, [bytes]);
});
