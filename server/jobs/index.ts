// Background jobs: the daily backup of every mailbox (croner), its retention, then a push to every
// remote target. Logs mailbox uuids and counts only.
import { Cron } from 'croner';
import type { AppContext, Service } from '../context.js';
import { backupAlias, backupSchedule, pruneGenerations, cleanInterruptedRestore, type BackupSchedule } from '../backup/index.js';
import { DIRECTORY_BACKUP_ID, snapshotDirectory } from '../backup/directory.js';
import { remotesOf } from '../remote/index.js';

export interface BackupRunReport {
  readonly mailboxes: number;
  readonly created: number;
  readonly unchanged: number;
  readonly failed: number;
  readonly pruned: number;
  readonly pushed: number;
}

/** One full pass: snapshot + retention for every alias, then push to each configured target. */
export async function runScheduledBackups(ctx: AppContext, schedule: BackupSchedule): Promise<BackupRunReport> {
  const report = { mailboxes: 0, created: 0, unchanged: 0, failed: 0, pruned: 0, pushed: 0 };
  const remotes = remotesOf(ctx);
  const targets = remotes.list();
  for (const alias of ctx.directory.listAliases()) {
    report.mailboxes++;
    try {
      cleanInterruptedRestore(ctx.paths.root, alias.mailboxId);
      const result = await backupAlias(ctx, alias, 'scheduled');
      if (result.created) report.created++;
      else report.unchanged++;
      report.pruned += (await pruneGenerations(ctx.paths.root, alias.mailboxId, schedule.retention)).length;
    } catch (error) {
      report.failed++;
      ctx.logger.warn({ event: 'backup.failed', mailboxId: alias.mailboxId, err: error instanceof Error ? error.message : String(error) }, 'scheduled backup failed');
      continue;
    }
    for (const target of targets) {
      try {
        const pushed = await remotes.push(alias.mailboxId, { target: target.name });
        report.pushed += pushed.uploaded.length;
      } catch (error) {
        ctx.logger.warn({ event: 'remote.push_failed', mailboxId: alias.mailboxId, target: target.name, err: error instanceof Error ? error.message : String(error) }, 'push after backup failed');
      }
    }
  }
  // sealpost.db (+ outbound.sqlite) too, so a lost machine can be rebuilt (remote restore-all); logged, not counted as a mailbox.
  try {
    const directory = await snapshotDirectory({ layout: ctx.paths, appKey: ctx.appKey, kind: 'scheduled', retention: schedule.retention });
    for (const target of targets) {
      await remotes.push(DIRECTORY_BACKUP_ID, { target: target.name }).catch((error: unknown) => {
        ctx.logger.warn({ event: 'remote.push_failed', mailboxId: DIRECTORY_BACKUP_ID, target: target.name, err: error instanceof Error ? error.message : String(error) }, 'push of the directory backup failed');
      });
    }
    ctx.logger.info({ event: 'backup.directory', created: directory.created, generation: directory.generation.id }, 'directory backed up');
  } catch (error) {
    ctx.logger.warn({ event: 'backup.directory_failed', err: error instanceof Error ? error.message : String(error) }, 'directory backup failed');
  }
  ctx.logger.info({ event: 'backup.run', ...report }, 'scheduled backups done');
  return report;
}

export function createJobsService(ctx: AppContext): Service {
  let cron: Cron | null = null;
  let running: Promise<unknown> | null = null;
  return {
    name: 'jobs',
    async start() {
      const schedule = backupSchedule(ctx.config.env, ctx.directory);
      if (!schedule.enabled) {
        ctx.logger.info({ event: 'backup.schedule_off' }, 'scheduled backups are off');
        return [];
      }
      const [hour, minute] = schedule.time.split(':').map(Number);
      // protect: a run still going when the next is due is skipped, never doubled.
      cron = new Cron(`${minute} ${hour} * * *`, { protect: true, name: 'daily-backup' }, async () => {
        running = runScheduledBackups(ctx, schedule).catch((error: unknown) => {
          ctx.logger.error({ event: 'backup.run_failed', err: error instanceof Error ? error.message : String(error) }, 'scheduled backups failed');
        });
        await running;
      });
      ctx.logger.info({ event: 'backup.scheduled', time: schedule.time, next: cron.nextRun()?.toISOString() ?? null }, 'daily backups scheduled');
      return [];
    },
    async stop() {
      cron?.stop();
      cron = null;
      if (running) await running;
    },
  };
}
