// Cross-process exclusive lock of one mailbox file: mailboxes/<id>.lock holding the owner's pid.
// A lock whose pid is gone (the owner was killed) is stale and is taken over, so a crash never locks a mailbox forever.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { MailboxLocked } from './errors.js';

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(lockFile: string): number | null {
  try {
    return Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
  } catch {
    return null;
  }
}

/** True when another live process holds the lock (our own pid never counts: in-process exclusion is the caller's job). */
export function lockedByOther(lockFile: string): boolean {
  const pid = ownerOf(lockFile);
  return pid !== null && pid !== process.pid && pidAlive(pid);
}

/** Takes the lock or throws MailboxLocked; returns the release function. */
export function acquireLock(lockFile: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      fsyncSync(fd);
      closeSync(fd);
      return () => {
        try {
          if (ownerOf(lockFile) === process.pid) unlinkSync(lockFile);
        } catch {}
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (lockedByOther(lockFile)) throw new MailboxLocked();
      try {
        unlinkSync(lockFile); // stale: its owner died
      } catch {}
    }
  }
  throw new MailboxLocked();
}
