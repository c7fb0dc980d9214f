// Opens one queue file: SQLite3MultipleCiphers, cipher=chacha20, raw 32-byte key, durable pragmas.
import fs from 'node:fs';
import Database from 'better-sqlite3-multiple-ciphers';
import { makePrivate } from '../fsutil.js';

export type QueueDatabase = Database.Database;

/** The queue file does not decrypt with this app key (or is not a queue file). */
export class QueueFileUnreadable extends Error {
  constructor(readonly mailboxId: string) {
    super(`queue file of mailbox ${mailboxId} cannot be decrypted with this app key`);
    this.name = 'QueueFileUnreadable';
  }
}

const SCHEMA_VERSION = 1;

/** Selects the queue's cipher and raw key on a fresh handle; QueueFileUnreadable when the key does not open it. */
export function applyQueueKey(db: QueueDatabase, key: Uint8Array, mailboxId: string): void {
  db.pragma("cipher='chacha20'");
  db.pragma(`key="x'${Buffer.from(key).toString('hex')}'"`); // raw key, never a passphrase
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch {
    throw new QueueFileUnreadable(mailboxId);
  }
}

export function openQueueDatabase(file: string, key: Uint8Array, mailboxId: string): QueueDatabase {
  if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600)); // SQLite would create it 0644
  const db = new Database(file);
  for (const f of [file, `${file}-wal`, `${file}-shm`]) makePrivate(f); // a file an older version left looser (-wal/-shm follow the db's mode)
  try {
    applyQueueKey(db, key, mailboxId);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL'); // every commit fsyncs the WAL: enqueue returns only when durable
    db.pragma('busy_timeout = 5000');
    db.pragma('secure_delete = ON'); // drained rows are overwritten, not just unlinked from the b-tree
    db.pragma('temp_store = MEMORY');
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
