// The mailbox lock, mailboxes/<uuid>.sqlite.lock: a lock file (server/locks.ts) held by a re-key (this store),
// a backup copy of a locked mailbox or a restore swapping the file (server/backup), so they exclude each
// other. The store's open() refuses a file while a live process holds it, and is the one place that must ask.
// The backup lock (backups/<uuid>/.lock) is the same kind of lock file, taken through the same functions.
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isLocked, lockPurpose, tryLock, waitForLock, type HeldLock } from '../locks.js';
import { MailboxLocked } from './errors.js';

export { isLocked, type HeldLock } from '../locks.js';

/** Takes the lock now or throws MailboxLocked; returns the release function (the store's re-key). */
export function acquireLock(lockFile: string, purpose: string): () => void {
  const held = tryLock(lockFile, purpose);
  if (!held) throw new MailboxLocked('The mailbox is busy (another operation in progress)');
  return () => held.release();
}

/** Takes the lock, waiting up to `waitMs` for a live holder, else throws MailboxLocked naming what holds it. */
export async function acquireLockWaiting(lockFile: string, purpose: string, waitMs = 0): Promise<HeldLock> {
  const held = await waitForLock(lockFile, purpose, waitMs);
  if (held) return held;
  throw new MailboxLocked(`The mailbox is busy (${lockPurpose(lockFile) || 'another operation'} in progress)`);
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
