// How a drain opens its sealed rows: on this thread (small queues, single deliveries), or on a worker thread
// (server/queue/unseal-worker.ts) for large concurrent drains, so unsealing runs beside the event loop. The
// worker is started per drain and stopped (its key copy wiped) when the drain ends; a build without the
// worker file, or a worker that cannot start, falls back to this thread.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { SealError, sealOpener, type SealErrorCode, type SealOpener } from '../crypto/index.js';
import type { UnsealReply, UnsealRequest } from './unseal-worker.js';
import { startModuleWorker, workerModuleUrl } from '../worker-thread.js';

/** An opened row: its envelope plaintext, and whether the worker found the message must be delivered alone (null: not decided). */
export interface OpenedRow {
  readonly plain: Buffer;
  readonly outOfTurn: boolean | null;
}

export interface RowOpener {
  /** Where rows are opened (tests, logs). */
  readonly where: 'worker' | 'inline';
  /** Rows opened ahead of delivery: a worker keeps busy while the previous message is appended. */
  readonly lookahead: number;
  /**
   * The envelope plaintext of a row (the caller wipes it); SealError when it does not open. A worker may take
   * over `sealed`'s memory (transferred, not copied): the caller must not read it afterwards.
   */
  open(sealed: Buffer): Promise<OpenedRow>;
  /** Stops the worker (wiping its key copy); pending opens reject. */
  close(): Promise<void>;
}

/** Opens rows here, one at a time (the historical behaviour). */
export function inlineOpener(privateKey: Uint8Array, aad: Uint8Array): RowOpener {
  // A key that does not load fails each open with its SealError, as unseal() would.
  let opener: SealOpener;
  try {
    opener = sealOpener(privateKey);
  } catch (error) {
    opener = () => {
      throw error;
    };
  }
  return {
    where: 'inline',
    lookahead: 1,
    open: async (sealed) => ({ plain: opener(sealed, aad), outOfTurn: null }),
    close: async () => undefined,
  };
}

const workerUrl = workerModuleUrl('unseal-worker', import.meta.url);

function startWorker(): Worker | null {
  try {
    if (workerUrl.protocol !== 'file:' || !fs.existsSync(fileURLToPath(workerUrl))) return null;
    return startModuleWorker(workerUrl);
  } catch {
    return null;
  }
}

/** Rows a worker opener keeps asked for ahead of delivery (the drain refills it by halves, in one message each). */
export const WORKER_LOOKAHEAD = 32;

/** A worker that opens rows in order; null when none can be started (the caller opens rows inline). */
export function workerOpener(privateKey: Uint8Array, aad: Uint8Array): RowOpener | null {
  const worker = startWorker();
  if (!worker) return null;
  const pending = new Map<number, { resolve: (row: OpenedRow) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let stopped: Error | null = null;
  const failAll = (error: Error): void => {
    stopped ??= error;
    for (const p of pending.values()) p.reject(stopped);
    pending.clear();
  };
  const settle = (reply: UnsealReply): void => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if ('plain' in reply) p.resolve({ plain: Buffer.from(reply.plain), outOfTurn: reply.outOfTurn });
    else p.reject(new SealError(reply.sealError as SealErrorCode, 'Sealed box failed authentication (tampered, wrong key or wrong context).'));
  };
  worker.on('message', settle);
  worker.on('error', (error) => failAll(error instanceof Error ? error : new Error(String(error))));
  worker.on('exit', () => failAll(new Error('the unseal worker stopped')));
  // A structured-clone copy of the key goes to the worker; it wipes it at "stop".
  worker.postMessage({ type: 'key', key: Uint8Array.from(privateKey), aad: Uint8Array.from(aad) } satisfies UnsealRequest);
  // Rows asked for in one turn go to the worker in one message: each message wakes the worker thread (and on a
  // busy machine often preempts this one), which per row cost more than the copy of the row itself.
  let outgoing: Array<{ id: number; sealed: Uint8Array }> = [];
  let outgoingTransfer: ArrayBuffer[] = [];
  const flush = (): void => {
    const rows = outgoing;
    const transfer = outgoingTransfer;
    outgoing = [];
    outgoingTransfer = [];
    if (rows.length === 0 || stopped) return;
    worker.postMessage({ type: 'open', rows } satisfies UnsealRequest, transfer);
  };
  return {
    where: 'worker',
    lookahead: WORKER_LOOKAHEAD,
    open(sealed) {
      if (stopped) return Promise.reject(stopped);
      const id = nextId++;
      return new Promise<OpenedRow>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        if (outgoing.length === 0) queueMicrotask(flush);
        // A row that owns its whole memory (as SQLite hands them out) moves to the worker; a view is copied.
        const owned = sealed.byteOffset === 0 && sealed.buffer.byteLength === sealed.byteLength && sealed.buffer instanceof ArrayBuffer;
        outgoing.push({ id, sealed });
        if (owned) outgoingTransfer.push(sealed.buffer as ArrayBuffer);
      });
    },
    async close() {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'stop' } satisfies UnsealRequest);
      const timer = setTimeout(() => void worker.terminate(), 2000);
      timer.unref();
      await exited;
      clearTimeout(timer);
    },
  };
}
