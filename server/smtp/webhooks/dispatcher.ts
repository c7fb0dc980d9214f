// Delivers queued webhook jobs: POST with the HMAC signature, retry with backoff for 24 h after the
// message arrived, every attempt written to the delivery log. One timer, a few requests at a time.
// The receiver's address is checked when the socket opens (outbound/targets.ts): a URL whose host is, or
// resolves to, loopback, a private range or link-local is refused without a connection and never retried.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Logger } from '../../log.js';
import { createResolver, type DnsResolver } from '../dns.js';
import { guardedLookup, PUBLIC_TARGETS_ONLY, refusedTargetMessage, targetAddressRefusal, TargetRefusedError, type OutboundTargetPolicy } from '../outbound/targets.js';
import { signWebhookBody } from './payload.js';
import type { WebhookJob, WebhookStore } from './store.js';

/** Default retry delays after the 1st, 2nd… failure; the last one repeats until the 24 h deadline. */
export const DEFAULT_BACKOFF_MS: readonly number[] = [30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000];
export const DEFAULT_GIVE_UP_MS = 24 * 3_600_000;

export interface DispatcherOptions {
  readonly store: WebhookStore;
  /** The secret of a job's webhook, or null when the webhook was removed meanwhile (job fails). */
  readonly secretOf: (job: { aliasId: string; webhookId: number }) => string | null;
  readonly logger: Logger;
  readonly backoffMs?: readonly number[];
  readonly giveUpMs?: number;
  readonly requestTimeoutMs?: number;
  readonly concurrency?: number;
  /** Poll interval when nothing is due sooner (default 5 s). */
  readonly pollMs?: number;
  /** Which receiver addresses may be dialled, and the resolver for their names (default: public only, system DNS servers). */
  readonly targets?: WebhookTargets;
}

/** The target policy and the resolver webhook host names go through. */
export interface WebhookTargets {
  readonly policy: OutboundTargetPolicy;
  readonly resolver: DnsResolver;
}

/** The HTTP status, or why no usable response came. */
type PostResult = { readonly status: number } | { readonly error: unknown };

/** POSTs body to url over a socket whose address the lookup checked; redirects are not followed. */
function post(url: URL, headers: Record<string, string>, body: Buffer, timeoutMs: number, targets: WebhookTargets): Promise<PostResult> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (net.isIP(host)) {
    // IP literals never reach a lookup: check them here (WHATWG URL already turned 0x7f.1 or 2130706433 into 127.0.0.1)
    const why = targetAddressRefusal(host, targets.policy);
    if (why) return Promise.resolve({ error: new TargetRefusedError(refusedTargetMessage(host, host, why)) });
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = client.request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, lookup: guardedLookup(targets.resolver, targets.policy), agent: false, timeout: timeoutMs },
      (response) => {
        response.resume();
        response.once('end', () => resolve({ status: response.statusCode ?? 0 }));
        response.once('error', () => resolve({ status: response.statusCode ?? 0 }));
      },
    );
    const deadline = setTimeout(() => request.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), timeoutMs);
    request.once('close', () => clearTimeout(deadline));
    request.once('timeout', () => request.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })));
    request.once('error', (error) => resolve({ error }));
    request.end(body);
  });
}

/** Status codes that will not get better by retrying (a redirect is not followed: the URL needs changing). */
function permanent(status: number): boolean {
  return (status >= 300 && status < 400) || (status >= 400 && status < 500 && ![408, 409, 425, 429].includes(status));
}

function reason(error: unknown): string {
  if (error instanceof Error) {
    if (error instanceof TargetRefusedError) return error.message.slice(0, 300);
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timeout';
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
    const cause = (error as { cause?: unknown }).cause;
    if (cause && typeof cause === 'object' && 'code' in cause) return String((cause as { code: unknown }).code);
    return error.message.slice(0, 200);
  }
  return 'unknown error';
}

export class WebhookDispatcher {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = true;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly backoff: readonly number[];
  private readonly giveUpMs: number;
  private readonly targets: WebhookTargets;

  constructor(private readonly options: DispatcherOptions) {
    this.backoff = options.backoffMs?.length ? options.backoffMs : DEFAULT_BACKOFF_MS;
    this.giveUpMs = options.giveUpMs ?? DEFAULT_GIVE_UP_MS;
    this.targets = options.targets ?? { policy: PUBLIC_TARGETS_ONLY, resolver: createResolver() };
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Wakes the loop now (after new jobs were queued). */
  poke(): void {
    if (!this.stopped) this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight]);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), Math.max(0, delayMs));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      const concurrency = this.options.concurrency ?? 4;
      for (;;) {
        const jobs = this.options.store.due(Date.now(), concurrency);
        if (!jobs.length || this.stopped) break;
        await Promise.all(jobs.map((job) => this.track(this.attempt(job))));
      }
    } catch (error) {
      this.options.logger.error({ err: reason(error) }, 'webhook dispatcher failed; retrying later');
    } finally {
      this.running = false;
      const next = this.stopped ? null : this.options.store.nextDue();
      const poll = this.options.pollMs ?? 5_000;
      this.schedule(next === null ? poll : Math.min(poll, next - Date.now()));
    }
  }

  private track(p: Promise<void>): Promise<void> {
    this.inFlight.add(p);
    return p.finally(() => this.inFlight.delete(p));
  }

  private async attempt(job: WebhookJob): Promise<void> {
    const { store, logger } = this.options;
    const secret = this.options.secretOf(job);
    const at = Date.now();
    if (secret === null) {
      store.recordAttempt(job, { status: null, error: 'webhook removed', durationMs: 0, at }, 'failed', null);
      return;
    }
    let status: number | null = null;
    let error: string | null = null;
    let refused = false;
    try {
      const timestamp = Math.floor(at / 1000);
      const headers = {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'Sealpost-Webhook/1',
        'x-sealpost-event': 'message.received',
        'x-sealpost-delivery': job.id,
        'x-sealpost-signature': signWebhookBody(secret, job.body, timestamp),
      };
      const result = await post(new URL(job.url), headers, job.body, this.options.requestTimeoutMs ?? 15_000, this.targets);
      if ('status' in result) {
        status = result.status;
        if (status >= 300 && status < 400) error = `HTTP ${status}: redirect not followed (update the webhook URL)`;
        else if (status < 200 || status >= 300) error = `HTTP ${status}`;
      } else {
        refused = result.error instanceof TargetRefusedError;
        error = reason(result.error);
      }
    } catch (e) {
      error = reason(e);
    }
    const durationMs = Date.now() - at;
    if (error === null) {
      store.recordAttempt(job, { status, error, durationMs, at }, 'delivered', null);
      logger.info({ webhookId: job.webhookId, job: job.id, status, attempt: job.attempts + 1 }, 'webhook delivered');
      return;
    }
    const delay = this.backoff[Math.min(job.attempts, this.backoff.length - 1)] ?? 60_000;
    const next = Date.now() + delay;
    const giveUp = refused || (status !== null && permanent(status)) || next > job.created + this.giveUpMs;
    store.recordAttempt(job, { status, error, durationMs, at }, giveUp ? 'failed' : 'retry', giveUp ? null : next);
    if (refused) logger.warn({ event: 'webhook.target_refused', webhookId: job.webhookId, job: job.id, error }, 'webhook target refused by the outbound address policy; not retried');
    else logger.warn({ webhookId: job.webhookId, job: job.id, status, error, attempt: job.attempts + 1, retry: !giveUp }, 'webhook delivery failed');
  }
}
