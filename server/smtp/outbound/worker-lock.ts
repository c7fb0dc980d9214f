// One delivery worker per outbound.sqlite. The worker holds an exclusive SQLite lock (a POSIX record lock
// underneath) on an empty companion file, `outbound.sqlite.worker`, for as long as it runs. The kernel
// drops the lock when the process dies, however it dies: a restart after kill -9 takes it at once (no
// lease to wait out, no pid to trust), and a second worker on the same data dir — two `serve` started at
// the same moment — is refused instead of putting the first one's in-flight recipients back in the queue.
// The file stays empty: no header, no table, no data.
import fs from 'node:fs';
import Database from 'better-sqlite3-multiple-ciphers';

export interface WorkerLock {
  /** Drops the lock (closes the file); idempotent. */
  release(): void;
}

/** Companion lock file of an outbound database. */
export const workerLockFile = (outboundFile: string): string => `${outboundFile}.worker`;

/** The worker lock, or null while another worker (in this process or another) holds it. */
export function tryWorkerLock(outboundFile: string): WorkerLock | null {
  const file = workerLockFile(outboundFile);
  // Created 0600 by us, like every file of the data dir. Only when missing: closing any descriptor of a
  // file drops every POSIX lock this process holds on it, so a held lock file is never opened outside SQLite.
  if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600));
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 0');
    // An open exclusive transaction holds the lock until close; it writes nothing, so the file stays empty.
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return null;
    throw error;
  }
  return {
    release: () => {
      if (db.open) db.close();
    },
  };
}
