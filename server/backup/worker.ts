// Runs backup steps off the event loop in one long-lived worker thread (started on first use,
// unref'd so it never keeps the process alive). Steps queue behind each other in the worker.
import { Worker } from 'node:worker_threads';
import { WrongKey } from '../mailbox/errors.js';
import type { FileDigest, QueueCopyResult, VacuumResult, VerifyResult, WorkerRequest } from './worker-ops.js';

interface WorkerReply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: { message: string; name: string; code: unknown };
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

function failAll(error: Error): void {
  for (const p of pending.values()) p.reject(error);
  pending.clear();
}

function ensureWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./worker-entry.mjs', import.meta.url));
  w.unref();
  w.on('message', (reply: WorkerReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (pending.size === 0) w.unref();
    if (reply.error) {
      p.reject(reply.error.name === 'WrongKey' ? new WrongKey(reply.error.message) : Object.assign(new Error(reply.error.message), { code: reply.error.code }));
    } else p.resolve(reply.result);
  });
  w.on('error', (error) => {
    worker = null;
    failAll(error);
  });
  w.on('exit', (code) => {
    worker = null;
    failAll(new Error(`backup worker exited with code ${code}`));
  });
  worker = w;
  return w;
}

function run(request: WorkerRequest): Promise<unknown> {
  const w = ensureWorker();
  const id = nextId++;
  const result = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  // Keep the process alive while a step is running; unref again when none is pending.
  w.ref();
  // postMessage clones synchronously: wipe our copies of key and password at once (the worker wipes its own).
  w.postMessage({ id, request });
  if ('key' in request) request.key.fill(0);
  if ('password' in request) request.password.fill(0);
  return result;
}

export const inWorker = {
  vacuum: (source: string, key: Buffer, target: string) => run({ op: 'vacuum', source, key: new Uint8Array(key), target }) as Promise<VacuumResult>,
  /** `appKey`: the app key (the queue file key is derived from it inside). */
  vacuumQueue: (source: string, appKey: Buffer, target: string) => run({ op: 'vacuumQueue', source, key: new Uint8Array(appKey), target }) as Promise<QueueCopyResult>,
  copy: (source: string, target: string) => run({ op: 'copy', source, target }) as Promise<FileDigest>,
  hash: (file: string) => run({ op: 'hash', file }) as Promise<FileDigest>,
  verify: (file: string, key: Buffer) => run({ op: 'verify', file, key: new Uint8Array(key) }) as Promise<VerifyResult>,
  exportSqlite: (source: string, key: Buffer, password: string, target: string) =>
    run({ op: 'exportSqlite', source, key: new Uint8Array(key), password: new Uint8Array(Buffer.from(password, 'utf8')), target }) as Promise<FileDigest>,
  passphraseToRawKey: (file: string, password: string, key: Buffer) =>
    run({ op: 'passphraseToRawKey', file, password: new Uint8Array(Buffer.from(password, 'utf8')), key: new Uint8Array(key) }) as Promise<FileDigest>,
};
