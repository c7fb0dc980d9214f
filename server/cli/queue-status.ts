// sealpost queue status: counts only — the sealed inbound queue per alias (its contents are sealed to
// the alias key and unreadable here) with where its drain stands (a drain stopped because the mailbox is
// full, or by an error, is said plainly), the outbound queue and pending webhook deliveries.
import fs from 'node:fs';
import { Command } from 'commander';
import { describeDrain, type DrainProgress } from '../accounts/index.js';
import { pingServer } from '../control/client.js';
import { WebhookStore, webhooksFile, type WebhookCounts } from '../smtp/webhooks/index.js';
import { printJson, withContext, withDataOption, type DataOptions } from './common.js';

export interface QueueStatus {
  readonly inbound: { readonly total: number; readonly aliases: { address: string; queued: number; drain: DrainProgress }[] };
  readonly outbound: Readonly<Record<string, number>>;
  readonly webhooks: WebhookCounts;
  /** A `serve` runs on this data dir: a drain in progress there is not seen from here (the admin UI shows it). */
  readonly serverRunning: boolean;
}

/** Adds `status` to a `queue` command (creating it when not given). */
export function queueStatusCommand(queue: Command = new Command('queue').description('queue counts (inbound sealed, outbound, webhooks)')): Command {
  withDataOption(queue.command('status').description('how many messages wait in each queue (counts only; queued mail is sealed)'))
    .option('--json', 'print JSON')
    .action(async (options: DataOptions & { json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const aliases = ctx.directory
          .listAliases()
          .map((a) => {
            const drain = ctx.accounts.drainStatus(a);
            return { address: a.displayAddress, queued: drain.queued, drain };
          })
          .filter((a) => a.queued > 0);
        const file = webhooksFile(ctx.paths.root);
        let webhooks: WebhookCounts = { pending: 0, delivered: 0, failed: 0 };
        if (fs.existsSync(file)) {
          const store = WebhookStore.open(file, ctx.appKey);
          try {
            webhooks = store.counts();
          } finally {
            store.close();
          }
        }
        const status: QueueStatus = {
          inbound: { total: aliases.reduce((n, a) => n + a.queued, 0), aliases },
          outbound: { ...ctx.outbound.counts() },
          webhooks,
          serverRunning: await pingServer(ctx.paths.root),
        };
        if (options.json) return printJson(status);
        process.stdout.write(`inbound (sealed for locked mailboxes): ${status.inbound.total}\n`);
        for (const a of aliases) process.stdout.write(`  ${a.address}\t${a.queued}\t${a.drain.state}: ${describeDrain(a.drain)}\n`);
        if (status.serverRunning && aliases.length > 0) process.stdout.write('  (a server runs on this data dir: the progress of a drain in progress there is shown in the admin UI)\n');
        process.stdout.write(`outbound: ${Object.entries(status.outbound).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
        process.stdout.write(`webhooks: pending ${webhooks.pending}, delivered ${webhooks.delivered}, failed ${webhooks.failed}\n`);
      });
    });
  return queue;
}
