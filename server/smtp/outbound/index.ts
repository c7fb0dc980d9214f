// The outbound queue: durable enqueue into outbound.sqlite and a worker that delivers directly or via
// the relay, retries 4xx with exponential backoff for up to maxAge, bounces 5xx, and reports failures
// and long delays to the sender with a DSN in their own mailbox. Used by submission and by the MX's
// forwarding (`enqueue({ from, to, raw, kind: 'forward' })`).
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { OutboundMessage } from '../../ports.js';
import type { DnsResolver } from '../dns.js';
import { DkimKeys } from '../dkim/index.js';
import { Deliverer, type DeliveryOutcome, type DeliveryRequest, type RelayConfig, type RelayRoute, type TlsMode } from './delivery.js';
import { buildDsn, enhancedStatus, type DsnRecipient } from './dsn.js';
import { DEFAULT_OUTBOUND_OPTIONS, type OutboundOptions } from './options.js';
import { tryWorkerLock, type WorkerLock } from './worker-lock.js';
import { OutboundStore, NO_SESSION, type DeliveryJob, type JobItem, type MessageKind, type QueueCounts, type QueueEntry } from './store.js';
import { historyOf, historyPage } from './history.js';
import { adBitTrusted, createDnssecClient, effectiveDnsServers, type DnssecClient } from './dane.js';
import { buildTlsReport, buildTlsReportMail, tlsReportGzip, tlsRptFromTxt } from './tls-report.js';
import { postTlsReport } from './tls-report-post.js';
import type { OutgoingDetail, OutgoingPage } from '../../ports.js';

export type { MessageKind, QueueCounts, QueueEntry, RelayConfig, TlsMode, OutboundOptions };
export { outboundOptionsFromEnv, DEFAULT_OUTBOUND_OPTIONS } from './options.js';
export { OutboundStore } from './store.js';

/** Named secrets: server/keychain's SecretStore (OS keychain, or its app-key-encrypted file fallback). */
export interface SecretPort {
  getSecret(name: string): Promise<string | null>;
  setSecret(name: string, value: string): Promise<unknown>;
  deleteSecret(name: string): Promise<unknown>;
}

/** Puts a DSN into the local sender's mailbox; resolves false when the sender is not a local alias. */
export type SenderNotifier = (sender: string, aliasId: string | null, raw: Buffer) => Promise<boolean>;

export interface OutboundQueueDeps {
  /** Path of outbound.sqlite. */
  readonly file: string;
  readonly appKey: Buffer;
  readonly logger: Logger;
  /** Our host name (EHLO, Reporting-MTA, MAILER-DAEMON@). */
  readonly hostname: string;
  readonly resolver: DnsResolver;
  readonly options?: OutboundOptions;
  readonly secrets?: SecretPort | null;
  readonly notifySender?: SenderNotifier | null;
}

/** What enqueue() takes: an OutboundMessage (server/ports.ts), or a DSN the queue makes itself. */
export interface EnqueueInput extends Omit<OutboundMessage, 'kind'> {
  readonly kind: MessageKind;
}

declare module '../../ports.js' {
  /** The app context's `outbound` is this queue (wired in server/app.ts). */
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the members come from OutboundQueue
  interface OutboundService extends OutboundQueue {}
}

const RELAY_SETTING = 'relay';

/** The relay as saved: the password is not here but in the secret store under `secretName`. */
interface SavedRelay extends RelayConfig {
  /** Keychain items are per OS user, not per data dir: the name carries a random id. */
  readonly secretName: string | null;
}

function parseRelay(text: string | null): SavedRelay | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as Partial<RelayConfig>;
    if (typeof v.host !== 'string' || typeof v.port !== 'number') return null;
    const tls: TlsMode = v.tls === 'tls' || v.tls === 'none' ? v.tls : 'starttls';
    const secretName = (v as { secretName?: unknown }).secretName;
    return {
      host: v.host,
      port: v.port,
      tls,
      insecure: v.insecure === true,
      username: typeof v.username === 'string' ? v.username : null,
      secretName: typeof secretName === 'string' ? secretName : null,
    };
  } catch {
    return null;
  }
}

/** exponential backoff: base · 2^(attempt-1), capped. */
export function retryDelay(attempts: number, options: Pick<OutboundOptions, 'retryBaseMs' | 'retryMaxMs'>): number {
  return Math.min(options.retryBaseMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)), options.retryMaxMs);
}

export class OutboundQueue {
  readonly store: OutboundStore;
  readonly dkim: DkimKeys;
  readonly options: OutboundOptions;
  private readonly deliverer: Deliverer;
  private readonly logger: Logger;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private inflight = 0;
  private readonly inflightByDomain = new Map<string, number>();
  private readonly startsByDomain = new Map<string, number[]>();
  private readonly idleWaiters: (() => void)[] = [];
  private ticking = false;
  private workerLock: WorkerLock | null = null;
  private lastHistoryPrune = 0;
  private tlsReporting: Promise<void> | null = null;
  /** The DNSSEC client DANE uses, or null when DANE is off (see daneClient). */
  readonly dane: DnssecClient | null;

  constructor(private readonly deps: OutboundQueueDeps) {
    this.options = deps.options ?? DEFAULT_OUTBOUND_OPTIONS;
    this.logger = deps.logger.child({ component: 'outbound' });
    this.store = new OutboundStore(deps.file, deps.appKey);
    this.dkim = new DkimKeys(this.store.db, deps.appKey);
    this.dane = daneClient(this.options, deps.resolver, this.logger);
    this.deliverer = new Deliverer(
      deps.resolver,
      {
        hostname: deps.hostname,
        mxPort: this.options.mxPort,
        connectTimeoutMs: this.options.connectTimeoutMs,
        socketTimeoutMs: this.options.socketTimeoutMs,
        targets: this.options.targets ?? DEFAULT_OUTBOUND_OPTIONS.targets,
        onTargetRefused: (reason) => this.logger.warn({ event: 'outbound.target_refused', reason }, 'MX address refused by the outbound address policy; not dialled'),
        endOfDataHoldMs: this.options.endOfDataHoldMs,
        onEndOfDataOverdue: () =>
          this.logger.warn(
            { event: 'outbound.end_of_data_overdue', holdMs: this.options.endOfDataHoldMs },
            'a remote has not answered the end of a message in time; other messages are sent meanwhile (a kill -9 now could send that one twice)',
          ),
        dane: this.dane,
        onTlsSession: this.options.tlsReports ? (result) => this.store.recordTlsSession(result) : undefined,
      },
      this.options.mtaStsUrl,
    );
  }

  /** Stores the message durably (fsync) and returns its queue id; the worker picks it up at once. */
  async enqueue(input: EnqueueInput): Promise<string> {
    const recipients = input.to.map((r) => r.trim()).filter((r) => r.includes('@'));
    if (recipients.length === 0) throw new Error('no valid recipients');
    const id = this.store.enqueue({ kind: input.kind, sender: input.kind === 'dsn' ? '' : input.from, recipients, raw: input.raw, aliasId: input.aliasId ?? null });
    this.logger.info({ event: 'outbound.enqueued', queueId: id, kind: input.kind, recipients: recipients.length, size: input.raw.length }, 'queued for delivery');
    this.wake();
    return id;
  }

  /** The configured relay, or null for direct delivery. */
  relay(): RelayConfig | null {
    const saved = parseRelay(this.store.getSetting(RELAY_SETTING));
    if (!saved) return null;
    const { secretName: _secretName, ...relay } = saved;
    return relay;
  }

  /**
   * Saves the relay and, when given, its password in the secret store (undefined keeps the saved one);
   * null clears the relay and its password (back to direct delivery).
   */
  async setRelay(relay: RelayConfig | null, password?: string | null): Promise<void> {
    const previous = parseRelay(this.store.getSetting(RELAY_SETTING));
    if (relay === null) {
      this.store.setSetting(RELAY_SETTING, null);
      if (previous?.secretName) await this.deps.secrets?.deleteSecret(previous.secretName);
      return;
    }
    let secretName = previous?.secretName ?? null;
    if (password !== undefined && password !== null) {
      if (!this.deps.secrets) throw new Error('no secret store available for the relay password');
      secretName ??= `relay-password:${randomUUID()}`;
      await this.deps.secrets.setSecret(secretName, password);
    } else if (password === null && secretName) {
      await this.deps.secrets?.deleteSecret(secretName);
      secretName = null;
    }
    const saved: SavedRelay = { ...relay, secretName };
    this.store.setSetting(RELAY_SETTING, JSON.stringify(saved));
  }

  async relayRoute(): Promise<RelayRoute | null> {
    const saved = parseRelay(this.store.getSetting(RELAY_SETTING));
    if (!saved) return null;
    const { secretName, ...relay } = saved;
    const password = relay.username && secretName && this.deps.secrets ? await this.deps.secrets.getSecret(secretName) : null;
    return { ...relay, password };
  }

  /** Connects to the relay (with AUTH when configured) without sending; resolves with a one-line verdict. */
  async testRelay(): Promise<{ ok: boolean; message: string }> {
    const route = await this.relayRoute();
    if (!route) return { ok: false, message: 'No relay is configured (direct delivery).' };
    return this.deliverer.probeRelay(route);
  }

  counts(): QueueCounts {
    return this.store.counts();
  }

  list(): QueueEntry[] {
    return this.store.list();
  }

  retry(id?: string): number {
    const n = this.store.retryNow(id);
    this.wake();
    return n;
  }

  drop(id: string): number {
    return this.store.drop(id);
  }

  /** Largest history page (messages, recipients and attempts per message). */
  get historyPageMax(): number {
    return this.options.historyPageMax;
  }

  /** The outgoing history, newest first: at most `limit` (capped at historyPageMax) messages after `cursor`. */
  historyPage(limit: number, cursor: string | null): OutgoingPage {
    return historyPage(this.store.db, Math.max(1, Math.min(limit, this.options.historyPageMax)), cursor);
  }

  /** One message of the history with every recipient and its latest attempts; null when unknown. */
  historyOf(id: string): OutgoingDetail | null {
    return historyOf(this.store.db, id, this.options.historyPageMax);
  }

  /** Deletes the history of messages finished more than historyDays ago; returns how many. */
  pruneHistory(now = Date.now()): number {
    this.lastHistoryPrune = now;
    const n = this.store.pruneHistory(now - this.options.historyDays * 86400_000);
    if (n > 0) this.logger.info({ event: 'outbound.history_pruned', messages: n, days: this.options.historyDays }, 'old outgoing history deleted');
    return n;
  }

  /**
   * Sends the SMTP TLS reports (RFC 8460) of every finished UTC day to the recipient domains whose
   * `_smtp._tls` record asks for them: by mail, DKIM-signed by the domain of our host name (RFC 8460 §5.3), and
   * by HTTPS POST (§5.4). Days nobody asked for are forgotten. Returns how many reports went out (or were queued).
   */
  async sendTlsReports(now = Date.now()): Promise<number> {
    const today = new Date(now).toISOString().slice(0, 10);
    let sent = 0;
    for (const { day, domain } of this.store.tlsReportDays(today)) {
      let rua: ReturnType<typeof tlsRptFromTxt> = null;
      try {
        rua = tlsRptFromTxt(await this.deps.resolver.resolveTxt(`_smtp._tls.${domain}`));
      } catch (error) {
        // a failed lookup is tried again next time, for up to three days
        const code = (error as { code?: string }).code;
        if (code !== 'ENOTFOUND' && code !== 'ENODATA' && Date.parse(`${day}T00:00:00Z`) > now - 3 * 86400_000) continue;
      }
      const signer = this.reportingDomain();
      if (rua) {
        const organization = signer ?? this.deps.hostname.toLowerCase();
        const report = buildTlsReport({
          organizationName: organization,
          contactInfo: `postmaster@${organization}`,
          start: new Date(`${day}T00:00:00Z`),
          end: new Date(`${day}T23:59:59Z`),
          results: this.store.tlsSessions(day, domain),
        });
        let delivered = false;
        if (rua.mailto.length > 0 && signer) {
          const raw = buildTlsReportMail({ report, policyDomain: domain, submitter: signer, from: `tls-reports@${signer}`, to: rua.mailto });
          await this.enqueue({ kind: 'dsn', from: '', to: rua.mailto, raw: await this.dkim.sign(raw, signer) });
          delivered = true;
        } else if (rua.mailto.length > 0) {
          this.logger.warn({ event: 'tlsrpt.unsigned', day }, 'a TLS report was asked for by mail, but the host name has no domain with DKIM keys to sign it; not sent');
        }
        for (const url of rua.https) {
          // one try per report: what cannot be uploaded now is not kept
          const status = await postTlsReport(url, tlsReportGzip(report), this.deps.resolver, this.options.targets).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
          if (typeof status === 'number' && status >= 200 && status < 300) delivered = true;
          else this.logger.warn({ event: 'tlsrpt.upload_failed', status }, 'a TLS report upload was refused or failed');
        }
        if (delivered) sent++;
      }
      this.store.dropTlsSessions(day, domain);
    }
    if (sent > 0) this.logger.info({ event: 'tlsrpt.queued', reports: sent }, 'SMTP TLS reports queued');
    return sent;
  }

  /** The domain of our host name (or a parent of it) that has DKIM keys: the submitter of TLS reports. */
  private reportingDomain(): string | null {
    const labels = this.deps.hostname.toLowerCase().replace(/\.$/, '').split('.');
    for (let i = 0; i < labels.length - 1; i++) {
      const candidate = labels.slice(i).join('.');
      if (this.dkim.get(candidate)) return candidate;
    }
    return null;
  }

  /**
   * Starts the delivery worker. Recipients a dead worker left `sending` (possibly in flight: at most one
   * of them past its final dot, see end-of-data-gate.ts) are queued again — only under the worker lock, so
   * never those of a live worker. Throws when another worker already delivers from this outbound.sqlite.
   */
  start(): void {
    if (this.running) return;
    const lock = tryWorkerLock(this.deps.file);
    if (!lock) throw new Error('Another Sealpost server is already delivering outbound mail from this data dir; stop it first.');
    this.workerLock = lock;
    this.running = true;
    const recovered = this.store.recoverInflight();
    if (recovered > 0) {
      this.logger.warn({ event: 'outbound.recovered', recipients: recovered }, 'recipients in flight when the last worker died are queued again (at most one of them may reach its recipient twice)');
    }
    this.wake();
  }

  /** Stops claiming new work, waits for in-flight transactions, then lets another worker start. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inflight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.workerLock?.release();
    this.workerLock = null;
  }

  close(): void {
    this.workerLock?.release();
    this.workerLock = null;
    this.store.close();
  }

  /** Resolves when nothing is in flight and nothing is due (tests and benches). */
  async drain(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const due = this.store.nextDue();
      if (this.inflight === 0 && (due === null || due > Date.now() + 60_000)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('outbound queue did not drain in time');
  }

  private wake(): void {
    if (!this.running) return;
    setImmediate(() => this.tick());
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const due = this.store.nextDue();
    const wait = due === null ? this.options.pollMs : Math.max(5, Math.min(this.options.pollMs, due - Date.now()));
    this.timer = setTimeout(() => this.tick(), wait);
    this.timer.unref();
  }

  private admit(domain: string, now: number): boolean {
    if ((this.inflightByDomain.get(domain) ?? 0) >= this.options.perDomainConcurrency) return false;
    const starts = (this.startsByDomain.get(domain) ?? []).filter((t) => t > now - 60_000);
    if (starts.length >= this.options.perDomainPerMinute) {
      this.startsByDomain.set(domain, starts);
      return false;
    }
    starts.push(now);
    this.startsByDomain.set(domain, starts);
    this.inflightByDomain.set(domain, (this.inflightByDomain.get(domain) ?? 0) + 1);
    return true;
  }

  private tick(): void {
    if (!this.running || this.ticking) return;
    this.ticking = true;
    try {
      // the history is pruned by the worker, at most hourly
      if (Date.now() - this.lastHistoryPrune >= 3600_000) {
        this.pruneHistory();
        if (this.options.tlsReports && !this.tlsReporting) {
          this.tlsReporting = this.sendTlsReports()
            .then(() => undefined)
            .catch((error: unknown) => this.logger.warn({ event: 'tlsrpt.failed', err: error instanceof Error ? error.message : String(error) }, 'sending TLS reports failed; tried again within the hour'))
            .finally(() => (this.tlsReporting = null));
        }
      }
      const free = this.options.concurrency - this.inflight;
      if (free > 0) {
        const now = Date.now();
        const jobs = this.store.claimDue(now, free, (domain) => this.admit(domain, now));
        for (const job of jobs) {
          this.inflight++;
          void this.run(job).finally(() => {
            this.inflight--;
            const n = (this.inflightByDomain.get(job.domain) ?? 1) - 1;
            if (n <= 0) this.inflightByDomain.delete(job.domain);
            else this.inflightByDomain.set(job.domain, n);
            if (this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
            this.wake();
          });
        }
      }
    } catch (error) {
      this.logger.error({ event: 'outbound.tick_failed', err: error instanceof Error ? error.message : String(error) }, 'outbound worker tick failed');
    } finally {
      this.ticking = false;
      this.schedule();
    }
  }

  private async run(job: DeliveryJob): Promise<void> {
    const pending = new Set<JobItem>(job.items);
    try {
      const requests: DeliveryRequest[] = [];
      const items: JobItem[] = [];
      for (const item of job.items) {
        const raw = this.store.raw(item.message.id);
        if (!raw) {
          pending.delete(item);
          continue;
        }
        items.push(item);
        requests.push({ sender: item.message.sender, domain: job.domain, recipients: item.recipients.map((r) => r.rcpt), raw });
      }
      if (items.length === 0) return;
      const route = await this.relayRoute();
      // Each message is recorded as its reply arrives, before the next one is sent: the remote's 250 is
      // committed synchronously, in the tick the reply was read (the end-of-data gate waits for it), and
      // only then do bounces and deferrals take their time (DSNs).
      const record = (i: number, outcomes: DeliveryOutcome[]): Promise<void> | void => {
        const item = items[i] as JobItem;
        if (!pending.has(item)) return;
        this.recordDelivered(item, outcomes);
        return this.settle(item, outcomes, (requests[i] as DeliveryRequest).raw).then(() => {
          pending.delete(item);
        });
      };
      if (route) await this.deliverer.viaRelay(route, requests, record);
      else await this.deliverer.direct(job.domain, requests, record);
    } catch (error) {
      // never lose a claimed recipient: whatever went wrong, put it back for a later attempt
      const now = Date.now();
      for (const item of pending) {
        const attempts = Math.max(...item.recipients.map((r) => r.attempts));
        this.store.markDeferred(item.recipients.map((r) => r.id), 451, '4.3.0 local error during delivery', now + retryDelay(attempts, this.options), now, NO_SESSION);
      }
      this.logger.error({ event: 'outbound.run_failed', domainJob: job.items.length, err: error instanceof Error ? error.message : String(error) }, 'delivery attempt failed locally');
    } finally {
      this.store.pruneFinished();
    }
  }

  /** Commits every recipient the remote accepted, in one transaction (fsync), before anything else runs. */
  private recordDelivered(job: JobItem, outcomes: readonly DeliveryOutcome[]): void {
    const byRcpt = new Map(job.recipients.map((r) => [r.rcpt, r]));
    const delivered = outcomes.filter((o) => o.result === 'delivered');
    if (delivered.length === 0) return;
    this.store.markDeliveredEach(delivered.map((o) => ({ id: byRcpt.get(o.rcpt)?.id ?? -1, code: o.code, response: o.response, session: o.session ?? NO_SESSION })));
    this.logger.info({ event: 'outbound.delivered', queueId: job.message.id, recipients: delivered.length, code: delivered[0]?.code }, 'delivered');
  }

  /** Bounces (DSN first) and deferrals (delay warning first) of one message's reply. */
  private async settle(job: JobItem, outcomes: readonly DeliveryOutcome[], raw: Buffer): Promise<void> {
    const now = Date.now();
    const byRcpt = new Map(job.recipients.map((r) => [r.rcpt, r]));
    const bounced: DeliveryOutcome[] = [];
    const deferred: DeliveryOutcome[] = [];
    const expired = now - job.message.created >= this.options.maxAgeMs;
    for (const o of outcomes) {
      if (o.result === 'delivered') continue;
      if (o.result === 'bounced' || expired) bounced.push(o);
      else deferred.push(o);
    }
    const idOf = (o: DeliveryOutcome): number => byRcpt.get(o.rcpt)?.id ?? -1;

    if (bounced.length) {
      // DSN first, then the final mark: a crash in between re-tries and may bounce twice, never silently
      await this.report(job, 'failed', bounced, raw, expired);
      for (const o of bounced) this.store.markBounced([idOf(o)], o.code, o.response, now, o.session ?? NO_SESSION);
      this.logger.info({ event: 'outbound.bounced', queueId: job.message.id, recipients: bounced.length, code: bounced[0]?.code, expired }, 'bounced');
    }
    if (deferred.length) {
      const attempts = Math.max(...deferred.map((o) => byRcpt.get(o.rcpt)?.attempts ?? 1));
      const next = now + retryDelay(attempts, this.options);
      const unwarned = deferred.filter((o) => !byRcpt.get(o.rcpt)?.warned);
      if (unwarned.length && now - job.message.created >= this.options.delayWarningMs) {
        await this.report(job, 'delayed', unwarned, raw, false);
        this.store.markWarned(unwarned.map(idOf));
      }
      for (const o of deferred) this.store.markDeferred([idOf(o)], o.code, o.response, next, now, o.session ?? NO_SESSION);
      this.logger.info({ event: 'outbound.deferred', queueId: job.message.id, recipients: deferred.length, code: deferred[0]?.code, retryInMs: next - now }, 'deferred');
    }
  }

  private async report(job: JobItem, action: 'failed' | 'delayed', outcomes: readonly DeliveryOutcome[], raw: Buffer, expired: boolean): Promise<void> {
    // No DSN about a DSN (null sender) and none for forwarded mail, whose sender is someone else's.
    if (job.message.sender === '' || job.message.kind !== 'submission' || !this.deps.notifySender) return;
    const recipients: DsnRecipient[] = outcomes.map((o) => ({
      rcpt: o.rcpt,
      status: expired ? '4.4.7' : enhancedStatus(o.code, o.response),
      diagnostic: expired ? `${o.response} (gave up after ${Math.round(this.options.maxAgeMs / 3600_000)} hours)` : o.response,
      remoteMta: o.remoteMta,
    }));
    const dsn = buildDsn({
      action,
      reportingMta: this.deps.hostname,
      sender: job.message.sender,
      arrivalDate: new Date(job.message.created),
      recipients,
      original: raw,
      ...(action === 'delayed' ? { willRetryUntil: new Date(job.message.created + this.options.maxAgeMs) } : {}),
    });
    const delivered = await this.deps.notifySender(job.message.sender, job.message.aliasId, dsn);
    this.logger.info({ event: action === 'failed' ? 'outbound.dsn' : 'outbound.delay_warning', queueId: job.message.id, local: delivered }, 'sender notified');
  }
}

/** DANE's DNSSEC client: on unless SEALPOST_DANE=off, and only when every DNS server is on this machine. */
function daneClient(options: OutboundOptions, resolver: DnsResolver, logger: Logger): DnssecClient | null {
  if (options.dane === 'off') return null;
  const servers = effectiveDnsServers(resolver.servers);
  if (!adBitTrusted(servers)) {
    logger.debug({ event: 'dane.off', reason: 'resolver not on this machine' }, 'DANE is not used: only a validating resolver on this machine can vouch for DNSSEC');
    return null;
  }
  return createDnssecClient(servers, Math.min(options.connectTimeoutMs, 10_000));
}
