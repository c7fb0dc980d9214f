// Versioned schema of sealpost.db. Append new migrations; never edit a released one. PRAGMA user_version = applied count.
import type { SqliteDatabase } from './db.js';

export const MIGRATIONS: readonly string[] = [
  // 1: domains, aliases, forwards, webhooks, settings, audit log.
  `
  CREATE TABLE domains (
    name TEXT PRIMARY KEY,                 -- lowercase ASCII (punycode)
    unicode_name TEXT NOT NULL,
    catch_all_alias_id TEXT REFERENCES aliases(id) ON DELETE SET NULL,
    dmarc_reject_to_junk INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
  );
  CREATE TABLE aliases (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL UNIQUE,          -- normalized local@ascii-domain, no +tag
    domain TEXT NOT NULL REFERENCES domains(name) ON DELETE RESTRICT,
    mailbox_id TEXT NOT NULL UNIQUE,
    salt BLOB NOT NULL,
    kdf TEXT NOT NULL,                     -- KdfParams JSON
    verifier BLOB NOT NULL,
    public_key BLOB NOT NULL,
    wrapped_private_key BLOB NOT NULL,
    quota_bytes INTEGER,
    enabled INTEGER NOT NULL DEFAULT 1,
    remember INTEGER NOT NULL DEFAULT 0,
    save_sent_copy INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL
  );
  CREATE INDEX aliases_by_domain ON aliases(domain);
  CREATE TABLE forwards (
    id INTEGER PRIMARY KEY,
    alias_id TEXT NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
    target TEXT NOT NULL,
    keep_copy INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL,
    UNIQUE (alias_id, target)
  );
  CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    alias_id TEXT NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created TEXT NOT NULL
  );
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL                    -- JSON
  );
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    event TEXT NOT NULL,
    alias_id TEXT,
    detail TEXT                            -- JSON, ids and counts only
  );
  CREATE INDEX audit_by_time ON audit_log(time);
  `,
  // 2: last-known mailbox usage per alias (message bytes only), so the MX can enforce quotas while the
  // mailbox file is locked; queued_bytes = raw bytes sealed into the queue since the last drain.
  `
  CREATE TABLE alias_usage (
    alias_id TEXT PRIMARY KEY REFERENCES aliases(id) ON DELETE CASCADE,
    used_bytes INTEGER NOT NULL DEFAULT 0,
    queued_bytes INTEGER NOT NULL DEFAULT 0,
    updated TEXT NOT NULL
  );
  `,
];

/** Applies the migrations not yet applied, each in its own transaction. Refuses a newer schema. */
export function migrate(db: SqliteDatabase): number {
  const version = (): number => Number(db.pragma('user_version', { simple: true }));
  if (version() > MIGRATIONS.length) {
    throw new Error(`sealpost.db has schema version ${version()}, newer than this Sealpost (${MIGRATIONS.length}); upgrade Sealpost.`);
  }
  // Re-read the version inside each write transaction: a CLI and a server may start on the same data dir at once.
  const step = db.transaction((): boolean => {
    const current = version();
    if (current >= MIGRATIONS.length) return false;
    db.exec(MIGRATIONS[current]);
    db.pragma(`user_version = ${current + 1}`);
    return true;
  });
  while (step.immediate()) {
    // next migration
  }
  return MIGRATIONS.length;
}
