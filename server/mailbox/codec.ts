// Compression of stored blobs and the layout of a raw message into chunks and attachment references.
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import lz4 from 'lz4-napi';

export type Compression = 'lz4' | 'deflate' | 'brotli' | 'none';

/** Every method a setting may name, the default (new writes) first. */
export const COMPRESSION_METHODS: readonly Compression[] = ['lz4', 'deflate', 'brotli', 'none'];
/** New blobs: LZ4 costs about a tenth of deflate's CPU per message to write and to read, for about a third more bytes. */
export const DEFAULT_COMPRESSION: Compression = 'lz4';

/** Raw bytes per stored chunk: a partial FETCH inflates at most this much beyond what it returns. */
export const CHUNK_BYTES = 64 * 1024;
/** Attachment bodies smaller than this stay inline (de-duplicating them saves less than a row costs). */
export const MIN_ATTACHMENT_BYTES = 2048;
/**
 * Messages from this size on never hold the event loop for all their chunks at once: LZ4 yields every
 * LZ4_CHUNKS_PER_TURN chunks, deflate and brotli run on the libuv pool. LZ4 costs ~30–250 µs per 64 KiB chunk
 * on a small server, so a 50 MiB message in one go would hold it ~0.1 s.
 */
const ASYNC_COMPRESS_BYTES = 256 * 1024;
/**
 * Most bytes a stored structure or search-text blob may decode to. Their size is not stored beside them, so this
 * bound is what `decompress` checks an LZ4 size prefix against for them (no valid blob comes near it).
 */
export const MAX_STORED_TEXT_BYTES = 512 * 1024 * 1024;

// First byte of every stored blob says how the rest is encoded, so the setting can change per file over time.
const TAG_RAW = 0;
const TAG_DEFLATE = 1;
const TAG_BROTLI = 2;
/** An LZ4 block behind its 4-byte little-endian uncompressed size (lz4-napi's compressSync output). */
const TAG_LZ4 = 3;
const LZ4_PREFIX_BYTES = 4;

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
  if (method === 'lz4') return tagged(TAG_LZ4, lz4.compressSync(data), data);
  if (method === 'brotli') return tagged(TAG_BROTLI, zlib.brotliCompressSync(data, brotliOptions(data.length)), data);
  return tagged(TAG_DEFLATE, zlib.deflateRawSync(data, { level: 6 }), data);
}

/** Same bytes as compressSync, computed on the libuv thread pool. */
export async function compressAsync(data: Buffer, method: Compression): Promise<Buffer> {
  if (method === 'none' || data.length < 64) return Buffer.concat([Buffer.of(TAG_RAW), data]);
  if (method === 'lz4') return tagged(TAG_LZ4, await lz4.compress(data), data);
  if (method === 'brotli') return tagged(TAG_BROTLI, await brotliAsync(data, brotliOptions(data.length)), data);
  return tagged(TAG_DEFLATE, await deflateRawAsync(data, { level: 6 }), data);
}

/** The method that wrote a blob, so a rewrite of it keeps its encoding ('none' for a raw one). */
export function methodOf(blob: Buffer): Compression {
  switch (blob[0]) {
    case TAG_LZ4:
      return 'lz4';
    case TAG_DEFLATE:
      return 'deflate';
    case TAG_BROTLI:
      return 'brotli';
    default:
      return 'none';
  }
}

/**
 * The bytes a stored blob holds, whatever tag wrote it. `maxBytes` is the most the caller can expect (an inline
 * part's raw_len, CHUNK_BYTES, MAX_STORED_TEXT_BYTES): a blob claiming or producing more is refused before that
 * much memory is taken. Blobs are authenticated by the page cipher, so this guards against bugs, not attackers.
 */
export function decompress(blob: Buffer, maxBytes = MAX_STORED_TEXT_BYTES): Buffer {
  const tag = blob[0];
  const body = blob.subarray(1);
  if (tag === TAG_RAW) {
    if (body.length > maxBytes) throw new Error(`stored blob holds ${body.length} bytes, more than the ${maxBytes} expected`);
    return body;
  }
  if (tag === TAG_LZ4) return lz4Decode(body, maxBytes);
  if (tag === TAG_DEFLATE || tag === TAG_BROTLI) {
    try {
      const options = { maxOutputLength: Math.max(1, maxBytes) };
      return tag === TAG_DEFLATE ? zlib.inflateRawSync(body, options) : zlib.brotliDecompressSync(body, options);
    } catch (err) {
      throw new Error(`stored ${tag === TAG_DEFLATE ? 'deflate' : 'brotli'} blob is unreadable or larger than ${maxBytes} bytes`, { cause: err });
    }
  }
  throw new Error(`unknown blob encoding ${String(tag)}`);
}

function lz4Decode(block: Buffer, maxBytes: number): Buffer {
  if (block.length < LZ4_PREFIX_BYTES) throw new Error('stored lz4 blob is truncated (no size prefix)');
  const size = block.readUInt32LE(0);
  if (size > maxBytes) throw new Error(`stored lz4 blob claims ${size} bytes, more than the ${maxBytes} expected`);
  let out: Buffer;
  try {
    out = lz4.uncompressSync(block);
  } catch (err) {
    throw new Error('stored lz4 blob is corrupt', { cause: err });
  }
  if (out.length !== size) throw new Error(`stored lz4 blob decodes to ${out.length} bytes, not the ${size} it claims`);
  return out;
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

/** Most LZ4 chunks compressed in one turn of the event loop for a large message (~0.5–2 ms of CPU). */
const LZ4_CHUNKS_PER_TURN = 8;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Compresses the pieces of one message, keeping the event loop free for a large one: LZ4 runs here, yielding
 * between groups of chunks (its thread-pool hop costs more than the work); deflate and brotli run on the pool.
 */
async function compressPieces(pieces: readonly Buffer[], method: Compression, messageBytes: number): Promise<Buffer[]> {
  if (messageBytes < ASYNC_COMPRESS_BYTES) return pieces.map((b) => compressSync(b, method));
  if (method !== 'lz4') return Promise.all(pieces.map((b) => compressAsync(b, method)));
  const out: Buffer[] = [];
  for (const [i, piece] of pieces.entries()) {
    if (i > 0 && i % LZ4_CHUNKS_PER_TURN === 0) await nextTurn();
    out.push(compressSync(piece, method));
  }
  return out;
}

/** Splits a raw message into compressed inline chunks and attachment pieces (CPU work done before the write transaction). */
export async function prepareParts(
  raw: Buffer,
  attachmentRanges: readonly (readonly [number, number])[],
  method: Compression,
): Promise<PreparedPart[]> {
  // Lay the message out first (piece = raw bytes of one stored blob), then compress every piece, then assemble.
  type Layout =
    | { readonly kind: 'inline'; readonly rawStart: number; readonly rawLen: number; readonly piece: number }
    | { readonly kind: 'attachment'; readonly rawStart: number; readonly rawLen: number; readonly sha256: Buffer; readonly pieces: readonly number[] };
  const pieces: Buffer[] = [];
  const addPiece = (bytes: Buffer): number => pieces.push(bytes) - 1;
  const layout: Layout[] = [];
  const inline = (start: number, end: number): void => {
    for (let s = start; s < end; s += CHUNK_BYTES) {
      const e = Math.min(end, s + CHUNK_BYTES);
      layout.push({ kind: 'inline', rawStart: s, rawLen: e - s, piece: addPiece(raw.subarray(s, e)) });
    }
  };
  let pos = 0;
  for (const [s, e] of normalizeRanges(attachmentRanges, raw.length)) {
    inline(pos, s);
    const bytes = raw.subarray(s, e);
    const sha256 = createHash('sha256').update(bytes).digest();
    const chunkPieces: number[] = [];
    for (let c = 0; c < bytes.length; c += CHUNK_BYTES) chunkPieces.push(addPiece(bytes.subarray(c, c + CHUNK_BYTES)));
    layout.push({ kind: 'attachment', rawStart: s, rawLen: e - s, sha256, pieces: chunkPieces });
    pos = e;
  }
  inline(pos, raw.length);
  const stored = await compressPieces(pieces, method, raw.length);
  return layout.map((l): PreparedPart =>
    l.kind === 'inline'
      ? { kind: 'inline', rawStart: l.rawStart, rawLen: l.rawLen, data: stored[l.piece]! }
      : { kind: 'attachment', rawStart: l.rawStart, rawLen: l.rawLen, sha256: l.sha256, chunks: l.pieces.map((i) => stored[i]!) },
  );
}
