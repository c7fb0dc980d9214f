// Opening one mailbox file: cipher + raw key first, verify it decrypts, then the durability pragmas.
import Database from 'better-sqlite3-multiple-ciphers';
import { makePrivate } from '../fsutil.js';
import { InvalidRequest, WrongKey } from './errors.js';

export type Db = Database.Database;

export interface OpenDbOptions {
  /** false only for benchmarks measuring the cost of encryption (never in the product). */
  readonly encrypted: boolean;
  readonly readonly?: boolean;
  readonly mustExist?: boolean;
}

export const KEY_BYTES = 32;

/** Checks the mailbox key shape; the key is always a raw 32-byte key, never a password. */
export function assertKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new InvalidRequest('mailbox key must be 32 bytes');
}

/** Applies cipher and raw key; must run before any other statement touches the file. */
export function applyKey(db: Db, key: Buffer): void {
  db.pragma("cipher='chacha20'");
  // Raw key as a hex blob literal: sqlite3mc uses it directly (no KDF, no password string in a PRAGMA).
  // The hex is built from our Buffer, so nothing user-controlled is interpolated.
  db.pragma(`key="x'${key.toString('hex')}'"`);
}

/** Throws WrongKey when the file does not decrypt with the key applied; reads only, never writes. */
export function verifyKey(db: Db): void {
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    if (isNotADatabase(err)) throw new WrongKey();
    throw err;
  }
}

export function isNotADatabase(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'SQLITE_NOTADB';
}

/**
 * Opens a mailbox file: key → verify → WAL + synchronous=FULL (a committed delivery is fsynced to the
 * WAL before commit returns, so it survives power loss) → the remaining pragmas.
 */
export function openDb(file: string, key: Buffer | null, options: OpenDbOptions): Db {
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.mustExist ?? true });
  // 0600 for a file SQLite just created (it uses 0644 minus the umask) or one an older version left looser;
  // SQLite gives the -wal and -shm files it creates the mode of the database file.
  if (!options.readonly) for (const f of [file, `${file}-wal`, `${file}-shm`]) makePrivate(f);
  try {
    if (options.encrypted) {
      if (!key) throw new InvalidRequest('mailbox key required');
      applyKey(db, key);
    }
    // Trap: nothing may write before verifyKey — a wrong key must leave the file byte-for-byte unchanged.
    verifyKey(db);
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      db.pragma("encoding = 'UTF-8'");
      db.pragma('journal_mode = WAL');
    }
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('secure_delete = ON');
    // No plaintext temp files: sorts, temp b-trees and VACUUM scratch stay in memory.
    db.pragma('temp_store = MEMORY');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
