// The control database sealpost.db (encrypted with the app key): domains, aliases and their key material,
// forwards, webhooks, settings and the audit log. Every method is one short transaction, so a CLI
// process and a running server can share the file (WAL).
import crypto from 'node:crypto';
import { UserError } from '../config/errors.js';
import type { KdfParams } from '../crypto/types.js';
import type { MailboxId } from '../mailbox/types.js';
import { normalizeAddress, normalizeDomain, tryNormalizeAddress } from './address.js';
import { openEncryptedDatabase, UndecryptableDatabase, type SqliteDatabase } from './db.js';
import { migrate } from './migrations.js';
import { statementCache, type CachedPrepare } from '../sqlite.js';
import { DEFAULT_REPORT_LOCAL_PART, validReportLocalPart } from '../reports/index.js';
import { ReportStore } from './reports.js';
import { AppPasswordStore } from './app-passwords.js';

export { InvalidAddress, normalizeAddress, normalizeDomain, tryNormalizeAddress, type NormalizedAddress, type NormalizedDomain } from './address.js';
export { openEncryptedDatabase, UndecryptableDatabase, type SqliteDatabase } from './db.js';
export type { AppPasswordRecord, AppPasswordStore, NewAppPassword } from './app-passwords.js';

export type AliasId = string & { readonly __brand: 'AliasId' };

export interface DomainRecord {
  /** Lowercase ASCII (punycode) name. */
  readonly name: string;
  readonly unicodeName: string;
  /** Alias receiving mail for unknown local parts of this domain, or null. */
  readonly catchAllAliasId: AliasId | null;
  /** Deliver DMARC p=reject failures to Junk instead of refusing them. */
  readonly dmarcRejectToJunk: boolean;
  /** Local part of the address receiving the domain's aggregate reports; null = DEFAULT_REPORT_LOCAL_PART. */
  readonly reportLocalPart: string | null;
  readonly created: Date;
  readonly aliasCount: number;
}

export interface AliasRecord {
  readonly id: AliasId;
  /** Normalized `local@ascii-domain`. */
  readonly address: string;
  /** `local@unicode-domain` for display. */
  readonly displayAddress: string;
  readonly domain: string;
  readonly mailboxId: MailboxId;
  readonly salt: Buffer;
  readonly kdf: KdfParams;
  readonly verifier: Buffer;
  readonly publicKey: Buffer;
  readonly wrappedPrivateKey: Buffer;
  /** null = unlimited. */
  readonly quotaBytes: number | null;
  readonly enabled: boolean;
  /** The owner chose "remember on this device" (derived key kept in the OS keychain). */
  readonly remember: boolean;
  /** Keep a copy of mail sent through submission in Sent. */
  readonly saveSentCopy: boolean;
  readonly created: Date;
}

/** What createAlias stores; the caller (Accounts) derives the key material. */
export interface NewAlias {
  readonly id?: AliasId;
  readonly address: string;
  readonly mailboxId: MailboxId;
  readonly salt: Buffer;
  readonly kdf: KdfParams;
  readonly verifier: Buffer;
  readonly publicKey: Uint8Array;
  readonly wrappedPrivateKey: Uint8Array;
  readonly quotaBytes?: number | null;
  readonly enabled?: boolean;
  readonly remember?: boolean;
  /** Default off: most clients save their own copy to Sent. */
  readonly saveSentCopy?: boolean;
}

/** New key material after a password change. */
export interface AliasKeyUpdate {
  readonly salt: Buffer;
  readonly kdf: KdfParams;
  readonly verifier: Buffer;
  readonly wrappedPrivateKey: Uint8Array;
}

export interface ForwardRecord {
  readonly id: number;
  readonly aliasId: AliasId;
  readonly target: string;
  /** Also deliver to the alias's own mailbox. */
  readonly keepCopy: boolean;
  readonly created: Date;
}

export interface WebhookRecord {
  readonly id: number;
  readonly aliasId: AliasId;
  readonly url: string;
  readonly secret: string;
  readonly created: Date;
}

/** Last-known usage of an alias's mailbox (kept for quota checks while it is locked). */
export interface AliasUsageRecord {
  /** Bytes of stored messages when the mailbox was last open. */
  readonly usedBytes: number;
  /** Raw bytes of messages sealed into its queue since the last drain. */
  readonly queuedBytes: number;
  readonly updated: Date;
}

export interface AuditEntry {
  readonly id: number;
  readonly time: Date;
  readonly event: string;
  readonly aliasId: AliasId | null;
  readonly detail: Readonly<Record<string, string | number | boolean | null>> | null;
}

export type AuditDetail = Readonly<Record<string, string | number | boolean | null>>;

/** The app key does not open sealpost.db. */
export class WrongAppKey extends UserError {
  constructor() {
    super('The app key does not open sealpost.db: it was created with a different key (check SEALPOST_APP_KEY, the keychain entry or the key file).', 'WRONG_APP_KEY');
  }
}
export class UnknownDomain extends UserError {
  constructor(domain: string) {
    super(`The domain ${domain} is not set up here; add it first with: sealpost domain add ${domain}`, 'UNKNOWN_DOMAIN');
  }
}
export class DomainExists extends UserError {
  constructor(domain: string) {
    super(`The domain ${domain} is already set up.`, 'DOMAIN_EXISTS');
  }
}
export class DomainInUse extends UserError {
  constructor(domain: string, aliases: number) {
    super(`The domain ${domain} still has ${aliases} alias${aliases === 1 ? '; remove it first.' : 'es; remove them first.'}`, 'DOMAIN_IN_USE');
  }
}
export class AliasExists extends UserError {
  constructor(address: string) {
    super(`The alias ${address} already exists.`, 'ALIAS_EXISTS');
  }
}
export class UnknownAlias extends UserError {
  constructor(address: string) {
    super(`There is no alias ${address}.`, 'UNKNOWN_ALIAS');
  }
}

interface DomainRow {
  name: string;
  unicode_name: string;
  catch_all_alias_id: string | null;
  dmarc_reject_to_junk: number;
  report_local_part: string | null;
  created: string;
  alias_count: number;
}

interface AliasRow {
  id: string;
  address: string;
  domain: string;
  mailbox_id: string;
  salt: Buffer;
  kdf: string;
  verifier: Buffer;
  public_key: Buffer;
  wrapped_private_key: Buffer;
  quota_bytes: number | null;
  enabled: number;
  remember: number;
  save_sent_copy: number;
  created: string;
  unicode_name: string;
}

interface ForwardRow {
  id: number;
  alias_id: string;
  target: string;
  keep_copy: number;
  created: string;
}

interface WebhookRow {
  id: number;
  alias_id: string;
  url: string;
  secret: string;
  created: string;
}

interface AuditRow {
  id: number;
  time: string;
  event: string;
  alias_id: string | null;
  detail: string | null;
}

/** The settings key that marks an alias's junk filter as turned off (absent: on). */
const junkOffKey = (id: AliasId): string => `junkOff.${id}`;

const ALIAS_SELECT = 'SELECT a.*, d.unicode_name FROM aliases a JOIN domains d ON d.name = a.domain';

function parseKdf(json: string): KdfParams {
  const value: unknown = JSON.parse(json);
  if (typeof value !== 'object' || value === null) throw new Error('corrupt KDF parameters in sealpost.db');
  const v = value as Record<string, unknown>;
  if (v.algorithm !== 'argon2id' || typeof v.memoryKiB !== 'number' || typeof v.iterations !== 'number' || typeof v.parallelism !== 'number') {
    throw new Error('corrupt KDF parameters in sealpost.db');
  }
  return { algorithm: 'argon2id', memoryKiB: v.memoryKiB, iterations: v.iterations, parallelism: v.parallelism };
}

function toAlias(row: AliasRow): AliasRecord {
  const local = row.address.slice(0, row.address.lastIndexOf('@'));
  return {
    id: row.id as AliasId,
    address: row.address,
    displayAddress: `${local}@${row.unicode_name}`,
    domain: row.domain,
    mailboxId: row.mailbox_id as MailboxId,
    salt: row.salt,
    kdf: parseKdf(row.kdf),
    verifier: row.verifier,
    publicKey: row.public_key,
    wrappedPrivateKey: row.wrapped_private_key,
    quotaBytes: row.quota_bytes,
    enabled: row.enabled === 1,
    remember: row.remember === 1,
    saveSentCopy: row.save_sent_copy === 1,
    created: new Date(row.created),
  };
}

function toDomain(row: DomainRow): DomainRecord {
  return {
    name: row.name,
    unicodeName: row.unicode_name,
    catchAllAliasId: row.catch_all_alias_id as AliasId | null,
    dmarcRejectToJunk: row.dmarc_reject_to_junk === 1,
    reportLocalPart: row.report_local_part,
    created: new Date(row.created),
    aliasCount: row.alias_count,
  };
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error as { code: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function isPrimaryKeyViolation(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error as { code: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class Directory {
  /** The directory's SQL is fixed text: each statement is compiled once per connection. */
  private readonly sql: CachedPrepare;
  /** Aggregate reports received for our domains (server/directory/reports.ts). */
  readonly reports: ReportStore;
  /** App passwords of aliases (server/directory/app-passwords.ts). */
  readonly appPasswords: AppPasswordStore;

  private constructor(private readonly db: SqliteDatabase) {
    this.sql = statementCache(db);
    this.reports = new ReportStore(this.sql, (fn) => this.transaction(fn));
    this.appPasswords = new AppPasswordStore(this.sql, parseKdf, (event, aliasId, detail) => this.audit(event, aliasId as AliasId, detail));
  }

  /** Opens (creating and migrating if needed) sealpost.db; throws WrongAppKey when the key does not decrypt it. */
  static open(file: string, appKey: Buffer): Directory {
    let db: SqliteDatabase;
    try {
      db = openEncryptedDatabase(file, appKey);
    } catch (error) {
      if (error instanceof UndecryptableDatabase) throw new WrongAppKey();
      throw error;
    }
    try {
      migrate(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return new Directory(db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ── domains ────────────────────────────────────────────────────────────

  /** Adds a domain (IDN accepted, stored as punycode); throws DomainExists / InvalidAddress. */
  addDomain(name: string): DomainRecord {
    const domain = normalizeDomain(name);
    try {
      this.sql('INSERT INTO domains (name, unicode_name, created) VALUES (?, ?, ?)').run(domain.ascii, domain.unicode, new Date().toISOString());
    } catch (error) {
      if (isPrimaryKeyViolation(error) || isUniqueViolation(error)) throw new DomainExists(domain.unicode);
      throw error;
    }
    this.audit('domain.added');
    return this.requireDomain(domain.ascii);
  }

  getDomain(name: string): DomainRecord | null {
    let ascii: string;
    try {
      ascii = normalizeDomain(name).ascii;
    } catch {
      return null;
    }
    const row = this.sql<[string], DomainRow>('SELECT d.*, (SELECT count(*) FROM aliases a WHERE a.domain = d.name) AS alias_count FROM domains d WHERE d.name = ?')
      .get(ascii);
    return row ? toDomain(row) : null;
  }

  listDomains(): DomainRecord[] {
    return this.sql<[], DomainRow>('SELECT d.*, (SELECT count(*) FROM aliases a WHERE a.domain = d.name) AS alias_count FROM domains d ORDER BY d.name')
      .all()
      .map(toDomain);
  }

  /** Removes a domain that has no aliases left; throws UnknownDomain / DomainInUse. */
  removeDomain(name: string): void {
    const domain = this.requireDomain(normalizeDomain(name).ascii);
    if (domain.aliasCount > 0) throw new DomainInUse(domain.unicodeName, domain.aliasCount);
    this.sql('DELETE FROM domains WHERE name = ?').run(domain.name);
    this.audit('domain.removed');
  }

  /** Sets (or clears with null) the catch-all alias of a domain; the alias must be in that domain. */
  setCatchAll(domainName: string, aliasId: AliasId | null): void {
    const domain = this.requireDomain(normalizeDomain(domainName).ascii);
    if (aliasId !== null) {
      const alias = this.getAliasById(aliasId);
      if (!alias || alias.domain !== domain.name) throw new UserError(`The catch-all alias must belong to ${domain.unicodeName}.`, 'BAD_CATCH_ALL');
    }
    this.sql('UPDATE domains SET catch_all_alias_id = ? WHERE name = ?').run(aliasId, domain.name);
    this.audit('domain.catch_all_changed', aliasId);
  }

  setDmarcRejectToJunk(domainName: string, toJunk: boolean): void {
    const domain = this.requireDomain(normalizeDomain(domainName).ascii);
    this.sql('UPDATE domains SET dmarc_reject_to_junk = ? WHERE name = ?').run(toJunk ? 1 : 0, domain.name);
  }

  /** Sets (or with null, resets to the default) the local part of the domain's aggregate-report address. */
  setReportLocalPart(domainName: string, localPart: string | null): void {
    const domain = this.requireDomain(normalizeDomain(domainName).ascii);
    const local = localPart === null ? null : localPart.trim().toLowerCase();
    if (local !== null && !validReportLocalPart(local)) {
      throw new UserError('The report address must be a plain local part (letters, digits, dot, dash, underscore; no +tag), such as dmarc-reports.', 'BAD_REPORT_ADDRESS');
    }
    this.sql('UPDATE domains SET report_local_part = ? WHERE name = ?').run(local, domain.name);
    this.audit('domain.report_address_changed');
  }

  /** The domain (ASCII) whose aggregate-report address this is (+tag ignored), or null. */
  reportDomainOf(address: string): string | null {
    const normalized = tryNormalizeAddress(address);
    if (!normalized) return null;
    const domain = this.getDomain(normalized.domain);
    if (!domain) return null;
    return normalized.local === (domain.reportLocalPart ?? DEFAULT_REPORT_LOCAL_PART) ? domain.name : null;
  }

  private requireDomain(ascii: string): DomainRecord {
    const domain = this.getDomain(ascii);
    if (!domain) throw new UnknownDomain(ascii);
    return domain;
  }

  // ── aliases ────────────────────────────────────────────────────────────

  /** Stores a new alias; the address must be tag-free and its domain set up. Throws AliasExists / UnknownDomain / InvalidAddress. */
  insertAlias(alias: NewAlias): AliasRecord {
    const address = this.validateNewAddress(alias.address);
    const id = alias.id ?? (crypto.randomUUID() as AliasId);
    try {
      this.sql(
          `INSERT INTO aliases (id, address, domain, mailbox_id, salt, kdf, verifier, public_key, wrapped_private_key,
             quota_bytes, enabled, remember, save_sent_copy, created)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          address.address,
          address.domain,
          alias.mailboxId,
          alias.salt,
          JSON.stringify(alias.kdf),
          alias.verifier,
          Buffer.from(alias.publicKey),
          Buffer.from(alias.wrappedPrivateKey),
          alias.quotaBytes ?? null,
          alias.enabled === false ? 0 : 1,
          alias.remember ? 1 : 0,
          alias.saveSentCopy === true ? 1 : 0,
          new Date().toISOString(),
        );
    } catch (error) {
      if (isUniqueViolation(error)) throw new AliasExists(address.display);
      throw error;
    }
    this.audit('alias.created', id);
    const created = this.getAliasById(id);
    if (!created) throw new Error('alias vanished after insert');
    return created;
  }

  /**
   * Checks an address can become a new alias (valid, no +tag, domain set up, not taken) and returns it normalized.
   * Lets Accounts refuse before it spends an argon2 derivation or creates a file.
   */
  validateNewAddress(input: string): ReturnType<typeof normalizeAddress> {
    const address = normalizeAddress(input, { stripTag: false });
    if (address.local.includes('+')) {
      throw new UserError(`${address.display} contains a +, which Sealpost uses for tags (user+tag@domain reaches user@domain); choose an address without it.`, 'TAG_IN_ALIAS');
    }
    if (!this.getDomain(address.domain)) throw new UnknownDomain(address.unicodeDomain);
    if (this.getAlias(address.address)) throw new AliasExists(address.display);
    return address;
  }

  /** The alias with exactly this address (case/IDN-insensitive, +tag stripped), or null. */
  getAlias(address: string): AliasRecord | null {
    const normalized = tryNormalizeAddress(address);
    if (!normalized) return null;
    const row = this.sql<[string], AliasRow>(`${ALIAS_SELECT} WHERE a.address = ?`).get(normalized.address);
    return row ? toAlias(row) : null;
  }

  /** Like getAlias but throws UnknownAlias (or InvalidAddress for a malformed address). */
  requireAlias(address: string): AliasRecord {
    const normalized = normalizeAddress(address);
    const alias = this.getAlias(normalized.address);
    if (!alias) throw new UnknownAlias(normalized.display);
    return alias;
  }

  getAliasById(id: string): AliasRecord | null {
    const row = this.sql<[string], AliasRow>(`${ALIAS_SELECT} WHERE a.id = ?`).get(id);
    return row ? toAlias(row) : null;
  }

  getAliasByMailboxId(mailboxId: string): AliasRecord | null {
    const row = this.sql<[string], AliasRow>(`${ALIAS_SELECT} WHERE a.mailbox_id = ?`).get(mailboxId);
    return row ? toAlias(row) : null;
  }

  /** All aliases (or those of one domain), by address. */
  listAliases(domainName?: string): AliasRecord[] {
    if (domainName !== undefined) {
      const ascii = normalizeDomain(domainName).ascii;
      return this.sql<[string], AliasRow>(`${ALIAS_SELECT} WHERE a.domain = ? ORDER BY a.address`).all(ascii).map(toAlias);
    }
    return this.sql<[], AliasRow>(`${ALIAS_SELECT} ORDER BY a.address`).all().map(toAlias);
  }

  /** Replaces salt, KDF params, verifier and wrapped private key after a password change (one transaction). */
  updateAliasKeys(id: AliasId, update: AliasKeyUpdate): void {
    const result = this.sql('UPDATE aliases SET salt = ?, kdf = ?, verifier = ?, wrapped_private_key = ? WHERE id = ?')
      .run(update.salt, JSON.stringify(update.kdf), update.verifier, Buffer.from(update.wrappedPrivateKey), id);
    if (result.changes !== 1) throw new Error('alias to re-key not found');
    this.audit('alias.password_changed', id);
  }

  setEnabled(id: AliasId, enabled: boolean): void {
    this.sql('UPDATE aliases SET enabled = ? WHERE id = ?').run(enabled ? 1 : 0, id);
    this.audit(enabled ? 'alias.enabled' : 'alias.disabled', id);
  }

  setQuota(id: AliasId, quotaBytes: number | null): void {
    this.sql('UPDATE aliases SET quota_bytes = ? WHERE id = ?').run(quotaBytes, id);
    this.audit('alias.quota_changed', id, { quotaBytes });
  }

  setRemember(id: AliasId, remember: boolean): void {
    this.sql('UPDATE aliases SET remember = ? WHERE id = ?').run(remember ? 1 : 0, id);
  }

  setSaveSentCopy(id: AliasId, save: boolean): void {
    this.sql('UPDATE aliases SET save_sent_copy = ? WHERE id = ?').run(save ? 1 : 0, id);
  }

  /**
   * The alias's junk filter switch (on unless turned off). Kept in the settings table under a key naming the
   * alias id (present only while off), so no schema change; deleteAlias removes it.
   */
  junkFilterOn(id: AliasId): boolean {
    return this.sql<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(junkOffKey(id)) === undefined;
  }

  setJunkFilterOn(id: AliasId, on: boolean): void {
    if (on) this.sql('DELETE FROM settings WHERE key = ?').run(junkOffKey(id));
    else this.sql("INSERT INTO settings (key, value) VALUES (?, 'true') ON CONFLICT (key) DO NOTHING").run(junkOffKey(id));
  }

  /** Deletes the alias row (forwards and webhooks cascade, catch-all references clear). The caller removes files. */
  deleteAlias(id: AliasId): void {
    this.sql('DELETE FROM settings WHERE key = ?').run(junkOffKey(id));
    this.sql('DELETE FROM aliases WHERE id = ?').run(id);
    this.audit('alias.removed', id);
  }

  /**
   * The alias that receives mail sent to `address`: the exact alias (case-insensitive, IDN, +tag stripped),
   * else the domain's catch-all, else null. Disabled aliases are returned; callers check `enabled`.
   */
  resolveRecipient(address: string): AliasRecord | null {
    const normalized = tryNormalizeAddress(address);
    if (!normalized) return null;
    const exact = this.sql<[string], AliasRow>(`${ALIAS_SELECT} WHERE a.address = ?`).get(normalized.address);
    if (exact) return toAlias(exact);
    const catchAll = this.sql<[string], AliasRow>(`${ALIAS_SELECT} WHERE a.id = (SELECT catch_all_alias_id FROM domains WHERE name = ?)`)
      .get(normalized.domain);
    return catchAll ? toAlias(catchAll) : null;
  }

  /** True when mail for this domain is accepted here. */
  isLocalDomain(domainName: string): boolean {
    return this.getDomain(domainName) !== null;
  }

  // ── forwards & webhooks ────────────────────────────────────────────────

  addForward(aliasId: AliasId, target: string, keepCopy = true): ForwardRecord {
    const normalized = normalizeAddress(target, { stripTag: false });
    const result = this.sql('INSERT INTO forwards (alias_id, target, keep_copy, created) VALUES (?, ?, ?, ?) ON CONFLICT (alias_id, target) DO UPDATE SET keep_copy = excluded.keep_copy')
      .run(aliasId, normalized.address, keepCopy ? 1 : 0, new Date().toISOString());
    this.audit('alias.forward_added', aliasId);
    const row = this.sql<[string, string], ForwardRow>('SELECT * FROM forwards WHERE alias_id = ? AND target = ?').get(aliasId, normalized.address);
    if (!row) throw new Error(`forward not stored (${result.changes})`);
    return toForward(row);
  }

  listForwards(aliasId: AliasId): ForwardRecord[] {
    return this.sql<[string], ForwardRow>('SELECT * FROM forwards WHERE alias_id = ? ORDER BY id').all(aliasId).map(toForward);
  }

  removeForward(id: number): void {
    const row = this.sql<[number], ForwardRow>('SELECT * FROM forwards WHERE id = ?').get(id);
    this.sql('DELETE FROM forwards WHERE id = ?').run(id);
    if (row) this.audit('alias.forward_removed', row.alias_id as AliasId);
  }

  addWebhook(aliasId: AliasId, url: string, secret: string = crypto.randomBytes(24).toString('base64url')): WebhookRecord {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UserError('The webhook URL is not a valid URL.', 'BAD_WEBHOOK');
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new UserError('The webhook URL must start with https:// or http://.', 'BAD_WEBHOOK');
    const result = this.sql('INSERT INTO webhooks (alias_id, url, secret, created) VALUES (?, ?, ?, ?)')
      .run(aliasId, parsed.toString(), secret, new Date().toISOString());
    this.audit('alias.webhook_added', aliasId);
    const row = this.sql<[number], WebhookRow>('SELECT * FROM webhooks WHERE id = ?').get(Number(result.lastInsertRowid));
    if (!row) throw new Error('webhook not stored');
    return toWebhook(row);
  }

  listWebhooks(aliasId: AliasId): WebhookRecord[] {
    return this.sql<[string], WebhookRow>('SELECT * FROM webhooks WHERE alias_id = ? ORDER BY id').all(aliasId).map(toWebhook);
  }

  removeWebhook(id: number): void {
    const row = this.sql<[number], WebhookRow>('SELECT * FROM webhooks WHERE id = ?').get(id);
    this.sql('DELETE FROM webhooks WHERE id = ?').run(id);
    if (row) this.audit('alias.webhook_removed', row.alias_id as AliasId);
  }

  // ── last-known usage (quota while locked) ──────────────────────────────

  /** Sets the stored-messages byte count seen in the open mailbox. */
  recordUsage(aliasId: AliasId, usedBytes: number): void {
    this.sql('INSERT INTO alias_usage (alias_id, used_bytes, updated) VALUES (?, ?, ?) ON CONFLICT (alias_id) DO UPDATE SET used_bytes = excluded.used_bytes, updated = excluded.updated')
      .run(aliasId, Math.max(0, Math.round(usedBytes)), new Date().toISOString());
  }

  /** Adds (or with a negative delta, removes; never below 0) bytes waiting in the sealed queue. */
  addQueuedBytes(aliasId: AliasId, delta: number): void {
    const now = new Date().toISOString();
    this.transaction(() => {
      this.sql('INSERT OR IGNORE INTO alias_usage (alias_id, updated) VALUES (?, ?)').run(aliasId, now);
      this.sql('UPDATE alias_usage SET queued_bytes = max(0, queued_bytes + ?), updated = ? WHERE alias_id = ?').run(Math.round(delta), now, aliasId);
    });
  }

  /** The queue is empty: nothing is waiting. */
  clearQueuedBytes(aliasId: AliasId): void {
    this.sql('UPDATE alias_usage SET queued_bytes = 0, updated = ? WHERE alias_id = ?').run(new Date().toISOString(), aliasId);
  }

  usageOf(aliasId: AliasId): AliasUsageRecord | null {
    const row = this.sql<[string], { used_bytes: number; queued_bytes: number; updated: string }>('SELECT used_bytes, queued_bytes, updated FROM alias_usage WHERE alias_id = ?').get(aliasId);
    return row ? { usedBytes: row.used_bytes, queuedBytes: row.queued_bytes, updated: new Date(row.updated) } : null;
  }

  // ── settings ───────────────────────────────────────────────────────────

  /** Every saved setting (key → parsed JSON value). */
  getSettings(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const row of this.sql<[], { key: string; value: string }>('SELECT key, value FROM settings').all()) {
      out[row.key] = JSON.parse(row.value) as unknown;
    }
    return out;
  }

  getSetting(key: string): unknown {
    const row = this.sql<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(key);
    return row ? (JSON.parse(row.value) as unknown) : undefined;
  }

  /** Saves a JSON-serializable value; undefined deletes the key. */
  setSetting(key: string, value: unknown): void {
    if (value === undefined) {
      this.sql('DELETE FROM settings WHERE key = ?').run(key);
    } else {
      this.sql('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, JSON.stringify(value));
    }
    this.audit('settings.changed', null, { key });
  }

  // ── audit log ──────────────────────────────────────────────────────────

  /** Records an event. Detail holds ids, counts and flags only — never addresses or secrets. */
  audit(event: string, aliasId: AliasId | null = null, detail: AuditDetail | null = null): void {
    this.sql('INSERT INTO audit_log (time, event, alias_id, detail) VALUES (?, ?, ?, ?)')
      .run(new Date().toISOString(), event, aliasId, detail ? JSON.stringify(detail) : null);
  }

  /** Newest first. */
  listAudit(options: { limit?: number; aliasId?: AliasId } = {}): AuditEntry[] {
    const limit = Math.max(1, Math.min(options.limit ?? 100, 10_000));
    const rows = options.aliasId
      ? this.sql<[string, number], AuditRow>('SELECT * FROM audit_log WHERE alias_id = ? ORDER BY id DESC LIMIT ?').all(options.aliasId, limit)
      : this.sql<[number], AuditRow>('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit);
    return rows.map((row) => ({
      id: row.id,
      time: new Date(row.time),
      event: row.event,
      aliasId: row.alias_id as AliasId | null,
      detail: row.detail ? (JSON.parse(row.detail) as AuditDetail) : null,
    }));
  }

  /** Runs fn in one immediate write transaction (for multi-step changes). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}

function toForward(row: ForwardRow): ForwardRecord {
  return { id: row.id, aliasId: row.alias_id as AliasId, target: row.target, keepCopy: row.keep_copy === 1, created: new Date(row.created) };
}

function toWebhook(row: WebhookRow): WebhookRecord {
  return { id: row.id, aliasId: row.alias_id as AliasId, url: row.url, secret: row.secret, created: new Date(row.created) };
}
