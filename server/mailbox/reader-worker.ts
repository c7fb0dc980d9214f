// Reader thread: reads message bytes for the event loop (readers.ts) over its own read-only connection to each
// open mailbox file, so decrypting pages, decoding parts and copying blobs for FETCH bodies run beside the event
// loop. It reads with body-read.ts, the same code Mailbox.readRange runs. Nothing here logs: errors go back as
// one line of text, without paths or message bytes.
import { statSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { statementCache } from '../sqlite.js';
import { readBodyBytes, type BodySource } from './body-read.js';
import { openDb, type Db } from './sqlite.js';

export interface ReadRange {
  readonly uid: number;
  readonly start: number;
  readonly end: number;
}

export type ReaderRequest =
  /**
   * Open `file` for handle `handle`. `dev`/`ino` are the file the event loop opened: a file that is no longer
   * that one (replaced by a restore or re-key since) is refused, so a handle never reads another file's mail.
   */
  | { readonly type: 'open'; readonly handle: number; readonly file: string; readonly key: Uint8Array | null; readonly dev: number; readonly ino: number }
  | { readonly type: 'read'; readonly id: number; readonly handle: number; readonly path: string; readonly ranges: readonly ReadRange[] }
  /** Close handle `handle`'s connection; answered (empty) once it is closed. */
  | { readonly type: 'close'; readonly id: number; readonly handle: number }
  /** Close every connection and end the thread (after the requests before it are answered). */
  | { readonly type: 'stop' };

/** The bytes of every range in one buffer, one after the other; `lengths[i]` is -1 for a message not there. */
export type ReaderReply = { readonly id: number; readonly bytes: ArrayBuffer; readonly lengths: readonly number[] } | { readonly id: number; readonly error: string };

interface OpenFile {
  readonly db: Db;
  readonly source: BodySource;
}

/** Open connections by handle, or why the handle could not be opened. */
const files = new Map<number, OpenFile | { readonly error: string }>();

function open(req: Extract<ReaderRequest, { type: 'open' }>): void {
  const key = req.key === null ? null : Buffer.from(req.key.buffer, req.key.byteOffset, req.key.byteLength);
  try {
    const db = openDb(req.file, key, { encrypted: key !== null, readonly: true });
    const st = statSync(req.file);
    if (st.dev !== req.dev || st.ino !== req.ino) {
      db.close();
      files.set(req.handle, { error: 'the mailbox file was replaced' });
      return;
    }
    const prepare = statementCache(db);
    files.set(req.handle, { db, source: { stmt: (sql) => prepare(sql), snapshot: (fn) => db.transaction(fn).deferred() } });
  } catch (error) {
    files.set(req.handle, { error: error instanceof Error ? error.name : 'open failed' });
  } finally {
    key?.fill(0);
  }
}

function read(req: Extract<ReaderRequest, { type: 'read' }>): ReaderReply {
  const file = files.get(req.handle);
  if (!file) return { id: req.id, error: 'handle not open' };
  if ('error' in file) return { id: req.id, error: file.error };
  // One read transaction for the batch: one snapshot, one WAL read lock taken.
  const pieces = file.db.transaction(() => req.ranges.map((r) => readBodyBytes(file.source, req.path, r.uid, r.start, r.end))).deferred();
  const total = pieces.reduce((sum, piece) => sum + (piece?.length ?? 0), 0);
  const bytes = new ArrayBuffer(total);
  const view = new Uint8Array(bytes);
  let at = 0;
  for (const piece of pieces) {
    if (!piece) continue;
    view.set(piece, at);
    at += piece.length;
  }
  return { id: req.id, bytes, lengths: pieces.map((piece) => (piece ? piece.length : -1)) };
}

function close(handle: number): void {
  const file = files.get(handle);
  files.delete(handle);
  if (file && 'db' in file) file.db.close();
}

parentPort?.on('message', (req: ReaderRequest) => {
  if (req.type === 'open') return open(req);
  if (req.type === 'stop') {
    for (const handle of [...files.keys()]) close(handle);
    // Nothing else keeps this thread's event loop alive: it ends, and the event loop sees 'exit'.
    return parentPort?.close();
  }
  let reply: ReaderReply;
  try {
    if (req.type === 'close') {
      close(req.handle);
      reply = { id: req.id, bytes: new ArrayBuffer(0), lengths: [] };
    } else reply = read(req);
  } catch (error) {
    reply = { id: req.id, error: error instanceof Error ? `${error.name}: ${(error as { code?: unknown }).code ?? ''}` : 'read failed' };
  }
  parentPort?.postMessage(reply, 'bytes' in reply ? [reply.bytes] : []);
});
