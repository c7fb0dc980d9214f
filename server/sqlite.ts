// The one way Sealpost opens an SQLite file: SQLite3MultipleCiphers with cipher=chacha20 and a raw 32-byte
// key (never a passphrase, so no KDF), checked to decrypt the file before anything can write to it, then the
// pragmas of its profile. Every store (mailbox, queue, directory, outbound, webhooks, backup copies) opens
// through here and keeps only its schema, its migrations and the mapping of SqliteUnreadable to its own error.
import fs from 'node:fs';
import Database from 'better-sqlite3-multiple-ciphers';
import { makePrivate } from './fsutil.js';

export type SqliteDb = Database.Database;

/** db.prepare with the statement kept per SQL text (see statementCache). */
export type CachedPrepare = <P extends unknown[] | object = unknown[], R = unknown>(sql: string) => Database.Statement<P, R>;

/**
 * Prepares each SQL text once per connection (better-sqlite3 compiles anew on every prepare(): ~0.3 ms a
 * statement on hot paths). Only for fixed SQL texts; past `max` distinct texts the cache starts over, so SQL
 * built from input cannot grow it without bound.
 */
export function statementCache(db: SqliteDb, max = 512): CachedPrepare {
  const cache = new Map<string, Database.Statement>();
  return <P extends unknown[] | object = unknown[], R = unknown>(sql: string): Database.Statement<P, R> => {
    let statement = cache.get(sql);
    if (!statement) {
      if (cache.size >= max) cache.clear();
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  };
}

/** Raw key length of every encrypted file (chacha20). */
export const SQLITE_KEY_BYTES = 32;

/** How the file is used, which decides the pragmas after the key. */
export type SqliteProfile =
  /**
   * A live store file: journal_mode=WAL (read-write only), synchronous=FULL (a commit is fsynced to the WAL
   * before it returns), secure_delete=ON (deleted rows are overwritten; sqlite3mc also turns it on for any keyed file), busy_timeout, foreign_keys=ON, temp_store=MEMORY.
   */
  | 'live'
  /** A point-in-time copy (snapshot, generation, export) read or rewritten whole: busy_timeout, foreign_keys=ON and temp_store=MEMORY only. */
  | 'copy';

export interface SqliteOpenOptions {
  /** Raw 32-byte key, or null for an unencrypted file (benchmarks measuring the cipher; lock files). */
  readonly key: Uint8Array | null;
  readonly profile: SqliteProfile;
  /** Open read-only: nothing is created, chmodded or written. */
  readonly readonly?: boolean;
  /** Throw SqliteFileMissing instead of creating a missing file (always so when read-only). */
  readonly mustExist?: boolean;
  /** ms a statement waits for another connection's lock; default 5000. */
  readonly busyTimeoutMs?: number;
}

/** The file is not there and the caller asked not to create it. */
export class SqliteFileMissing extends Error {
  constructor(readonly file: string) {
    super('database file does not exist');
    this.name = 'SqliteFileMissing';
  }
}

/**
 * The file could not be read after the key was applied. `keyRefused`: SQLite says it is not a database —
 * the key is wrong, or the file is not an SQLite file at all. Otherwise `cause` is SQLite's own error.
 */
export class SqliteUnreadable extends Error {
  readonly keyRefused: boolean;
  constructor(
    readonly file: string,
    override readonly cause: unknown,
  ) {
    super('file is not a database or the key is wrong');
    this.name = 'SqliteUnreadable';
    this.keyRefused = isNotADatabase(cause);
  }
}

/** SQLite's "file is not a database" (SQLITE_NOTADB): what a wrong key looks like. */
export function isNotADatabase(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'SQLITE_NOTADB';
}

/** Selects Sealpost's cipher on a fresh handle, before any key. */
export function applyCipher(db: SqliteDb): void {
  db.pragma("cipher='chacha20'");
}

/** Selects the cipher and applies the raw key; must run before any other statement touches the file. */
export function applyRawKey(db: SqliteDb, key: Uint8Array): void {
  if (key.length !== SQLITE_KEY_BYTES) throw new RangeError(`database key must be ${SQLITE_KEY_BYTES} bytes`);
  applyCipher(db);
  // Raw key as a hex blob literal: sqlite3mc uses it directly (no KDF, no password string in a PRAGMA).
  // The hex is built from our bytes, so nothing user-controlled is interpolated.
  db.pragma(`key="x'${hexOf(key)}'"`);
}

/**
 * Re-encrypts the whole file under a new raw key (PRAGMA rekey). sqlite3mc cannot rekey a WAL-mode file:
 * the caller sets journal_mode=DELETE first.
 */
export function rekeyRaw(db: SqliteDb, key: Uint8Array): void {
  if (key.length !== SQLITE_KEY_BYTES) throw new RangeError(`database key must be ${SQLITE_KEY_BYTES} bytes`);
  db.pragma(`rekey="x'${hexOf(key)}'"`);
}

function hexOf(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

/** Reads the schema once, writing nothing; throws SqliteUnreadable when the key does not open the file. */
export function verifyReadable(db: SqliteDb, file: string): void {
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    throw new SqliteUnreadable(file, err);
  }
}

/** Creates a missing file 0600 before SQLite would create it 0644 (minus the umask); an existing file is left alone. */
export function createPrivateIfMissing(file: string): void {
  // Never open an existing file here: closing any descriptor drops this process's POSIX locks on it.
  if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600));
}

/**
 * Opens `file`: (create 0600 when allowed) → open → key → verify (nothing has written yet, so a wrong key
 * leaves the file byte-for-byte unchanged) → the profile's pragmas. Throws SqliteFileMissing, SqliteUnreadable
 * or SQLite's own error; the handle is closed on every failure.
 */
export function openSqlite(file: string, options: SqliteOpenOptions): SqliteDb {
  if (options.key && options.key.length !== SQLITE_KEY_BYTES) throw new RangeError(`database key must be ${SQLITE_KEY_BYTES} bytes`);
  const readonly = options.readonly ?? false;
  const mustExist = readonly || (options.mustExist ?? false);
  if (!mustExist) createPrivateIfMissing(file);
  else if (!fs.existsSync(file)) throw new SqliteFileMissing(file);
  let db: SqliteDb;
  try {
    db = new Database(file, { readonly, fileMustExist: mustExist });
  } catch (err) {
    // Removed between the check and the open.
    if ((err as { code?: unknown }).code === 'SQLITE_CANTOPEN' && !fs.existsSync(file)) throw new SqliteFileMissing(file);
    throw err;
  }
  // 0600 for a file an older version left looser; SQLite gives the -wal and -shm it creates the db file's mode.
  if (!readonly) for (const f of [file, `${file}-wal`, `${file}-shm`]) makePrivate(f);
  try {
    if (options.key) applyRawKey(db, options.key);
    verifyReadable(db, file);
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    if (options.profile === 'live') {
      if (!readonly) {
        db.pragma("encoding = 'UTF-8'"); // SQLite's default; named so a new file never depends on a build option
        db.pragma('journal_mode = WAL');
      }
      db.pragma('synchronous = FULL');
      db.pragma('secure_delete = ON');
    }
    db.pragma('foreign_keys = ON'); // better-sqlite3's default too; stated so no store depends on a build option
    // No plaintext temp files: sorts, temp b-trees and VACUUM scratch stay in memory.
    db.pragma('temp_store = MEMORY');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** `PRAGMA quick_check` (or the slower, fuller integrity_check) → true when the file is sound. */
export function checkIntegrity(db: SqliteDb, depth: 'quick' | 'full' = 'quick'): boolean {
  const rows = db.pragma(depth === 'quick' ? 'quick_check' : 'integrity_check', { simple: false }) as Record<string, unknown>[];
  return rows.length === 1 && Object.values(rows[0] ?? {})[0] === 'ok';
}

/** The schema version the store records (PRAGMA user_version). */
export function schemaVersion(db: SqliteDb): number {
  return Number(db.pragma('user_version', { simple: true }));
}
