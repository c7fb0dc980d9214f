// Opens an SQLite3MultipleCiphers file encrypted with a raw 32-byte key (cipher=chacha20) and applies
// our durability pragmas. Used for files under the app key (sealpost.db; queue/outbound may reuse it).
import fs from 'node:fs';
import Database from 'better-sqlite3-multiple-ciphers';

export type SqliteDatabase = Database.Database;

/** The key does not decrypt the file (or the file is not a Sealpost database at all). */
export class UndecryptableDatabase extends Error {
  constructor(readonly file: string) {
    super('file is not a database or the key is wrong');
    this.name = 'UndecryptableDatabase';
  }
}

export interface OpenEncryptedOptions {
  readonly readonly?: boolean;
  /** Fail instead of creating a missing file. */
  readonly mustExist?: boolean;
}

export function openEncryptedDatabase(file: string, key: Buffer, options: OpenEncryptedOptions = {}): SqliteDatabase {
  if (key.length !== 32) throw new Error('database key must be 32 bytes');
  if (!options.readonly && !options.mustExist && !fs.existsSync(file)) {
    // Create it 0600 ourselves: SQLite would use 0644 (minus umask).
    fs.closeSync(fs.openSync(file, 'a', 0o600));
  }
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.mustExist ?? false });
  try {
    db.pragma(`cipher='chacha20'`);
    // Raw key as a hex blob literal: never a passphrase, never interpolated user input.
    db.pragma(`key="x'${key.toString('hex')}'"`);
    try {
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch {
      throw new UndecryptableDatabase(file);
    }
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
    }
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    db.pragma('secure_delete = ON');
    db.pragma('temp_store = MEMORY');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
