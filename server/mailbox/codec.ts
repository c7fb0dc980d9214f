// Compression of stored blobs and the layout of a raw message into chunks and attachment references.
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';

export type Compression = 'deflate' | 'brotli' | 'none';

/** Raw bytes per stored chunk: a partial FETCH inflates at most this much beyond what it returns. */
export const CHUNK_BYTES = 64 * 1024;
/** Attachment bodies smaller than this stay inline (de-duplicating them saves less than a row costs). */
export const MIN_ATTACHMENT_BYTES = 2048;
/** Messages above this compress on the libuv thread pool instead of the event loop. */
const ASYNC_COMPRESS_BYTES = 256 * 1024;

// First byte of every stored blob says how the rest is encoded, so the setting can change per file over time.
const TAG_RAW = 0;
const TAG_DEFLATE = 1;
const TAG_BROTLI = 2;

const deflateRawAsync = promisify(zlib.deflateRaw);
const brotliAsync = promisify(zlib.brotliCompress);

function brotliOptions(size: number): zlib.BrotliOptions {
  return {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
      [zlib.constants.BROTLI_PARAM_LGWIN]: 18,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size,
    },
  };
}

function tagged(tag: number, body: Buffer, original: Buffer): Buffer {
  // Incompressible data (already-compressed attachments) is kept as is: never pay inflate for nothing.
  if (body.length >= original.length) return Buffer.concat([Buffer.of(TAG_RAW), original]);
  return Buffer.concat([Buffer.of(tag), body]);
}

export function compressSync(data: Buffer, method: Compression): Buffer {
  if (method === 'none' || data.length < 64) return Buffer.concat([Buffer.of(TAG_RAW), data]);
  if (method === 'brotli') return tagged(TAG_BROTLI, zlib.brotliCompressSync(data, brotliOptions(data.length)), data);
  return tagged(TAG_DEFLATE, zlib.deflateRawSync(data, { level: 6 }), data);
}

export async function compressAsync(data: Buffer, method: Compression): Promise<Buffer> {
  if (method === 'none' || data.length < 64) return Buffer.concat([Buffer.of(TAG_RAW), data]);
  if (method === 'brotli') return tagged(TAG_BROTLI, await brotliAsync(data, brotliOptions(data.length)), data);
  return tagged(TAG_DEFLATE, await deflateRawAsync(data, { level: 6 }), data);
}

export function decompress(blob: Buffer): Buffer {
  const tag = blob[0];
  const body = blob.subarray(1);
  if (tag === TAG_RAW) return body;
  if (tag === TAG_DEFLATE) return zlib.inflateRawSync(body);
  if (tag === TAG_BROTLI) return zlib.brotliDecompressSync(body);
  throw new Error(`unknown blob encoding ${String(tag)}`);
}

/** A stored piece of the raw message: either inline compressed bytes, or a reference to an attachment. */
export type PreparedPart =
  | { readonly kind: 'inline'; readonly rawStart: number; readonly rawLen: number; readonly data: Buffer }
  | {
      readonly kind: 'attachment';
      readonly rawStart: number;
      readonly rawLen: number;
      readonly sha256: Buffer;
      /** Compressed CHUNK_BYTES pieces of the attachment's encoded bytes. */
      readonly chunks: readonly Buffer[];
    };

/** Keeps the usable attachment ranges: inside the message, large enough, sorted, non-overlapping. */
export function normalizeRanges(ranges: readonly (readonly [number, number])[], size: number): [number, number][] {
  const sorted = ranges
    .map(([s, e]) => [Math.max(0, Math.floor(s)), Math.min(size, Math.floor(e))] as [number, number])
    .filter(([s, e]) => e - s >= MIN_ATTACHMENT_BYTES)
    .sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] < last[1]) continue; // overlapping (nested parts): keep the first
    out.push(r);
  }
  return out;
}

/** Splits a raw message into compressed inline chunks and attachment pieces (CPU work done before the write transaction). */
export async function prepareParts(
  raw: Buffer,
  attachmentRanges: readonly (readonly [number, number])[],
  method: Compression,
): Promise<PreparedPart[]> {
  const useAsync = raw.length >= ASYNC_COMPRESS_BYTES;
  const compress = (b: Buffer): Promise<Buffer> => (useAsync ? compressAsync(b, method) : Promise.resolve(compressSync(b, method)));
  const pending: Promise<PreparedPart>[] = [];
  const inline = (start: number, end: number): void => {
    for (let s = start; s < end; s += CHUNK_BYTES) {
      const e = Math.min(end, s + CHUNK_BYTES);
      pending.push(compress(raw.subarray(s, e)).then((data) => ({ kind: 'inline', rawStart: s, rawLen: e - s, data })));
    }
  };
  let pos = 0;
  for (const [s, e] of normalizeRanges(attachmentRanges, raw.length)) {
    inline(pos, s);
    const bytes = raw.subarray(s, e);
    const sha256 = createHash('sha256').update(bytes).digest();
    const chunkJobs: Promise<Buffer>[] = [];
    for (let c = 0; c < bytes.length; c += CHUNK_BYTES) chunkJobs.push(compress(bytes.subarray(c, c + CHUNK_BYTES)));
    pending.push(Promise.all(chunkJobs).then((chunks) => ({ kind: 'attachment', rawStart: s, rawLen: e - s, sha256, chunks })));
    pos = e;
  }
  inline(pos, raw.length);
  return Promise.all(pending);
}
