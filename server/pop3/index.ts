// POP3 (RFC 1939, 2449, 5034) with WildDuck's POP3 server: STLS on SEALPOST_POP3_PORT, implicit TLS on
// SEALPOST_POP3S_PORT. The maildrop is the alias's INBOX. Login unlocks the mailbox (accounts.authenticate),
// whose sealed queue then drains in the background; since a POP3 maildrop is fixed for the session
// (RFC 1939 §8), the login waits up to POP3_DRAIN_WAIT_MS for that drain, so a small queue is in this
// session and a large one never holds the login longer; one POP3 session per alias at a time ([IN-USE]). DELE+QUIT expunges
// (RFC 1939), or moves to Trash when the directory setting `pop3DeleteToTrash` is true.
//
// Traps (WildDuck 1.46): any throw inside a hook kills the process, so every hook goes through guard();
// its LIST/UIDL renumber the remaining messages after DELE (RFC 1939 keeps numbers), so our connection
// subclass answers those two itself; it has no input line limit, which the subclass adds; its server
// emits 'error' with no listener attached by default (an uncaught throw); `loggelf` must be set.
import '../wildduck-env.js';
import { Readable } from 'node:stream';
import type net from 'node:net';
import POP3Server from '@zone-eu/wildduck/lib/pop3/server.js';
import type { Pop3Callback, Pop3Listing, Pop3Session } from '@zone-eu/wildduck/lib/pop3/server.js';
import POP3Connection from '@zone-eu/wildduck/lib/pop3/connection.js';
import type { AliasSession } from '../accounts/index.js';
import { loginRefusal, type LoginRefusal } from '../accounts/index.js';
import type { AppContext, Listener, Service } from '../context.js';
import { MailboxError } from '../mailbox/errors.js';
import type { Mailbox } from '../mailbox/types.js';
import { capToFdShare, ConnectionGate, gateConnections, isLoopbackAddress, listenPlainAndTls, RateBoundedLog, refuseSocket, tlsUpgrade, handshakeErrorKind, type GateRefusal } from '../net.js';
import { logSecurityEvent } from '../security-log.js';
import { multilineReply } from './retr.js';
import { pop3LimitsFromEnv, type Pop3Limits } from './settings.js';

import { POP3_DELETE_TO_TRASH_SETTING } from '../config/mail-options.js';

/** Directory setting: DELE moves to Trash instead of deleting permanently (the switch lives in config/mail-options.ts). */
export { POP3_DELETE_TO_TRASH_SETTING };
const MAX_LINE = 8192;
const INBOX = 'INBOX';
/** How long a POP3 login waits for the sealed queue to finish draining (mail still draining shows at the next login). */
export const POP3_DRAIN_WAIT_MS = 10_000;


/** Refusals at the connection caps (RFC 3206 [SYS/TEMP]: a temporary condition, try again later). */
const CAP_REFUSED: Record<GateRefusal, string> = {
  'per-ip-cap': '-ERR [SYS/TEMP] Too many connections from your address, try again later',
  'total-cap': '-ERR [SYS/TEMP] Too many connections, try again later',
};

/** Loopback clients may log in without TLS unless the setting turns that off (decided from the address only). */
export function plaintextLoginAllowed(ip: string | undefined, limits: Pick<Pop3Limits, 'plaintextLoginOnLoopback'>): boolean {
  return limits.plaintextLoginOnLoopback && isLoopbackAddress(ip);
}

/** WildDuck internals we wrap: the TLS upgrade of a socket (POP3S and STLS) and the connection's own upgrade. */
type Upgrade = (socket: net.Socket, callback: (err: Error | null, secured?: net.Socket) => void) => void;
interface Pop3ConnectionInternals {
  upgrade(callback: (err?: Error | null) => void): void;
  _setListeners(): void;
  _onError(err: Error): void;
}
/** A command handler of WildDuck's connection: `next` runs the next queued command (an error closes the connection). */
type Pop3Command = (this: POP3Connection, args: string, next: (err?: Error | null) => void) => void;
const errText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A POP3 reply error: WildDuck sends `-ERR <responseMessage>` and closes the connection. */
function pop3Error(text: string): Error & { responseMessage: string } {
  return Object.assign(new Error(text), { responseMessage: text });
}

/** A refused login: -ERR with this text; the client may try again (WildDuck keeps the connection). */
const LOGIN_REFUSED: Record<LoginRefusal, string> = {
  'invalid-credentials': 'Invalid address or password',
  'too-many-attempts': 'Too many failed logins, try again later',
};

/** The one place mailbox errors become POP3 replies. */
function mailboxReply(error: unknown): Error {
  if (error instanceof MailboxError) {
    if (error.code === 'RETRYABLE' || error.code === 'MAILBOX_LOCKED') return pop3Error('[SYS/TEMP] Mailbox temporarily unavailable, try again later');
    if (error.code === 'NO_SUCH_MESSAGE') return pop3Error('Message no longer exists');
  }
  return pop3Error('[SYS/TEMP] Internal error');
}

interface Lease {
  readonly aliasId: string;
  readonly session: AliasSession;
}

type Pop3ListingLike = Pop3Listing;

export function createPop3Service(ctx: AppContext): Service {
  const logger = ctx.logger.child({ component: 'pop3' });
  // SEALPOST_POP3_* limits; a bad value fails here, before anything listens.
  const limits = pop3LimitsFromEnv(ctx.config.env);
  const totalCap = capToFdShare(limits.maxConnections, 'pop3');
  // One gate for POP3 and POP3S together: a flood on either counts against the same caps.
  const gate = new ConnectionGate(() => ({ perIp: limits.maxConnectionsPerIp, total: totalCap }));
  // Cap refusals and handshake timeouts, one line per (event, IP, reason) and minute with a count.
  const securityLog = new RateBoundedLog((key, count) => {
    const [event, ip, reason] = key.split('|') as ['conn.refused' | 'tls.failed', string, string];
    logSecurityEvent(logger, event, { ip, protocol: 'pop3', reason, detail: { count } });
  });
  const leases = new Map<string, Lease>();
  const inUse = new Set<string>();
  const servers: POP3Server[] = [];

  const release = (connectionId: string): void => {
    const lease = leases.get(connectionId);
    if (!lease) return;
    leases.delete(connectionId);
    inUse.delete(lease.aliasId);
    lease.session.release();
  };

  const mailboxOf = (session: Pop3Session): Mailbox => {
    const lease = leases.get(session.id);
    if (!lease) throw pop3Error('Not logged in');
    return lease.session.mailbox;
  };

  /** Runs a hook body; a throw or rejection becomes the callback's error instead of killing the process. */
  const guard = <T>(name: string, callback: Pop3Callback<T>, body: () => Promise<T>): void => {
    let promise: Promise<T>;
    try {
      promise = body();
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => callback(null, value),
      (error: unknown) => {
        if (!(error instanceof Error && 'responseMessage' in error)) logger.warn({ event: 'pop3.hook_failed', hook: name, err: errText(error) }, 'POP3 hook failed');
        callback(error instanceof Error && 'responseMessage' in error ? (error as Error & { responseMessage: string }) : mailboxReply(error));
      },
    );
  };

  const onAuth: NonNullable<ConstructorParameters<typeof POP3Server>[0]['onAuth']> = (auth, session, callback) =>
    guard('auth', callback, async () => {
      let held: AliasSession;
      try {
        held = await ctx.accounts.authenticate(auth.username, auth.password, { ip: session.remoteAddress, protocol: 'pop3' });
      } catch (error) {
        const refusal = loginRefusal(error);
        if (refusal) return { message: LOGIN_REFUSED[refusal] };
        throw error;
      }
      if (inUse.has(held.alias.id)) {
        held.release();
        throw pop3Error('[IN-USE] Another POP3 session is using this mailbox');
      }
      inUse.add(held.alias.id);
      leases.set(session.id, { aliasId: held.alias.id, session: held });
      // The maildrop is listed once per session: let a small queue land first (bounded; never fails the login).
      await ctx.accounts.whenDrained(held.alias.id, POP3_DRAIN_WAIT_MS);
      // Password changed, alias locked/removed or mailbox restored on the server: end this connection.
      held.onRevoked?.(() => {
        for (const s of servers) for (const c of s.connections) if (c instanceof SealpostPop3Connection && c.id === session.id) c.close();
      });
      logger.info({ event: 'pop3.login', aliasId: held.alias.id, session: session.id }, 'POP3 login');
      // WildDuck logs `username`: give it the alias id, never the address
      return { user: { id: held.alias.id, username: held.alias.id } };
    });

  const onListMessages: NonNullable<ConstructorParameters<typeof POP3Server>[0]['onListMessages']> = (session, callback) =>
    guard<Pop3ListingLike>('list', callback, async () => {
      const mailbox = mailboxOf(session);
      const { uidValidity } = mailbox.status(INBOX);
      const messages = mailbox
        .listMessages(INBOX)
        .filter((m) => !m.flags.includes('\\Deleted'))
        .map((m) => ({ id: `${uidValidity}.${m.uid}`, uid: m.uid, size: m.size, mailbox: INBOX, seen: m.flags.includes('\\Seen') }));
      return { messages, count: messages.length, size: messages.reduce((sum, m) => sum + m.size, 0) };
    });

  const onFetchMessage: NonNullable<ConstructorParameters<typeof POP3Server>[0]['onFetchMessage']> = (message, session, callback) =>
    guard<NodeJS.ReadableStream>('fetch', callback, async () => {
      const raw = await mailboxOf(session).readMessage(INBOX, message.uid);
      return Readable.from([raw]);
    });

  const onUpdate: NonNullable<ConstructorParameters<typeof POP3Server>[0]['onUpdate']> = (update, session, callback) =>
    guard<void>('update', (err) => callback(err), async () => {
      const mailbox = mailboxOf(session);
      const range = (uids: number[]): [number, number][] => uids.map((u) => [u, u]);
      const seen = update.seen.map((m) => m.uid);
      if (seen.length) mailbox.store(INBOX, range(seen), 'add', ['\\Seen']);
      const deleted = update.deleted.map((m) => m.uid);
      if (deleted.length === 0) return;
      if (ctx.directory.getSetting(POP3_DELETE_TO_TRASH_SETTING) === true) {
        const folders = mailbox.listFolders();
        const trash = folders.find((f) => f.specialUse === '\\Trash') ?? folders.find((f) => f.path.toLowerCase() === 'trash');
        const target = trash?.path ?? mailbox.createFolder('Trash', '\\Trash').path;
        mailbox.move(INBOX, range(deleted), target);
      } else {
        mailbox.store(INBOX, range(deleted), 'add', ['\\Deleted']);
        mailbox.expunge(INBOX, range(deleted));
      }
      logger.info({ event: 'pop3.update', session: session.id, deleted: deleted.length, seen: seen.length }, 'POP3 update');
    });

  class SealpostPop3Connection extends POP3Connection {
    constructor(server: POP3Server, socket: net.Socket, options: Record<string, unknown>) {
      super(server, socket, options);
      // "+OK", the message and "." are separate writes: without TCP_NODELAY each RETR waits on a delayed ACK
      socket.setNoDelay(true);
      // Loopback clients may log in without TLS: a per-connection view of the server with ignoreSTARTTLS.
      if (plaintextLoginAllowed(this.remoteAddress, limits)) {
        this._server = Object.create(server, { options: { value: { ...server.options, ignoreSTARTTLS: true } } }) as POP3Server;
      }
    }

    /**
     * Input framing. WildDuck's own read() drops a partial line that arrives without its newline (a
     * command split across TCP segments is lost) and has no length limit; this one keeps the partial
     * line in _remainder and refuses lines longer than MAX_LINE.
     */
    override read(): void {
      let chunk: Buffer | null;
      while ((chunk = this._socket.read() as Buffer | null) !== null) {
        this._remainder += chunk.toString('binary');
        if (this._remainder.length > MAX_LINE && this._remainder.lastIndexOf('\n') < this._remainder.length - MAX_LINE) {
          this.refuseLongLine();
          return;
        }
      }
      const end = this._remainder.lastIndexOf('\n');
      if (end < 0) {
        this.processing = false;
        return;
      }
      const lines = this._remainder.slice(0, end).split(/\r?\n/);
      this._remainder = this._remainder.slice(end + 1);
      if (lines.some((l) => l.length > MAX_LINE)) {
        this.refuseLongLine();
        return;
      }
      this.queue.push(...lines.map((l) => Buffer.from(l, 'binary').toString()));
      this.processQueue();
    }

    /** Idle timeout: short before login, RFC 1939's (at least 10 minutes) once logged in. */
    _resetSocketTimeout(): void {
      if (!this._socket || this._socket.destroyed) return;
      this._socket.setTimeout(this.session && this.session.state === 'TRANSACTION' ? limits.timeoutMs : limits.loginTimeoutMs);
    }

    /**
     * STLS (RFC 2595 §4): everything the client sent behind the STLS line arrived in plaintext and is dropped,
     * before and after the handshake, so it can never run as a command inside the TLS session (CVE-2011-0411).
     */
    command_STLS(_args: string, next: () => void): void {
      if (this.secured) {
        this.send('-ERR Command not permitted when TLS active');
        return next();
      }
      this.queue = [];
      this._remainder = '';
      this.send('+OK Begin TLS negotiation');
      const self = this as unknown as Pop3ConnectionInternals;
      self.upgrade((err) => {
        this.queue = [];
        this._remainder = '';
        if (err) return self._onError(err);
        self._setListeners();
        next();
      });
    }

    private refuseLongLine(): void {
      this._remainder = '';
      this.queue = [];
      this.send('-ERR Line too long');
      this.close();
    }

    override _onClose(): void {
      release(this.id);
      super._onClose();
    }

    /**
     * RETR: the message goes out in one socket write (status line, byte-stuffed body, terminating dot, see
     * retr.ts) where WildDuck's own pipes it through two streams into three writes per message. A malformed
     * number gets -ERR and the session goes on (WildDuck's own closes it, or throws on "RETR 1.5").
     */
    command_RETR(args: string, next: (err?: Error | null) => void): void {
      const session = this.session;
      if (!session || session.state !== 'TRANSACTION' || !session.listing) {
        this.send('-ERR Command not accepted');
        return next();
      }
      const messages = session.listing.messages;
      const arg = args.trim();
      const n = /^\d{1,9}$/.test(arg) ? Number(arg) : 0;
      if (n === 0) {
        this.send('-ERR malformed command');
        return next();
      }
      const message = messages[n - 1];
      if (!message) {
        this.send(`-ERR no such message, only ${messages.length} messages in maildrop`);
        return next();
      }
      if (message.popped) {
        this.send(`-ERR message ${n} already deleted`);
        return next();
      }
      guard<Buffer>('retr', (err, raw) => {
        if (!this.session) return; // closed meanwhile
        if (err || !raw) return next(err ?? pop3Error('Message no longer exists'));
        const socket = this._socket;
        if (!socket || socket.destroyed || socket.readyState !== 'open') return;
        message.fetched = true;
        // Backpressure: a client that pipelines RETRs without reading gets its next one after the socket drains.
        if (socket.write(multilineReply(`+OK ${message.size} octets`, raw))) next();
        else socket.once('drain', () => next());
      }, () => mailboxOf(session).readMessage(INBOX, message.uid));
    }

    /**
     * DELE and TOP with a message number that is not a whole number get -ERR here: WildDuck's own look the
     * number up unchecked, and "DELE 1.5" in a maildrop of two or more messages throws (the process exits).
     */
    command_DELE(args: string, next: (err?: Error | null) => void): void {
      this.numbered('command_DELE', args, next);
    }

    command_TOP(args: string, next: (err?: Error | null) => void): void {
      this.numbered('command_TOP', args, next);
    }

    private numbered(command: 'command_DELE' | 'command_TOP', args: string, next: (err?: Error | null) => void): void {
      const [number = ''] = args.trim().split(' ');
      if (this.session && this.session.state === 'TRANSACTION' && !/^\d{1,9}$/.test(number)) {
        this.send('-ERR malformed command');
        return next();
      }
      (POP3Connection.prototype as unknown as Record<typeof command, Pop3Command>)[command].call(this, args, next);
    }

    /** LIST keeps message numbers after DELE (RFC 1939 §5); deleted ones are left out, not renumbered. */
    command_LIST(args: string, next: () => void): void {
      this.listOrUidl(args, next, (n, m) => `${n} ${m.size}`);
    }

    /** UIDL: `uidValidity.uid`, stable across sessions. */
    command_UIDL(args: string, next: () => void): void {
      this.listOrUidl(args, next, (n, m) => `${n} ${m.id}`);
    }

    private listOrUidl(args: string, next: () => void, line: (n: number, m: Pop3Listing['messages'][number]) => string): void {
      const session = this.session;
      if (!session || session.state !== 'TRANSACTION' || !session.listing) {
        this.send('-ERR Command not accepted');
        return next();
      }
      const listing = session.listing;
      const arg = args.trim();
      if (arg) {
        const n = /^\d{1,9}$/.test(arg) ? Number(arg) : 0;
        const m = listing.messages[n - 1];
        if (!m || m.popped) this.send(`-ERR No such message`);
        else this.send(`+OK ${line(n, m)}`);
        return next();
      }
      const lines = listing.messages.flatMap((m, i) => (m.popped ? [] : [line(i + 1, m)]));
      this.send([`+OK ${listing.count} messages (${listing.size} octets)`, ...lines]);
      next();
    }
  }

  const make = (secure: boolean): POP3Server => {
    const tlsOptions = ctx.tls.tlsOptions();
    const server = new POP3Server({
      secure,
      key: tlsOptions.key,
      cert: tlsOptions.cert,
      minVersion: tlsOptions.minVersion,
      ciphers: tlsOptions.ciphers,
      honorCipherOrder: tlsOptions.honorCipherOrder,
      // WildDuck passes an object for servername; ours ignores it and hands out the current context
      SNICallback: (_servername, cb) => tlsOptions.SNICallback('', cb),
      id: { name: 'Sealpost POP3' },
      disableVersionString: true,
      logger: false,
      socketTimeout: limits.loginTimeoutMs,
      closeTimeout: 1000,
      onAuth,
      onListMessages,
      onFetchMessage,
      onUpdate,
      onClose: (_session, cb) => cb(),
    });
    server.loggelf = () => undefined;
    // Every TLS handshake (POP3S and after STLS) goes through _upgrade: ours is bounded in time.
    (server as unknown as { _upgrade: Upgrade })._upgrade = tlsUpgrade({
      secureContext: () => ctx.tls.getSecureContext(),
      timeoutMs: () => limits.tlsHandshakeTimeoutMs,
      onTimeout: (socket) => securityLog.note(`tls.failed|${socket.remoteAddress ?? 'unknown'}|handshake-timeout`),
    });
    gateConnections(server.server, gate, (socket, refusal, ip) => {
      securityLog.note(`conn.refused|${ip}|${refusal}`);
      // On POP3S nothing readable can be said before the handshake: the connection is just closed.
      refuseSocket(socket, secure ? null : CAP_REFUSED[refusal]);
    });
    server.on('error', (error: Error) => {
      // Failed POP3S handshakes come here, one per connection: bounded, never a line per attempt.
      const handshake = handshakeErrorKind(error);
      if (handshake?.kind === 'failed') securityLog.note(`tls.failed|${handshake.ip}|handshake-failed`);
      else if (handshake) logger.debug({ event: 'pop3.tls_ended', kind: handshake.kind }, 'POP3S handshake did not complete');
      else logger.warn({ event: 'pop3.connection_error', err: errText(error) }, 'POP3 connection error');
    });
    // Our connection subclass instead of WildDuck's (same wiring as its own connect()).
    server.connect = (socket: net.Socket, socketOptions: Record<string, unknown>): void => {
      try {
        const connection = new SealpostPop3Connection(server, socket, socketOptions);
        server.connections.add(connection);
        connection.once('error', (error: Error) => {
          server.connections.delete(connection);
          logger.debug({ event: 'pop3.socket_error', err: errText(error) }, 'POP3 socket error');
        });
        connection.once('close', () => server.connections.delete(connection));
        connection.init();
      } catch (error) {
        logger.warn({ event: 'pop3.connect_failed', err: errText(error) }, 'could not start a POP3 session');
        socket.destroy();
      }
    };
    return server;
  };

  return {
    name: 'pop3',
    async start(): Promise<Listener[]> {
      return listenPlainAndTls(ctx, { plain: 'pop3', tls: 'pop3s' }, make, servers);
    },
    async stop(): Promise<void> {
      await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      for (const id of [...leases.keys()]) release(id);
      securityLog.close();
    },
  };
}
