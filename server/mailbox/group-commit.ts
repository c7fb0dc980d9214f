// Group commit for one SQLite connection in WAL mode (a mailbox file, a sealed-queue file).
//
// Writers whose CPU work is done (parse, compress, seal) submit a task: a synchronous function that does
// their inserts. Tasks submitted while a commit is in flight wait and then go, all together, into the
// next ONE transaction and ONE fsync. Each task runs in its own savepoint, so a task that throws (over
// quota, missing folder…) rolls back only its own writes and rejects only its own caller. A caller's
// promise resolves only after the fsync that followed the commit containing its task: "resolved" still
// means "durable", which is what lets the MX say 250.
//
// How the fsync leaves the event loop: a batch of several tasks commits with `synchronous = NORMAL`
// (SQLite writes the WAL frames but does not fsync them), the pragma goes back to FULL at once, and then
// the -wal file is fdatasync'ed on libuv's thread pool. That fdatasync covers every frame written before
// it, i.e. the whole batch: the same guarantee as synchronous=FULL, which fsyncs the WAL inside COMMIT.
// While it runs the loop stays free (other connections, parsing the next messages, IMAP reads).
// A task alone (nothing else waiting and nothing on its way: one IMAP APPEND at a time) commits with FULL
// as before: on a loaded machine each thread-pool round trip costs a scheduling delay that a lone writer
// would pay per message, with nothing to share it with. A task that is alone only for the moment (a queue
// drain or pipelined APPENDs whose next messages are still being parsed: `moreComing`) goes off the loop,
// or its fsync would stall the preparation of the very messages that could have shared it.
// Traps:
//  - Never let anything else run with synchronous=NORMAL: only the batch commit, which always fsyncs.
//  - The -wal is reopened for each fsync (a closed connection deletes it and a new one makes a new
//    inode; a kept descriptor would sync the old one). ENOENT means the last connection closed after a
//    complete checkpoint, which itself fsynced the database file: the batch is durable already.
//  - Open the WAL read-write: Windows refuses FlushFileBuffers on a read-only handle.
import { closeSync, fdatasync, openSync } from 'node:fs';
import type Database from 'better-sqlite3-multiple-ciphers';
import { stageStart, timeStage } from '../stages.js';

type Db = Database.Database;

export interface GroupCommitOptions {
  /** The connection; may throw (closed, file replaced), which fails the whole batch. */
  readonly db: () => Db;
  /** The connection's WAL file ("<db file>-wal"), fdatasync'ed after each commit. */
  readonly walFile: string;
  /** Most tasks in one transaction (bounds how long one commit holds the event loop). Default 64. */
  readonly maxBatch?: number;
  /** What a caller sees for an error thrown by its task or by the commit (e.g. SQLITE_BUSY → Retryable). */
  readonly mapError?: (error: unknown) => unknown;
  /**
   * Whether more tasks are on their way: 'preparing' (writers are parsing or compressing them now), 'expected'
   * (a run of writes was announced, but none is being prepared this moment), or null. A lone task then commits
   * like a batch, with its fsync on the thread pool, so the loop goes on preparing the next ones meanwhile and
   * they share a commit; without it (or on null) a lone task commits with FULL.
   */
  readonly moreComing?: () => 'preparing' | 'expected' | null;
  /**
   * How long a batch may wait for the tasks `moreComing` announces before it commits what it has (default
   * 50 ms; while they are only 'expected', at most EXPECTED_GAP_MS after the last task arrived). Each commit has
   * a fixed cost (the index segments and B-tree pages it rewrites, encrypted) that a bigger batch shares; the
   * wait ends early once nothing more is coming or the batch is full.
   */
  readonly gatherMs?: number;
}

/** Longest a gathering batch waits for a merely expected task (a run's next message that has not started). */
const EXPECTED_GAP_MS = 5;

/** Counters for tests and benchmarks. */
export interface GroupCommitStats {
  batches: number;
  tasks: number;
  largestBatch: number;
  /** Batches whose fsync ran on the thread pool (the others were alone and committed with FULL). */
  syncedOffLoop: number;
}

interface Task {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * fdatasync of a file by path on the thread pool; a missing file counts as synced (see the header).
 * open/close are synchronous (no disk wait; one thread-pool round trip instead of three).
 */
let syncsInFlight = 0;

export async function fdatasyncPath(file: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(file, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  syncsInFlight++;
  try {
    await new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  } finally {
    syncsInFlight--;
    closeSync(fd);
  }
}

export class GroupCommit {
  readonly stats: GroupCommitStats = { batches: 0, tasks: 0, largestBatch: 0, syncedOffLoop: 0 };
  readonly #options: GroupCommitOptions;
  readonly #maxBatch: number;
  #pending: Task[] = [];
  #running = false;
  #idle: (() => void)[] = [];
  /** Wakes a batch that is gathering (a task arrived, or a writer stopped preparing). */
  #wake: (() => void) | null = null;

  constructor(options: GroupCommitOptions) {
    this.#options = options;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 64);
  }

  /** Runs `task` inside the next batch transaction; resolves with its result once that batch is fsynced. */
  submit<T>(task: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ run: task, resolve: resolve as (value: unknown) => void, reject });
      this.nudge();
      if (!this.#running) {
        this.#running = true;
        // setImmediate, not a microtask: writers that finish their CPU work in this same turn join the batch.
        setImmediate(() => void this.#loop());
      }
    });
  }

  /** Tells a gathering batch to look again at `moreComing` (a writer gave up before submitting). */
  nudge(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Waits (bounded) while more tasks are announced and the batch is not full. */
  async #gather(): Promise<void> {
    const moreComing = this.#options.moreComing;
    if (!moreComing) return;
    const deadline = Date.now() + Math.max(0, this.#options.gatherMs ?? 50);
    for (;;) {
      const coming = this.#pending.length < this.#maxBatch ? moreComing() : null;
      if (coming === null) return;
      const now = Date.now();
      const left = Math.min(deadline - now, coming === 'expected' ? EXPECTED_GAP_MS : Infinity);
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#wake = null;
          resolve();
        }, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Resolves when no task is pending or being committed. */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  get pending(): number {
    return this.#pending.length;
  }

  async #loop(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        await this.#gather();
        const batch = this.#pending.splice(0, this.#maxBatch);
        await timeStage(stageStart('commit.batch'), this.#commit(batch));
      }
    } finally {
      this.#running = false;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  #mapped(error: unknown): unknown {
    return this.#options.mapError ? this.#options.mapError(error) : error;
  }

  async #commit(batch: readonly Task[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      const db = this.#options.db();
      // Off the loop too while another file's fsync is running: the process is serving other writers, whom an
      // fsync here would stall.
      const offLoop = batch.length > 1 || this.#pending.length > 0 || syncsInFlight > 0 || (this.#options.moreComing?.() ?? null) !== null;
      const sync = syncStatements(db);
      if (offLoop) sync.normal.run();
      try {
        outcomes = db
          .transaction((): Outcome[] =>
            batch.map((task): Outcome => {
              try {
                // A nested better-sqlite3 transaction is a SAVEPOINT: a throw rolls back this task only.
                return { ok: true, value: db.transaction(task.run)() };
              } catch (error) {
                // Some errors (SQLITE_FULL, IOERR) make SQLite roll back the whole transaction: then
                // nothing of this batch is committed, and every task must fail.
                if (!db.inTransaction) throw error;
                return { ok: false, error };
              }
            }),
          )
          .immediate();
      } finally {
        if (offLoop) sync.full.run();
      }
      this.stats.batches++;
      this.stats.tasks += batch.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
      if (offLoop) {
        this.stats.syncedOffLoop++;
        await timeStage(stageStart('commit.fsync'), fdatasyncPath(this.#options.walFile));
      }
    } catch (error) {
      // Nothing of the batch was committed, or its fsync failed (then it may be on disk, but was never
      // acknowledged: a retry can make a duplicate, never a loss).
      const mapped = this.#mapped(error);
      for (const task of batch) task.reject(mapped);
      return;
    }
    batch.forEach((task, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) task.resolve(outcome.value);
      else task.reject(this.#mapped(outcome.error));
    });
  }
}

type Statement = Database.Statement;

interface SyncStatements {
  readonly normal: Statement;
  readonly full: Statement;
}

const syncStatementsByDb = new WeakMap<Db, SyncStatements>();

/** The two synchronous pragmas, prepared once per connection: db.pragma() prepares its statement on every call. */
function syncStatements(db: Db): SyncStatements {
  let statements = syncStatementsByDb.get(db);
  if (!statements) {
    statements = { normal: db.prepare('PRAGMA synchronous = NORMAL'), full: db.prepare('PRAGMA synchronous = FULL') };
    syncStatementsByDb.set(db, statements);
  }
  return statements;
}
