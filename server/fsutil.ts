// Durable file operations shared by the queue, backups and remote sync: write-then-rename with fsync of the file and its directory.
import fs from 'node:fs';
import path from 'node:path';

export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some platforms (Windows) cannot open a directory for fsync; rename is still atomic there.
  }
}

/** Writes `data` to `file` atomically (tmp + fsync + rename + fsync dir), mode 0600. */
export function writeFileAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  fsyncFile(tmp);
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

export function removeIfExists(file: string): void {
  fs.rmSync(file, { force: true });
}

export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

export function ensureDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Creates `file` empty, readable by its owner only (0600), and fails when it exists. For files another
 * library fills (SQLite's VACUUM INTO and database files), which it would otherwise create 0644 under a
 * permissive umask: a mode set at creation leaves no moment in which another user could open the file.
 */
export function createPrivateFile(file: string): void {
  fs.closeSync(fs.openSync(file, 'wx', 0o600));
}

/** Sets an existing file to 0600 (best effort: a file that is gone or not ours is left alone). */
export function makePrivate(file: string): void {
  try {
    if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  } catch {
    // gone meanwhile, or owned by someone else: nothing to tighten from here
  }
}
