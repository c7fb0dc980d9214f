// Files under the app key (sealpost.db; outbound.sqlite and webhooks.sqlite too), opened through the shared
// opener (server/sqlite.ts) with the live profile; this module only names the error.
import { openSqlite, SqliteUnreadable, type SqliteDb } from '../sqlite.js';

export type SqliteDatabase = SqliteDb;

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

/** Opens (creating 0600 unless told otherwise) a file under the app key; UndecryptableDatabase when the key does not open it. */
export function openEncryptedDatabase(file: string, key: Buffer, options: OpenEncryptedOptions = {}): SqliteDatabase {
  try {
    return openSqlite(file, { key, profile: 'live', readonly: options.readonly ?? false, mustExist: options.mustExist ?? false });
  } catch (error) {
    if (error instanceof SqliteUnreadable) throw new UndecryptableDatabase(file);
    throw error;
  }
}
