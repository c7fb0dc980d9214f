// Reader threads (reader-worker.ts) for the event loop: Mailbox.readMany hands them batches of message reads.
// Each open mailbox handle gets its own read-only connection in one thread, opened on its first read and closed
// when the handle closes. The threads only ever speed reads up: a batch they cannot answer (a thread that
// crashed, a file it could not open) is read on the event loop instead, by the same code (body-read.ts).
// Threads start on first use (a server starts them at once: start()) and are unref'd while idle, so built code never
// stays alive for them.
import type { Worker } from 'node:worker_threads';
import { startModuleWorker, workerModuleUrl } from '../worker-thread.js';
import type { ReaderReply, ReaderRequest, ReadRange } from './reader-worker.js';

export type { ReadRange } from './reader-worker.js';

const workerUrl = workerModuleUrl('reader-worker', import.meta.url);

interface Pending {
  readonly resolve: (reply: ReaderReply) => void;
  readonly reject: (error: Error) => void;
}

interface Thread {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  /** Handles whose file this thread has been told to open (forgotten when the thread stops). */
  readonly opened: Set<number>;
}

/** One open mailbox file as the reader threads know it; from MailboxReaders.register. */
export interface ReaderHandle {
  /** Bytes of each range (clamped to the message), or null for a message the folder does not hold. */
  read(path: string, ranges: readonly ReadRange[]): Promise<(Buffer | null)[]>;
  /**
   * Closes this handle's connection in its thread and wipes the key copy; later reads reject. Settles once the
   * connection is closed: a re-key or restore awaits it before it swaps the file (a connection still open would
   * keep the -wal the swap needs gone).
   */
  release(): Promise<void>;
}

export interface ReaderFile {
  readonly file: string;
  /** The file's key (copied: the caller may wipe its own), or null for an unencrypted benchmark file. */
  readonly key: Buffer | null;
  /** The file the event loop opened; a thread refuses a file that is no longer it. */
  readonly dev: number;
  readonly ino: number;
}

/** How long a stopping thread may take to answer and close before it is terminated. */
const STOP_WAIT_MS = 5000;

/**
 * Asks a thread to stop and waits for its exit. Not worker.terminate() first: here (Node 20, the thread started
 * through tsx) a terminate() issued while a message to the thread was still queued hung, neither 'exit' nor
 * its promise ever settling. After STOP_WAIT_MS the thread is terminated and not waited for any longer.
 */
function stopThread(t: Thread): Promise<void> {
  return new Promise<void>((resolve) => {
    // Ref'd while stopping, so the event loop waits for the exit.
    t.worker.ref();
    const timer = setTimeout(() => {
      void t.worker.terminate();
      t.worker.unref();
      resolve();
    }, STOP_WAIT_MS);
    t.worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    t.worker.postMessage({ type: 'stop' } satisfies ReaderRequest);
  });
}

export class MailboxReaders {
  private readonly threads: (Thread | null)[];
  private nextHandle = 1;
  private nextId = 1;
  private closed = false;
  /** Batches answered by a thread / failed there (then read on the event loop). */
  readonly stats = { read: 0, failed: 0 };

  /** `threads` is how many reader threads at most (0: none; every read stays on the event loop). */
  constructor(threads: number) {
    this.threads = Array.from({ length: Math.max(0, Math.trunc(threads)) }, () => null);
  }

  /** Threads running now (started by start() or by a first read, not yet stopped). */
  get running(): number {
    return this.threads.filter((t) => t !== null).length;
  }

  get enabled(): boolean {
    return this.threads.length > 0 && !this.closed;
  }

  /**
   * Starts every thread now rather than on the first read: a thread takes tens of milliseconds to start and load
   * its modules, which the first FETCH of a body would otherwise wait for. For a server; a CLI run never calls it.
   * Idle threads are unref'd, but under tsx (sources, tests) a started thread keeps the process alive all the same
   * (the loader hooks it registers): close() is what ends them.
   */
  start(): void {
    if (!this.enabled) return;
    for (let slot = 0; slot < this.threads.length; slot++) this.thread(slot);
  }

  /** A handle for one opened file, or null when there are no reader threads. */
  register(target: ReaderFile): ReaderHandle | null {
    if (!this.enabled) return null;
    const handle = this.nextHandle++;
    const slot = handle % this.threads.length;
    let key: Buffer | null = target.key === null ? null : Buffer.from(target.key);
    let released = false;
    return {
      read: (path, ranges) => {
        if (released || this.closed) return Promise.reject(new Error('reader handle released'));
        const thread = this.thread(slot);
        if (!thread.opened.has(handle)) {
          thread.opened.add(handle);
          this.post(thread, { type: 'open', handle, file: target.file, key, dev: target.dev, ino: target.ino });
        }
        return this.request(thread, { type: 'read', id: this.nextId++, handle, path, ranges });
      },
      release: async () => {
        if (released) return;
        released = true;
        key?.fill(0);
        key = null;
        const thread = this.threads[slot];
        if (!thread?.opened.delete(handle)) return;
        // A thread that stops meanwhile takes its connections with it: either way the file is closed.
        await this.send(thread, { type: 'close', id: this.nextId++, handle }).catch(() => undefined);
      },
    };
  }

  /**
   * Stops every thread: each answers what it was asked before, closes its connections and ends; one that has
   * not ended after STOP_WAIT_MS is terminated. Reads after this reject (their callers read on the event loop).
   */
  async close(): Promise<void> {
    this.closed = true;
    const threads = this.threads.splice(0).filter((t): t is Thread => t !== null);
    await Promise.all(threads.map((t) => stopThread(t)));
  }

  /** Ends every thread at once, whatever it is doing (tests: a thread that dies under a read). */
  async kill(): Promise<void> {
    this.closed = true;
    const threads = this.threads.splice(0).filter((t): t is Thread => t !== null);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  private thread(slot: number): Thread {
    const existing = this.threads[slot];
    if (existing) return existing;
    const worker = startModuleWorker(workerUrl);
    worker.unref();
    const thread: Thread = { worker, pending: new Map(), opened: new Set() };
    worker.on('message', (reply: ReaderReply) => {
      const p = thread.pending.get(reply.id);
      if (!p) return;
      thread.pending.delete(reply.id);
      if (thread.pending.size === 0) worker.unref();
      p.resolve(reply);
    });
    const stop = (error: Error): void => {
      if (this.threads[slot] === thread) this.threads[slot] = null;
      for (const p of thread.pending.values()) p.reject(error);
      thread.pending.clear();
    };
    worker.on('error', (error) => stop(error instanceof Error ? error : new Error(String(error))));
    worker.on('exit', (code) => stop(new Error(`mailbox reader thread exited with code ${code}`)));
    this.threads[slot] = thread;
    return thread;
  }

  private post(thread: Thread, message: ReaderRequest): void {
    thread.worker.postMessage(message);
  }

  /** Posts a request with an id and waits for its answer (the thread is ref'd while any is outstanding). */
  private send(thread: Thread, message: Extract<ReaderRequest, { id: number }>): Promise<ReaderReply> {
    return new Promise<ReaderReply>((resolve, reject) => {
      thread.pending.set(message.id, { resolve, reject });
      thread.worker.ref();
      this.post(thread, message);
    });
  }

  private async request(thread: Thread, message: Extract<ReaderRequest, { type: 'read' }>): Promise<(Buffer | null)[]> {
    const reply = await this.send(thread, message);
    if ('error' in reply) {
      this.stats.failed++;
      throw new Error(`mailbox reader thread: ${reply.error}`);
    }
    this.stats.read++;
    const out: (Buffer | null)[] = [];
    let at = 0;
    for (const length of reply.lengths) {
      if (length < 0) {
        out.push(null);
        continue;
      }
      out.push(Buffer.from(reply.bytes, at, length));
      at += length;
    }
    return out;
  }
}
