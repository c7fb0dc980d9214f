// Opening one mailbox file through the shared opener (server/sqlite.ts): raw key, verified, then the live
// profile — WAL + synchronous=FULL, so a committed delivery is fsynced before commit returns.
import { openSqlite, SQLITE_KEY_BYTES, SqliteUnreadable, type SqliteDb } from '../sqlite.js';
import { InvalidRequest, WrongKey } from './errors.js';

export type Db = SqliteDb;

export interface OpenDbOptions {
  /** false only for benchmarks measuring the cost of encryption (never in the product). */
  readonly encrypted: boolean;
  readonly readonly?: boolean;
  readonly mustExist?: boolean;
}

export const KEY_BYTES = SQLITE_KEY_BYTES;

/** Checks the mailbox key shape; the key is always a raw 32-byte key, never a password. */
export function assertKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new InvalidRequest('mailbox key must be 32 bytes');
}

/** The store's error for a file the key does not open: WrongKey; any other failure stays SQLite's own. */
function mailboxError(err: unknown): unknown {
  if (err instanceof SqliteUnreadable) return err.keyRefused ? new WrongKey() : err.cause;
  return err;
}

/** Opens a mailbox file (must exist unless told otherwise); throws WrongKey when the key does not open it. */
export function openDb(file: string, key: Buffer | null, options: OpenDbOptions): Db {
  if (options.encrypted && !key) throw new InvalidRequest('mailbox key required');
  try {
    return openSqlite(file, {
      key: options.encrypted ? key : null,
      profile: 'live',
      readonly: options.readonly ?? false,
      mustExist: options.mustExist ?? true,
    });
  } catch (err) {
    throw mailboxError(err);
  }
}

/** Opens a copy of a mailbox (the re-key's VACUUM INTO target) without touching its journal mode; WrongKey as above. */
export function openMailboxCopy(file: string, key: Buffer): Db {
  try {
    return openSqlite(file, { key, profile: 'copy', mustExist: true });
  } catch (err) {
    throw mailboxError(err);
  }
}
