// CPU/disk-heavy backup steps. They run inside a worker thread (see worker.ts) so IMAP never waits.
import fs from 'node:fs';
import { createHash, createHmac } from 'node:crypto';
import { openWithRawKey, openWithPassphrase, quickCheck, schemaVersion, type SqliteDb } from './sqlite.js';
import { createPrivateFile, fsyncFile } from '../fsutil.js';
import { snapshotQueueFile } from '../queue/snapshot.js';
import { rekeyRaw } from '../sqlite.js';
import { queueFileKey } from '../queue/index.js';

export type WorkerRequest =
  | { readonly op: 'vacuum'; readonly source: string; readonly key: Uint8Array; readonly target: string }
  | { readonly op: 'vacuumQueue'; readonly source: string; readonly key: Uint8Array; readonly target: string }
  | { readonly op: 'copy'; readonly source: string; readonly target: string }
  | { readonly op: 'hash'; readonly file: string }
  | { readonly op: 'verify'; readonly file: string; readonly key: Uint8Array }
  | { readonly op: 'exportSqlite'; readonly source: string; readonly key: Uint8Array; readonly password: Uint8Array; readonly target: string }
  | { readonly op: 'passphraseToRawKey'; readonly file: string; readonly password: Uint8Array; readonly key: Uint8Array };

export interface FileDigest {
  readonly size: number;
  readonly sha256: string;
}

export interface VacuumResult extends FileDigest {
  readonly schemaVersion: number;
  /** Keyed fingerprint of the decrypted content (see contentFingerprint). */
  readonly contentHmac: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly schemaVersion: number;
}

/** A sealed-queue copy (null: there was no queue file to copy). */
export type QueueCopyResult = (FileDigest & { readonly rows: number; readonly contentHmac: string }) | null;

export type WorkerResult = VacuumResult | FileDigest | VerifyResult | QueueCopyResult;

const CHUNK = 1 << 20;

export function hashFile(file: string): FileDigest {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { size, sha256: hash.digest('hex') };
}

/** Copies and hashes in one pass, then fsyncs the copy. */
export function copyAndHash(source: string, target: string): FileDigest {
  const hash = createHash('sha256');
  const input = fs.openSync(source, 'r');
  const output = fs.openSync(target, 'wx', 0o600);
  const buf = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  try {
    for (;;) {
      const n = fs.readSync(input, buf, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      let written = 0;
      while (written < n) written += fs.writeSync(output, buf, written, n - written);
      size += n;
    }
    fs.fsyncSync(output);
  } finally {
    fs.closeSync(input);
    fs.closeSync(output);
  }
  return { size, sha256: hash.digest('hex') };
}

/** wal_checkpoint(PASSIVE) + VACUUM INTO target (same cipher and key), then reopen the copy and quick_check it. */
export function vacuumSnapshot(source: string, keyBytes: Uint8Array, target: string): VacuumResult {
  const key = Buffer.from(keyBytes);
  try {
    const db = openWithRawKey(source, key);
    try {
      // PASSIVE never waits for writers: concurrent appends keep going; VACUUM INTO reads one consistent snapshot.
      db.pragma('wal_checkpoint(PASSIVE)');
      createPrivateFile(target); // SQLite would create it 0644; an empty file is a valid VACUUM INTO target
      db.prepare('VACUUM INTO ?').run(target);
    } finally {
      db.close();
    }
    fsyncFile(target);
    const copy = openWithRawKey(target, key, { readonly: true });
    let version: number;
    let contentHmac: string;
    try {
      if (!quickCheck(copy)) throw new Error('snapshot failed quick_check');
      version = schemaVersion(copy);
      contentHmac = contentFingerprint(copy, key);
    } finally {
      copy.close();
    }
    return { ...hashFile(target), schemaVersion: version, contentHmac };
  } finally {
    key.fill(0);
  }
}

/**
 * sqlite3mc writes a fresh random nonce into every page it writes, so two VACUUM INTO copies of the
 * same content never have the same SHA-256. Dedupe therefore compares this instead: an HMAC (keyed
 * from the mailbox key, so it confirms nothing to someone guessing content) over the schema and every
 * row of every table in storage order.
 */
export function contentFingerprint(db: SqliteDb, key: Buffer): string {
  const macKey = createHmac('sha256', key).update('sealpost backup content fingerprint v1').digest();
  const mac = createHmac('sha256', macKey);
  macKey.fill(0);
  const tables = db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name")
    .all() as { name: string; sql: string }[];
  const len = Buffer.alloc(8);
  const feed = (tag: string, bytes: Buffer): void => {
    len.writeBigUInt64BE(BigInt(bytes.length));
    mac.update(tag).update(len).update(bytes);
  };
  for (const table of tables) {
    feed('T', Buffer.from(table.sql ?? '', 'utf8'));
    const rows = db.prepare(`SELECT * FROM "${table.name.replace(/"/g, '""')}"`).raw(true).safeIntegers(true);
    for (const row of rows.iterate() as IterableIterator<unknown[]>) {
      mac.update('R');
      for (const value of row) {
        if (value === null) mac.update('n');
        else if (Buffer.isBuffer(value)) feed('b', value);
        else if (typeof value === 'bigint') feed('i', Buffer.from(value.toString()));
        else if (typeof value === 'number') feed('f', Buffer.from(String(value)));
        else feed('s', Buffer.from(String(value), 'utf8'));
      }
    }
  }
  return mac.digest('hex');
}

/** The sealed queue's point-in-time copy (queue/snapshot.ts), hashed for the manifest. `keyBytes` is the app key. */
export function vacuumQueue(source: string, keyBytes: Uint8Array, target: string): QueueCopyResult {
  const key = Buffer.from(keyBytes);
  try {
    const copied = snapshotQueueFile(source, key, target);
    if (!copied) return null;
    // The copy's bytes differ every time (fresh page nonces): dedupe compares this fingerprint instead.
    const fileKey = queueFileKey(key);
    try {
      const db = openWithRawKey(target, fileKey, { readonly: true });
      try {
        return { ...hashFile(target), rows: copied.rows, contentHmac: contentFingerprint(db, fileKey) };
      } finally {
        db.close();
      }
    } finally {
      fileKey.fill(0);
    }
  } finally {
    key.fill(0);
  }
}

export function verifyWithKey(file: string, keyBytes: Uint8Array): VerifyResult {
  const key = Buffer.from(keyBytes);
  try {
    const db = openWithRawKey(file, key, { readonly: true });
    try {
      return { ok: quickCheck(db), schemaVersion: schemaVersion(db) };
    } finally {
      db.close();
    }
  } finally {
    key.fill(0);
  }
}

/**
 * The sqlite export: VACUUM INTO with the mailbox key, then re-key the copy with the alias password
 * through sqlite3mc's default chacha20 KDF (PBKDF2-SHA256, 64007 iterations, random salt in the file),
 * which is what `PRAGMA key='password'` in DB Browser for SQLite (sqlite3mc build) / SQLiteStudio does.
 * Re-keying is refused in WAL mode, so the copy is switched to DELETE first (VACUUM INTO output is).
 */
export function exportSqlite(source: string, keyBytes: Uint8Array, passwordBytes: Uint8Array, target: string): FileDigest {
  const key = Buffer.from(keyBytes);
  const password = Buffer.from(passwordBytes);
  try {
    const db = openWithRawKey(source, key);
    try {
      createPrivateFile(target); // the export may land outside the data dir: 0600 from its first byte
      db.prepare('VACUUM INTO ?').run(target);
    } finally {
      db.close();
    }
    const copy = openWithRawKey(target, key);
    try {
      copy.pragma('journal_mode = DELETE');
      copy.rekey(password);
    } finally {
      copy.close();
    }
    const check = openWithPassphrase(target, password.toString('utf8'), { readonly: true });
    try {
      if (!quickCheck(check)) throw new Error('the exported file failed quick_check');
    } finally {
      check.close();
    }
    fsyncFile(target);
    return hashFile(target);
  } finally {
    key.fill(0);
    password.fill(0);
  }
}

/** Re-keys a password-keyed export in place to a raw key (so the mailbox store can open it). */
export function passphraseToRawKey(file: string, passwordBytes: Uint8Array, keyBytes: Uint8Array): FileDigest {
  const key = Buffer.from(keyBytes);
  const password = Buffer.from(passwordBytes);
  try {
    const db = openWithPassphrase(file, password.toString('utf8'));
    try {
      db.pragma('journal_mode = DELETE');
      rekeyRaw(db, key);
    } finally {
      db.close();
    }
    return hashFile(file);
  } finally {
    key.fill(0);
    password.fill(0);
  }
}

export function runWorkerRequest(request: WorkerRequest): WorkerResult {
  switch (request.op) {
    case 'vacuum':
      return vacuumSnapshot(request.source, request.key, request.target);
    case 'vacuumQueue':
      return vacuumQueue(request.source, request.key, request.target);
    case 'copy':
      return copyAndHash(request.source, request.target);
    case 'hash':
      return hashFile(request.file);
    case 'verify':
      return verifyWithKey(request.file, request.key);
    case 'exportSqlite':
      return exportSqlite(request.source, request.key, request.password, request.target);
    case 'passphraseToRawKey':
      return passphraseToRawKey(request.file, request.password, request.key);
  }
}
