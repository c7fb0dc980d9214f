// The owner's Sieve scripts (RFC 5228) and the vacation reply log (RFC 5230 §4.2), kept inside the encrypted mailbox
// file like the mail they act on: nothing of a script, nor whom the owner answered, is readable outside it.
// At most one script is active (RFC 5804 §1.3); the active one cannot be deleted (RFC 5804 §2.10).
import type { Statement } from 'better-sqlite3-multiple-ciphers';
import { MailboxError } from './errors.js';

/** No script of that name (ManageSieve: NO (NONEXISTENT)). */
export class NoSuchScript extends MailboxError {
  constructor(message = 'There is no script of that name') {
    super('INVALID', message);
  }
}

/** A script of that name exists (ManageSieve: NO (ALREADYEXISTS)). */
export class ScriptExists extends MailboxError {
  constructor(message = 'A script of that name already exists') {
    super('INVALID', message);
  }
}

/** The active script cannot be deleted (ManageSieve: NO (ACTIVE)). */
export class ScriptActive extends MailboxError {
  constructor(message = 'The active script cannot be deleted; deactivate it first') {
    super('INVALID', message);
  }
}

export interface SieveScriptInfo {
  readonly name: string;
  readonly active: boolean;
  /** Size of the script text in bytes (UTF-8). */
  readonly size: number;
  readonly updatedAt: Date;
}

/** The Sieve verbs of an open mailbox. Each write is one transaction, fsynced before it returns. */
export interface SieveStore {
  list(): SieveScriptInfo[];
  /** The script text, or null when there is none of that name. */
  get(name: string): string | null;
  /** Creates or replaces a script (an active one stays active). */
  put(name: string, content: string): void;
  /** Deletes a script; throws NoSuchScript, or ScriptActive for the active one. */
  delete(name: string): void;
  /** Renames a script (keeps its active mark); throws NoSuchScript or ScriptExists. */
  rename(from: string, to: string): void;
  /** Makes the named script the only active one; null deactivates all. Throws NoSuchScript. */
  setActive(name: string | null): void;
  /** The active script, or null. */
  active(): { readonly name: string; readonly content: string } | null;
  /** Total bytes of all scripts (ManageSieve HAVESPACE). */
  totalBytes(): number;
  /**
   * When a vacation reply to this key (a hash of sender and :handle, made by the caller) was last sent, or null.
   * Entries older than `olderThan` are removed first, so the log never outgrows the longest :days period.
   */
  lastVacationReply(key: Buffer, olderThan: Date): Date | null;
  /** Records that a vacation reply to key was sent at `at`. */
  recordVacationReply(key: Buffer, at: Date): void;
}

/** The statement and transaction plumbing of the mailbox file the store lives in. */
export interface SieveStorePlumbing {
  stmt(sql: string): Statement;
  write<T>(fn: () => T): T;
}

export const SIEVE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS sieve_scripts (
    name TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS sieve_vacation_log (key BLOB PRIMARY KEY, sent_at INTEGER NOT NULL) WITHOUT ROWID;
`;

interface ScriptRow {
  name: string;
  content: string;
  active: number;
  updated_at: number;
}

export function sieveStore(db: SieveStorePlumbing): SieveStore {
  const exists = (name: string): boolean => db.stmt('SELECT 1 FROM sieve_scripts WHERE name = ?').get(name) !== undefined;
  return {
    list() {
      const rows = db.stmt('SELECT name, content, active, updated_at FROM sieve_scripts ORDER BY name').all() as ScriptRow[];
      return rows.map((r) => ({ name: r.name, active: r.active === 1, size: Buffer.byteLength(r.content), updatedAt: new Date(r.updated_at) }));
    },
    get(name) {
      const row = db.stmt('SELECT content FROM sieve_scripts WHERE name = ?').get(name) as { content: string } | undefined;
      return row ? row.content : null;
    },
    put(name, content) {
      db.write(() => {
        db.stmt('INSERT INTO sieve_scripts (name, content, active, updated_at) VALUES (?, ?, 0, ?) ON CONFLICT(name) DO UPDATE SET content = excluded.content, updated_at = excluded.updated_at').run(name, content, Date.now());
      });
    },
    delete(name) {
      db.write(() => {
        const row = db.stmt('SELECT active FROM sieve_scripts WHERE name = ?').get(name) as { active: number } | undefined;
        if (!row) throw new NoSuchScript();
        if (row.active === 1) throw new ScriptActive();
        db.stmt('DELETE FROM sieve_scripts WHERE name = ?').run(name);
      });
    },
    rename(from, to) {
      db.write(() => {
        if (!exists(from)) throw new NoSuchScript();
        if (from === to) return;
        if (exists(to)) throw new ScriptExists();
        db.stmt('UPDATE sieve_scripts SET name = ?, updated_at = ? WHERE name = ?').run(to, Date.now(), from);
      });
    },
    setActive(name) {
      db.write(() => {
        if (name !== null && !exists(name)) throw new NoSuchScript();
        db.stmt('UPDATE sieve_scripts SET active = 0 WHERE active != 0').run();
        if (name !== null) db.stmt('UPDATE sieve_scripts SET active = 1 WHERE name = ?').run(name);
      });
    },
    active() {
      const row = db.stmt('SELECT name, content FROM sieve_scripts WHERE active = 1').get() as { name: string; content: string } | undefined;
      return row ? { name: row.name, content: row.content } : null;
    },
    totalBytes() {
      const row = db.stmt('SELECT COALESCE(SUM(LENGTH(CAST(content AS BLOB))), 0) AS n FROM sieve_scripts').get() as { n: number };
      return row.n;
    },
    lastVacationReply(key, olderThan) {
      db.write(() => {
        db.stmt('DELETE FROM sieve_vacation_log WHERE sent_at < ?').run(olderThan.getTime());
      });
      const row = db.stmt('SELECT sent_at FROM sieve_vacation_log WHERE key = ?').get(key) as { sent_at: number } | undefined;
      return row ? new Date(row.sent_at) : null;
    },
    recordVacationReply(key, at) {
      db.write(() => {
        db.stmt('INSERT INTO sieve_vacation_log (key, sent_at) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET sent_at = excluded.sent_at').run(key, at.getTime());
      });
    },
  };
}
