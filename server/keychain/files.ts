// Private files of the keychain fallback: 0600, owned by us, written atomically and fsync'ed.
import fs from 'node:fs';
import path from 'node:path';

/** A key or secrets file exists but cannot be trusted or read. */
export class KeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFileError';
  }
}

/** Reads a private file, refusing one that group/others can access or another user owns; null when absent. */
export function readPrivateFile(file: string): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new KeyFileError(`Cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new KeyFileError(`${file} is not a regular file.`);
    if ((st.mode & 0o077) !== 0) {
      throw new KeyFileError(`${file} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`);
    }
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
      throw new KeyFileError(`${file} belongs to another user (uid ${st.uid}); it must be owned by the user running Sealpost.`);
    }
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates a 0600 file only if absent (false when another process won the race). */
export function createPrivateFileExclusive(file: string, data: Uint8Array): boolean {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.fchmodSync(fd, 0o600); // umask cannot widen it, but be explicit
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fsyncDir(path.dirname(file));
  return true;
}

/** Replaces a 0600 file atomically (temp file + fsync + rename + fsync dir). */
export function replacePrivateFile(file: string, data: Uint8Array): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  fsyncDir(dir);
}
