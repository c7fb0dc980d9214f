// Cross-process exclusive lock of one mailbox file: mailboxes/<id>.sqlite.lock holding
// {"pid","purpose","since"} — the same file and format server/backup/lock.ts uses for copies and
// restores, so a re-key, a backup copy and a restore exclude each other. A lock whose pid is gone
// (its owner was killed) is stale and is taken over, so a crash never locks a mailbox forever.
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync, fsyncSync } from 'node:fs';
import { MailboxLocked } from './errors.js';

const HALF_WRITTEN_GRACE_MS = 10_000;

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerPid(lockFile: string): number | null {
  try {
    const parsed = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid?: unknown };
    return typeof parsed.pid === 'number' ? parsed.pid : null;
  } catch {
    return null;
  }
}

function youngerThan(file: string, ms: number): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs < ms;
  } catch {
    return false;
  }
}

/**
 * True while a live process — this one included (a backup copy or restore running here) — holds the lock.
 * The store's own re-key is excluded in-process before this is asked, so it never sees its own lock.
 */
export function isLocked(lockFile: string): boolean {
  const pid = ownerPid(lockFile);
  if (pid === null) return youngerThan(lockFile, HALF_WRITTEN_GRACE_MS); // being written right now, or garbage
  return pidAlive(pid);
}

/** Takes the lock or throws MailboxLocked; returns the release function. */
export function acquireLock(lockFile: string, purpose: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid, purpose, since: new Date().toISOString() }));
      fsyncSync(fd);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (ownerPid(lockFile) === process.pid) rmSync(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (isLocked(lockFile)) throw new MailboxLocked('The mailbox is busy (another operation in progress)');
      rmSync(lockFile, { force: true }); // stale: its owner died
    }
  }
  throw new MailboxLocked();
}
