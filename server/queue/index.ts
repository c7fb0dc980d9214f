// server/queue: the sealed inbound queue. Mail for a locked alias is sealed to its hybrid public key and
// appended to queue/<mailboxId>.sqlite (also encrypted under a key derived from the app key); when the
// alias unlocks, drain() opens each row with its private key and hands it to the mailbox in arrival order.
import fs from 'node:fs';
import path from 'node:path';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { SealError, seal, wipe } from '../crypto/index.js';
import { fsyncDir } from '../fsutil.js';
// A leaf module (no mailbox dependencies): the same batching the mailbox store uses for appends.
import { GroupCommit, type GroupCommitStats } from '../mailbox/group-commit.js';
import { decodeEnvelope, encodeEnvelope, newQueueItemId, type QueuedMessage, type QueuedMeta } from './envelope.js';
import { inlineOpener, workerOpener, type OpenedRow } from './row-opener.js';
import { deliversOutOfTurn } from './turn.js';
import { openQueueDatabase, type QueueDatabase } from './sqlite.js';
import { stageStart, timeStage } from '../stages.js';

export type { QueuedMessage, QueuedMeta } from './envelope.js';
export { QueueFileUnreadable } from './sqlite.js';
export { LARGE_MESSAGE_BYTES, deliversOutOfTurn } from './turn.js';

/** The few logger calls the queue makes (pino's Logger fits). Only ids and counts are logged. */
export interface QueueLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface SealedQueueOptions {
  readonly logger?: QueueLogger;
  /** Close a queue file this long after its last use, so its WAL is checkpointed away (ms, default 2000). */
  readonly idleCloseMs?: number;
}

/** One message to enqueue. */
export interface EnqueueItem {
  readonly mailboxId: string;
  readonly publicKey: Uint8Array;
  readonly raw: Uint8Array;
  readonly meta: QueuedMeta;
}

/** What a drain did. Undecryptable rows stay in the queue (never deleted, never lost) and are listed by row number. */
export interface DrainReport {
  readonly delivered: number;
  readonly undecryptable: readonly number[];
  readonly remaining: number;
  /** Where the rows were opened: a worker thread (large concurrent drains) or this thread. */
  readonly openedOn?: 'worker' | 'inline';
}

/** How a drain runs. */
export interface DrainOptions {
  /** Deliveries in flight at once (default 1, at most MAX_DRAIN_CONCURRENCY). */
  readonly concurrency?: number;
}

export const MAX_DRAIN_CONCURRENCY = 64;
/** Rows read per page, and delivered rows deleted per transaction. */
const DRAIN_PAGE_ROWS = 256;
const DELETE_BATCH_ROWS = 64;
/** Sealed bytes opened ahead of delivery at most (beyond the first row). */
const LOOKAHEAD_BYTES = 8 * 1024 * 1024;
/** A concurrent drain of at least this many rows opens them on a worker thread (its start-up costs ~0.1 s). */
const WORKER_MIN_ROWS = 64;

const ROW_AAD = new TextEncoder().encode('sealpost/queue/v1');
const FILE_KEY_INFO = new TextEncoder().encode('sealpost/queue-file/v1');
const MAILBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/**
 * The SQLite key of every queue file: HKDF-SHA256(app key, "sealpost/queue-file/v1"). Not the app key
 * itself, so a page of sealpost.db can never authenticate inside a queue file; not per mailbox, so a
 * queue file restored from a backup under another mailbox id still opens.
 */
export function queueFileKey(appKey: Uint8Array): Buffer {
  if (appKey.length !== 32) throw new Error('The app key must be 32 bytes.');
  return Buffer.from(hkdf(sha256, appKey, undefined, FILE_KEY_INFO, 32));
}

interface Handle {
  db: QueueDatabase;
  idleTimer: NodeJS.Timeout | undefined;
  busy: number;
  /** Enqueues waiting for, or inside, the next batch commit of this file (created at first use). */
  commits?: GroupCommit;
}

/**
 * The sealed queues of all aliases. Message text never leaves a sealed box inside the process's
 * files; the file adds a second, app-key layer that also hides row count and sizes at rest.
 *
 * Exactly-once across crashes: a row is deleted only after deliver() resolved. If the process dies
 * between the mailbox commit and the delete, the row is delivered again on the next drain with the
 * SAME `message.id` — the mailbox side must record delivered queue ids and skip ones it already has.
 */
export class SealedQueue {
  readonly #dir: string;
  readonly #fileKey: Buffer;
  readonly #logger: QueueLogger | undefined;
  readonly #idleCloseMs: number;
  readonly #handles = new Map<string, Handle>();
  readonly #drains = new Map<string, Promise<DrainReport>>();
  #closed = false;

  constructor(dataDir: string, appKey: Uint8Array, options: SealedQueueOptions = {}) {
    this.#dir = path.join(dataDir, 'queue');
    this.#fileKey = queueFileKey(appKey);
    this.#logger = options.logger;
    this.#idleCloseMs = options.idleCloseMs ?? 2000;
  }

  /**
   * Seals one message to the alias public key and commits it durably (fsync) before resolving; returns its queue item id.
   * Group commit: enqueues to the same file that arrive while a commit is in flight share the next
   * transaction and fsync (server/mailbox/group-commit.ts); sealing happens before, outside it.
   */
  async enqueue(mailboxId: string, publicKey: Uint8Array, raw: Uint8Array, meta: QueuedMeta): Promise<string> {
    const [id] = await this.enqueueMany([{ mailboxId, publicKey, raw, meta }]);
    return id!;
  }

  /** Several messages (e.g. one per locked recipient): all durable, or none left behind. Ids in input order. */
  async enqueueMany(items: readonly EnqueueItem[]): Promise<string[]> {
    const mailboxIds = new Set(items.map((item) => item.mailboxId));
    // Several files cannot share one transaction: that (rare) case keeps the synchronous all-or-nothing path.
    if (mailboxIds.size !== 1) return this.enqueueSync(items);
    this.#assertOpen();
    const [mailboxId] = mailboxIds as Set<string>;
    const rows = timeStage(stageStart('queue.seal'), this.#sealRows(items));
    const handle = this.#acquire(mailboxId!, true)!; // busy until released: the idle close waits for the fsync
    try {
      handle.commits ??= new GroupCommit({ db: () => this.#openDb(handle), walFile: `${this.#file(mailboxId!)}-wal` });
      // One task for all rows: its savepoint makes them all-or-nothing inside the batch.
      const stopCommit = stageStart('queue.commit');
      await handle.commits.submit(() => {
        const insert = handle.db.prepare('INSERT INTO item (sealed) VALUES (?)');
        for (const row of rows) insert.run(row.sealed);
      });
      stopCommit();
    } finally {
      this.#releaseHandle(mailboxId!, handle);
    }
    return rows.map((r) => r.id);
  }

  /** Group-commit counters of a queue file while it is open (tests, benchmarks). */
  commitStats(mailboxId: string): GroupCommitStats | null {
    const stats = this.#handles.get(mailboxId)?.commits?.stats;
    return stats ? { ...stats } : null;
  }

  #openDb(handle: Handle): QueueDatabase {
    if (!handle.db.open) throw new Error('The sealed queue file was closed.');
    return handle.db;
  }

  #sealRows(items: readonly EnqueueItem[]): Array<{ id: string; mailboxId: string; sealed: Buffer }> {
    return items.map((item) => {
      checkMailboxId(item.mailboxId);
      const id = newQueueItemId();
      const envelope = encodeEnvelope(id, item.raw, item.meta);
      const sealed = seal(item.publicKey, envelope, ROW_AAD);
      wipe(envelope);
      return { id, mailboxId: item.mailboxId, sealed };
    });
  }

  /** Synchronous enqueueMany: one transaction per queue file; a failure removes what earlier files got. */
  enqueueSync(items: readonly EnqueueItem[]): string[] {
    this.#assertOpen();
    const sealedRows = timeStage(stageStart('queue.seal'), this.#sealRows(items));
    const byMailbox = new Map<string, Buffer[]>();
    for (const row of sealedRows) byMailbox.set(row.mailboxId, [...(byMailbox.get(row.mailboxId) ?? []), row.sealed]);
    const committed: Array<{ mailboxId: string; seqs: number[] }> = [];
    try {
      for (const [mailboxId, blobs] of byMailbox) {
        const seqs = this.#with(mailboxId, true, (db) => {
          const insert = db.prepare('INSERT INTO item (sealed) VALUES (?)');
          return db.transaction(() => blobs.map((b) => Number(insert.run(b).lastInsertRowid)))();
        });
        committed.push({ mailboxId, seqs: seqs ?? [] });
      }
    } catch (error) {
      for (const { mailboxId, seqs } of committed) {
        try {
          this.#with(mailboxId, false, (db) => {
            const del = db.prepare('DELETE FROM item WHERE seq = ?');
            db.transaction(() => seqs.forEach((s) => del.run(s)))();
          });
        } catch {
          // Rolling back a committed row failed: it stays queued (duplicate on retry, never a loss).
        }
      }
      throw error;
    }
    return sealedRows.map((r) => r.id);
  }

  /** Messages waiting for the mailbox (0 when it has no queue file). */
  count(mailboxId: string): number {
    checkMailboxId(mailboxId);
    return this.#with(mailboxId, false, (db) => (db.prepare('SELECT count(*) AS n FROM item').get() as { n: number }).n) ?? 0;
  }

  /** Waiting messages per mailbox that has any (for `queue status`; counts only). */
  totalCounts(): Array<{ mailboxId: string; count: number }> {
    let names: string[];
    try {
      names = fs.readdirSync(this.#dir);
    } catch {
      return [];
    }
    const out: Array<{ mailboxId: string; count: number }> = [];
    for (const name of names.sort()) {
      const m = /^(.+)\.sqlite$/.exec(name);
      if (!m || !MAILBOX_ID.test(m[1]!)) continue;
      const count = this.count(m[1]!);
      if (count > 0) out.push({ mailboxId: m[1]!, count });
    }
    return out;
  }

  /**
   * Opens each waiting message in arrival order and hands it to deliver(message); a row is securely
   * deleted only after its deliver resolved (deletes are batched, one transaction per batch). Rows that
   * do not open (tampered, wrong key) are kept, logged by row number and skipped. If a deliver throws,
   * the drain starts no further message: deliveries already in flight finish (and their rows go), the
   * failed row and every later one stay, and the first error is rethrown. Messages enqueued during the
   * drain are delivered by it too. One drain per mailbox at a time; a concurrent call waits for the
   * running one and then drains. Returns the number delivered.
   *
   * `concurrency` (default 1) deliveries run at once, started in arrival order, so a store with group
   * commit shares one transaction and fsync among them. A message the store would prepare off the event
   * loop (deliversOutOfTurn: large, or heavy to parse) is delivered alone — after the ones before it
   * finished, before later ones start — and each other one is started an event-loop turn after the
   * previous one, once its synchronous work reached the store's commit queue: UIDs follow arrival order.
   */
  async drain(mailboxId: string, privateKey: Uint8Array, deliver: (message: QueuedMessage) => Promise<void>, options: DrainOptions = {}): Promise<number> {
    return (await this.drainWithReport(mailboxId, privateKey, deliver, options)).delivered;
  }

  /** drain() with the undecryptable rows and remaining count. */
  drainWithReport(mailboxId: string, privateKey: Uint8Array, deliver: (message: QueuedMessage) => Promise<void>, options: DrainOptions = {}): Promise<DrainReport> {
    checkMailboxId(mailboxId);
    this.#assertOpen();
    const concurrency = Math.max(1, Math.min(MAX_DRAIN_CONCURRENCY, Math.floor(options.concurrency ?? 1)));
    const previous = this.#drains.get(mailboxId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.#drain(mailboxId, privateKey, deliver, concurrency));
    const tracked = next.finally(() => {
      if (this.#drains.get(mailboxId) === tracked) this.#drains.delete(mailboxId);
    });
    tracked.catch(() => undefined);
    this.#drains.set(mailboxId, tracked);
    return tracked;
  }

  async #drain(mailboxId: string, privateKey: Uint8Array, deliver: (message: QueuedMessage) => Promise<void>, concurrency: number): Promise<DrainReport> {
    if (!fs.existsSync(this.#file(mailboxId))) return { delivered: 0, undecryptable: [], remaining: 0 };
    let delivered = 0;
    const undecryptable: number[] = [];
    const handle = this.#acquire(mailboxId, false);
    if (!handle) return { delivered: 0, undecryptable: [], remaining: 0 };
    const inFlight = new Set<Promise<void>>();
    const done: number[] = [];
    // A holder, not a `let`: it is set inside delivery callbacks.
    const stop: { failure: { error: unknown } | null } = { failure: null };
    try {
      // A worker thread opens the rows of a large concurrent drain; otherwise (or if it cannot start) this thread.
      const large = concurrency > 1 && (handle.db.prepare('SELECT count(*) AS n FROM item').get() as { n: number }).n >= WORKER_MIN_ROWS;
      const opener = (large ? workerOpener(privateKey, ROW_AAD) : null) ?? inlineOpener(privateKey, ROW_AAD);
      const page = handle.db.prepare('SELECT seq, sealed FROM item WHERE seq > ? ORDER BY seq LIMIT ?');
      const remove = handle.db.prepare('DELETE FROM item WHERE seq = ?');
      const removeAll = handle.db.transaction((seqs: readonly number[]) => {
        for (const seq of seqs) remove.run(seq);
      });
      const removeDone = (): void => {
        if (done.length === 0 || !handle.db.open) return;
        // The delete need not wait for fsync: if a crash undoes it, the rows are offered again with the
        // same ids and the idempotent mailbox skips them. (Enqueues keep synchronous=FULL.)
        handle.db.pragma('synchronous = NORMAL');
        try {
          removeAll(done.splice(0));
        } finally {
          handle.db.pragma('synchronous = FULL');
        }
      };
      const settleOne = (): Promise<void> => Promise.race(inFlight);
      // Rows are read a page at a time (rows enqueued meanwhile come in later pages) and opened a few
      // ahead of delivery, on a worker thread for large concurrent drains.
      let pageRows: Array<{ seq: number; sealed: Buffer }> = [];
      let pageAt = 0;
      let readSeq = 0;
      const nextRow = (): { seq: number; sealed: Buffer } | undefined => {
        if (pageAt >= pageRows.length) {
          pageRows = page.all(readSeq, DRAIN_PAGE_ROWS) as Array<{ seq: number; sealed: Buffer }>;
          pageAt = 0;
          if (pageRows.length === 0) return undefined;
        }
        const row = pageRows[pageAt++]!;
        readSeq = row.seq;
        return row;
      };
      const ahead: Array<{ seq: number; bytes: number; opened: Promise<OpenedRow> }> = [];
      let aheadBytes = 0;
      const fill = (): void => {
        // A few rows, and a bounded number of bytes (large messages), opened ahead; refilled by halves, so a
        // worker gets its rows in a few messages, not one per row.
        if (ahead.length > 0 && ahead.length > opener.lookahead / 2) return;
        while (ahead.length < opener.lookahead && (ahead.length === 0 || aheadBytes < LOOKAHEAD_BYTES)) {
          const row = nextRow();
          if (!row) return;
          const bytes = row.sealed.length; // read first: a worker opener takes the row's memory over
          const opened = opener.open(row.sealed);
          opened.catch(() => undefined); // awaited in order below
          ahead.push({ seq: row.seq, bytes, opened });
          aheadBytes += bytes;
        }
      };
      try {
        for (;;) {
          if (stop.failure) break;
          fill();
          const next = ahead.shift();
          if (!next) break;
          aheadBytes -= next.bytes;
          let message: QueuedMessage;
          let plain: Buffer;
          let outOfTurn: boolean | null;
          try {
            ({ plain, outOfTurn } = await timeStage(stageStart('drain.unseal-wait'), next.opened));
          } catch (error) {
            if (!(error instanceof SealError)) {
              stop.failure ??= { error }; // the worker itself failed: stop, the rows stay
              break;
            }
            undecryptable.push(next.seq);
            this.#logger?.warn({ event: 'queue.undecryptable', mailboxId, row: next.seq, reason: error.code }, 'queued message cannot be opened; kept in the queue');
            continue;
          }
          try {
            message = decodeEnvelope(plain);
          } catch {
            undecryptable.push(next.seq);
            this.#logger?.warn({ event: 'queue.undecryptable', mailboxId, row: next.seq, reason: 'bad-envelope' }, 'queued message cannot be opened; kept in the queue');
            continue;
          } finally {
            wipe(plain);
          }
          fill(); // keep the worker busy while this one is delivered
          const alone = concurrency > 1 && (outOfTurn ?? deliversOutOfTurn(message.raw));
          while (inFlight.size >= (alone ? 1 : concurrency)) await settleOne();
          if (stop.failure) break;
          const seq = next.seq;
          const delivery: Promise<void> = timeStage(stageStart('drain.deliver'), deliver(message))
            .then(
              () => {
                delivered++;
                done.push(seq);
                if (done.length >= DELETE_BATCH_ROWS) removeDone();
              },
              (error: unknown) => {
                stop.failure ??= { error };
              },
            )
            .finally(() => inFlight.delete(delivery));
          inFlight.add(delivery);
          if (alone) await delivery;
          // One event-loop turn before the next message: every microtask of this delivery has run by then, so
          // a store that does its CPU work synchronously has handed it to its commit queue (order kept), and
          // other sessions' I/O gets in between.
          else await new Promise<void>((resolve) => setImmediate(resolve));
        }
      } finally {
        // Rows opened ahead but not delivered stay queued; their plaintext is wiped.
        for (const left of ahead.splice(0)) void left.opened.then((row) => wipe(row.plain), () => undefined);
        await opener.close();
      }
      while (inFlight.size > 0) await settleOne();
      removeDone();
      if (stop.failure) throw stop.failure.error;
      if (delivered > 0) {
        try {
          handle.db.pragma('wal_checkpoint(TRUNCATE)'); // drop old page versions of drained rows from the WAL
        } catch {
          // A reader holds the WAL; the idle close checkpoints later.
        }
      }
      const remaining = (handle.db.prepare('SELECT count(*) AS n FROM item').get() as { n: number }).n;
      return { delivered, undecryptable, remaining, openedOn: opener.where };
    } finally {
      this.#releaseHandle(mailboxId, handle);
    }
  }

  /** Deletes the mailbox's queue file (alias removal). Waits for a running drain first. */
  async remove(mailboxId: string): Promise<void> {
    checkMailboxId(mailboxId);
    await this.#drains.get(mailboxId)?.catch(() => undefined);
    this.#closeHandle(mailboxId);
    const file = this.#file(mailboxId);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    fsyncDir(this.#dir);
  }

  /** Closes every open queue file (pending drains keep their handle until they finish). */
  close(): void {
    this.#closed = true;
    for (const id of [...this.#handles.keys()]) this.#closeHandle(id);
    wipe(this.#fileKey);
  }

  #file(mailboxId: string): string {
    return path.join(this.#dir, `${mailboxId}.sqlite`);
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('The sealed queue is closed.');
  }

  /** Runs fn on the mailbox's open database; null when the file is absent and create is false. */
  #with<T>(mailboxId: string, create: boolean, fn: (db: QueueDatabase) => T): T | null {
    const handle = this.#acquire(mailboxId, create);
    if (!handle) return null;
    try {
      return fn(handle.db);
    } finally {
      this.#releaseHandle(mailboxId, handle);
    }
  }

  #acquire(mailboxId: string, create: boolean): Handle | null {
    let handle = this.#handles.get(mailboxId);
    if (!handle) {
      this.#assertOpen();
      const file = this.#file(mailboxId);
      const exists = fs.existsSync(file);
      if (!exists && !create) return null;
      if (!exists) fs.mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      handle = { db: openQueueDatabase(file, this.#fileKey, mailboxId), idleTimer: undefined, busy: 0 };
      if (!exists) fsyncDir(this.#dir); // the new file's (and WAL's) directory entries survive a crash
      this.#handles.set(mailboxId, handle);
    }
    if (handle.idleTimer) clearTimeout(handle.idleTimer);
    handle.idleTimer = undefined;
    handle.busy++;
    return handle;
  }

  #releaseHandle(mailboxId: string, handle: Handle): void {
    handle.busy--;
    if (handle.busy > 0) return;
    if (this.#closed || this.#handles.get(mailboxId) !== handle) {
      if (handle.db.open) handle.db.close();
      return;
    }
    handle.idleTimer = setTimeout(() => this.#closeHandle(mailboxId), this.#idleCloseMs);
    handle.idleTimer.unref();
  }

  #closeHandle(mailboxId: string): void {
    const handle = this.#handles.get(mailboxId);
    if (!handle) return;
    if (handle.idleTimer) clearTimeout(handle.idleTimer);
    this.#handles.delete(mailboxId);
    // A drain in progress closes it when it releases; closing checkpoints and removes the WAL.
    if (handle.busy === 0 && handle.db.open) handle.db.close();
  }
}

/** The composition root's factory. */
export function openSealedQueue(dataDir: string, appKey: Uint8Array, options: SealedQueueOptions = {}): SealedQueue {
  return new SealedQueue(dataDir, appKey, options);
}

function checkMailboxId(mailboxId: string): void {
  // Also what keeps a path out of the file name.
  if (!MAILBOX_ID.test(mailboxId)) throw new Error('Invalid mailbox id for the sealed queue.');
}

