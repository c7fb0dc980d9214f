// One SMTP transaction per job (a message and its recipients in one domain), either directly to the
// domain's MX hosts or through the configured relay. Only outcomes leave this file: per recipient
// delivered (2xx), deferred (4xx or no answer) or bounced (5xx).
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type SMTPConnectionClass from 'nodemailer/lib/smtp-connection/index.js';
import type { DnsResolver } from '../dns.js';
import { isNoRecordError } from '../dns.js';
import { EndOfDataGate, type GateTicket } from './end-of-data-gate.js';
import { checkDane, daneRequirement, mxSecure, type DaneRequirement, type DnssecClient } from './dane.js';
import { MtaSts, mxAllowed, policyLines, type MtaStsPolicy } from './mta-sts.js';
import { classifyTlsFailure, type TlsSessionResult } from './tls-report.js';
import { refusedTargetMessage, targetAddressRefusal, type OutboundTargetPolicy } from './targets.js';
import type { AttemptSession } from './store.js';
import type { TLSSocket } from 'node:tls';

// nodemailer's SMTP client is required when the first connection opens, not when a CLI command opens the queue.
const requireCjs = createRequire(import.meta.url);
let smtpConnectionClass: typeof SMTPConnectionClass | null = null;
function newConnection(options: SMTPConnectionClass.Options): SMTPConnectionClass {
  smtpConnectionClass ??= requireCjs('nodemailer/lib/smtp-connection/index.js') as typeof SMTPConnectionClass;
  return new smtpConnectionClass(options);
}

export type TlsMode = 'starttls' | 'tls' | 'none';

export interface RelayConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMode;
  /** Skip certificate verification (self-signed relays on a LAN). */
  readonly insecure: boolean;
  readonly username: string | null;
}

export interface RelayRoute extends RelayConfig {
  readonly password: string | null;
}

export interface DeliveryOutcome {
  readonly rcpt: string;
  readonly result: 'delivered' | 'deferred' | 'bounced';
  readonly code: number;
  readonly response: string;
  readonly remoteMta: string | null;
  /** Whom the reply came from and over what (the attempt history); absent when no connection was made. */
  readonly session?: AttemptSession;
}

export interface DeliveryRequest {
  readonly sender: string;
  readonly domain: string;
  readonly recipients: readonly string[];
  readonly raw: Buffer;
}

export interface DeliveryOptions {
  /** Our name in EHLO. */
  readonly hostname: string;
  /** Port of remote MX hosts (25; tests point it at a sink's port). */
  readonly mxPort: number;
  readonly connectTimeoutMs: number;
  readonly socketTimeoutMs: number;
  /** Which MX addresses may be dialled (the relay is the owner's explicit choice and is not checked). */
  readonly targets: OutboundTargetPolicy;
  /** Told about every MX address that is not dialled because of the policy (one sentence, no mail address). */
  readonly onTargetRefused?: (reason: string) => void;
  /** Longest wait for a reply to a final dot before the next connection may send its own (end-of-data-gate.ts). */
  readonly endOfDataHoldMs: number;
  /** Told when a remote did not answer a final dot within endOfDataHoldMs. */
  readonly onEndOfDataOverdue?: () => void;
  /** Asks DNSSEC-validated questions for DANE (dane.ts); null = DANE off (no resolver on this machine to trust). */
  readonly dane?: DnssecClient | null;
  /** Told the TLS outcome of every direct connection (success or failure), for TLS reports (RFC 8460). */
  readonly onTlsSession?: (result: TlsSessionResult) => void;
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  recipient?: string;
  rejectedErrors?: SmtpError[];
}

interface Attempt {
  readonly host: string;
  readonly port: number;
  readonly servername: string;
  readonly secure: boolean;
  readonly requireTLS: boolean;
  readonly ignoreTLS: boolean;
  readonly verify: boolean;
  readonly auth: { user: string; pass: string } | null;
  /** Why the certificate is (or is not) verified, for the history. */
  readonly policy: AttemptSession['policy'];
  /** DANE TLSA records the certificate must match (checked once TLS is up, before MAIL FROM); null = none. */
  readonly dane?: Extract<DaneRequirement, { kind: 'authenticate' | 'encrypt' }> | null;
}

const classify = (code: number): DeliveryOutcome['result'] => (code >= 200 && code < 300 ? 'delivered' : code >= 500 ? 'bounced' : 'deferred');

const firstLine = (s: string): string => s.split(/\r?\n/)[0]?.slice(0, 500) ?? '';

/** Outcomes of one message's transaction from the reply (or error) of conn.send. */
function outcomesOf(request: DeliveryRequest, remote: string, err: SmtpError | null, info: SMTPConnectionClass.SentMessageInfo | null): DeliveryOutcome[] | SmtpError {
  if (err) {
    if (err.rejectedErrors && err.rejectedErrors.length > 0) {
      // every recipient refused at RCPT: each gets its own reply
      const byRcpt = new Map(err.rejectedErrors.map((r) => [r.recipient ?? '', r]));
      return request.recipients.map((rcpt) => {
        const r = byRcpt.get(rcpt);
        const code = r?.responseCode ?? 451;
        return { rcpt, result: classify(code), code, response: firstLine(r?.response ?? r?.message ?? ''), remoteMta: remote };
      });
    }
    if (typeof err.responseCode === 'number') {
      // MAIL FROM, DATA or end-of-data refused: same reply for all recipients
      const code = err.responseCode;
      return request.recipients.map((rcpt) => ({ rcpt, result: classify(code), code, response: firstLine(err.response ?? err.message), remoteMta: remote }));
    }
    return err;
  }
  const rejected = new Map((info?.rejectedErrors ?? []).map((r) => [(r as SmtpError).recipient ?? '', r as SmtpError]));
  const response = firstLine(info?.response ?? '250 OK');
  const code = Number(/^\d{3}/.exec(response)?.[0] ?? 250);
  return request.recipients.map((rcpt) => {
    const r = rejected.get(rcpt);
    if (r) {
      const rc = r.responseCode ?? 451;
      return { rcpt, result: classify(rc), code: rc, response: firstLine(r.response ?? r.message), remoteMta: remote };
    }
    return { rcpt, result: classify(code), code, response, remoteMta: remote };
  });
}

/**
 * Receives each message's outcomes as soon as its reply arrives (index into the requests). It must record
 * the `delivered` outcomes durably before it returns — synchronously, in the tick the reply was read — and
 * may return a promise for the rest (bounces, deferrals); the end-of-data gate is handed on when it returns.
 */
export type OutcomeSink = (index: number, outcomes: DeliveryOutcome[]) => Promise<void> | void;

/** Slices handed to the SMTP client one at a time, so the body flows with the socket's backpressure. */
const BODY_SLICE = 64 * 1024;

/**
 * The message body for nodemailer's send(): all the bytes, then an end — which makes nodemailer write the
 * final dot — only once the end-of-data gate is held. done() releases the gate (or withdraws the ask) and
 * stops this body from ever asking again (a transaction refused before DATA still drains its body).
 */
class GatedBody extends Readable {
  private offset = 0;
  private ticket: GateTicket | null = null;
  private finished = false;

  constructor(
    private readonly raw: Buffer,
    private readonly gate: EndOfDataGate,
  ) {
    super();
  }

  override _read(): void {
    if (this.offset < this.raw.length) {
      const end = Math.min(this.offset + BODY_SLICE, this.raw.length);
      const slice = this.raw.subarray(this.offset, end);
      this.offset = end;
      this.push(slice);
      return;
    }
    if (this.ticket) return;
    if (this.finished) {
      this.push(null);
      return;
    }
    const ticket = this.gate.request();
    this.ticket = ticket;
    void ticket.granted.then(() => {
      if (!this.finished) this.push(null);
    });
  }

  /** The transaction has its reply (or failed): hand the gate on. Idempotent. */
  done(): void {
    this.finished = true;
    this.ticket?.release();
  }
}

/** TESTS ONLY (SEALPOST_TEST=1): end-of-data replies with a 2xx seen by this process so far. */
let acceptedRepliesForTest = 0;

/**
 * TESTS ONLY (SEALPOST_TEST=1, SEALPOST_TEST_OUTBOUND_PAUSE=<n>): freezes the whole process at the n-th
 * accepted end-of-data reply, after the remote's 250 and before it is recorded, and says so on stdout
 * (`outbound-paused:<n>`), so a test can kill -9 it exactly in that window.
 */
function pauseBeforeRecordForTest(outcomes: readonly DeliveryOutcome[]): void {
  if (process.env.SEALPOST_TEST !== '1' || !process.env.SEALPOST_TEST_OUTBOUND_PAUSE) return;
  if (!outcomes.some((o) => o.result === 'delivered')) return;
  acceptedRepliesForTest++;
  if (String(acceptedRepliesForTest) !== process.env.SEALPOST_TEST_OUTBOUND_PAUSE) return;
  writeSync(1, `outbound-paused:${acceptedRepliesForTest}\n`);
  // a synchronous sleep: no other callback of this process runs until the test kills it
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
}

/** The session of a connection as the history records it (TLS read from nodemailer's socket once upgraded). */
function sessionOf(attempt: Attempt, conn: SMTPConnectionClass): AttemptSession {
  const socket = (conn as unknown as { _socket?: Partial<TLSSocket> })._socket;
  const tls = conn.secure && socket && typeof socket.getProtocol === 'function' ? socket : null;
  return {
    host: attempt.servername,
    address: attempt.host,
    tlsVersion: tls?.getProtocol?.() ?? null,
    tlsCipher: tls?.getCipher?.()?.name ?? null,
    verified: tls !== null && attempt.verify && tls.authorized === true,
    policy: attempt.policy,
  };
}

/**
 * Runs the messages one after another over one SMTP connection (greeting, EHLO, TLS and AUTH paid once).
 * Each message's final dot waits for the end-of-data gate, and its outcome is recorded (see OutcomeSink)
 * in the tick its reply arrives, before the gate is handed on and before the next MAIL FROM. Rejects only
 * when the connection fails before the first message got an answer (the caller may try the next MX); a
 * failure later reports the messages that are left as deferred.
 */
/**
 * Why a connection that DANE requires to be encrypted (and, with usable TLSA records, authenticated) may not
 * carry mail (RFC 7672 §2.2, §3.1), or null when it may.
 */
function daneRefusal(attempt: Attempt, conn: SMTPConnectionClass): string | null {
  const socket = (conn as unknown as { _socket?: TLSSocket })._socket;
  if (!conn.secure || !socket || typeof socket.getPeerCertificate !== 'function') return `${attempt.servername} did not negotiate TLS, which its DANE TLSA records require`;
  if (attempt.dane?.kind !== 'authenticate') return null;
  const chain: Buffer[] = [];
  let cert = socket.getPeerCertificate(true) as (ReturnType<TLSSocket['getPeerCertificate']> & { issuerCertificate?: unknown }) | null;
  // the detailed certificate links each issuer; a self-issued root links to itself
  while (cert && cert.raw && chain.length < 10) {
    chain.push(cert.raw);
    const issuer = cert.issuerCertificate as typeof cert | undefined;
    if (!issuer || issuer === cert || issuer.raw?.equals(cert.raw)) break;
    cert = issuer;
  }
  const why = checkDane(attempt.dane.records, chain, attempt.servername);
  return why ? `DANE: ${why}` : null;
}

function transact(
  attempt: Attempt,
  options: DeliveryOptions,
  gate: EndOfDataGate,
  requests: readonly DeliveryRequest[],
  sink: OutcomeSink,
  onConnected?: (session: AttemptSession) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let done = 0;
    let body: GatedBody | null = null;
    const conn = newConnection(connectionOptions(attempt, options));
    const remote = attempt.servername;
    // every outcome carries the session it came over: host, address, TLS as negotiated (read once connected)
    let connected: AttemptSession | null = null;
    const report = (index: number, outcomes: DeliveryOutcome[]): Promise<void> | void => {
      const session = connected ?? sessionOf(attempt, conn);
      return sink(index, outcomes.map((o) => ({ ...o, session })));
    };
    const finish = (error: SmtpError | null): void => {
      if (settled) return;
      settled = true;
      body?.done();
      try {
        if (error) conn.close();
        else conn.quit();
      } catch {
        // the socket is already gone
      }
      if (error && done === 0) return reject(error);
      const why = error ? `4.4.2 ${remote}: ${firstLine(error.message)}` : '4.4.2 connection ended early';
      const rest = requests.slice(done);
      (async () => {
        for (let i = 0; i < rest.length; i++) await report(done + i, deferAll(rest[i] as DeliveryRequest, 451, why, remote));
      })().then(resolve, reject);
    };
    conn.once('error', (err: SmtpError) => finish(err));
    conn.once('end', () => finish(Object.assign(new Error('connection closed by the remote host'), { code: 'ECONNECTION' })));
    const next = (): void => {
      const request = requests[done];
      if (!request) return finish(null);
      const current = new GatedBody(request.raw, gate);
      body = current;
      conn.send({ from: request.sender, to: [...request.recipients] }, current, (err, info) => {
        const outcome = outcomesOf(request, remote, (err as SmtpError | null) ?? null, err ? null : info);
        if (outcome instanceof Error) return finish(outcome);
        let recorded: Promise<void> | void;
        try {
          pauseBeforeRecordForTest(outcome);
          recorded = report(done, outcome);
        } catch (reportErr) {
          recorded = Promise.reject(reportErr instanceof Error ? reportErr : new Error(String(reportErr)));
        }
        // the 250 is on disk (or this message was refused): the next connection may send its dot
        current.done();
        Promise.resolve(recorded).then(
          () => {
            done++;
            // after a refused transaction, RSET before the next MAIL FROM
            if (err && done < requests.length) conn.reset((resetErr) => (resetErr ? finish(resetErr as SmtpError) : next()));
            else next();
          },
          (reportErr: unknown) => {
            done++;
            finish(reportErr instanceof Error ? reportErr : new Error(String(reportErr)));
          },
        );
      });
    };
    conn.connect(() => {
      connected = sessionOf(attempt, conn);
      if (attempt.dane) {
        const why = daneRefusal(attempt, conn);
        if (why) return finish(Object.assign(new Error(`4.7.5 ${why}`), { code: 'EDANE' }));
        if (attempt.dane.kind === 'authenticate') connected = { ...connected, verified: true };
      }
      onConnected?.(connected);
      if (!attempt.auth) return next();
      conn.login(attempt.auth, (err) => {
        if (!err) return next();
        const e = err as SmtpError;
        // a refused login is the relay's configuration problem, not the recipients': keep retrying
        finish(Object.assign(new Error(`relay refused the login: ${firstLine(e.response ?? e.message)}`), { code: 'EAUTH', responseCode: 454 }));
      });
    });
  });
}

async function reportAll(requests: readonly DeliveryRequest[], report: OutcomeSink, f: (r: DeliveryRequest) => DeliveryOutcome[]): Promise<void> {
  for (let i = 0; i < requests.length; i++) await report(i, f(requests[i] as DeliveryRequest));
}

const deferAll = (request: DeliveryRequest, code: number, response: string, remoteMta: string | null): DeliveryOutcome[] =>
  request.recipients.map((rcpt) => ({ rcpt, result: 'deferred', code, response, remoteMta }));

const bounceAll = (request: DeliveryRequest, response: string): DeliveryOutcome[] =>
  request.recipients.map((rcpt) => ({ rcpt, result: 'bounced', code: 550, response, remoteMta: null }));

function relayAttempt(relay: RelayRoute): Attempt {
  return {
    host: relay.host,
    port: relay.port,
    servername: relay.host,
    secure: relay.tls === 'tls',
    requireTLS: relay.tls === 'starttls',
    ignoreTLS: relay.tls === 'none',
    verify: !relay.insecure,
    auth: relay.username ? { user: relay.username, pass: relay.password ?? '' } : null,
    policy: 'relay',
  };
}

function connectionOptions(attempt: Attempt, options: DeliveryOptions): SMTPConnectionClass.Options {
  return {
    host: attempt.host,
    port: attempt.port,
    secure: attempt.secure,
    requireTLS: attempt.requireTLS,
    ignoreTLS: attempt.ignoreTLS,
    name: options.hostname,
    connectionTimeout: options.connectTimeoutMs,
    greetingTimeout: options.connectTimeoutMs,
    socketTimeout: options.socketTimeoutMs,
    logger: false,
    tls: { servername: attempt.servername, rejectUnauthorized: attempt.verify, minVersion: 'TLSv1.2' },
  };
}

export class Deliverer {
  private readonly mtaSts: MtaSts;
  /** Shared by every connection of this deliverer: one message at a time between its dot and its record. */
  readonly endOfData: EndOfDataGate;

  constructor(
    private readonly resolver: DnsResolver,
    private readonly options: DeliveryOptions,
    mtaStsUrl: string,
  ) {
    this.endOfData = new EndOfDataGate(options.endOfDataHoldMs, options.onEndOfDataOverdue);
    this.mtaSts = new MtaSts(resolver, mtaStsUrl, options.targets);
  }

  /** Connects to the relay, negotiates TLS and logs in as configured, then quits without sending. */
  probeRelay(relay: RelayRoute): Promise<{ ok: boolean; message: string }> {
    const attempt = relayAttempt(relay);
    return new Promise((resolve) => {
      let done = false;
      const conn = newConnection(connectionOptions(attempt, this.options));
      const finish = (ok: boolean, message: string): void => {
        if (done) return;
        done = true;
        try {
          if (ok) conn.quit();
          else conn.close();
        } catch {
          // already closed
        }
        resolve({ ok, message });
      };
      conn.once('error', (err: SmtpError) => finish(false, `Could not talk to ${relay.host}:${relay.port}: ${firstLine(err.message)}`));
      conn.connect(() => {
        const tls = conn.secure ? 'TLS' : 'no TLS';
        if (!attempt.auth) return finish(true, `Connected to ${relay.host}:${relay.port} (${tls}); no login configured.`);
        conn.login(attempt.auth, (err) => {
          if (err) finish(false, `The relay refused the login: ${firstLine((err as SmtpError).response ?? err.message)}`);
          else finish(true, `Connected to ${relay.host}:${relay.port} (${tls}) and logged in.`);
        });
      });
    });
  }

  /** Delivers through the relay over one connection: TLS and credentials as configured. */
  async viaRelay(relay: RelayRoute, requests: readonly DeliveryRequest[], report: OutcomeSink): Promise<void> {
    try {
      await transact(relayAttempt(relay), this.options, this.endOfData, requests, report);
    } catch (error) {
      const e = error as SmtpError;
      const session: AttemptSession = { host: relay.host, address: null, tlsVersion: null, tlsCipher: null, verified: false, policy: 'relay' };
      await reportAll(requests, report, (r) => deferAll(r, e.responseCode ?? 451, `4.4.1 relay ${relay.host}: ${firstLine(e.message)}`, relay.host).map((o) => ({ ...o, session })));
    }
  }

  /** Delivers messages for one domain to its MX hosts in preference order (MTA-STS honoured), one connection. */
  async direct(domain: string, requests: readonly DeliveryRequest[], report: OutcomeSink): Promise<void> {
    const all = (f: (r: DeliveryRequest) => DeliveryOutcome[]): Promise<void> => reportAll(requests, report, f);
    let hosts: { exchange: string; priority: number }[];
    try {
      hosts = await this.resolver.resolveMx(domain);
    } catch (error) {
      if (isNoRecordError(error)) {
        // no MX: RFC 5321 §5.1 implicit MX (the domain's own address), if it has one
        hosts = [{ exchange: domain, priority: 0 }];
      } else return all((r) => deferAll(r, 451, `4.4.3 DNS lookup for ${domain} failed`, null));
    }
    if (hosts.length === 1 && (hosts[0]?.exchange === '' || hosts[0]?.exchange === '.')) {
      return all((r) => bounceAll(r, `556 5.1.10 ${domain} accepts no mail (null MX)`));
    }
    hosts.sort((a, b) => a.priority - b.priority);
    const policy = await this.mtaSts.policyFor(domain);
    const enforce = policy?.mode === 'enforce';
    // DANE (RFC 7672) applies only below a DNSSEC-validated MX RRset, and only with a resolver we can believe
    const dane = this.options.dane ?? null;
    const daneMx = dane ? await mxSecure(dane, domain) : false;
    let lastError = `4.4.1 no MX host of ${domain} answered`;
    let lastHost: string | null = null;
    let lastAddress: string | null = null;
    let addressesFound = false;
    let dialled = false;
    let refusal: string | null = null;
    for (const mx of hosts) {
      const host = mx.exchange.replace(/\.$/, '').toLowerCase();
      if (enforce && policy && !mxAllowed(policy, host)) {
        lastError = `4.7.5 MX host ${host} is not allowed by the MTA-STS policy of ${domain}`;
        continue;
      }
      let addresses: string[] = [];
      try {
        addresses = await this.resolver.resolve4(host);
      } catch {
        try {
          addresses = await this.resolver.resolve6(host);
        } catch {
          addresses = [];
        }
      }
      if (addresses.length === 0) continue;
      addressesFound = true;
      const requirement = dane && daneMx ? await daneRequirement(dane, host, this.options.mxPort, true) : null;
      if (requirement?.kind === 'unavailable') {
        // a failed TLSA lookup: this host may not be used now, in plain text or otherwise (RFC 7672 §2.1.1)
        lastHost = host;
        lastError = `4.7.5 ${requirement.why}`;
        this.tlsSession(host, null, tlsPolicyOf(domain, policy, null), 'dnssec-invalid', requirement.why);
        continue;
      }
      const daneApplies = requirement?.kind === 'authenticate' || requirement?.kind === 'encrypt' ? requirement : null;
      const reportPolicy = tlsPolicyOf(domain, policy, daneApplies);
      // the address is checked right before it is dialled: nodemailer gets the IP, never the name again
      const permitted = addresses.filter((address) => {
        const why = targetAddressRefusal(address, this.options.targets);
        if (why) {
          const sentence = refusedTargetMessage(host, address, why);
          refusal ??= sentence;
          this.options.onTargetRefused?.(sentence);
        }
        return why === null;
      });
      for (const address of permitted.slice(0, 2)) {
        dialled = true;
        // MTA-STS enforce: TLS required and the certificate must be valid for the MX name; else opportunistic.
        // DANE: TLS required and the certificate checked against the TLSA records instead of the web PKI
        // (an MTA-STS policy cannot make a failing DANE check pass, RFC 8461 §2).
        const verify = enforce && daneApplies?.kind !== 'authenticate';
        const attempt: Attempt = {
          host: address,
          port: this.options.mxPort,
          servername: host,
          secure: false,
          requireTLS: enforce || daneApplies !== null,
          ignoreTLS: false,
          verify,
          auth: null,
          policy: daneApplies?.kind === 'authenticate' || (daneApplies && !enforce) ? 'dane' : enforce ? 'mta-sts' : 'opportunistic',
          dane: daneApplies,
        };
        let connected = false;
        try {
          return await transact(attempt, this.options, this.endOfData, requests, report, (session) => {
            connected = true;
            if (session.tlsVersion !== null || reportPolicy.policyType !== 'no-policy-found') {
              this.tlsSession(host, address, reportPolicy, session.tlsVersion === null ? 'starttls-not-supported' : null);
            }
          });
        } catch (error) {
          const e = error as SmtpError;
          lastHost = host;
          lastAddress = address;
          lastError = typeof e.responseCode === 'number' ? firstLine(e.response ?? e.message) : `4.4.1 ${host}: ${firstLine(e.message)}`;
          if (e.code === 'EDANE') lastError = firstLine(e.message);
          if (!connected && (e.code === 'ETLS' || e.code === 'EDANE')) {
            const failure = e.code === 'EDANE' ? (/did not negotiate TLS/.test(e.message) ? 'starttls-not-supported' : 'validation-failure') : classifyTlsFailure(e.message);
            this.tlsSession(host, address, reportPolicy, failure, firstLine(e.message));
          }
        }
      }
    }
    if (refusal !== null && !dialled) {
      // every MX address is one we never dial (loopback, LAN, link-local…): a permanent failure, not a retry
      const reason = refusal;
      return all((r) => bounceAll(r, `550 5.4.4 ${reason}`));
    }
    if (!addressesFound && !lastError.startsWith('4.7.5') && hosts.every((h) => h.exchange === domain)) {
      return all((r) => bounceAll(r, `550 5.1.2 ${domain} has no mail server (no MX or address records)`));
    }
    const session: AttemptSession | undefined = lastHost ? { host: lastHost, address: lastAddress, tlsVersion: null, tlsCipher: null, verified: false, policy: enforce ? 'mta-sts' : 'opportunistic' } : undefined;
    return all((r) => deferAll(r, 451, lastError, lastHost).map((o) => (session ? { ...o, session } : o)));
  }

  private tlsSession(host: string, address: string | null, policy: TlsReportPolicy, failure: TlsSessionResult['failure'], reason?: string): void {
    this.options.onTlsSession?.({
      ...policy,
      receivingMxHostname: host,
      receivingIp: address,
      sendingMtaIp: null,
      failure,
      ...(failure && reason ? { failureReason: reason.slice(0, 200) } : {}),
    });
  }
}

type TlsReportPolicy = Pick<TlsSessionResult, 'policyDomain' | 'policyType' | 'policyString' | 'mxHostPatterns'>;

/** The policy a TLS report names for a session (RFC 8460 §4.3): DANE's TLSA records, the MTA-STS policy, or none. */
function tlsPolicyOf(domain: string, sts: MtaStsPolicy | null, dane: Extract<DaneRequirement, { kind: 'authenticate' | 'encrypt' }> | null): TlsReportPolicy {
  if (dane) {
    const records = dane.kind === 'authenticate' ? dane.records.map((r) => `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`) : [];
    return { policyDomain: domain, policyType: 'tlsa', policyString: records, mxHostPatterns: [] };
  }
  if (sts && sts.mode !== 'none') return { policyDomain: domain, policyType: 'sts', policyString: policyLines(sts), mxHostPatterns: [...sts.mx] };
  return { policyDomain: domain, policyType: 'no-policy-found', policyString: [], mxHostPatterns: [] };
}
