// Webhooks: an alias can have each received message POSTed as signed JSON to its URLs. The MX
// queues the jobs durably (webhooks.sqlite, app key) before it answers 250; the dispatcher sends them.
import path from 'node:path';
import type { Logger } from '../../log.js';
import { resolverFromEnv } from '../dns.js';
import { targetPolicyFromEnv } from '../outbound/targets.js';
import { WebhookDispatcher, type DispatcherOptions, type WebhookTargets } from './dispatcher.js';
import { buildWebhookBody, type WebhookMessageInput } from './payload.js';
import { WebhookStore, type NewWebhookJob } from './store.js';

export { WebhookStore, type DeliveryLogEntry, type WebhookCounts } from './store.js';
export { buildWebhookBody, signWebhookBody, verifyWebhookSignature, SIGNATURE_HEADER, type WebhookAuthResults } from './payload.js';
export { WebhookDispatcher, DEFAULT_BACKOFF_MS, DEFAULT_GIVE_UP_MS, type WebhookTargets } from './dispatcher.js';
export { webhookUrlRefusal } from '../outbound/targets.js';

/** Where webhooks may post (SEALPOST_OUTBOUND_ALLOW_PRIVATE / _LOOPBACK) and the resolver for their host names (SEALPOST_DNS_SERVERS). */
export function webhookTargetsFromEnv(env: Readonly<Record<string, string | undefined>>): WebhookTargets {
  return { policy: targetPolicyFromEnv(env), resolver: resolverFromEnv(env) };
}

export const WEBHOOKS_FILE = 'webhooks.sqlite';

/** Saved setting naming the webhooks that also get the raw message (base64) in their JSON. */
export const rawSettingKey = (webhookId: number): string => `webhook.${webhookId}.includeRaw`;

export function webhooksFile(dataDir: string): string {
  return path.join(dataDir, WEBHOOKS_FILE);
}

/** The webhook settings the MX needs for one alias. */
export interface AliasWebhook {
  readonly id: number;
  readonly url: string;
  readonly includeRaw: boolean;
}

export interface WebhooksOptions extends Omit<DispatcherOptions, 'store' | 'logger'> {
  readonly dataDir: string;
  readonly appKey: Buffer;
  readonly logger: Logger;
}

export class Webhooks {
  private readonly dispatcher: WebhookDispatcher;

  private constructor(
    readonly store: WebhookStore,
    options: WebhooksOptions,
  ) {
    this.dispatcher = new WebhookDispatcher({ ...options, store, logger: options.logger });
  }

  static open(options: WebhooksOptions): Webhooks {
    return new Webhooks(WebhookStore.open(webhooksFile(options.dataDir), options.appKey), options);
  }

  /** Builds the jobs (one per webhook) for a message; the JSON is parsed once and shared. */
  async jobsFor(aliasId: string, webhooks: readonly AliasWebhook[], message: Omit<WebhookMessageInput, 'includeRaw'>): Promise<NewWebhookJob[]> {
    if (!webhooks.length) return [];
    const plain = webhooks.some((w) => !w.includeRaw) ? await buildWebhookBody({ ...message, includeRaw: false }) : null;
    const withRaw = webhooks.some((w) => w.includeRaw) ? await buildWebhookBody({ ...message, includeRaw: true }) : null;
    return webhooks.map((w) => ({ webhookId: w.id, aliasId, url: w.url, body: (w.includeRaw ? withRaw : plain) ?? Buffer.alloc(0) }));
  }

  /** Stores jobs durably; returns their ids (for discard on rollback). */
  enqueue(jobs: readonly NewWebhookJob[]): string[] {
    return jobs.length ? this.store.enqueue(jobs) : [];
  }

  discard(ids: readonly string[]): void {
    if (ids.length) this.store.discard(ids);
  }

  /** Starts sending after the 250 was given. */
  poke(): void {
    this.dispatcher.poke();
  }

  start(): void {
    this.dispatcher.start();
  }

  async stop(): Promise<void> {
    await this.dispatcher.stop();
    this.store.close();
  }
}
