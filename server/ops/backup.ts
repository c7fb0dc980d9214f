// Back up now (from the CLI, the admin API or the daily schedule): per alias, clean what an interrupted restore
// left, snapshot, apply retention and optionally push to every remote target; for "every alias" also the
// directory (sealpost.db + outbound.sqlite). And verify one generation.
import type { AliasRecord } from '../directory/index.js';
import { wipe } from '../crypto/index.js';
import {
  backupAlias,
  backupSchedule,
  cleanInterruptedRestore,
  listingOf,
  pruneGenerations,
  verifyGeneration,
  type GenerationKind,
  type GenerationListing,
  type RetentionPolicy,
  type VerifyReport,
} from '../backup/index.js';
import { DIRECTORY_BACKUP_ID, snapshotDirectory } from '../backup/directory.js';
import { remotesOf, type Remotes } from '../remote/index.js';
import { audited } from './audit.js';
import { aliasMaterial, withAliasKey, wipeMaterial } from './key.js';
import type { OpsCall, OpsContext } from './context.js';

export interface BackupNowInput {
  /** 'all': every alias and the directory. */
  readonly aliases: 'all' | readonly AliasRecord[];
  /** Snapshot with the key unlocked by this password (one alias only), else the key ring's or a locked copy. */
  readonly password?: string | null;
  readonly kind: Extract<GenerationKind, 'manual' | 'scheduled'>;
  /** Retention to apply after each snapshot (default: the saved backup schedule's). */
  readonly retention?: RetentionPolicy;
  /** Push each new state to every remote target; a failed push is logged, never fatal. */
  readonly push?: boolean;
  /** Log an alias whose backup fails and go on with the next (the schedule); else the first failure is thrown. */
  readonly keepGoing?: boolean;
}

export interface BackupRow extends GenerationListing {
  readonly aliasId: string;
  readonly address: string;
  readonly created: boolean;
  readonly pruned: number;
}

export interface BackupNowResult {
  readonly rows: BackupRow[];
  /** Aliases whose backup failed (only with keepGoing). */
  readonly failed: number;
  /** Objects uploaded to remote targets. */
  readonly pushed: number;
  /** The directory's generation when every alias was backed up (null if not asked, or failed with keepGoing). */
  readonly directory: { readonly created: boolean; readonly id: string; readonly size: number } | null;
}

export function backupNow(ctx: OpsContext, input: BackupNowInput, call: OpsCall): Promise<BackupNowResult> {
  const aliases = input.aliases === 'all' ? ctx.directory.listAliases() : input.aliases;
  return audited(
    ctx,
    call,
    'backup',
    { kind: input.kind, aliases: aliases.length, all: input.aliases === 'all' },
    async () => {
      const retention = input.retention ?? backupSchedule(ctx.config.env, ctx.directory).retention;
      const remotes = input.push ? remotesOf(ctx) : null;
      const report = call.onProgress ?? (() => undefined);
      const rows: BackupRow[] = [];
      let failed = 0;
      let pushed = 0;
      for (const [done, alias] of aliases.entries()) {
        report({ phase: `backing up ${alias.displayAddress}`, done, total: aliases.length });
        try {
          rows.push(await backupOne(ctx, alias, input, retention, call));
        } catch (error) {
          if (!input.keepGoing) throw error;
          failed++;
          ctx.logger.warn({ event: 'backup.failed', mailboxId: alias.mailboxId, err: error instanceof Error ? error.message : String(error) }, 'backup of a mailbox failed');
          continue;
        }
        if (remotes) pushed += await pushEverywhere(ctx, remotes, alias.mailboxId);
        report({ phase: `backed up ${alias.displayAddress}`, done: done + 1, total: aliases.length });
      }
      let directory: BackupNowResult['directory'] = null;
      if (input.aliases === 'all') {
        // sealpost.db (+ outbound.sqlite) too, so a lost machine can be rebuilt (remote restore-all).
        try {
          const made = await snapshotDirectory({ layout: ctx.paths, appKey: ctx.appKey, kind: input.kind, retention });
          directory = { created: made.created, id: made.generation.id, size: made.generation.size };
          ctx.logger.info({ event: 'backup.directory', created: made.created, generation: made.generation.id }, 'directory backed up');
        } catch (error) {
          if (!input.keepGoing) throw error;
          ctx.logger.warn({ event: 'backup.directory_failed', err: error instanceof Error ? error.message : String(error) }, 'directory backup failed');
        }
        if (directory && remotes) pushed += await pushEverywhere(ctx, remotes, DIRECTORY_BACKUP_ID);
      }
      return { rows, failed, pushed, directory };
    },
    (result) => ({
      created: result.rows.filter((r) => r.created).length,
      unchanged: result.rows.filter((r) => !r.created).length,
      failed: result.failed,
      pruned: result.rows.reduce((sum, r) => sum + r.pruned, 0),
      pushed: result.pushed,
    }),
  );
}

async function backupOne(ctx: OpsContext, alias: AliasRecord, input: BackupNowInput, retention: RetentionPolicy, call: OpsCall): Promise<BackupRow> {
  cleanInterruptedRestore(ctx.paths.root, alias.mailboxId);
  const material = input.password ? await aliasMaterial(ctx, alias, input.password, call) : null;
  if (material) wipe(material.privateKey);
  try {
    const result = await backupAlias(ctx, alias, input.kind, material?.mailboxKey ?? null);
    const pruned = await pruneGenerations(ctx.paths.root, alias.mailboxId, retention);
    return { aliasId: alias.id, address: alias.displayAddress, created: result.created, pruned: pruned.length, ...listingOf(result.generation) };
  } finally {
    if (material) wipeMaterial(material);
  }
}

/** Pushes one backup id to every configured target; returns the objects uploaded. Failures are logged. */
async function pushEverywhere(ctx: OpsContext, remotes: Remotes, backupId: string): Promise<number> {
  let uploaded = 0;
  for (const target of remotes.list()) {
    try {
      uploaded += (await remotes.push(backupId, { target: target.name })).uploaded.length;
    } catch (error) {
      ctx.logger.warn({ event: 'remote.push_failed', mailboxId: backupId, target: target.name, err: error instanceof Error ? error.message : String(error) }, 'push after backup failed');
    }
  }
  return uploaded;
}

/** Re-checks a generation: size and SHA-256 always; with the key (password or key ring) that it opens and passes quick_check. */
export function verifyBackup(ctx: OpsContext, input: { readonly alias: AliasRecord; readonly generation: string; readonly password: string | null }, call: OpsCall): Promise<VerifyReport> {
  const { alias } = input;
  return audited(
    ctx,
    call,
    'verify',
    { aliasId: alias.id, generation: input.generation },
    async () => {
      if (!input.password && !ctx.keyRing.has(alias.id)) return verifyGeneration(ctx.paths.root, alias.mailboxId, input.generation, null);
      return withAliasKey(ctx, alias, input.password, call, (key) => verifyGeneration(ctx.paths.root, alias.mailboxId, input.generation, key));
    },
    (report) => ({ decrypts: report.decrypts, intact: report.intact, problem: report.problem !== null }),
  );
}
