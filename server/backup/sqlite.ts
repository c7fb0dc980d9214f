// Opening encrypted SQLite copies directly (snapshots, generations, exports) — outside the mailbox store,
// which only opens live files under mailboxes/. Raw keys go through the shared opener (server/sqlite.ts,
// copy profile); the one passphrase open (exports for DB Browser/SQLiteStudio) is here and nowhere else.
import { applyCipher, checkIntegrity, openSqlite, schemaVersion, SqliteUnreadable, verifyReadable, type SqliteDb } from '../sqlite.js';
import Database from 'better-sqlite3-multiple-ciphers';
import { WrongKey } from '../mailbox/errors.js';

export type { SqliteDb };
export { schemaVersion };

/** Opens `file` with the raw 32-byte chacha20 key; throws WrongKey when the key does not decrypt it. */
export function openWithRawKey(file: string, key: Buffer, options: { readonly?: boolean; fileMustExist?: boolean } = {}): SqliteDb {
  try {
    return openSqlite(file, { key, profile: 'copy', readonly: options.readonly ?? false, mustExist: options.fileMustExist ?? true });
  } catch (error) {
    if (error instanceof SqliteUnreadable) {
      if (error.keyRefused) throw new WrongKey('The key does not open this file');
      throw error.cause;
    }
    throw error;
  }
}

/** Opens `file` keyed with a passphrase through sqlite3mc's default chacha20 KDF (what DB Browser/SQLiteStudio do). */
export function openWithPassphrase(file: string, passphrase: string, options: { readonly?: boolean } = {}): SqliteDb {
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: true });
  try {
    applyCipher(db);
    // db.key() passes the bytes to sqlite3_key: the passphrase never appears inside an SQL string.
    db.key(Buffer.from(passphrase, 'utf8'));
    verifyReadable(db, file);
  } catch (error) {
    db.close();
    if (error instanceof SqliteUnreadable) {
      if (error.keyRefused) throw new WrongKey('The password does not open this file');
      throw error.cause;
    }
    throw error;
  }
  db.pragma('temp_store = MEMORY');
  return db;
}

/** `PRAGMA quick_check` → true when the file is sound. */
export function quickCheck(db: SqliteDb): boolean {
  return checkIntegrity(db, 'quick');
}
