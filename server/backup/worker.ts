// Runs backup steps off the event loop: one short-lived worker thread per step.
import { Worker } from 'node:worker_threads';
import { WrongKey } from '../mailbox/errors.js';
import type { FileDigest, VacuumResult, VerifyResult, WorkerRequest } from './worker-ops.js';

interface WorkerReply {
  readonly result?: unknown;
  readonly error?: { message: string; name: string; code: unknown };
}

function run(request: WorkerRequest): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // The key travels as a copy in workerData (structured clone, taken synchronously); wipe ours at once,
    // the worker wipes its own after use.
    const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: request });
    if ('key' in request) request.key.fill(0);
    if ('password' in request) request.password.fill(0);
    let settled = false;
    worker.once('message', (reply: WorkerReply) => {
      settled = true;
      if (reply.error) {
        reject(reply.error.name === 'WrongKey' ? new WrongKey(reply.error.message) : Object.assign(new Error(reply.error.message), { code: reply.error.code }));
      } else resolve(reply.result);
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`backup worker exited with code ${code}`));
    });
  });
}

export const inWorker = {
  vacuum: (source: string, key: Buffer, target: string) => run({ op: 'vacuum', source, key: new Uint8Array(key), target }) as Promise<VacuumResult>,
  copy: (source: string, target: string) => run({ op: 'copy', source, target }) as Promise<FileDigest>,
  hash: (file: string) => run({ op: 'hash', file }) as Promise<FileDigest>,
  verify: (file: string, key: Buffer) => run({ op: 'verify', file, key: new Uint8Array(key) }) as Promise<VerifyResult>,
  exportSqlite: (source: string, key: Buffer, password: string, target: string) =>
    run({ op: 'exportSqlite', source, key: new Uint8Array(key), password: new Uint8Array(Buffer.from(password, 'utf8')), target }) as Promise<FileDigest>,
  passphraseToRawKey: (file: string, password: string, key: Buffer) =>
    run({ op: 'passphraseToRawKey', file, password: new Uint8Array(Buffer.from(password, 'utf8')), key: new Uint8Array(key) }) as Promise<FileDigest>,
};
