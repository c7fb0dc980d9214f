// sealpost outbound status|retry|flush|drop, relay set|clear|show|test, domain dkim DOMAIN
import { Command, Option } from 'commander';
import { UserError } from '../config/index.js';
import { zoneFileLine } from '../smtp/dkim/index.js';
import type { TlsMode } from '../smtp/outbound/index.js';
import { printJson, readSecrets, withContext, withDataOption, type DataOptions } from './common.js';
import { viaServerOrHere } from './via-server.js';

const ago = (ms: number): string => {
  const s = Math.round(ms / 1000);
  if (Math.abs(s) < 120) return `${s}s`;
  if (Math.abs(s) < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
};

/** Adds `dkim <name>` to the `domain` command. */
export function addDomainDkimCommand(domain: Command): Command {
  withDataOption(domain.command('dkim').argument('<name>', 'a domain added with `domain add`').description('create (once) and print the DKIM DNS records of a domain'))
    .option('--json', 'print JSON')
    .action(async (name: string, options: DataOptions & { json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const record = ctx.directory.getDomain(name);
        if (!record) throw new UserError(`The domain ${name} is not set up here; add it first with: sealpost domain add ${name}`);
        const keys = ctx.outbound.dkim.ensure(record.name);
        if (options.json) return printJson({ domain: keys.domain, records: keys.records });
        process.stdout.write(`Publish these TXT records in the DNS of ${record.unicodeName}; outgoing mail is signed with both keys:\n\n`);
        for (const r of keys.records) process.stdout.write(`${r.name}  TXT  "${r.value}"\n`);
        process.stdout.write('\nAs zone-file lines:\n');
        for (const r of keys.records) process.stdout.write(`${zoneFileLine(r)}\n`);
      });
    });
  return domain;
}

export function outboundCommand(): Command {
  const outbound = new Command('outbound').description('the outbound (sending) queue');

  withDataOption(outbound.command('status').description('messages waiting to be sent, per recipient'))
    .option('--json', 'print JSON')
    .action(async (options: DataOptions & { json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const counts = ctx.outbound.counts();
        const entries = ctx.outbound.list();
        const relay = ctx.outbound.relay();
        if (options.json) return printJson({ counts, relay: relay ? `${relay.host}:${relay.port}` : null, messages: entries });
        process.stdout.write(`delivery: ${relay ? `via relay ${relay.host}:${relay.port}` : 'direct (MX)'}\n`);
        process.stdout.write(`messages ${counts.messages}, recipients queued ${counts.queued}, sending ${counts.sending}\n`);
        const now = Date.now();
        for (const e of entries) {
          process.stdout.write(`\n${e.id}  ${e.kind}  ${e.size} bytes  queued ${ago(now - e.created)} ago\n`);
          for (const r of e.recipients) {
            const next = r.state === 'queued' ? `, next try in ${ago(Math.max(0, r.nextAttempt - now))}` : '';
            const last = r.lastResponse ? ` — ${r.lastResponse}` : '';
            process.stdout.write(`  ${r.rcpt}  ${r.state}, ${r.attempts} attempt(s)${next}${last}\n`);
          }
        }
      });
    });

  // retry and drop are `queue retry` and `queue cancel` (one operation each, run in the server when one runs)
  withDataOption(outbound.command('retry').argument('<id>', 'queue id from `outbound status`').description('try a queued message again now (same as `queue retry`)'))
    .action(async (id: string, options: DataOptions) => {
      const done = await viaServerOrHere({ data: options.data }, 'outgoing.retry', { id });
      process.stdout.write(`${done.recipients} recipient(s) of ${done.id} will be tried again now\n`);
    });

  withDataOption(outbound.command('flush').description('try every queued message again now'))
    .action(async (options: DataOptions) => {
      await withContext({ data: options.data }, async (ctx) => {
        process.stdout.write(`${ctx.outbound.retry()} recipient(s) will be tried again now\n`);
      });
    });

  withDataOption(outbound.command('drop').argument('<id>', 'queue id from `outbound status`').description('give up on a queued message (no bounce is sent; same as `queue cancel`)'))
    .action(async (id: string, options: DataOptions) => {
      const done = await viaServerOrHere({ data: options.data }, 'outgoing.cancel', { id });
      process.stdout.write(`dropped ${done.id} (${done.recipients} recipient(s))\n`);
    });
  return outbound;
}

export function relayCommand(): Command {
  const relay = new Command('relay').description('send through a smarthost (your ISP or mail provider) instead of directly');

  withDataOption(relay.command('set').argument('<host>', 'relay host name, optionally host:port').description('use a relay for all outgoing mail'))
    .option('--port <port>', 'port (default 587 for starttls, 465 for tls, 25 for none)')
    .addOption(new Option('--tls <mode>', 'starttls (required STARTTLS), tls (implicit TLS) or none').choices(['starttls', 'tls', 'none']).default('starttls'))
    .option('--user <name>', 'login name; the password is read from a prompt or standard input')
    .option('--insecure', 'do not verify the relay certificate (self-signed relays on a LAN)')
    .action(async (hostArg: string, options: DataOptions & { port?: string; tls: TlsMode; user?: string; insecure?: boolean }) => {
      const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?$/.exec(hostArg);
      if (!m) throw new UserError(`"${hostArg}" is not a host name (use host or host:port).`);
      const portText = options.port ?? m[2];
      const port = portText ? Number(portText) : options.tls === 'tls' ? 465 : options.tls === 'none' ? 25 : 587;
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`The relay port must be 1 to 65535, not ${portText}.`);
      const password = options.user ? (await readSecrets(['Relay password']))[0] : null;
      await withContext({ data: options.data }, async (ctx) => {
        await ctx.outbound.setRelay({ host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port, tls: options.tls, insecure: options.insecure === true, username: options.user ?? null }, password);
        process.stdout.write(`outgoing mail now goes through ${m[1]}:${port} (${options.tls}${options.user ? ', with login' : ''}); check it with: sealpost relay test\n`);
      });
    });

  withDataOption(relay.command('clear').description('deliver directly to each domain’s MX again'))
    .action(async (options: DataOptions) => {
      await withContext({ data: options.data }, async (ctx) => {
        await ctx.outbound.setRelay(null);
        process.stdout.write('relay removed; outgoing mail is delivered directly\n');
      });
    });

  withDataOption(relay.command('show').description('print the relay settings (never the password)'))
    .option('--json', 'print JSON')
    .action(async (options: DataOptions & { json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const r = ctx.outbound.relay();
        if (options.json) return printJson(r);
        process.stdout.write(r ? `${r.host}:${r.port} tls=${r.tls}${r.insecure ? ' (certificate not verified)' : ''}${r.username ? ` user=${r.username}` : ''}\n` : 'no relay: direct delivery\n');
      });
    });

  withDataOption(relay.command('test').description('connect and log in to the relay without sending'))
    .action(async (options: DataOptions) => {
      await withContext({ data: options.data }, async (ctx) => {
        const verdict = await ctx.outbound.testRelay();
        if (!verdict.ok) throw new UserError(verdict.message);
        process.stdout.write(`${verdict.message}\n`);
      });
    });
  return relay;
}
