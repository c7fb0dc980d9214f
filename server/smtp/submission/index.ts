// Authenticated submission (RFC 6409): STARTTLS on SEALPOST_SUBMISSION_PORT, implicit TLS on
// SEALPOST_SUBMISSIONS_PORT. The envelope sender and every From address must belong to the logged-in
// alias (or to its domain when the admin allows it); the message gets Message-ID/Date if missing, is
// DKIM-signed and queued. Recipients that are local aliases go through the MX's delivery function
// (deliverMessage): their forwards, webhooks and quota apply exactly as for mail from outside.
import type net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { AliasSession } from '../../accounts/index.js';
import { loginRefusal, type LoginRefusal } from '../../accounts/index.js';
import type { AppContext, Listener, Service } from '../../context.js';
import type { AliasRecord } from '../../directory/index.js';
import { capToFdShare, ConnectionGate, gateConnections, isLoopbackAddress, listenPlainAndTls, RateBoundedLog, refuseSocket, handshakeErrorKind, type GateRefusal } from '../../net.js';
import { logSecurityEvent } from '../../security-log.js';
import { Forwarder } from '../forward/index.js';
import { deliverMessage, newTransactionId } from '../mx/deliver.js';
import { ackPromptly, guardStartTls } from '../session-guards.js';
import { deliveryPort, forwardingSecret, outboundPort } from '../mx/index.js';
import { SmtpReply as MxReply } from '../mx/replies.js';
import { loadMxSettings } from '../mx/settings.js';
import { Webhooks, webhookTargetsFromEnv } from '../webhooks/index.js';
import { addressesOf, completeHeaders, parseHeaders } from './headers.js';
import { submissionLimitsFromEnv, type SubmissionLimits } from './settings.js';
import { ALLOW_DOMAIN_SENDERS_SETTING } from '../../config/mail-options.js';

/** Largest message accepted (SIZE). */
export const SUBMISSION_MAX_BYTES = 35 * 1024 * 1024;
const MAX_RECIPIENTS = 100;
/** Directory setting: any address in the alias's domain may be used as sender (the switch lives in config/mail-options.ts). */
export { ALLOW_DOMAIN_SENDERS_SETTING };

class SmtpReply extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** A refused login (RFC 4954): 535 for wrong credentials, 454 (temporary) while throttled. */
const LOGIN_REFUSED: Record<LoginRefusal, () => SmtpReply> = {
  'invalid-credentials': () => new SmtpReply(535, '5.7.8 Authentication credentials invalid'),
  'too-many-attempts': () => new SmtpReply(454, '4.7.0 Too many failed logins, try again later'),
};

/** Refusals at the connection caps (RFC 5321 §3.8: 421 and close). */
const CAP_REFUSED: Record<GateRefusal, string> = {
  'per-ip-cap': '421 4.7.0 Too many connections from your address, try again later',
  'total-cap': '421 4.7.0 Too many connections, try again later',
};

/** RFC 3207 §4: AUTH before TLS is answered with this, without a 334 prompt (no credentials are read). */
export const STARTTLS_FIRST = '5.7.0 Must issue a STARTTLS command first';

/**
 * AUTH may be offered and used on this connection: it is TLS, or it comes from loopback and the setting
 * allows plaintext AUTH there. Decided from the address alone (RFC 3207 §4, RFC 4954 §4).
 */
export function authAllowed(secure: boolean, ip: string | undefined, limits: Pick<SubmissionLimits, 'plaintextAuthOnLoopback'>): boolean {
  return secure || (limits.plaintextAuthOnLoopback && isLoopbackAddress(ip));
}


const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** The header block (up to the first empty line) for the forwarding loop check. */
function headerBlockOf(raw: Buffer): string {
  const end = raw.indexOf('\r\n\r\n');
  return raw.subarray(0, end < 0 ? Math.min(raw.length, 256 * 1024) : end).toString('latin1');
}

const errText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function createSubmissionService(ctx: AppContext): Service {
  const logger = ctx.logger.child({ component: 'submission' });
  // SEALPOST_SUBMISSION_* limits; a bad value fails here, before anything listens.
  const limits = submissionLimitsFromEnv(ctx.config.env);
  const totalCap = capToFdShare(limits.maxConnections, 'submission');
  // One gate for submission and submissions together.
  const gate = new ConnectionGate(() => ({ perIp: limits.maxConnectionsPerIp, total: totalCap }));
  // Cap refusals and handshake timeouts: one line per (event, IP, reason) and minute, with a count.
  const securityLog = new RateBoundedLog((key, count) => {
    const [event, ip, reason] = key.split('|') as ['conn.refused' | 'tls.failed', string, string];
    logSecurityEvent(logger, event, { ip, protocol: 'submission', reason, detail: { count } });
  });
  /** Open SMTP sessions by session id (their socket timeout changes at login). */
  const connections = new Map<string, SMTPConnection>();
  const sessions = new Map<string, AliasSession>();
  const servers: SMTPServer[] = [];
  const forwarder = new Forwarder(forwardingSecret(ctx.appKey));
  /** Webhook jobs of local deliveries (webhooks.sqlite); the MX service's dispatcher sends them. */
  let webhooks: Webhooks | null = null;

  const aliasOf = (session: SMTPServerSession): AliasSession | null => sessions.get(session.id) ?? null;

  /** True when the address is the alias's own (case, IDN, +tag insensitive) or in its domain when allowed. */
  const owns = (alias: AliasRecord, address: string): boolean => {
    try {
      if (ctx.directory.getAlias(address)?.id === alias.id) return true;
    } catch {
      return false; // malformed address
    }
    return ctx.directory.getSetting(ALLOW_DOMAIN_SENDERS_SETTING) === true && domainOf(address) === alias.domain;
  };

  const onAuth = (auth: SMTPServerAuthentication, session: SMTPServerSession, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void): void => {
    // allowInsecureAuth is on for the loopback exemption; our AUTH handler already refused everyone else.
    if (!authAllowed(session.secure, session.remoteAddress, limits)) {
      callback(new SmtpReply(530, STARTTLS_FIRST));
      return;
    }
    const ip = session.remoteAddress;
    ctx.accounts
      .authenticate(auth.username ?? '', auth.password ?? '', { ip, protocol: 'submission' })
      .then((aliasSession) => {
        sessions.get(session.id)?.release();
        sessions.set(session.id, aliasSession);
        // Logged in: the longer idle timeout of RFC 5321 applies from now on.
        connections.get(session.id)?._socket.setTimeout(limits.timeoutMs);
        callback(null, { user: aliasSession.alias.id });
      })
      .catch((error: unknown) => {
        const refusal = loginRefusal(error);
        if (refusal) callback(LOGIN_REFUSED[refusal]());
        else {
          logger.error({ event: 'submission.auth_error', err: errText(error) }, 'login failed with an internal error');
          callback(new SmtpReply(454, '4.7.0 Temporary authentication failure'));
        }
      });
  };

  const onMailFrom = (address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void => {
    const held = aliasOf(session);
    if (!held) return callback(new SmtpReply(530, '5.7.0 Authentication required'));
    if (!address.address || !owns(held.alias, address.address)) {
      return callback(new SmtpReply(550, '5.7.1 Sender address is not yours: use an address of the account you logged in with'));
    }
    callback();
  };

  const onRcptTo = (address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void => {
    if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return callback(new SmtpReply(452, '4.5.3 Too many recipients'));
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address.address)) return callback(new SmtpReply(553, '5.1.3 Bad recipient address syntax'));
    callback();
  };

  const accept = async (raw: Buffer, session: SMTPServerSession): Promise<string> => {
    const held = aliasOf(session);
    if (!held) throw new SmtpReply(530, '5.7.0 Authentication required');
    const alias = held.alias;
    const fields = parseHeaders(raw);
    const fromAddresses = addressesOf(fields, 'from');
    if (fromAddresses.length === 0) throw new SmtpReply(550, '5.6.0 The message has no From address');
    if (!fromAddresses.every((a) => owns(alias, a))) {
      throw new SmtpReply(550, '5.7.1 From address is not yours: use an address of the account you logged in with');
    }
    const signingDomain = domainOf(fromAddresses[0] as string);
    const completed = completeHeaders(raw, fields, signingDomain);
    const signed = await ctx.outbound.dkim.sign(completed, signingDomain);
    const mailFrom = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
    const now = new Date();
    const remote: string[] = [];
    const local = new Map<string, { alias: AliasRecord; addresses: string[] }>();
    for (const rcpt of session.envelope.rcptTo.map((r) => r.address)) {
      const target = safeResolve(rcpt);
      if (target && target.enabled) {
        const entry = local.get(target.id);
        if (entry) entry.addresses.push(rcpt);
        else local.set(target.id, { alias: target, addresses: [rcpt] });
      } else remote.push(rcpt);
    }
    if (local.size > 0) {
      // All local recipients or none (rolled back), before anything is queued for remote ones.
      const summary = await deliverMessage(
        { port: deliveryPort(ctx), forwarder, outbound: outboundPort(ctx), webhooks, logger },
        { transactionId: newTransactionId(), raw: signed, headerBlock: headerBlockOf(signed), envelopeFrom: mailFrom, receivedAt: now, folder: 'INBOX', auth: null, aliases: [...local.values()], bounceTargets: [] },
      );
      if (summary.webhooks) webhooks?.poke();
    }
    const queueId = remote.length ? await ctx.outbound.enqueue({ from: mailFrom, to: remote, raw: signed, kind: 'submission', aliasId: alias.id }) : null;
    // read fresh: the admin may have changed the setting during this session
    if (ctx.directory.getAliasById(alias.id)?.saveSentCopy === true) await saveToSent(held, signed);
    logger.info({ event: 'submission.accepted', aliasId: alias.id, queueId, remote: remote.length, local: local.size, size: signed.length }, 'message submitted');
    return queueId ?? 'local';
  };

  const safeResolve = (rcpt: string): AliasRecord | null => {
    try {
      return ctx.directory.resolveRecipient(rcpt);
    } catch {
      return null;
    }
  };

  const saveToSent = async (held: AliasSession, raw: Buffer): Promise<void> => {
    try {
      const folders = held.mailbox.listFolders();
      const sent = folders.find((f) => f.specialUse === '\\Sent') ?? folders.find((f) => f.path.toLowerCase() === 'sent');
      const path = sent?.path ?? held.mailbox.createFolder('Sent', '\\Sent').path;
      await held.mailbox.append(path, raw, { flags: ['\\Seen'] });
    } catch (error) {
      // the message is already queued; a failed copy must not make the client send it twice
      logger.warn({ event: 'submission.sent_copy_failed', aliasId: held.alias.id, err: errText(error) }, 'could not save a copy to Sent');
    }
  };

  const onData = (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', (error: Error) => callback(new SmtpReply(451, `4.3.0 ${errText(error)}`)));
    stream.on('end', () => {
      if (stream.sizeExceeded) return callback(new SmtpReply(552, '5.3.4 Message too big'));
      accept(Buffer.concat(chunks), session).then(
        (id) => callback(null, `2.0.0 Ok: queued as ${id}`),
        (error: unknown) => {
          if (error instanceof SmtpReply || error instanceof MxReply) return callback(error); // MX replies: 452 over quota, 451 rolled back
          logger.error({ event: 'submission.failed', err: errText(error) }, 'could not accept a message');
          callback(new SmtpReply(451, '4.3.0 Temporary failure, try again later'));
        },
      );
    });
  };

  const onClose = (session: SMTPServerSession): void => {
    connections.delete(session.id);
    sessions.get(session.id)?.release();
    sessions.delete(session.id);
  };

  /** smtp-server's connect() with our per-connection rules: AUTH only where allowed, idle timeouts by login state. */
  const connect = (server: SMTPServer, socket: net.Socket, socketOptions: Record<string, unknown>): void => {
    const connection = new SMTPConnection(server, socket, socketOptions);
    const ehlo = connection.handler_EHLO;
    const auth = connection.handler_AUTH;
    const allowed = (): boolean => authAllowed(connection.secure, connection.remoteAddress, limits);
    // EHLO on a connection where AUTH is not allowed yet: the AUTH line is left out (RFC 3207 §4).
    connection.handler_EHLO = (command, callback) => {
      if (allowed()) return ehlo.call(connection, command, callback);
      const send = connection.send;
      connection.send = (code, data, context) => send.call(connection, code, Array.isArray(data) ? data.filter((line) => !/^AUTH\b/i.test(line)) : data, context);
      try {
        ehlo.call(connection, command, callback);
      } finally {
        connection.send = send;
      }
    };
    // AUTH before TLS: 530 at once, no 334 prompt, so the client never sends its credentials in the clear.
    connection.handler_AUTH = (command, callback) => {
      if (allowed()) return auth.call(connection, command, callback);
      connection.send(530, STARTTLS_FIRST);
      callback();
    };
    connection._armTimeout = (target = connection._socket) => {
      const ms = connection._upgrading ? limits.tlsHandshakeTimeoutMs : connection.session?.user ? limits.timeoutMs : limits.loginTimeoutMs;
      target.setTimeout(ms, () => {
        if (!connection._upgrading) return connection._onTimeout();
        // During the STARTTLS handshake `target` is the TLS socket: destroy it, never the plain one under it.
        securityLog.note(`tls.failed|${connection.remoteAddress}|handshake-timeout`);
        target.destroy();
      });
    };
    connections.set(connection.id, connection);
    server.connections.add(connection);
    connection.on('error', (error: Error) => server.emit('error', error));
    connection.on('connect', (data: unknown) => server.emit('connect', data));
    connection.init();
  };

  const make = (secure: boolean): SMTPServer => {
    const tlsOptions = ctx.tls.tlsOptions();
    const server = new SMTPServer({
      name: ctx.config.hostname,
      banner: 'Sealpost submission ready',
      secure,
      logger: false,
      authMethods: ['PLAIN', 'LOGIN'],
      allowInsecureAuth: true,
      size: SUBMISSION_MAX_BYTES,
      closeTimeout: 1000,
      // smtp-server times TLS handshakes (submissions, STARTTLS) with this; idle timeouts are set per connection.
      socketTimeout: limits.tlsHandshakeTimeoutMs,
      // No reverse DNS per connection: authenticated clients need none, and a flood would become DNS queries.
      disableReverseLookup: true,
      key: tlsOptions.key,
      cert: tlsOptions.cert,
      // The shared TLS policy (TLS 1.2 with ECDHE + AEAD, TLS 1.3) for the context smtp-server builds itself.
      minVersion: tlsOptions.minVersion,
      ciphers: tlsOptions.ciphers,
      honorCipherOrder: tlsOptions.honorCipherOrder,
      SNICallback: tlsOptions.SNICallback,
      onAuth,
      onMailFrom,
      onRcptTo,
      onData,
      onSecure: (socket, _session, callback) => {
        // Handshake done (STARTTLS): back from the handshake timeout to the idle timeout before login.
        socket.setTimeout(limits.loginTimeoutMs);
        callback();
      },
      onClose,
    });
    server.on('error', (error: Error) => {
      // smtp-server bounds the submissions handshake itself (socketTimeout) and reports failures here, one per
      // connection: bounded, never a line per attempt.
      const handshake = handshakeErrorKind(error);
      if (handshake?.kind === 'timeout') securityLog.note(`tls.failed|${handshake.ip}|handshake-timeout`);
      else if (handshake?.kind === 'failed') securityLog.note(`tls.failed|${handshake.ip}|handshake-failed`);
      else if (handshake) logger.debug({ event: 'submission.tls_ended' }, 'submissions handshake did not complete');
      else logger.warn({ event: 'submission.connection_error', err: errText(error) }, 'connection error');
    });
    server.connect = (socket: net.Socket, socketOptions: Record<string, unknown>): void => connect(server, socket, socketOptions);
    // The shared STARTTLS injection guard (MX and submission); our _armTimeout above bounds the handshake.
    guardStartTls(server, { onUnguardable: (reason) => logger.error({ event: 'submission.starttls_unguarded', reason }, 'STARTTLS guard unavailable; connection closed') });
    ackPromptly(server);
    // A renewed or installed certificate reaches clients that send no SNI too (SNI ones get it already).
    const unwatchTls = ctx.tls.onReload(() => server.updateSecureContext({ key: ctx.tls.tlsOptions().key, cert: ctx.tls.tlsOptions().cert }));
    server.server.once('close', unwatchTls);
    gateConnections(server.server, gate, (socket, refusal, ip) => {
      securityLog.note(`conn.refused|${ip}|${refusal}`);
      // On submissions nothing readable can be said before the handshake: the connection is just closed.
      refuseSocket(socket, secure ? null : CAP_REFUSED[refusal]);
    });
    return server;
  };

  return {
    name: 'submission',
    async start(): Promise<Listener[]> {
      if (ctx.config.ports.submission !== 0 || ctx.config.ports.submissions !== 0) {
        webhooks = Webhooks.open({
          dataDir: ctx.paths.root,
          appKey: ctx.appKey,
          logger,
          backoffMs: loadMxSettings(ctx.config.env, ctx.directory.getSettings()).webhookBackoffMs,
          // Where webhooks may post (SEALPOST_OUTBOUND_ALLOW_PRIVATE / _LOOPBACK), as for the MX's dispatcher.
          targets: webhookTargetsFromEnv(ctx.config.env),
          secretOf: (job) => ctx.directory.listWebhooks(job.aliasId as AliasRecord['id']).find((w) => w.id === job.webhookId)?.secret ?? null,
        });
        // Trap: two dispatchers on one webhooks.sqlite could both send a job; the MX service runs one,
        // so ours only runs when the MX listener is off.
        if (ctx.config.ports.smtp === 0) webhooks.start();
      }
      return listenPlainAndTls(ctx, { plain: 'submission', tls: 'submissions' }, make, servers);
    },
    async stop(): Promise<void> {
      await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      for (const held of sessions.values()) held.release();
      sessions.clear();
      await webhooks?.stop();
      webhooks = null;
      securityLog.close();
    },
  };
}
