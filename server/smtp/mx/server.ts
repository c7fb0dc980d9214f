// The MX listener: smtp-server callbacks become our promises here. Recipient checks at RCPT, the
// message collected once while streaming (SIZE enforced as it arrives), authentication checks,
// trace headers, then deliverMessage(); 250 only when every recipient is durable.
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { AliasRecord, Directory } from '../../directory/index.js';
import { tryNormalizeAddress } from '../../directory/index.js';
import type { Logger } from '../../log.js';
import { capToFdShare, ConnectionGate, gateConnections, normalizeIp, RateBoundedLog, refuseSocket } from '../../net.js';
import { logSecurityEvent } from '../../security-log.js';
import type { DnsResolver } from '../dns.js';
import { hopCount, Srs, type Forwarder } from '../forward/index.js';
import { TLS_POLICY } from '../../config/tls.js';
import type { Webhooks } from '../webhooks/index.js';
import { ackPromptly, guardStartTls } from '../session-guards.js';
import { checkAuthentication, type AuthVerdict } from './auth.js';
import { deliverMessage, newTransactionId, type DeliveryPort, type OutboundPort } from './deliver.js';
import { stripOwnAuthResults } from './auth-results.js';
import { dnsblHeaderLine, dnsblListings, MAX_DNSBL_ZONES } from './dnsbl.js';
import { rspamdHeaderLine, stripRspamdHeaders } from '../../junk/index.js';
import { rspamdCheck, rspamdFailure, type RspamdEnvelope, type RspamdSettings } from './rspamd.js';
import { FailedRcptLimiter, SenderRateLimiter, tarpitDelayMs } from './limits.js';
import { receivedHeader } from './received.js';
import { REPLIES, SmtpReply } from './replies.js';
import type { ReportIntake } from './reports.js';
import { ReportRefused } from '../../reports/index.js';
import type { MxSettings } from './settings.js';
import { stageStart, timeStage } from '../../stages.js';

export interface MxServerDeps {
  readonly hostname: string;
  readonly logger: Logger;
  readonly directory: Directory;
  readonly delivery: DeliveryPort;
  /** Current quota use of an alias (+ bytes queued or reserved for it), for early 452s; null when unlimited. */
  readonly quotaOf: (alias: AliasRecord) => Promise<{ used: number; limit: number } | null>;
  readonly resolver: DnsResolver;
  readonly forwarder: Forwarder;
  readonly outbound: OutboundPort | null;
  readonly webhooks: Webhooks | null;
  readonly settings: MxSettings;
  /** TLS for STARTTLS (TLS 1.2+). */
  readonly tls: { key: string; cert: string; SNICallback?: tls.TlsOptions['SNICallback'] } | null;
  /** Aggregate reports to our domains' report addresses (absent: those addresses are ordinary recipients). */
  readonly reports?: ReportIntake | null;
}

/** Per-transaction state (reset at MAIL FROM). */
interface Transaction {
  readonly aliases: Map<string, { alias: AliasRecord; addresses: string[] }>;
  readonly bounceTargets: string[];
  /** Our domains whose aggregate-report address is a recipient (the message goes to the report intake). */
  readonly reportDomains: Set<string>;
  /** Every accepted recipient address (lowercase), for the per-transaction cap. */
  readonly recipients: Set<string>;
  declaredSize: number;
  /** The first RCPT over the cap is logged; the rest of that transaction's are not (one line per flood). */
  overCapLogged: boolean;
}

interface Connection {
  /** Failed RCPTs on this connection (unknown recipients, forged/expired SRS, bad syntax). */
  badRcpt: number;
  tx: Transaction;
}

const newTx = (): Transaction => ({ aliases: new Map(), bounceTargets: [], reportDomains: new Set(), recipients: new Set(), declaredSize: 0, overCapLogged: false });

/** A refused RCPT: the reply, the reason code for the security log, and whether it counts as a failed guess. */
class RcptRefused extends Error {
  constructor(
    readonly reply: SmtpReply,
    readonly reason: string,
    readonly counts: boolean,
  ) {
    super(reply.message);
    this.name = 'RcptRefused';
  }
}

type SendFn = (code: number, data?: string | string[] | null, context?: string | false) => void;
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * smtp-server derives the enhanced status code from the reply code alone (every 550 becomes 5.1.1),
 * so a DMARC refusal could not say 5.7.1. Our replies carry their own code in the text; for those we
 * tell send() to add none. The library's own replies keep its codes.
 */
class SealpostSmtpServer extends SMTPServer {
  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
    const before = this.connections.size;
    super.connect(socket, socketOptions);
    if (this.connections.size === before) return;
    let newest: { send: SendFn } | undefined;
    for (const connection of this.connections) newest = connection as unknown as { send: SendFn };
    if (!newest) return;
    const target = newest;
    const original = target.send.bind(target);
    target.send = (code, data, context) => original(code, data, typeof data === 'string' && ENHANCED.test(data) ? false : context);
  }
}

function headerBlockOf(raw: Buffer): string {
  const limit = Math.min(raw.length, 256 * 1024);
  let end = raw.indexOf('\r\n\r\n');
  if (end < 0 || end > limit) {
    const lf = raw.indexOf('\n\n');
    end = lf >= 0 && lf <= limit ? lf : limit;
  }
  return raw.subarray(0, end).toString('latin1');
}

const reason = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message.slice(0, 200)}` : 'unknown');

export class MxServer {
  readonly server: SMTPServer;
  private readonly connections = new Map<string, Connection>();
  private readonly gate: ConnectionGate;
  private readonly refusalLog: RateBoundedLog;
  private readonly failedRcpt: FailedRcptLimiter;
  private readonly senderRate: SenderRateLimiter;
  private readonly log: Logger;

  constructor(private readonly deps: MxServerDeps) {
    const s = deps.settings;
    this.log = deps.logger.child({ component: 'mx' });
    // Total cap lowered to the MX's share of the fd soft limit, so an MX flood cannot starve other listeners.
    const totalCap = capToFdShare(s.maxConnections, 'smtp');
    this.gate = new ConnectionGate(() => ({ perIp: s.maxConnectionsPerIp, total: totalCap }));
    this.failedRcpt = new FailedRcptLimiter(s.badRcptWindowMs);
    this.refusalLog = new RateBoundedLog((key, count) => {
      const [ip, reason] = key.split('|') as [string, string];
      logSecurityEvent(this.log, 'conn.refused', { ip, protocol: 'smtp', reason, detail: { count } });
    });
    this.senderRate = new SenderRateLimiter(s.maxMessagesPerSenderPerHour);
    this.server = new SealpostSmtpServer({
      name: deps.hostname,
      banner: 'Sealpost ESMTP ready',
      // smtp-server's own logging would print addresses; we log ids ourselves.
      logger: false,
      secure: false,
      ...(deps.tls ? { key: deps.tls.key, cert: deps.tls.cert, ...(deps.tls.SNICallback ? { SNICallback: deps.tls.SNICallback } : {}), ...TLS_POLICY } : {}),
      disabledCommands: deps.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      authOptional: true,
      hideENHANCEDSTATUSCODES: false,
      hidePIPELINING: false,
      hide8BITMIME: false,
      hideSMTPUTF8: false,
      size: s.maxSize,
      // The gate (admitSocket) keeps open sessions within totalCap before smtp-server sees them; this is the
      // library's own check, never reached first.
      maxClients: totalCap,
      socketTimeout: s.socketTimeoutMs,
      closeTimeout: s.closeTimeoutMs,
      // Reverse DNS would go to the system resolver, bypassing ours; the Received header shows the IP.
      disableReverseLookup: true,
      onMailFrom: (address, session, callback) => this.wrap(this.onMailFrom(address, session), callback),
      onRcptTo: (address, session, callback) => this.onRcptTo(address, session, callback),
      onData: (stream, session, callback) => this.onData(stream, session, callback),
      onClose: (session) => this.onClose(session),
    });
    this.admitSockets();
    guardStartTls(this.server, {
      onUnguardable: (why) => this.log.error({ event: 'mx.starttls_guard', err: why }, 'STARTTLS guard could not be applied; connection closed'),
      handshakeTimeoutMs: s.handshakeTimeoutMs,
      onHandshakeTimeout: (ip) => logSecurityEvent(this.log, 'tls.failed', { ip, protocol: 'smtp', reason: 'handshake-timeout' }),
    });
    ackPromptly(this.server);
    this.server.on('error', (error) => this.log.warn({ event: 'mx.socket_error', err: reason(error) }, 'smtp connection error'));
  }

  /** Makes a new certificate the one clients without SNI get too (those with SNI already get the current one). */
  useCertificate(pem: { readonly key: string; readonly cert: string }): void {
    this.server.updateSecureContext({ key: pem.key, cert: pem.cert });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.server.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.server.off('error', onError);
        const address = this.server.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    this.refusalLog.flush();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Turns a promise into smtp-server's callback; unexpected errors become 451, never a crash. */
  private wrap(work: Promise<void>, callback: (error?: Error | null) => void): void {
    work.then(
      () => callback(),
      (error: unknown) => {
        if (error instanceof SmtpReply) return callback(error);
        this.log.error({ event: 'mx.handler_failed', err: reason(error) }, 'smtp handler failed');
        callback(REPLIES.temporary());
      },
    );
  }

  private connection(session: SMTPServerSession): Connection {
    let conn = this.connections.get(session.id);
    if (!conn) {
      conn = { badRcpt: 0, tx: newTx() };
      this.connections.set(session.id, conn);
    }
    return conn;
  }

  /**
   * Per-IP and total caps at accept time, before smtp-server builds a session (and before its 100 ms
   * early-talker wait), so a flood holds no more descriptors than the caps: a refused socket gets
   * `421 4.7.0` and is closed at once. Refusals are logged one line per (IP, reason) and minute, with a count.
   */
  private admitSockets(): void {
    gateConnections(this.server.server, this.gate, (socket, refusal, ip) => {
      this.refusalLog.note(`${ip}|${refusal}`);
      const reply = refusal === 'per-ip-cap' ? REPLIES.tooManyConnections() : REPLIES.serverBusy();
      refuseSocket(socket, `${reply.responseCode} ${reply.message}`);
    });
  }

  private onClose(session: SMTPServerSession): void {
    this.connections.delete(session.id);
  }

  private async onMailFrom(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const conn = this.connection(session);
    conn.tx = newTx();
    const sender = address.address;
    if (sender !== '' && !tryNormalizeAddress(sender)) throw REPLIES.badSender();
    if (sender !== '' && !this.senderRate.allows(sender)) {
      this.log.warn({ event: 'mx.sender_rate', session: session.id }, 'sender over its hourly limit');
      throw REPLIES.senderRate();
    }
    const size = address.args && typeof address.args.SIZE === 'string' ? Number(address.args.SIZE) : 0;
    if (size > this.deps.settings.maxSize) throw REPLIES.tooLarge(this.deps.settings.maxSize);
    conn.tx.declaredSize = Number.isFinite(size) ? size : 0;
  }

  /**
   * RCPT: the recipient checks, then for a refusal the bookkeeping an address guesser meets: every refusal
   * logged, failed guesses counted per connection and per IP, a growing delay before the reply, and
   * 421 4.7.0 + close once either budget is spent.
   */
  private onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (error?: Error | null) => void): void {
    this.checkRecipient(address, session).then(
      () => callback(),
      (error: unknown) => {
        if (!(error instanceof RcptRefused)) {
          if (error instanceof SmtpReply) return callback(error);
          this.log.error({ event: 'mx.handler_failed', err: reason(error) }, 'smtp handler failed');
          return callback(REPLIES.temporary());
        }
        const { settings } = this.deps;
        const conn = this.connection(session);
        const ip = normalizeIp(session.remoteAddress);
        if (!error.counts) {
          logSecurityEvent(this.log, 'rcpt.refused', { ip, protocol: 'smtp', reason: error.reason });
          return callback(error.reply);
        }
        conn.badRcpt += 1;
        const fromIp = this.failedRcpt.record(ip);
        logSecurityEvent(this.log, 'rcpt.refused', { ip, protocol: 'smtp', reason: error.reason, detail: { failures: conn.badRcpt, failuresFromIp: fromIp } });
        const spent = conn.badRcpt >= settings.maxBadRcpt ? 'too-many-bad-rcpt' : fromIp > settings.maxBadRcptPerIp ? 'too-many-bad-rcpt-from-ip' : null;
        if (spent) logSecurityEvent(this.log, 'conn.closed', { ip, protocol: 'smtp', reason: spent, detail: { failures: conn.badRcpt, failuresFromIp: fromIp } });
        const reply = spent ? REPLIES.tooManyBadRecipients() : error.reply;
        const delay = tarpitDelayMs(spent ? Math.max(conn.badRcpt, 2) : conn.badRcpt, settings.tarpitMs);
        if (delay === 0) return callback(reply);
        setTimeout(() => callback(reply), delay).unref();
      },
    );
  }

  private async checkRecipient(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const { directory, settings } = this.deps;
    const tx = this.connection(session).tx;
    const normalized = tryNormalizeAddress(address.address);
    if (!normalized) throw new RcptRefused(REPLIES.badRecipient(), 'bad-syntax', true);
    // +tag addresses of one alias are separate recipients for the cap (the tag is stripped in `address`).
    const key = `${normalized.local}${normalized.tag !== null ? `+${normalized.tag}` : ''}@${normalized.domain}`;
    // RFC 5321 §4.5.3.1.8/§4.5.3.1.10: at least 100 recipients, then 452 (the client sends the rest later).
    if (!tx.recipients.has(key) && tx.recipients.size >= settings.maxRecipients) {
      const first = !tx.overCapLogged;
      tx.overCapLogged = true;
      if (first) throw new RcptRefused(REPLIES.tooManyRecipients(), 'too-many-recipients', false);
      throw REPLIES.tooManyRecipients();
    }

    // A bounce coming back to one of our SRS addresses goes back to the original sender.
    if (Srs.isSrs(normalized.local) && directory.isLocalDomain(normalized.domain) && !directory.getAlias(normalized.address)) {
      const verdict = this.deps.forwarder.srs.verify(address.address);
      if ('refused' in verdict) throw new RcptRefused(REPLIES.unknownRecipient(), verdict.refused, true);
      if (!this.deps.outbound) throw new RcptRefused(REPLIES.unknownRecipient(), 'srs-no-outbound', false);
      if (!tx.recipients.has(key)) tx.bounceTargets.push(verdict.original);
      tx.recipients.add(key);
      return;
    }

    // A domain's report address needs no alias: the message goes to the report intake (RFC 7489 §7.2.1.1).
    const reportDomain = this.deps.reports ? directory.reportDomainOf(address.address) : null;
    if (reportDomain) {
      tx.recipients.add(key);
      tx.reportDomains.add(reportDomain);
      return;
    }

    const alias = directory.resolveRecipient(address.address);
    if (!alias || !alias.enabled) throw new RcptRefused(REPLIES.unknownRecipient(), 'unknown-recipient', true);
    const quota = await this.deps.quotaOf(alias);
    // Every message adds at least a byte: a mailbox exactly at its quota is full.
    if (quota && quota.used + Math.max(1, tx.declaredSize) > quota.limit) {
      this.log.info({ event: 'mx.over_quota', session: session.id, aliasId: alias.id, at: 'rcpt' }, 'recipient over quota');
      throw new RcptRefused(REPLIES.overQuota(), 'over-quota', false);
    }
    if (tx.recipients.has(key)) return; // the same address twice: one delivery
    tx.recipients.add(key);
    const entry = tx.aliases.get(alias.id);
    if (entry) entry.addresses.push(address.address);
    else tx.aliases.set(alias.id, { alias, addresses: [address.address] });
  }

  private onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (error?: Error | null, message?: string) => void): void {
    const stopReceive = stageStart('smtp.receive');
    const chunks: Buffer[] = [];
    let collected = 0;
    const limit = this.deps.settings.maxSize;
    stream.on('data', (chunk: Buffer) => {
      // Past the limit we keep reading (the client must finish DATA) but stop holding bytes.
      if (collected + chunk.length <= limit) chunks.push(chunk);
      collected += chunk.length;
    });
    stream.once('error', (error) => {
      this.log.warn({ event: 'mx.data_error', session: session.id, err: reason(error) }, 'DATA stream failed');
    });
    stream.once('end', () => {
      stopReceive();
      if (stream.sizeExceeded || collected > limit) {
        this.log.info({ event: 'mx.too_large', session: session.id, bytes: collected }, 'message refused: too large');
        return callback(REPLIES.tooLarge(limit));
      }
      const raw = Buffer.concat(chunks, collected);
      timeStage(stageStart('smtp.accept'), this.accept(raw, session)).then(
        (queueId) => callback(null, `2.0.0 Ok: queued as ${queueId}`),
        (error: unknown) => {
          if (error instanceof SmtpReply) return callback(error);
          this.log.error({ event: 'mx.accept_failed', session: session.id, err: reason(error) }, 'message not accepted');
          callback(REPLIES.temporary());
        },
      );
    });
  }

  /**
   * The report intake for a message to report addresses. A report we cannot use is refused with 550 5.6.0 and
   * its reason when it was the only recipient (the reporter learns why; nothing is stored), and skipped (logged
   * by reason code) when the message also goes to mailboxes. Stored reports and duplicates are acknowledged.
   */
  private async ingestReport(raw: Buffer, tx: Transaction, otherRecipients: boolean, transactionId: string, receivedAt: Date): Promise<string> {
    const intake = this.deps.reports;
    if (!intake) return 'off';
    try {
      const result = await intake.ingest(raw, [...tx.reportDomains], receivedAt);
      this.log.info({ event: 'mx.report', tx: transactionId, kind: result.kind, outcome: result.outcome, rows: result.rows }, result.outcome === 'stored' ? 'aggregate report stored' : 'aggregate report already stored');
      return result.outcome;
    } catch (error) {
      if (!(error instanceof ReportRefused)) throw error;
      this.log.info({ event: 'mx.report_refused', tx: transactionId, reason: error.code, skipped: otherRecipients }, 'aggregate report not usable');
      if (!otherRecipients) throw REPLIES.reportRefused(error.message);
      return `refused:${error.code}`;
    }
  }

  /** The owner's rspamd answer as our header line; on any failure (down, slow, odd answer) action=error and a warning. */
  private async askRspamd(body: Buffer, rspamd: RspamdSettings, envelope: RspamdEnvelope, transactionId: string): Promise<string> {
    try {
      return rspamdHeaderLine(await timeStage(stageStart('smtp.rspamd'), rspamdCheck(body, envelope, rspamd)));
    } catch (error) {
      this.log.warn({ event: 'mx.rspamd_failed', tx: transactionId, err: rspamdFailure(error) }, 'rspamd did not answer; the junk filter decides alone');
      return rspamdHeaderLine({ action: 'error' });
    }
  }

  /** Everything after DATA: checks, headers, durable delivery. Resolves with the transaction id. */
  private async accept(raw: Buffer, session: SMTPServerSession): Promise<string> {
    const { settings, hostname } = this.deps;
    const tx = this.connection(session).tx;
    const transactionId = newTransactionId();
    const receivedAt = new Date();
    const headerBlock = headerBlockOf(raw);
    if (hopCount(headerBlock) >= settings.maxHops) throw REPLIES.loop();

    const mailFrom = session.envelope.mailFrom;
    const envelopeFrom = mailFrom === false ? '' : mailFrom.address;
    const helo = session.hostNameAppearsAs || session.remoteAddress;

    let verdict: AuthVerdict | null = null;
    if (settings.authChecks) {
      try {
        verdict = await timeStage(stageStart('smtp.auth-checks'), checkAuthentication({ raw, ip: session.remoteAddress, helo, sender: envelopeFrom, mta: hostname, resolver: this.deps.resolver }));
      } catch (error) {
        this.log.warn({ event: 'mx.auth_failed', tx: transactionId, err: reason(error) }, 'authentication checks failed');
        throw REPLIES.dnsTemporary();
      }
    }

    // Only the MX knows the client's address: its blocklist listings travel in our own header to the junk filter.
    const dnsbl = settings.dnsblZones.length
      ? dnsblHeaderLine(await dnsblListings(session.remoteAddress, settings.dnsblZones, this.deps.resolver), Math.min(settings.dnsblZones.length, MAX_DNSBL_ZONES))
      : '';

    const aliases = [...tx.aliases.values()];
    let folder: 'INBOX' | 'Junk' = 'INBOX';
    if (verdict?.dmarcAction === 'reject') {
      // Refused unless every recipient's domain asks for Junk instead.
      const allJunk = aliases.every(({ alias }) => this.deps.directory.getDomain(alias.domain)?.dmarcRejectToJunk === true);
      if (!allJunk || aliases.length === 0) {
        this.log.info({ event: 'mx.dmarc_reject', tx: transactionId }, 'message refused by DMARC policy');
        throw REPLIES.dmarcReject();
      }
      folder = 'Junk';
    } else if (verdict?.dmarcAction === 'junk') folder = 'Junk';

    // RFC 8601 §5: Authentication-Results naming our authserv-id can only be forgeries from upstream.
    const stripped = stripOwnAuthResults(raw, hostname);
    if (stripped.removed > 0) this.log.info({ event: 'mx.forged_auth_results', tx: transactionId, removed: stripped.removed }, 'removed Authentication-Results claiming our host');
    // Only our MX writes X-Sealpost-Rspamd: a sender's copy is removed before rspamd is asked and ours prepended.
    const body = stripRspamdHeaders(stripped.raw);
    const rspamd = settings.rspamd ? await this.askRspamd(body, settings.rspamd, { ip: session.remoteAddress, helo, from: envelopeFrom, recipients: [...aliases.flatMap((a) => a.addresses), ...tx.bounceTargets], queueId: transactionId }, transactionId) : '';

    const recipients = [...aliases.flatMap((a) => a.addresses), ...tx.bounceTargets];
    const tlsInfo = session.tlsOptions ? { version: session.tlsOptions.version ?? 'TLS', cipher: session.tlsOptions.name } : null;
    const trace =
      `Return-Path: <${envelopeFrom}>\r\n` +
      (verdict ? verdict.headers : '') +
      dnsbl +
      rspamd +
      receivedHeader({
        helo,
        clientHostname: null,
        ip: session.remoteAddress,
        hostname,
        transactionId,
        tls: tlsInfo,
        utf8: session.envelope.smtpUtf8 === true,
        recipients,
        date: receivedAt,
      });
    const full = Buffer.concat([Buffer.from(trace, 'utf8'), body]);
    // The real size is known now (SIZE is optional): a recipient this message would push over its quota
    // refuses it for all (452, nothing stored). This only answers early: the binding check is taken when the
    // message is stored (the mailbox's commit, or the quota reservation Accounts takes with the decision to
    // seal), so deliveries racing past this point still cannot overshoot — the loser gets 452 4.2.2 there.
    for (const { alias } of aliases) {
      const quota = await this.deps.quotaOf(alias);
      if (quota && quota.used + full.length > quota.limit) {
        this.log.info({ event: 'mx.over_quota', tx: transactionId, aliasId: alias.id, at: 'data' }, 'message would exceed a quota');
        throw REPLIES.overQuota();
      }
    }

    const report = tx.reportDomains.size ? await this.ingestReport(body, tx, aliases.length + tx.bounceTargets.length > 0, transactionId, receivedAt) : null;

    const summary = await timeStage(stageStart('smtp.deliver'), deliverMessage(
      { port: this.deps.delivery, forwarder: this.deps.forwarder, outbound: this.deps.outbound, webhooks: this.deps.webhooks, logger: this.log },
      {
        transactionId,
        raw: full,
        headerBlock,
        envelopeFrom,
        receivedAt,
        folder,
        auth: verdict ? { spf: verdict.spf, dkim: verdict.dkim, dmarc: verdict.dmarc, arc: verdict.arc } : null,
        aliases,
        bounceTargets: tx.bounceTargets,
      },
    ));
    if (envelopeFrom !== '') this.senderRate.record(envelopeFrom);
    if (summary.webhooks) this.deps.webhooks?.poke();
    this.log.info(
      {
        event: 'mx.accepted',
        tx: transactionId,
        session: session.id,
        size: raw.length,
        aliases: aliases.map((a) => a.alias.id),
        ...summary,
        ...(report ? { report } : {}),
        folder,
        spf: verdict?.spf ?? 'off',
        dkim: verdict?.dkim ?? 'off',
        dmarc: verdict?.dmarc ?? 'off',
      },
      'message accepted',
    );
    return transactionId;
  }
}
