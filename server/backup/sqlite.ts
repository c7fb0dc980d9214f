// Opening encrypted SQLite files directly (snapshots, generations, exports) — outside the mailbox store,
// which only opens live files under mailboxes/. Raw keys go in as hex (never a password string in SQL).
import Database from 'better-sqlite3-multiple-ciphers';
import { WrongKey } from '../mailbox/errors.js';

export type SqliteDb = Database.Database;

/** Opens `file` with the raw 32-byte chacha20 key; throws WrongKey when the key does not decrypt it. */
export function openWithRawKey(file: string, key: Buffer, options: { readonly?: boolean; fileMustExist?: boolean } = {}): SqliteDb {
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.fileMustExist ?? true });
  try {
    db.pragma("cipher='chacha20'");
    db.pragma(`key="x'${key.toString('hex')}'"`);
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (error) {
    db.close();
    if (error instanceof Error && /not a database|encrypted/i.test(error.message)) throw new WrongKey('The key does not open this file');
    throw error;
  }
  db.pragma('busy_timeout=5000');
  // Temp tables/indices of VACUUM stay in memory: no plaintext temp files.
  db.pragma('temp_store=MEMORY');
  return db;
}

/** Opens `file` keyed with a passphrase through sqlite3mc's default chacha20 KDF (what DB Browser/SQLiteStudio do). */
export function openWithPassphrase(file: string, passphrase: string, options: { readonly?: boolean } = {}): SqliteDb {
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: true });
  try {
    db.pragma("cipher='chacha20'");
    // db.key() passes the bytes to sqlite3_key: the passphrase never appears inside an SQL string.
    db.key(Buffer.from(passphrase, 'utf8'));
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (error) {
    db.close();
    if (error instanceof Error && /not a database|encrypted/i.test(error.message)) throw new WrongKey('The password does not open this file');
    throw error;
  }
  db.pragma('temp_store=MEMORY');
  return db;
}

/** `PRAGMA quick_check` → true when the file is sound. */
export function quickCheck(db: SqliteDb): boolean {
  const rows = db.pragma('quick_check') as { quick_check: string }[];
  return rows.length === 1 && rows[0]?.quick_check === 'ok';
}

/** The schema version the store records (PRAGMA user_version). */
export function schemaVersion(db: SqliteDb): number {
  return Number(db.pragma('user_version', { simple: true }));
}
