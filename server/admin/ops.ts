// The thin service layer between the admin routes and the rest of Sealpost (accounts, directory, mailbox,
// backup, remote, keychain). Routes call only this, so a change in another module's API stays here.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { UserError } from '../config/errors.js';
import type { AppContext } from '../context.js';
import { wipe, type AliasMaterial } from '../crypto/index.js';
import type { AliasId, AliasRecord } from '../directory/index.js';
import { forgetRemembered, rememberMaterial, storeRememberedIfWanted } from '../accounts/remember.js';
import { mailboxFileBytes } from '../mailbox/index.js';
import {
  backupAlias,
  backupSchedule,
  cleanInterruptedRestore,
  exportSqlite,
  listGenerations,
  listingOf,
  pruneGenerations,
  verifyGeneration,
  type GenerationListing,
  type VerifyReport,
} from '../backup/index.js';
import { backupPaths } from '../backup/paths.js';
import { remotesOf, type Remotes, type RemoteProgress } from '../remote/index.js';
import { restoreGeneration, type RestoreOutcome } from '../remote/restore.js';
import type { ProgressReporter } from './jobs.js';

/** The key of an alias for one operation: from the key ring (unlocked) or by unlocking it with its password. */
export interface UnlockedKey {
  readonly alias: AliasRecord;
  readonly material: AliasMaterial;
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

  /** Logical bytes from the open store when the alias is unlocked, else null. */
  private async usedBytes(alias: AliasRecord): Promise<number | null> {
    return this.withRingKey(alias, async (material) => {
      const mailbox = await this.ctx.mailboxes.open(alias.mailboxId, material.mailboxKey);
      return mailbox.quota().usedBytes;
    });
  }

  /** Runs fn with the alias's key when it is in the key ring; null when locked. Wipes the copy after. */
  private async withRingKey<T>(alias: AliasRecord, fn: (material: AliasMaterial) => Promise<T>): Promise<T | null> {
    const material = this.ctx.keyRing.get(alias.id);
    if (!material) return null;
    try {
      return await fn(material);
    } finally {
      wipe(material.mailboxKey);
      wipe(material.privateKey);
    }
  }

  /**
   * The alias's key: from the key ring, else by unlocking with the password (throttled like any login).
   * Throws AliasLocked-like UserError when locked and no password was given.
   */
  async key(alias: AliasRecord, password: string | undefined, ip: string): Promise<UnlockedKey> {
    let material = this.ctx.keyRing.get(alias.id);
    if (!material && password) {
      await this.ctx.accounts.unlock(alias.address, password, { ip, protocol: 'admin' });
      material = this.ctx.keyRing.get(alias.id);
    }
    if (!material) throw new UserError(`The mailbox of ${alias.displayAddress} is locked; enter its password.`, 'ALIAS_LOCKED');
    return { alias, material };
  }

  async withKey<T>(alias: AliasRecord, password: string | undefined, ip: string, fn: (key: UnlockedKey) => Promise<T>): Promise<T> {
    const key = await this.key(alias, password, ip);
    try {
      return await fn(key);
    } finally {
      wipe(key.material.mailboxKey);
      wipe(key.material.privateKey);
    }
  }

  async setQuota(alias: AliasRecord, quotaBytes: number | null, password: string | undefined, ip: string): Promise<void> {
    if (quotaBytes !== null && !(Number.isSafeInteger(quotaBytes) && quotaBytes > 0)) throw new UserError('The quota must be a positive number of bytes.', 'BAD_QUOTA');
    // The limit lives in the mailbox file too (the MX reads it there), so the key is needed.
    await this.withKey(alias, password, ip, async ({ material }) => {
      await this.ctx.mailboxes.setQuota(alias.mailboxId, material.mailboxKey, quotaBytes);
    });
    this.ctx.directory.setQuota(alias.id, quotaBytes);
  }

  /** "Remember on this device": the unlocked keys go to the keychain (or the app-key-encrypted secrets file). */
  async setRemember(alias: AliasRecord, remember: boolean, password: string | undefined, ip: string): Promise<void> {
    if (!remember) {
      await forgetRemembered(this.ctx, alias);
      return;
    }
    await this.withKey(alias, password, ip, async ({ material }) => {
      await rememberMaterial(this.ctx, alias, material);
    });
  }

  /**
   * Checks the alias password even when the mailbox is unlocked (throttled like a login): an export opens
   * with the password it is made with, so it must be the owner's, never one the admin makes up.
   */
  async checkPassword(alias: AliasRecord, password: string, ip: string): Promise<void> {
    await this.ctx.accounts.unlock(alias.address, password, { ip, protocol: 'admin' });
  }

  async lock(alias: AliasRecord): Promise<void> {
    await this.ctx.accounts.lock(alias.id as AliasId);
  }

  async removeAlias(alias: AliasRecord): Promise<void> {
    await forgetRemembered(this.ctx, alias).catch(() => undefined);
    await this.ctx.accounts.removeAlias(alias.address);
  }

  /** Re-keys the mailbox under a new password (given or generated), reporting phases. */
  async changePassword(alias: AliasRecord, currentPassword: string | undefined, newPassword: string | undefined, report: ProgressReporter): Promise<string | undefined> {
    report({ phase: currentPassword ? 'checking the current password' : 'deriving the new key', done: 0, total: 2 });
    if (!currentPassword && !this.ctx.keyRing.has(alias.id)) {
      throw new UserError(`The mailbox of ${alias.displayAddress} is locked; enter its current password.`, 'ALIAS_LOCKED');
    }
    const timer = setTimeout(() => report({ phase: 're-keying the mailbox', done: 1, total: 2 }), 50);
    try {
      const result = await this.ctx.accounts.changePassword(alias.address, currentPassword ?? null, newPassword ?? null);
      await storeRememberedIfWanted(this.ctx, alias.id, result.password ?? newPassword ?? null, { ip: 'local', protocol: 'admin' });
      return result.password;
    } finally {
      clearTimeout(timer);
    }
  }

  // ── backups ───────────────────────────────────────────────────────────

  generations(alias: AliasRecord): GenerationListing[] {
    return listGenerations(this.ctx.paths.root, alias.mailboxId).map(listingOf);
  }

  /** Snapshots each alias in turn (one step each) and applies retention; the job's progress is aliases done. */
  async runBackups(aliases: readonly AliasRecord[], report: ProgressReporter): Promise<{ address: string; created: boolean; generation: string }[]> {
    const schedule = backupSchedule(this.ctx.config.env, this.ctx.directory);
    const results = [];
    let done = 0;
    for (const alias of aliases) {
      report({ phase: `backing up ${alias.displayAddress}`, done, total: aliases.length });
      cleanInterruptedRestore(this.ctx.paths.root, alias.mailboxId);
      const result = await backupAlias(this.ctx, alias, 'manual');
      await pruneGenerations(this.ctx.paths.root, alias.mailboxId, schedule.retention);
      results.push({ address: alias.displayAddress, created: result.created, generation: result.generation.id });
      done++;
      report({ phase: `backed up ${alias.displayAddress}`, done, total: aliases.length });
    }
    return results;
  }

  async verify(alias: AliasRecord, generationId: string, password: string | undefined, ip: string): Promise<VerifyReport> {
    if (!password && !this.ctx.keyRing.has(alias.id)) return verifyGeneration(this.ctx.paths.root, alias.mailboxId, generationId, null);
    return this.withKey(alias, password, ip, ({ material }) => verifyGeneration(this.ctx.paths.root, alias.mailboxId, generationId, material.mailboxKey));
  }

  /** Replace (the current mailbox is kept as a pre-restore generation) or copy folders back. */
  async restore(
    alias: AliasRecord,
    generationId: string,
    options: { folders?: readonly string[]; password?: string; ip: string; remote?: string },
    report: ProgressReporter,
  ): Promise<RestoreOutcome> {
    return this.withKey(alias, options.password, options.ip, async ({ material }) =>
      restoreGeneration(this.ctx, alias, material.mailboxKey, {
        generationId,
        folders: options.folders ?? null,
        fromRemote: Boolean(options.remote),
        target: options.remote ?? null,
        onPhase: (phase) => report({ phase, done: 0, total: 1 }),
        onDownload: (p) => report(remoteProgress('downloading', p)),
        onFolders: (p) => report({ phase: 'copying folders', done: p.done, total: Math.max(p.total ?? p.done, 1) }),
      }),
    );
  }

  /**
   * An encrypted SQLite export that opens with the alias password (never plaintext on disk), written to the
   * backups scratch dir for one download. mbox/eml exports would be plaintext files, so they stay CLI-only.
   */
  async exportForDownload(alias: AliasRecord, password: string, ip: string): Promise<{ file: string; name: string }> {
    await this.checkPassword(alias, password, ip);
    return this.withKey(alias, password, ip, async ({ material }) => {
      const scratch = backupPaths(this.ctx.paths.root).scratch();
      fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
      const file = path.join(scratch, `export-${randomUUID()}.sqlite`);
      await exportSqlite({ dataDir: this.ctx.paths.root, mailboxId: alias.mailboxId, key: material.mailboxKey, password, out: file });
      const stamp = new Date().toISOString().slice(0, 10);
      return { file, name: `sealpost-${alias.mailboxId.slice(0, 8)}-${stamp}.sqlite` };
    });
  }

  /** Pushes every alias (or one) to a target; progress counts aliases, with rclone's bytes in the phase. */
  async push(target: string, aliases: readonly AliasRecord[], report: ProgressReporter): Promise<{ uploaded: number; aliases: number }> {
    const remotes = this.remotes();
    remotes.target(target); // a clear error before anything runs
    let uploaded = 0;
    let done = 0;
    for (const alias of aliases) {
      report({ phase: `uploading ${alias.displayAddress}`, done, total: aliases.length });
      const result = await remotes.push(alias.mailboxId, {
        target,
        onProgress: (p) => report({ phase: `uploading ${alias.displayAddress} (${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)})`, done, total: aliases.length }),
      });
      uploaded += result.uploaded.length;
      done++;
    }
    return { uploaded, aliases: aliases.length };
  }
}

function remoteProgress(phase: string, p: RemoteProgress): { phase: string; done: number; total: number } {
  return { phase, done: p.bytes, total: Math.max(p.totalBytes, p.bytes, 1) };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
