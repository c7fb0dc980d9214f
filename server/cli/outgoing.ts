// sealpost queue list|show|retry|cancel: the outgoing history (every message sent, its recipients and each
// delivery attempt) and the two actions on a message still waiting. Run in the server when one is running
// on the data dir (server/control), else here; `outbound retry|drop` are the same operations.
import { Command } from 'commander';
import { UserError } from '../config/index.js';
import type { OutgoingAttempt, OutgoingDetail, OutgoingSummary } from '../ports.js';
import { printJson, withDataOption, type DataOptions } from './common.js';
import { viaServerOrHere } from './via-server.js';

const when = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');

/** "in 4m", "now", "3h ago". */
function relative(ms: number, now = Date.now()): string {
  const s = Math.round((ms - now) / 1000);
  const abs = Math.abs(s);
  const text = abs < 120 ? `${abs}s` : abs < 7200 ? `${Math.round(abs / 60)}m` : abs < 172800 ? `${Math.round(abs / 3600)}h` : `${Math.round(abs / 86400)}d`;
  if (abs < 1) return 'now';
  return s > 0 ? `in ${text}` : `${text} ago`;
}

const fromOf = (m: OutgoingSummary): string => (m.kind === 'dsn' ? '(delivery report)' : m.sender);

function tlsOf(a: OutgoingAttempt): string {
  if (!a.host) return 'no connection';
  const where = `${a.host}${a.address && a.address !== a.host ? ` [${a.address}]` : ''}`;
  if (!a.tlsVersion) return `${where}, no TLS`;
  const check = a.verified ? (a.policy === 'mta-sts' ? 'certificate verified (MTA-STS)' : a.policy === 'dane' ? 'certificate verified (DANE)' : 'certificate verified') : 'certificate not verified';
  return `${where}, ${a.tlsVersion} ${a.tlsCipher ?? ''}, ${check}`.replace(/ ,/g, ',');
}

function printDetail(d: OutgoingDetail): void {
  const out = process.stdout;
  out.write(`${d.id}  ${d.status}\n`);
  out.write(`  from ${fromOf(d)}, ${d.recipients} recipient(s), ${d.size} bytes, queued ${when(d.created)}`);
  out.write(d.finished !== null ? `, finished ${when(d.finished)} (message text deleted)\n` : '\n');
  for (const r of d.recipientList) {
    const next = r.nextAttempt !== null ? `, next try ${relative(r.nextAttempt)}` : '';
    out.write(`\n  ${r.address}  ${r.status}, ${r.attempts} attempt(s)${next}\n`);
    if (r.olderAttempts > 0) out.write(`    (${r.olderAttempts} older attempt(s) not shown)\n`);
    for (const a of r.history) out.write(`    ${when(a.at)}  ${a.outcome}  ${a.code} ${a.response}\n      ${tlsOf(a)}\n`);
    if (r.history.length === 0) out.write('    no attempt yet\n');
  }
  if (d.moreRecipients > 0) out.write(`\n  (${d.moreRecipients} more recipient(s) not shown)\n`);
}

function parseLimit(text: string | undefined): number | null {
  if (text === undefined) return null;
  const n = Number(text);
  if (!/^\d{1,6}$/.test(text) || n < 1) throw new UserError(`--limit takes a whole number of messages (1 or more), not "${text.slice(0, 20)}".`);
  return n;
}

/** Adds list, show, retry and cancel to the `queue` command. */
export function addOutgoingCommands(queue: Command): Command {
  withDataOption(queue.command('list').description('outgoing mail, newest first: status, recipients, attempts, next try'))
    .option('--limit <n>', 'messages per page (default 50; the server caps it)')
    .option('--after <cursor>', 'the next page: the cursor the previous page printed')
    .option('--json', 'print JSON')
    .action(async (options: DataOptions & { limit?: string; after?: string; json?: boolean }) => {
      const page = await viaServerOrHere({ data: options.data }, 'outgoing.list', { limit: parseLimit(options.limit), cursor: options.after ?? null });
      if (options.json) return printJson(page);
      if (page.messages.length === 0) {
        process.stdout.write('no outgoing mail in the history\n');
        return;
      }
      process.stdout.write('ID                                    STATUS            RCPTS  ATTEMPTS  NEXT TRY   FROM\n');
      for (const m of page.messages) {
        const next = m.nextAttempt !== null ? relative(m.nextAttempt) : '-';
        process.stdout.write(`${m.id}  ${m.status.padEnd(16)}  ${String(m.recipients).padStart(5)}  ${String(m.attempts).padStart(8)}  ${next.padEnd(9)}  ${fromOf(m)}\n`);
      }
      if (page.next) process.stdout.write(`more: sealpost queue list --after ${page.next}\n`);
    });

  withDataOption(queue.command('show').argument('<id>', 'message id from `queue list`').description('every recipient of a message and every delivery attempt'))
    .option('--json', 'print JSON')
    .action(async (id: string, options: DataOptions & { json?: boolean }) => {
      const detail = await viaServerOrHere({ data: options.data }, 'outgoing.show', { id });
      if (options.json) return printJson(detail);
      printDetail(detail);
    });

  withDataOption(queue.command('retry').argument('<id>', 'message id from `queue list`').description('try a waiting message again now'))
    .action(async (id: string, options: DataOptions) => {
      const done = await viaServerOrHere({ data: options.data }, 'outgoing.retry', { id });
      process.stdout.write(`${done.recipients} recipient(s) of ${done.id} will be tried again now\n`);
    });

  withDataOption(queue.command('cancel').argument('<id>', 'message id from `queue list`').description('give up on a waiting message (no bounce is sent; it stays in the history)'))
    .action(async (id: string, options: DataOptions) => {
      const done = await viaServerOrHere({ data: options.data }, 'outgoing.cancel', { id });
      process.stdout.write(`cancelled ${done.id} (${done.recipients} recipient(s) will not be tried again)\n`);
    });
  return queue;
}
