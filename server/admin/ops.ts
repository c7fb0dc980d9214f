// The admin API's side of Sealpost: views of aliases and backups for the UI, and the owner operations of
// server/ops called with the admin's caller (client IP for throttling, job progress). No operation body here.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { UserError } from '../config/errors.js';
import type { AppContext } from '../context.js';
import { wipe } from '../crypto/index.js';
import type { AliasRecord } from '../directory/index.js';
import { junkSettingsFromEnv } from '../junk/index.js';
import { mailboxFileBytes } from '../mailbox/index.js';
import { listGenerations, listingOf, type GenerationListing, type VerifyReport } from '../backup/index.js';
import { backupPaths } from '../backup/paths.js';
import { remotesOf, type Remotes } from '../remote/index.js';
import * as ops from '../ops/index.js';
import type { OpsCall, OpsProgress, RestoreOutcome } from '../ops/index.js';
import type { ProgressReporter } from './jobs.js';

/** The alias card's "Junk filter" line: whether the filter runs, and its counts while the mailbox is unlocked. */
export interface JunkView {
  /** Whether the filter runs for this alias: its own switch is on and SEALPOST_JUNK is not off. */
  readonly enabled: boolean;
  /** The alias's own switch (the checkbox). */
  readonly aliasOn: boolean;
  /** SEALPOST_JUNK=off: off for every alias whatever the switch says. */
  readonly offForAll: boolean;
  readonly unlocked: boolean;
  /** null while locked: the counts live inside the encrypted mailbox. */
  readonly spamMessages: number | null;
  readonly hamMessages: number | null;
  readonly tokens: number | null;
}

export interface AliasView {
  readonly id: string;
  readonly address: string;
  readonly displayAddress: string;
  readonly domain: string;
  readonly enabled: boolean;
  readonly unlocked: boolean;
  readonly remember: boolean;
  readonly saveSentCopy: boolean;
  readonly quotaBytes: number | null;
  /** Bytes used: the store's count when unlocked, else the encrypted file size. */
  readonly usedBytes: number;
  readonly fileBytes: number;
  readonly queued: number;
  readonly created: string;
  readonly lastBackup: string | null;
  readonly forwards: { id: number; target: string; keepCopy: boolean }[];
  readonly webhooks: { id: number; url: string; secret: string }[];
}

export class AdminOps {
  constructor(private readonly ctx: AppContext) {}

  remotes(): Remotes {
    return remotesOf(this.ctx);
  }

  /** The caller of an operation run for an admin request: its IP (login throttling) and the job's progress. */
  private call(ip: string, report?: ProgressReporter): OpsCall {
    return { via: 'admin', ip, ...(report ? { onProgress: (p: OpsProgress) => report({ phase: p.phase, done: p.done, total: p.total ?? Math.max(p.done, 1) }) } : {}) };
  }

  // ── aliases ───────────────────────────────────────────────────────────

  requireAliasById(id: string): AliasRecord {
    const alias = this.ctx.directory.getAliasById(id);
    if (!alias) throw new UserError('There is no such alias (it may have been deleted).', 'UNKNOWN_ALIAS');
    return alias;
  }

  async aliasView(alias: AliasRecord): Promise<AliasView> {
    const fileBytes = mailboxFileBytes(this.ctx.paths.root, alias.mailboxId);
    const newest = listGenerations(this.ctx.paths.root, alias.mailboxId).at(-1);
    return {
      id: alias.id,
      address: alias.address,
      displayAddress: alias.displayAddress,
      domain: alias.domain,
      enabled: alias.enabled,
      unlocked: this.ctx.accounts.isUnlocked(alias.id),
      remember: alias.remember,
      saveSentCopy: alias.saveSentCopy,
      quotaBytes: alias.quotaBytes,
      usedBytes: (await this.usedBytes(alias)) ?? fileBytes,
      fileBytes,
      queued: this.ctx.queue.count(alias.mailboxId),
      created: alias.created.toISOString(),
      lastBackup: newest ? newest.time : null,
      forwards: this.ctx.directory.listForwards(alias.id).map((f) => ({ id: f.id, target: f.target, keepCopy: f.keepCopy })),
      webhooks: this.ctx.directory.listWebhooks(alias.id).map((w) => ({ id: w.id, url: w.url, secret: w.secret })),
    };
  }

  /** The junk filter's state for the alias card; counts only while the mailbox is unlocked (no password asked). */
  async junkView(alias: AliasRecord, ip: string): Promise<JunkView> {
    const offForAll = !junkSettingsFromEnv(this.ctx.config.env).enabled;
    const aliasOn = this.ctx.directory.junkFilterOn(alias.id);
    const state = { enabled: aliasOn && !offForAll, aliasOn, offForAll };
    if (!this.ctx.accounts.isUnlocked(alias.id)) return { ...state, unlocked: false, spamMessages: null, hamMessages: null, tokens: null };
    const status = await ops.junkStatus(this.ctx, alias, null, this.call(ip));
    return { ...state, unlocked: true, spamMessages: status.spamMessages, hamMessages: status.hamMessages, tokens: status.tokens };
  }

  /** Turns the alias's junk filter on or off; returns the card's new line. */
  async setJunkFilter(alias: AliasRecord, on: boolean, ip: string): Promise<JunkView> {
    await ops.setJunkFilter(this.ctx, { alias, on }, this.call(ip));
    return this.junkView(alias, ip);
  }

  /** Logical bytes from the open store when the alias is unlocked, else null. */
  private async usedBytes(alias: AliasRecord): Promise<number | null> {
    const material = this.ctx.keyRing.get(alias.id);
    if (!material) return null;
    try {
      const mailbox = await this.ctx.mailboxes.open(alias.mailboxId, material.mailboxKey);
      return mailbox.quota().usedBytes;
    } finally {
      wipe(material.mailboxKey);
      wipe(material.privateKey);
    }
  }

  /** Fails now (wrong password → 403, locked → 409) rather than in a job that starts after the reply. */
  requireKey(alias: AliasRecord, password: string | undefined, ip: string): Promise<void> {
    return ops.requireAliasKey(this.ctx, alias, password ?? null, this.call(ip));
  }

  async setSaveSentCopy(alias: AliasRecord, on: boolean, ip: string): Promise<void> {
    await ops.setSaveSentCopy(this.ctx, { alias, on }, this.call(ip));
  }

  setEnabled(alias: AliasRecord, enabled: boolean, ip: string): Promise<void> {
    return ops.setEnabled(this.ctx, { alias, enabled }, this.call(ip));
  }

  setQuota(alias: AliasRecord, quotaBytes: number | null, password: string | undefined, ip: string): Promise<void> {
    return ops.setQuota(this.ctx, { alias, quotaBytes, password: password ?? null }, this.call(ip));
  }

  async setRemember(alias: AliasRecord, remember: boolean, password: string | undefined, ip: string): Promise<void> {
    await ops.setRemember(this.ctx, { alias, on: remember, password: password ?? null }, this.call(ip));
  }

  /** The alias's Sieve scripts and the mail rules form (server/ops/mail-rules.ts). */
  mailRules(alias: AliasRecord, ip: string): Promise<ops.MailRulesView> {
    return ops.mailRulesView(this.ctx, { alias }, this.call(ip));
  }

  mailScript(alias: AliasRecord, name: string, ip: string): Promise<string> {
    return ops.getMailScript(this.ctx, { alias, name }, this.call(ip));
  }

  putMailScript(alias: AliasRecord, name: string, content: string, activate: boolean, ip: string): Promise<void> {
    return ops.putMailScript(this.ctx, { alias, name, content, activate }, this.call(ip));
  }

  activateMailScript(alias: AliasRecord, name: string | null, ip: string): Promise<void> {
    return ops.activateMailScript(this.ctx, { alias, name }, this.call(ip));
  }

  deleteMailScript(alias: AliasRecord, name: string, ip: string): Promise<void> {
    return ops.deleteMailScript(this.ctx, { alias, name }, this.call(ip));
  }

  saveMailRulesForm(alias: AliasRecord, form: ops.MailRulesForm, overwrite: boolean, ip: string): Promise<{ script: string }> {
    return ops.saveMailRulesForm(this.ctx, { alias, form, overwrite }, this.call(ip));
  }

  async lock(alias: AliasRecord, ip: string): Promise<void> {
    await ops.lockAliases(this.ctx, { alias }, this.call(ip));
  }

  async removeAlias(alias: AliasRecord, ip: string): Promise<void> {
    await ops.removeAlias(this.ctx, { alias }, this.call(ip));
  }

  /** Re-keys the mailbox under a new password (given or generated); returns the generated one. */
  async changePassword(alias: AliasRecord, currentPassword: string | undefined, newPassword: string | undefined, ip: string, report: ProgressReporter): Promise<string | undefined> {
    const result = await ops.changePassword(this.ctx, { alias, currentPassword: currentPassword ?? null, newPassword: newPassword ?? null }, this.call(ip, report));
    return result.password;
  }

  // ── app passwords ─────────────────────────────────────────────────────

  listAppPasswords(alias: AliasRecord): ops.AppPasswordRow[] {
    return ops.listAppPasswords(this.ctx, { alias });
  }

  /** A new app password (shown once): needs the mailbox unlocked or the alias password. */
  addAppPassword(alias: AliasRecord, name: string, password: string | undefined, ip: string): Promise<{ appPassword: ops.AppPasswordRow; password: string }> {
    return ops.addAppPassword(this.ctx, { alias, name, password: password ?? null }, this.call(ip));
  }

  revokeAppPassword(alias: AliasRecord, appPasswordId: string, ip: string): Promise<{ sessions: number }> {
    return ops.revokeAppPassword(this.ctx, { alias, appPassword: appPasswordId }, this.call(ip));
  }

  // ── backups ───────────────────────────────────────────────────────────

  generations(alias: AliasRecord): GenerationListing[] {
    return listGenerations(this.ctx.paths.root, alias.mailboxId).map(listingOf);
  }

  /** Backs up the given aliases ('all': every alias and the directory); progress counts aliases. */
  async runBackups(aliases: 'all' | readonly AliasRecord[], ip: string, report: ProgressReporter): Promise<{ address: string; created: boolean; generation: string }[]> {
    const result = await ops.backupNow(this.ctx, { aliases, kind: 'manual' }, this.call(ip, report));
    return result.rows.map((r) => ({ address: r.address, created: r.created, generation: r.id }));
  }

  verify(alias: AliasRecord, generation: string, password: string | undefined, ip: string): Promise<VerifyReport> {
    return ops.verifyBackup(this.ctx, { alias, generation, password: password ?? null }, this.call(ip));
  }

  /** Replace (the current mailbox is kept as a pre-restore generation) or copy folders back. */
  restore(alias: AliasRecord, generation: string, options: { folders?: readonly string[]; password?: string; ip: string; remote?: string }, report: ProgressReporter): Promise<RestoreOutcome> {
    return ops.restoreBackup(
      this.ctx,
      { alias, generation, password: options.password ?? null, folders: options.folders ?? null, target: options.remote ?? null, fromRemote: Boolean(options.remote) },
      this.call(options.ip, report),
    );
  }

  /**
   * An encrypted SQLite export that opens with the alias password (never plaintext on disk), written to the
   * backups scratch dir for one download. mbox/eml exports would be plaintext files, so they stay CLI-only.
   */
  async exportForDownload(alias: AliasRecord, password: string, ip: string): Promise<{ file: string; name: string }> {
    const scratch = backupPaths(this.ctx.paths.root).scratch();
    fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
    const file = path.join(scratch, `export-${randomUUID()}.sqlite`);
    await ops.exportMailbox(this.ctx, { alias, format: 'sqlite', out: file, password }, this.call(ip));
    const stamp = new Date().toISOString().slice(0, 10);
    return { file, name: `sealpost-${alias.mailboxId.slice(0, 8)}-${stamp}.sqlite` };
  }

  /** Pushes the aliases ('all': every alias and the directory) to a target. */
  async push(target: string, aliases: 'all' | readonly AliasRecord[], ip: string, report: ProgressReporter): Promise<{ uploaded: number; aliases: number }> {
    const result = await ops.pushBackups(this.ctx, { target, aliases }, this.call(ip, report));
    return { uploaded: result.uploaded, aliases: result.aliases };
  }
}
