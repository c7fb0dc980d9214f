// Cross-process exclusive locks: the two kinds Sealpost uses, in one place.
// Rule: use a kernel lock when the holder is a long-running process that must lose the lock the moment it
// dies (the outbound worker); use a lock file when other processes must see who holds it and why, and the
// holder may be a short CLI command or a worker thread (mailbox re-key/copy/restore, the backup manifest).
//
// Lock files (O_EXCL semantics) hold {"pid","purpose","since"}. A lock whose pid is gone (its owner was
// killed) is stale and is taken over, so a crash never locks anything forever. They are advisory: anything
// that opens the guarded files without asking isLocked can still race. Not re-entrant, within a process too.
//
// Kernel locks are an exclusive SQLite transaction (a POSIX record lock underneath) held open on an empty
// file. The kernel drops it when the process dies, however it dies: a restart after kill -9 takes it at
// once (no lease to wait out, no pid to trust). The file stays empty: no header, no table, no data. Trap:
// closing any descriptor of a file drops every POSIX lock this process holds on it, so a lock file of this
// kind is never opened with fs once it may be held.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { createPrivateIfMissing } from './sqlite.js';

// ---- lock files

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
export function tryLock(lockFile: string, purpose: string): HeldLock | null {
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

/** Takes the lock, waiting up to `waitMs` for a live holder; null when it is still held then. */
export async function waitForLock(lockFile: string, purpose: string, waitMs = 0): Promise<HeldLock | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const held = tryLock(lockFile, purpose);
    if (held || Date.now() >= deadline) return held;
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
}

/** What the holder said it holds the lock for ('' when unknown or not held). */
export function lockPurpose(lockFile: string): string {
  return readOwner(lockFile)?.purpose ?? '';
}

// ---- kernel locks

/** A held kernel lock. */
export interface KernelLock {
  /** Drops the lock (closes the file); idempotent. */
  release(): void;
}

/** The kernel lock on `file` (created empty, 0600, when missing), or null while another holder (in this process or another) has it. */
export function tryKernelLock(file: string): KernelLock | null {
  // Only when missing: a held lock file is never opened outside SQLite (see the trap above).
  createPrivateIfMissing(file);
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
