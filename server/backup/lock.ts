// Cross-process exclusive locks as lock files (O_EXCL) holding the owner's pid; a lock whose owner is
// dead is stale and is taken over. Two kinds:
//  - the mailbox lock  mailboxes/<uuid>.sqlite.lock: held while a locked mailbox is copied or a restore
//    swaps the file. The mailbox store must refuse to open a file while it exists (isMailboxLocked).
//  - the backup lock   backups/<uuid>/.lock: serialises snapshot / retention / restore / push on the manifest.
// Trap: a lock file is advisory. Anything that opens mailbox files without asking isMailboxLocked can
// still race a restore; the store's open() is the one place that must ask.
import fs from 'node:fs';
import path from 'node:path';
import { MailboxLocked } from '../mailbox/errors.js';
import { dataLayout } from '../config/index.js';
import { ensureDir } from './fsutil.js';

interface LockOwner {
  readonly pid: number;
  readonly purpose: string;
  readonly since: string;
}

export interface HeldLock {
  readonly file: string;
  release(): void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(file: string): LockOwner | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, purpose: String(parsed.purpose ?? ''), since: String(parsed.since ?? '') } : null;
  } catch {
    return null;
  }
}

/** Held by this process (locks are not re-entrant). */
const heldHere = new Set<string>();

/** Takes the lock or throws MailboxLocked naming what holds it. Waits up to `waitMs` for a live holder. */
export async function acquireLock(file: string, purpose: string, waitMs = 0): Promise<HeldLock> {
  ensureDir(path.dirname(file));
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (!heldHere.has(file)) {
      try {
        const fd = fs.openSync(file, 'wx', 0o600);
        fs.writeSync(fd, JSON.stringify({ pid: process.pid, purpose, since: new Date().toISOString() }));
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        heldHere.add(file);
        let released = false;
        return {
          file,
          release() {
            if (released) return;
            released = true;
            heldHere.delete(file);
            fs.rmSync(file, { force: true });
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = readOwner(file);
        // A half-written lock file (owner died between create and write) or a dead owner: stale.
        if (owner === null ? lockFileOlderThan(file, 10_000) : owner.pid !== process.pid && !pidAlive(owner.pid)) {
          fs.rmSync(file, { force: true });
          continue;
        }
      }
    }
    if (Date.now() >= deadline) {
      const owner = readOwner(file);
      throw new MailboxLocked(`The mailbox is busy (${owner?.purpose || 'another operation'} in progress)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function lockFileOlderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - fs.statSync(file).mtimeMs > ms;
  } catch {
    return true;
  }
}

export function mailboxLockFile(dataDir: string, mailboxId: string): string {
  return `${dataLayout(dataDir).mailboxFile(mailboxId)}.lock`;
}

export function backupLockFile(dataDir: string, mailboxId: string): string {
  return path.join(dataLayout(dataDir).backupsDir, mailboxId, '.lock');
}

/** True while a copy or restore holds the mailbox exclusively (by this or a live other process). */
export function isMailboxLocked(dataDir: string, mailboxId: string): boolean {
  const file = mailboxLockFile(dataDir, mailboxId);
  if (heldHere.has(file)) return true;
  const owner = readOwner(file);
  if (owner === null) return fs.existsSync(file) && !lockFileOlderThan(file, 10_000);
  return pidAlive(owner.pid);
}

/** Runs `work` holding the lock; always releases. */
export async function withLock<T>(file: string, purpose: string, work: () => Promise<T>, waitMs = 0): Promise<T> {
  const lock = await acquireLock(file, purpose, waitMs);
  try {
    return await work();
  } finally {
    lock.release();
  }
}

/**
 * Linux: true when a process other than this one has `file` open (a running server holding the
 * mailbox unlocked). Elsewhere returns false — the lock file is then the only guard.
 */
export function openByAnotherProcess(file: string): boolean {
  if (process.platform !== 'linux' || !fs.existsSync('/proc/self/fd')) return false;
  const targets = new Set([file, `${file}-wal`, `${file}-shm`].map((f) => path.resolve(f)));
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (targets.has(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))) return true;
      } catch {}
    }
  }
  return false;
}
