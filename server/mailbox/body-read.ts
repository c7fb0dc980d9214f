// Reading a message's stored bytes back: the one implementation behind Mailbox.readRange on the event loop and
// the reader threads (reader-worker.ts), each over its own connection to the same file. A body is stored as
// parts in raw-byte order (body_parts), each either inline (one compressed blob) or an attachment kept in
// CHUNK_BYTES chunks (attachment_chunks); a read decodes only the parts and chunks that overlap the range.
import type { Statement } from 'better-sqlite3-multiple-ciphers';
import { CHUNK_BYTES, decompress } from './codec.js';

/** What a read needs of a connection: its cached statements and a read transaction. */
export interface BodySource {
  stmt(sql: string): Statement;
  /** Runs fn inside one read transaction (a consistent snapshot across statements). */
  snapshot<T>(fn: () => T): T;
}

interface BodyPartRow {
  raw_start: number;
  raw_len: number;
  attachment_id: number | null;
  data: Buffer | null;
}

/**
 * Bytes [start, end) of message `uid` in the folder at normalized `path`, clamped to its size; null when the
 * folder holds no such message. The common case (every overlapping part inline) is one statement from folder
 * path to part data, itself a consistent snapshot; anything else takes the longer way in one transaction.
 */
export function readBodyBytes(src: BodySource, path: string, uid: number, start: number, end: number): Buffer | null {
  const from = Math.max(0, Math.floor(start));
  const to = Math.max(from, Math.floor(end));
  if (to > from) {
    const rows = src
      .stmt(
        `SELECT m.body_id, m.size, p.raw_start, p.raw_len, p.attachment_id, p.data FROM folders f
           JOIN messages m ON m.folder_id = f.id JOIN body_parts p ON p.body_id = m.body_id
          WHERE f.path = ? AND m.uid = ? AND p.raw_start < ? AND p.raw_start + p.raw_len > ? ORDER BY p.raw_start`,
      )
      .all(path, uid, to, from) as (BodyPartRow & { body_id: number; size: number })[];
    const first = rows[0];
    if (first && rows.every((p) => p.attachment_id === null)) {
      const e = Math.min(first.size, to);
      if (e > from) return joinParts(src, first.body_id, rows, from, e);
    }
  }
  // One lookup: folder and message in one statement.
  const row = src.stmt('SELECT m.body_id, m.size FROM folders f JOIN messages m ON m.folder_id = f.id WHERE f.path = ? AND m.uid = ?').get(path, uid) as
    | { body_id: number; size: number }
    | undefined;
  if (!row) return null;
  const s = Math.min(row.size, from);
  return readStoredBody(src, row.body_id, s, Math.max(s, Math.min(row.size, to)));
}

/** Bytes [start, end) of stored body `bodyId` (the caller clamps the range to its size). */
export function readStoredBody(src: BodySource, bodyId: number, start: number, end: number): Buffer {
  if (end <= start) return Buffer.alloc(0);
  const parts = bodyParts(src, bodyId, start, end);
  if (parts.every((p) => p.attachment_id === null)) return joinParts(src, bodyId, parts, start, end);
  return src.snapshot(() => joinParts(src, bodyId, bodyParts(src, bodyId, start, end), start, end));
}

function bodyParts(src: BodySource, bodyId: number, start: number, end: number): BodyPartRow[] {
  return src
    .stmt('SELECT raw_start, raw_len, attachment_id, data FROM body_parts WHERE body_id = ? AND raw_start < ? AND raw_start + raw_len > ? ORDER BY raw_start')
    .all(bodyId, end, start) as BodyPartRow[];
}

function joinParts(src: BodySource, bodyId: number, parts: readonly BodyPartRow[], start: number, end: number): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const from = Math.max(start, p.raw_start) - p.raw_start;
    const to = Math.min(end, p.raw_start + p.raw_len) - p.raw_start;
    if (p.attachment_id === null) {
      out.push(decompress(p.data!, p.raw_len).subarray(from, to));
      continue;
    }
    const first = Math.floor(from / CHUNK_BYTES);
    const last = Math.floor((to - 1) / CHUNK_BYTES);
    const chunks = src.stmt('SELECT seq, data FROM attachment_chunks WHERE attachment_id = ? AND seq BETWEEN ? AND ? ORDER BY seq').all(p.attachment_id, first, last) as {
      seq: number;
      data: Buffer;
    }[];
    const joined = Buffer.concat(chunks.map((c) => decompress(c.data, CHUNK_BYTES)));
    out.push(joined.subarray(from - first * CHUNK_BYTES, to - first * CHUNK_BYTES));
  }
  // One part (most messages): its decompressed buffer is already the answer, no copy.
  const result = out.length === 1 ? out[0]! : Buffer.concat(out);
  if (result.length !== end - start) throw new Error(`mailbox body ${bodyId} is incomplete`);
  return result;
}
