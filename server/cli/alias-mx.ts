// sealpost alias forward ADDRESS add|remove|list [TARGET] [--keep-copy]
// sealpost alias webhook ADDRESS add|remove|list|log [URL] [--raw]
// Registered on the `alias` command by server/cli/main.ts (addAliasMxCommands).
import fs from 'node:fs';
import { Command } from 'commander';
import { UserError } from '../config/index.js';
import type { AppContext } from '../context.js';
import type { AliasRecord } from '../directory/index.js';
import { normalizeAddress } from '../directory/index.js';
import { WebhookStore, rawSettingKey, webhooksFile } from '../smtp/webhooks/index.js';
import { forwardTargetRefusal, targetPolicyFromEnv, webhookUrlRefusal } from '../smtp/outbound/targets.js';
import { printJson, withContext, withDataOption, type DataOptions } from './common.js';

interface ForwardOptions extends DataOptions {
  readonly keepCopy?: boolean;
  readonly json?: boolean;
}

interface WebhookOptions extends DataOptions {
  readonly raw?: boolean;
  readonly json?: boolean;
  readonly limit?: string;
}

const FORWARD_ACTIONS = ['add', 'remove', 'list'] as const;
const WEBHOOK_ACTIONS = ['add', 'remove', 'list', 'log'] as const;

function requireArg(value: string | undefined, what: string, usage: string): string {
  if (!value) throw new UserError(`Missing ${what}. Usage: ${usage}`);
  return value;
}

function action<T extends readonly string[]>(value: string, allowed: T, command: string): T[number] {
  if (!allowed.includes(value)) throw new UserError(`Unknown action ${JSON.stringify(value)} for ${command}; use one of: ${allowed.join(', ')}.`);
  return value as T[number];
}

async function forwardAction(ctx: AppContext, alias: AliasRecord, verb: (typeof FORWARD_ACTIONS)[number], target: string | undefined, options: ForwardOptions): Promise<void> {
  const usage = `sealpost alias forward ${alias.displayAddress} ${verb} TARGET`;
  if (verb === 'add') {
    const address = normalizeAddress(requireArg(target, 'the target address', usage), { stripTag: false });
    if (address.address === alias.address) throw new UserError('An alias cannot forward to itself.');
    const refused = forwardTargetRefusal(address.address, targetPolicyFromEnv(ctx.config.env));
    if (refused) throw new UserError(refused);
    const added = ctx.directory.addForward(alias.id, address.address, options.keepCopy === true);
    if (options.json) return printJson({ id: added.id, target: added.target, keepCopy: added.keepCopy });
    process.stdout.write(`${alias.displayAddress} now forwards to ${added.target} (${added.keepCopy ? 'keeping a copy' : 'no local copy'})\n`);
    return;
  }
  if (verb === 'remove') {
    const address = normalizeAddress(requireArg(target, 'the target address', usage), { stripTag: false });
    const found = ctx.directory.listForwards(alias.id).find((f) => f.target === address.address);
    if (!found) throw new UserError(`${alias.displayAddress} does not forward to ${address.address}.`);
    ctx.directory.removeForward(found.id);
    if (options.json) return printJson({ removed: found.target });
    process.stdout.write(`${alias.displayAddress} no longer forwards to ${found.target}\n`);
    return;
  }
  const forwards = ctx.directory.listForwards(alias.id);
  if (options.json) return printJson(forwards.map((f) => ({ id: f.id, target: f.target, keepCopy: f.keepCopy, created: f.created.toISOString() })));
  if (!forwards.length) {
    process.stdout.write(`${alias.displayAddress} has no forwards\n`);
    return;
  }
  for (const f of forwards) process.stdout.write(`${f.target}\t${f.keepCopy ? 'keep copy' : 'no copy'}\n`);
}

function findWebhook(ctx: AppContext, alias: AliasRecord, url: string): { id: number; url: string } {
  let normalized = url;
  try {
    normalized = new URL(url).toString();
  } catch {
    // compared as given
  }
  const found = ctx.directory.listWebhooks(alias.id).find((w) => w.url === normalized || w.url === url);
  if (!found) throw new UserError(`${alias.displayAddress} has no webhook ${url}.`);
  return found;
}

async function webhookAction(ctx: AppContext, alias: AliasRecord, verb: (typeof WEBHOOK_ACTIONS)[number], url: string | undefined, options: WebhookOptions): Promise<void> {
  const usage = `sealpost alias webhook ${alias.displayAddress} ${verb} URL`;
  if (verb === 'add') {
    const given = requireArg(url, 'the URL', usage);
    const refused = webhookUrlRefusal(given, targetPolicyFromEnv(ctx.config.env));
    if (refused) throw new UserError(refused);
    const added = ctx.directory.addWebhook(alias.id, given);
    if (options.raw) ctx.directory.setSetting(rawSettingKey(added.id), true);
    if (options.json) return printJson({ id: added.id, url: added.url, secret: added.secret, includeRaw: options.raw === true });
    process.stdout.write(`webhook added: ${added.url}\nsigning secret: ${added.secret}\n`);
    process.stderr.write('Verify X-Sealpost-Signature (t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">) with this secret; it is shown only here and in `webhook list --json`.\n');
    return;
  }
  if (verb === 'remove') {
    const found = findWebhook(ctx, alias, requireArg(url, 'the URL', usage));
    ctx.directory.removeWebhook(found.id);
    ctx.directory.setSetting(rawSettingKey(found.id), undefined);
    if (options.json) return printJson({ removed: found.url });
    process.stdout.write(`webhook removed: ${found.url}\n`);
    return;
  }
  if (verb === 'list') {
    const hooks = ctx.directory.listWebhooks(alias.id);
    if (options.json) {
      return printJson(hooks.map((w) => ({ id: w.id, url: w.url, secret: w.secret, includeRaw: ctx.directory.getSetting(rawSettingKey(w.id)) === true, created: w.created.toISOString() })));
    }
    if (!hooks.length) {
      process.stdout.write(`${alias.displayAddress} has no webhooks\n`);
      return;
    }
    for (const w of hooks) process.stdout.write(`${w.url}${ctx.directory.getSetting(rawSettingKey(w.id)) === true ? '\t(with raw message)' : ''}\n`);
    return;
  }
  // log
  const limit = options.limit ? Number(options.limit) : 50;
  if (!Number.isInteger(limit) || limit < 1) throw new UserError('--limit must be a whole number above 0.');
  const file = webhooksFile(ctx.paths.root);
  const webhookId = url ? findWebhook(ctx, alias, url).id : undefined;
  const entries = fs.existsSync(file)
    ? (() => {
        const store = WebhookStore.open(file, ctx.appKey);
        try {
          return webhookId !== undefined ? store.log({ webhookId }, limit) : store.log({ aliasId: alias.id }, limit);
        } finally {
          store.close();
        }
      })()
    : [];
  if (options.json) {
    return printJson(entries.map((e) => ({ at: e.at.toISOString(), url: e.url, attempt: e.attempt, status: e.status, error: e.error, outcome: e.outcome, durationMs: e.durationMs, delivery: e.jobId })));
  }
  if (!entries.length) {
    process.stdout.write('no webhook deliveries yet\n');
    return;
  }
  for (const e of entries) {
    process.stdout.write(`${e.at.toISOString()}\t${e.outcome}\tattempt ${e.attempt}\t${e.status ?? '-'}\t${e.error ?? ''}\t${e.url}\n`);
  }
}

/** Adds `forward` and `webhook` to the `alias` command; returns it for chaining. */
export function addAliasMxCommands(alias: Command): Command {
  withDataOption(
    alias
      .command('forward')
      .argument('<address>', 'the alias')
      .argument('<action>', FORWARD_ACTIONS.join('|'))
      .argument('[target]', 'external address to forward to (add/remove)')
      .description('forward the alias\'s mail to other addresses (SRS-rewritten, through the outbound queue)'),
  )
    .option('--keep-copy', 'also keep each message in the alias\'s own mailbox (add)')
    .option('--json', 'print JSON')
    .action(async (address: string, verb: string, target: string | undefined, options: ForwardOptions) => {
      const chosen = action(verb, FORWARD_ACTIONS, 'alias forward');
      await withContext({ data: options.data }, async (ctx) => forwardAction(ctx, ctx.directory.requireAlias(address), chosen, target, options));
    });

  withDataOption(
    alias
      .command('webhook')
      .argument('<address>', 'the alias')
      .argument('<action>', WEBHOOK_ACTIONS.join('|'))
      .argument('[url]', 'the webhook URL (add/remove; optional for log)')
      .description('POST each received message as signed JSON to a URL; retried for 24 h; log shows every attempt'),
  )
    .option('--raw', 'include the raw message (base64) in the JSON (add)')
    .option('--limit <n>', 'log entries to show (log, default 50)')
    .option('--json', 'print JSON')
    .action(async (address: string, verb: string, url: string | undefined, options: WebhookOptions) => {
      const chosen = action(verb, WEBHOOK_ACTIONS, 'alias webhook');
      await withContext({ data: options.data }, async (ctx) => webhookAction(ctx, ctx.directory.requireAlias(address), chosen, url, options));
    });
  return alias;
}
