// One delivery worker per outbound.sqlite. The worker holds a kernel lock (server/locks.ts) on an empty
// companion file, `outbound.sqlite.worker`, for as long as it runs: a restart after kill -9 takes it at once,
// and a second worker on the same data dir — two `serve` started at the same moment — is refused instead of
// putting the first one's in-flight recipients back in the queue. A pid lock file would not do here: a
// reused pid could keep it "held" after the worker died, and a restart would wait on a guess.
import { tryKernelLock, type KernelLock } from '../../locks.js';

export type WorkerLock = KernelLock;

/** Companion lock file of an outbound database. */
export const workerLockFile = (outboundFile: string): string => `${outboundFile}.worker`;

/** The worker lock, or null while another worker (in this process or another) holds it. */
export function tryWorkerLock(outboundFile: string): WorkerLock | null {
  return tryKernelLock(workerLockFile(outboundFile));
}
