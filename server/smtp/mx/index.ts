// The inbound MX service: wires the smtp-server adapter to Accounts, the directory, the DNS resolver,
// forwarding (outbound queue + SRS) and webhooks. `createMxService(ctx)` is listed in server/app.ts.
import { hkdfSync } from 'node:crypto';
import type { AliasRecord } from '../../directory/index.js';
import type { AppContext, Listener, Service } from '../../context.js';
import { wipe } from '../../crypto/index.js';
import { dnsCacheFromEnv, resolverFromEnv, withDnsCache, type DnsResolver } from '../dns.js';
import { Forwarder } from '../forward/index.js';
import { Webhooks, rawSettingKey, webhookTargetsFromEnv } from '../webhooks/index.js';
import type { DeliveryPort, MxDeliveryOptions, OutboundPort } from './deliver.js';
import { MxServer } from './server.js';
import { reportIntake } from './reports.js';
import { reportLimitsFromEnv } from '../../reports/index.js';
import { loadMxSettings, type MxSettings } from './settings.js';

export { MxServer } from './server.js';
export { loadMxSettings, DEFAULT_MX_SETTINGS, type MxSettings } from './settings.js';

/** Stable secret for SRS hashes and loop tokens, derived from the app key (no extra storage). */
export function forwardingSecret(appKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', appKey, Buffer.alloc(0), 'sealpost/srs/v1', 32));
}

function hasEnqueueMany(queue: unknown): boolean {
  return typeof queue === 'object' && queue !== null && typeof (queue as { enqueueMany?: unknown }).enqueueMany === 'function';
}

/** The delivery operations over Accounts, the key ring and the mailbox store. */
export function deliveryPort(ctx: AppContext): DeliveryPort {
  return {
    isUnlocked: (alias) => ctx.accounts.isUnlocked(alias.id),
    deliverOrQueue: (alias, raw, options) => ctx.accounts.deliverOrQueue(alias, raw, options),
    undoAppend: async (alias, folder, uid) => {
      const material = ctx.keyRing.get(alias.id);
      if (!material) return;
      try {
        const mailbox = await ctx.mailboxes.open(alias.mailboxId, material.mailboxKey);
        for (const path of folder === 'INBOX' ? ['INBOX'] : [folder, 'INBOX']) {
          try {
            const found = mailbox.fetch(path, [[uid, uid]]);
            if (!found.length) continue;
            mailbox.store(path, [[uid, uid]], 'add', ['\\Deleted']);
            mailbox.expunge(path, [[uid, uid]]);
            return;
          } catch {
            // folder missing: try the next one
          }
        }
      } finally {
        wipe(material.mailboxKey);
        wipe(material.privateKey);
      }
    },
    ...(hasEnqueueMany(ctx.queue)
      ? {
          // Accounts reserves each alias's quota room before sealing (all or none): 452 4.2.2 when one is full.
          queueMany: (aliases: readonly AliasRecord[], raw: Buffer, options: MxDeliveryOptions, envelopeTo: readonly string[]) => ctx.accounts.queueForMany(aliases, raw, options, envelopeTo),
        }
      : {}),
    forwardsOf: (alias) => ctx.directory.listForwards(alias.id),
    webhooksOf: (alias) => ctx.directory.listWebhooks(alias.id),
    includeRaw: (webhook) => ctx.directory.getSetting(rawSettingKey(webhook.id)) === true,
  };
}

/** The outbound queue as forwarding uses it: enqueue, drop (rollback) and DKIM signing with the alias domain's keys (wired in app.ts). */
export function outboundPort(ctx: AppContext): OutboundPort {
  return ctx.outboundPort;
}

/**
 * Quota use of an alias with a limit, for the early refusals at RCPT and DATA; null when unlimited.
 * Unlocked: the mailbox's own figures. Locked (the file cannot be read): the last-known usage kept in the
 * directory. Both add the bytes still sealed in the queue and those reserved by deliveries being sealed
 * right now, so queued mail keeps its place. The binding checks happen when the message is stored (the
 * mailbox's commit, or Accounts' synchronous reservation for sealed mail): these only answer 452 sooner.
 * An alias the directory lists without a quota costs no lookup at all (the mailbox's own limit, set
 * together with the directory's, still binds at commit).
 */
async function quotaOf(ctx: AppContext, alias: AliasRecord): Promise<{ used: number; limit: number } | null> {
  if (alias.quotaBytes === null) return null;
  const known = ctx.accounts.usage.lastKnown(alias);
  const pending = known.queuedBytes + known.reservedBytes;
  if (!ctx.keyRing.has(alias.id)) return { used: known.usedBytes + pending, limit: alias.quotaBytes };
  // Open in this process already: read its figures without unwrapping the key.
  const open = ctx.accounts.usage.openQuota(alias);
  if (open) return open.limitBytes === null ? null : { used: open.usedBytes + pending, limit: open.limitBytes };
  const material = ctx.keyRing.get(alias.id);
  if (!material) return { used: known.usedBytes + pending, limit: alias.quotaBytes };
  try {
    const mailbox = await ctx.mailboxes.open(alias.mailboxId, material.mailboxKey);
    const quota = mailbox.quota();
    return quota.limitBytes === null ? null : { used: quota.usedBytes + pending, limit: quota.limitBytes };
  } finally {
    wipe(material.mailboxKey);
    wipe(material.privateKey);
  }
}

export interface MxServiceOptions {
  /** Overrides (tests): settings, resolver. */
  readonly settings?: MxSettings;
  readonly resolver?: DnsResolver;
}

export function createMxService(ctx: AppContext, options: MxServiceOptions = {}): Service {
  let mx: MxServer | null = null;
  let unwatchTls: (() => void) | null = null;
  let webhooks: Webhooks | null = null;
  return {
    name: 'mx',
    async start(): Promise<Listener[]> {
      const port = ctx.config.ports.smtp;
      if (port === 0) return [];
      const settings = options.settings ?? loadMxSettings(ctx.config.env, ctx.directory.getSettings());
      // Cached: every message from a sender domain asks the same SPF/DKIM/DMARC names (SEALPOST_DNS_CACHE_SECONDS).
      const resolver = options.resolver ?? withDnsCache(resolverFromEnv(ctx.config.env), dnsCacheFromEnv(ctx.config.env));
      const logger = ctx.logger.child({ component: 'mx' });
      webhooks = Webhooks.open({
        dataDir: ctx.paths.root,
        appKey: ctx.appKey,
        logger,
        backoffMs: settings.webhookBackoffMs,
        secretOf: (job) => ctx.directory.listWebhooks(job.aliasId as AliasRecord['id']).find((w) => w.id === job.webhookId)?.secret ?? null,
        targets: webhookTargetsFromEnv(ctx.config.env),
      });
      webhooks.start();
      const outbound = outboundPort(ctx);
      // Aggregate reports past their retention go at start too, not only when the next report arrives.
      const reportLimits = reportLimitsFromEnv(ctx.config.env); // SEALPOST_REPORTS_*
      const pruned = ctx.directory.reports.pruneBefore(new Date(Date.now() - reportLimits.retentionDays * 86_400_000));
      if (pruned) logger.info({ event: 'mx.reports_pruned', count: pruned }, 'expired aggregate reports removed');
      const tlsOptions = ctx.tls.tlsOptions();
      mx = new MxServer({
        hostname: ctx.config.hostname,
        logger,
        directory: ctx.directory,
        delivery: deliveryPort(ctx),
        quotaOf: (alias) => quotaOf(ctx, alias),
        resolver,
        forwarder: new Forwarder(forwardingSecret(ctx.appKey), { maxAgeDays: settings.srsMaxAgeDays }),
        outbound,
        webhooks,
        settings,
        tls: { key: tlsOptions.key, cert: tlsOptions.cert, SNICallback: tlsOptions.SNICallback },
        reports: reportIntake(ctx.directory, reportLimits),
      });
      const bound = await mx.listen(port, ctx.config.host);
      // A renewed or installed certificate reaches STARTTLS clients that send no SNI (many MTAs) too.
      unwatchTls = ctx.tls.onReload(() => mx?.useCertificate(ctx.tls.tlsOptions()));
      return [{ name: 'smtp', host: ctx.config.host, port: bound, security: 'starttls' }];
    },
    async stop(): Promise<void> {
      unwatchTls?.();
      unwatchTls = null;
      if (mx) await mx.close();
      mx = null;
      if (webhooks) await webhooks.stop();
      webhooks = null;
    },
  };
}
