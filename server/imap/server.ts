// The IMAP listeners: imap-core servers (STARTTLS port, implicit-TLS port) with our hooks, guards and
// extensions. Connections are accepted here (not by imap-core's connect) so every guard is in place before
// the first byte is parsed, and the greeting names Sealpost without a reverse DNS lookup.
import '../wildduck-env.js';
import type net from 'node:net';
import type tls from 'node:tls';
import { createRequire } from 'node:module';
import imapCore, { type IMAPServer, type ImapConnection, type ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import { IMAPConnection } from '@zone-eu/wildduck/imap-core/lib/imap-connection.js';
import wildduckErrors from '@zone-eu/wildduck/lib/errors.js';
import { TLS_POLICY, type TlsMaterial } from '../config/tls.js';
import type { Listener } from '../context.js';
import type { Logger } from '../log.js';
import type { MailboxStore } from '../mailbox/types.js';
import { capToFdShare, ConnectionGate, gateConnections, isLoopbackAddress, RateBoundedLog, refuseSocket, tlsUpgrade, handshakeErrorKind, type GateRefusal } from '../net.js';
import { logSecurityEvent } from '../security-log.js';
import { capabilityList } from './capabilities.js';
import { installCommandExtensions } from './commands.js';
import { errorSummary } from './errors.js';
import { guardInput } from './guards.js';
import { authHooks, type Authenticate } from './hooks/auth.js';
import { fetchHooks } from './hooks/fetch.js';
import { folderHooks } from './hooks/folders.js';
import { messageHooks } from './hooks/messages.js';
import { selectHooks } from './hooks/select.js';
import { MailboxNotifier } from './notifier.js';
import { ImapReader } from './reader.js';
import { installVanishedNotifications } from './qresync.js';
import { DEFAULT_LIMITS, setRuntime, type ImapLimits, type ImapRuntime } from './runtime.js';
import { attachState, stateOf } from './state.js';
import type { TlsUpgrade } from './starttls.js';
import { wrapHook, type HookImpl } from './wrap.js';

const require = createRequire(import.meta.url);
const VERSION = (require('../../package.json') as { version: string }).version;

/** Refusals at the connection caps: a BYE greeting, then close (RFC 3501 §7.1.5). */
const CAP_REFUSED: Record<GateRefusal, string> = {
  'per-ip-cap': '* BYE Too many connections from your address, try again later',
  'total-cap': '* BYE Too many connections, try again later',
};

export interface ImapServerDeps {
  readonly logger: Logger;
  readonly authenticate: Authenticate;
  readonly store: Pick<MailboxStore, 'onChange'>;
  /** Our certificate; null disables STARTTLS and the implicit-TLS listener (imap-core's default cert is never used). */
  readonly tls: TlsMaterial | null;
}

export interface ImapServerConfig {
  readonly host: string;
  /** Plain port with STARTTLS (0 = off). */
  readonly port: number;
  /** Implicit TLS port (0 = off). */
  readonly securePort: number;
  readonly limits?: Partial<ImapLimits>;
  /** Allow LOGIN without TLS from 127.0.0.0/8 and ::1 (default true); off, every client must STARTTLS first. */
  readonly plaintextLoginOnLoopback?: boolean;
}

export class ImapServer {
  readonly limits: ImapLimits;
  private readonly logger: Logger;
  private readonly cores: { core: IMAPServer; port: number; secure: boolean }[] = [];
  /** Per-IP and total caps, one gate for IMAP and IMAPS together. */
  private readonly gate: ConnectionGate;
  private readonly perAlias: ConnectionGate;
  /** Cap refusals and handshake timeouts: one line per (event, IP, reason) and minute, with a count. */
  private readonly securityLog: RateBoundedLog;
  private readonly notifier: MailboxNotifier;
  private unwatchTls: (() => void) | null = null;
  private listeners: Listener[] = [];

  constructor(
    private readonly deps: ImapServerDeps,
    private readonly config: ImapServerConfig,
  ) {
    installCommandExtensions();
    // imap-core reports protocol errors through WildDuck's GELF helper, which prints stacks and raw
    // command payloads (addresses, message text) to stderr: silence it, we log our own summaries.
    wildduckErrors.setGelf({ emit: () => undefined });
    this.logger = deps.logger;
    this.limits = { ...DEFAULT_LIMITS, ...config.limits };
    const totalCap = capToFdShare(this.limits.maxConnections, 'imap');
    this.gate = new ConnectionGate(() => ({ perIp: this.limits.maxConnectionsPerIp, total: totalCap }));
    this.perAlias = new ConnectionGate(() => ({ perIp: this.limits.maxConnectionsPerAlias, total: 0 }));
    this.securityLog = new RateBoundedLog((key, count) => {
      const [event, ip, reason] = key.split('|') as ['conn.refused' | 'tls.failed', string, string];
      logSecurityEvent(this.logger, event, { ip, protocol: 'imap', reason, detail: { count } });
    });
    this.notifier = new MailboxNotifier(deps.store, this.logger);
    if (config.securePort && !deps.tls) throw new Error('IMAPS needs a TLS certificate');
  }

  /** Open sessions (both listeners). */
  get connectionCount(): number {
    return this.cores.reduce((sum, c) => sum + c.core.connections.size, 0);
  }

  async start(): Promise<Listener[]> {
    const runtime: ImapRuntime = { logger: this.logger, limits: this.limits, tlsAvailable: Boolean(this.deps.tls), version: VERSION };
    const wanted: { port: number; secure: boolean; name: string }[] = [];
    if (this.config.port) wanted.push({ port: this.config.port, secure: false, name: 'imap' });
    if (this.config.securePort) wanted.push({ port: this.config.securePort, secure: true, name: 'imaps' });
    try {
      for (const { port, secure, name } of wanted) {
        const core = this.createCore(secure);
        setRuntime(core, runtime);
        this.cores.push({ core, port, secure });
        await listen(core, port, this.config.host);
        const address = core.server.address();
        const bound = typeof address === 'object' && address ? address.port : port;
        this.listeners.push({ name, host: this.config.host, port: bound, security: secure ? 'tls' : 'starttls' });
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    const tlsMaterial = this.deps.tls;
    if (tlsMaterial) {
      this.unwatchTls = tlsMaterial.onReload(() => {
        const { key, cert } = tlsMaterial.tlsOptions();
        for (const { core } of this.cores) core.updateSecureContext({ key, cert, ...TLS_POLICY });
        this.logger.info({ event: 'imap.tls_reloaded' }, 'IMAP uses the reloaded certificate');
      });
    }
    return this.listeners;
  }

  async stop(): Promise<void> {
    this.unwatchTls?.();
    this.unwatchTls = null;
    const cores = this.cores.splice(0);
    await Promise.all(
      cores.map(
        ({ core }) =>
          new Promise<void>((resolve) => {
            core.server.close(() => resolve());
            for (const connection of core.connections) {
              try {
                connection.send('* BYE Server shutting down');
              } catch {}
              setImmediate(() => connection.close(true));
            }
            if (!core.server.listening) resolve();
          }),
      ),
    );
    this.notifier.close();
    this.securityLog.flush();
    this.listeners = [];
  }

  private createCore(secure: boolean): IMAPServer {
    const material = this.deps.tls;
    const tlsOptions = material
      ? {
          key: material.tlsOptions().key,
          cert: material.tlsOptions().cert,
          ...TLS_POLICY,
          SNICallback: (_hint: unknown, callback: (err: Error | null, context?: tls.SecureContext) => void) => callback(null, material.getSecureContext()),
        }
      : {};
    const core = new imapCore.IMAPServer({
      ...tlsOptions,
      secure,
      needsUpgrade: false,
      // Plaintext LOGIN is decided per connection (loopback only) by our LOGIN/AUTHENTICATE guard.
      ignoreSTARTTLS: true,
      disableSTARTTLS: !material,
      id: { name: 'Sealpost', version: VERSION },
      logger: false,
      skipFetchLog: true,
      maxMessage: this.limits.maxMessageBytes,
      enableCompression: true,
      socketTimeout: this.limits.socketTimeoutMs,
      idleTimeout: this.limits.idleTimeoutMs,
      logoutMessages: ['Sealpost logging out'],
      closeTimeout: 1000,
    });
    core.on('error', (error: unknown) => {
      // Failed IMAPS handshakes come here, one per connection: bounded, never a line per attempt.
      const handshake = handshakeErrorKind(error);
      if (handshake?.kind === 'failed') this.securityLog.note(`tls.failed|${handshake.ip}|handshake-failed`);
      else if (handshake) this.logger.debug({ event: 'imap.tls_ended', kind: handshake.kind }, 'IMAPS handshake did not complete');
      else this.logger.warn({ err: errorSummary(error) }, 'IMAP listener error');
    });
    core.notifier = this.notifier;
    // Every TLS handshake (IMAPS, and STARTTLS through starttls.ts) goes through _upgrade: ours is bounded in time.
    if (material) {
      (core as unknown as { _upgrade: TlsUpgrade })._upgrade = tlsUpgrade({
        secureContext: () => material.getSecureContext(),
        timeoutMs: () => this.limits.tlsHandshakeTimeoutMs,
        onTimeout: (socket) => this.securityLog.note(`tls.failed|${socket.remoteAddress ?? 'unknown'}|handshake-timeout`),
      });
    }
    gateConnections(core.server, this.gate, (socket, refusal, ip) => {
      this.securityLog.note(`conn.refused|${ip}|${refusal}`);
      // On IMAPS nothing readable can be said before the handshake: the connection is just closed.
      refuseSocket(socket, secure ? null : CAP_REFUSED[refusal]);
    });
    this.installHooks(core);
    core.connect = (socket, socketOptions) => this.accept(core, socket, socketOptions);
    core.onClose = (session: ImapSession, done: () => void) => {
      this.released(session);
      done();
    };
    return core;
  }

  private installHooks(core: IMAPServer): void {
    const log = this.logger;
    const hook = (name: string, role: 'folder' | 'destination' | 'auth', impl: HookImpl): ((...args: unknown[]) => void) =>
      wrapHook(log, { name, role }, impl);
    const auth = authHooks(this.deps.authenticate, this.perAlias, log);
    const folders = folderHooks(this.notifier);
    const messages = messageHooks();
    core.onAuth = hook('auth', 'auth', auth.onAuth);
    // LIST, LSUB (list.ts) and SEARCH (search.ts) are answered by our own commands, without imap-core hooks.
    core.onCreate = hook('create', 'folder', folders.onCreate);
    core.onRename = hook('rename', 'folder', folders.onRename);
    core.onDelete = hook('delete', 'folder', folders.onDelete);
    core.onSubscribe = hook('subscribe', 'folder', folders.onSubscribe);
    core.onUnsubscribe = hook('unsubscribe', 'folder', folders.onUnsubscribe);
    core.onStatus = hook('status', 'folder', folders.onStatus);
    core.onOpen = hook('select', 'folder', selectHooks().onOpen);
    core.onAppend = hook('append', 'destination', messages.onAppend);
    core.onStore = hook('store', 'folder', messages.onStore);
    core.onExpunge = hook('expunge', 'folder', messages.onExpunge);
    core.onCopy = hook('copy', 'destination', messages.onCopy);
    core.onMove = hook('move', 'destination', messages.onMove);
    core.onFetch = hook('fetch', 'folder', fetchHooks().onFetch);
    // GETQUOTAROOT/GETQUOTA are answered by our own command handlers (hooks/quota.ts); imap-core only
    // checks that these exist.
    core.onGetQuotaRoot = () => undefined;
    core.onGetQuota = () => undefined;
  }

  private accept(core: IMAPServer, socket: net.Socket | tls.TLSSocket, socketOptions: { id: string; remoteAddress?: string }): void {
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    // imap-core writes an untagged response and the tagged one separately: with Nagle on, the second
    // write waits for the client's delayed ACK (~40 ms per command). Found by bench/compare.ts.
    socket.setNoDelay(true);
    let connection: ImapConnection;
    try {
      connection = new IMAPConnection(core, socket, socketOptions);
    } catch (error) {
      this.logger.error({ err: errorSummary(error) }, 'could not set up an IMAP connection');
      socket.destroy();
      return;
    }
    connection.loggelf = () => false;
    // Our reader (LITERAL+) replaces imap-core's IMAPStream before anything is piped into it.
    const reader = new ImapReader();
    reader.oncommand = connection._onCommand.bind(connection);
    connection._parser = reader;
    core.connections.add(connection);
    connection.on('error', (error: unknown) => this.logger.debug({ cid: connection.id, err: errorSummary(error) }, 'IMAP connection error'));
    const state = attachState(connection, ip, isLoopbackAddress(ip) && this.config.plaintextLoginOnLoopback !== false);
    guardInput(connection, state, this.limits, this.logger);
    installVanishedNotifications(connection);

    const preAuth = setTimeout(() => {
      if (!state.user && !connection._closed && !connection._closing) {
        connection.send('* BYE Login timeout');
        setImmediate(() => connection.close(true));
      }
    }, this.limits.preAuthTimeoutMs);
    preAuth.unref();
    this.preAuthTimers.set(connection.session, preAuth);

    connection.init = () => {
      connection._setListeners();
      connection.clientHostname = `[${ip}]`;
      connection.session.clientHostname = connection.clientHostname;
      connection.send(`* OK [CAPABILITY ${capabilityList(connection).join(' ')}] Sealpost IMAP ready`);
    };
    this.logger.debug({ event: 'imap.connect', cid: connection.id, secure: connection.secure, plaintextLogin: state.loopback }, 'IMAP connection');
    connection.init();
  }

  private readonly preAuthTimers = new WeakMap<ImapSession, NodeJS.Timeout>();
  private readonly releasedSessions = new WeakSet<ImapSession>();

  private released(session: ImapSession): void {
    if (this.releasedSessions.has(session)) return;
    this.releasedSessions.add(session);
    clearTimeout(this.preAuthTimers.get(session));
    try {
      const state = stateOf(session);
      state.user?.release();
      state.user = null;
      this.notifier.removeListener(session);
      this.logger.debug({ event: 'imap.close', cid: session.id }, 'IMAP connection closed');
    } catch (error) {
      this.logger.error({ err: errorSummary(error) }, 'IMAP session cleanup failed');
    }
  }
}

function listen(core: IMAPServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    core.server.once('error', onError);
    core.server.listen(port, host, () => {
      core.server.off('error', onError);
      resolve();
    });
  });
}
