// Cross-process exclusive locks as lock files (O_EXCL) holding {"pid","purpose","since"}. A lock whose pid
// is gone (its owner was killed) is stale and is taken over, so a crash never locks anything forever.
// The one implementation of two locks:
//  - the mailbox lock  mailboxes/<uuid>.sqlite.lock: held by a re-key (this store), a backup copy of a locked
//    mailbox or a restore swapping the file (server/backup), so they exclude each other. The store's open()
//    refuses a file while a live process holds it.
//  - the backup lock   backups/<uuid>/.lock: serialises snapshot / retention / restore / push on the manifest.
// Trap: a lock file is advisory. Anything that opens mailbox files without asking isLocked can still race a
// restore; the store's open() is the one place that must ask. Locks are not re-entrant, within a process too.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MailboxLocked } from './errors.js';

/** How often a waiting acquire looks again. */
const POLL_MS = 50;

export interface HeldLock {
  readonly file: string;
  /** Removes the lock file (only while it still names this process); idempotent. */
  release(): void;
}

interface LockOwner {
  readonly pid: number;
  readonly purpose: string;
}

/** Lock files held by this process, by absolute path. */
const heldHere = new Set<string>();

function pidAlive(pid: number): boolean {
  // process.kill(0 or a negative pid) would signal a process group: never a lock owner.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(lockFile: string): LockOwner | null {
  try {
    const parsed = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid?: unknown; purpose?: unknown };
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, purpose: typeof parsed.purpose === 'string' ? parsed.purpose : '' } : null;
  } catch {
    return null;
  }
}

/** True while a live process — this one included (a backup copy, restore or re-key running here) — holds the lock. */
export function isLocked(lockFile: string): boolean {
  if (heldHere.has(resolve(lockFile))) return true;
  const owner = readOwner(lockFile);
  // Lock files appear complete (written aside, then hard-linked into place), so no readable owner = garbage.
  if (owner === null) return false;
  return pidAlive(owner.pid);
}

/** One try: the lock, or null while a live process (this one too) holds it. A stale lock file is removed and taken. */
function tryLock(lockFile: string, purpose: string): HeldLock | null {
  const key = resolve(lockFile);
  if (heldHere.has(key)) return null;
  mkdirSync(dirname(lockFile), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // Write the owner aside and hard-link it into place: link() fails with EEXIST like O_EXCL, and a kill
      // can never leave a half-written lock file that others would have to wait out.
      const aside = `${lockFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      const fd = openSync(aside, 'wx', 0o600);
      try {
        writeSync(fd, JSON.stringify({ pid: process.pid, purpose, since: new Date().toISOString() }));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        linkSync(aside, lockFile);
      } finally {
        rmSync(aside, { force: true });
      }
      heldHere.add(key);
      let released = false;
      return {
        file: lockFile,
        release() {
          if (released) return;
          released = true;
          heldHere.delete(key);
          if (readOwner(lockFile)?.pid === process.pid) rmSync(lockFile, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (isLocked(lockFile)) return null;
      rmSync(lockFile, { force: true }); // stale: its owner died
    }
  }
  return null;
}

/** Takes the lock now or throws MailboxLocked; returns the release function (the store's re-key). */
export function acquireLock(lockFile: string, purpose: string): () => void {
  const held = tryLock(lockFile, purpose);
  if (!held) throw new MailboxLocked('The mailbox is busy (another operation in progress)');
  return () => held.release();
}

/** Takes the lock, waiting up to `waitMs` for a live holder, else throws MailboxLocked naming what holds it. */
export async function acquireLockWaiting(lockFile: string, purpose: string, waitMs = 0): Promise<HeldLock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const held = tryLock(lockFile, purpose);
    if (held) return held;
    if (Date.now() >= deadline) {
      const owner = readOwner(lockFile);
      throw new MailboxLocked(`The mailbox is busy (${owner?.purpose || 'another operation'} in progress)`);
    }
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
}

/** Runs `work` holding the lock; always releases. */
export async function withLock<T>(lockFile: string, purpose: string, work: () => Promise<T>, waitMs = 0): Promise<T> {
  const lock = await acquireLockWaiting(lockFile, purpose, waitMs);
  try {
    return await work();
  } finally {
    lock.release();
  }
}

/** mailboxes/<id>.sqlite.lock of a data dir: the lock the store's open() asks about. */
export function mailboxLockFile(dataDir: string, mailboxId: string): string {
  return join(resolve(dataDir), 'mailboxes', `${mailboxId}.sqlite.lock`);
}

/** True while a copy, restore or re-key holds the mailbox exclusively (by this or a live other process). */
export function isMailboxLocked(dataDir: string, mailboxId: string): boolean {
  return isLocked(mailboxLockFile(dataDir, mailboxId));
}

/**
 * Linux: true when a process other than this one has `file` (or its -wal/-shm) open — a running server
 * holding the mailbox unlocked. Elsewhere returns false: the lock file is then the only guard.
 */
export function openByAnotherProcess(file: string): boolean {
  if (process.platform !== 'linux' || !existsSync('/proc/self/fd')) return false;
  const targets = new Set([file, `${file}-wal`, `${file}-shm`].map((f) => resolve(f)));
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (targets.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return true;
      } catch {}
    }
  }
  return false;
}
