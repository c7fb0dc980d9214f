// Background jobs: the daily backup of every mailbox (croner) — the same backup operation as "backup now"
// (server/ops), with the schedule's retention, a push to every remote target and the directory.
import { Cron } from 'croner';
import type { AppContext, Service } from '../context.js';
import { backupSchedule, type BackupSchedule } from '../backup/index.js';
import { backupNow, SCHEDULER_CALL, type OpsContext } from '../ops/index.js';

export interface BackupRunReport {
  readonly mailboxes: number;
  readonly created: number;
  readonly unchanged: number;
  readonly failed: number;
  readonly pruned: number;
  readonly pushed: number;
}

/** One full pass: snapshot + retention + push for every alias (a failure is logged, the pass goes on), then the directory. */
export async function runScheduledBackups(ctx: OpsContext, schedule: BackupSchedule): Promise<BackupRunReport> {
  const result = await backupNow(ctx, { aliases: 'all', kind: 'scheduled', retention: schedule.retention, push: true, keepGoing: true }, SCHEDULER_CALL);
  const report = {
    mailboxes: result.rows.length + result.failed,
    created: result.rows.filter((r) => r.created).length,
    unchanged: result.rows.filter((r) => !r.created).length,
    failed: result.failed,
    pruned: result.rows.reduce((sum, r) => sum + r.pruned, 0),
    pushed: result.pushed,
  };
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
