// Opens one queue file: SQLite3MultipleCiphers, cipher=chacha20, raw 32-byte key, durable pragmas.
import { openSqlite, SqliteUnreadable, type SqliteDb, type SqliteOpenOptions } from '../sqlite.js';

export type QueueDatabase = SqliteDb;

/** The queue file does not decrypt with this app key (or is not a queue file). */
export class QueueFileUnreadable extends Error {
  constructor(readonly mailboxId: string) {
    super(`queue file of mailbox ${mailboxId} cannot be decrypted with this app key`);
    this.name = 'QueueFileUnreadable';
  }
}

const SCHEMA_VERSION = 1;

/** Opens a queue file (or a copy of one) through the shared opener; QueueFileUnreadable when the key does not open it. */
export function openQueueFile(file: string, key: Uint8Array, mailboxId: string, options: Omit<SqliteOpenOptions, 'key'>): QueueDatabase {
  try {
    return openSqlite(file, { ...options, key });
  } catch (error) {
    if (error instanceof SqliteUnreadable) throw new QueueFileUnreadable(mailboxId);
    throw error;
  }
}

/** Opens (creating 0600 if needed) the live queue file: WAL, synchronous=FULL (enqueue returns only when durable), secure_delete. */
export function openQueueDatabase(file: string, key: Uint8Array, mailboxId: string): QueueDatabase {
  const db = openQueueFile(file, key, mailboxId, { profile: 'live' });
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === 0) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS item (
          seq    INTEGER PRIMARY KEY AUTOINCREMENT, -- arrival order, never reused
          sealed BLOB NOT NULL                      -- seal(alias public key, envelope): id, meta, message
        );
        PRAGMA user_version = ${SCHEMA_VERSION};
      `);
    } else if (version !== SCHEMA_VERSION) {
      throw new Error(`queue file of mailbox ${mailboxId} has schema ${version}; this build knows ${SCHEMA_VERSION}`);
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
