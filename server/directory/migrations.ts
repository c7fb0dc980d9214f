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
  // 3: DMARC (RFC 7489) and TLS (RFC 8460) aggregate reports received for our domains, deduplicated by
  // (kind, org, report id), kept for SEALPOST_REPORTS_RETENTION_DAYS; the report address of each domain
  // (local part; NULL = the default).
  `
  ALTER TABLE domains ADD COLUMN report_local_part TEXT;
  CREATE TABLE aggregate_reports (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('dmarc', 'tls')),
    org TEXT NOT NULL,
    report_id TEXT NOT NULL,
    domain TEXT NOT NULL,                  -- our domain the report was delivered for (ASCII)
    policy_domain TEXT NOT NULL,           -- the domain the report describes (ours or a subdomain)
    contact TEXT NOT NULL,
    begin_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    policy TEXT,                           -- DMARC: the policy published, JSON
    received TEXT NOT NULL,
    UNIQUE (kind, org, report_id)
  );
  CREATE INDEX aggregate_reports_by_domain ON aggregate_reports(domain, end_time);
  CREATE INDEX aggregate_reports_by_end ON aggregate_reports(end_time);
  CREATE TABLE dmarc_report_rows (
    report INTEGER NOT NULL REFERENCES aggregate_reports(id) ON DELETE CASCADE,
    source_ip TEXT NOT NULL,
    count INTEGER NOT NULL,
    disposition TEXT NOT NULL,
    dkim TEXT NOT NULL,                    -- policy_evaluated (aligned): pass | fail | unknown
    spf TEXT NOT NULL,
    header_from TEXT NOT NULL,
    auth TEXT NOT NULL                     -- auth_results, JSON
  );
  CREATE INDEX dmarc_report_rows_by_report ON dmarc_report_rows(report);
  CREATE TABLE tls_report_policies (
    report INTEGER NOT NULL REFERENCES aggregate_reports(id) ON DELETE CASCADE,
    policy_type TEXT NOT NULL,
    policy_domain TEXT NOT NULL,
    successful INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    failures TEXT NOT NULL                 -- failure-details, JSON
  );
  CREATE INDEX tls_report_policies_by_report ON tls_report_policies(report);
  `,
  // App passwords: per-device passwords of an alias. Each has its own sealing key pair (private half wrapped
  // by a key derived from the app password, never stored) and the alias's mailbox key and private key sealed
  // to its public half, so a password change re-seals them without knowing any app password.
  `
  CREATE TABLE app_passwords (
    id TEXT PRIMARY KEY,
    alias_id TEXT NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
    name TEXT NOT NULL,                    -- the owner's label for the device
    salt BLOB NOT NULL,                    -- shared by the alias's app passwords: one derivation per login
    kdf TEXT NOT NULL,                     -- KdfParams JSON
    verifier BLOB NOT NULL,
    public_key BLOB NOT NULL,
    wrapped_private_key BLOB NOT NULL,
    sealed_keys BLOB NOT NULL,             -- mailbox key ‖ alias private key, sealed to public_key
    created TEXT NOT NULL,
    last_used TEXT,
    last_ip TEXT,
    UNIQUE (alias_id, name)
  );
  CREATE INDEX app_passwords_by_alias ON app_passwords(alias_id);
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
