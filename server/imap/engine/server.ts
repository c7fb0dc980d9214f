// The IMAP listeners of our own engine: a plain port with STARTTLS and an implicit-TLS port, both plain TCP
// servers behind the connection gate (per-IP and total caps counted before any TLS handshake), TLS through the
// bounded-handshake helper of server/net.ts, a per-alias session cap, and BYE to every session on stop.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type tls from 'node:tls';
import type { Listener } from '../../context.js';
import type { Logger } from '../../log.js';
import { capToFdShare, ConnectionGate, gateConnections, handshakeErrorKind, isLoopbackAddress, RateBoundedLog, refuseSocket, tlsUpgrade, type GateRefusal } from '../../net.js';
import { logSecurityEvent } from '../../security-log.js';
import { commandTable } from '../commands/index.js';
import { errorSummary } from '../errors.js';
import { DEFAULT_LIMITS, type ImapLimits } from '../runtime.js';
import type { TlsMaterial } from '../../config/tls.js';
import type { MailboxStore } from '../../mailbox/types.js';
import { contributedCapabilities } from './capabilities.js';
import { Connection, type Authenticate, type EngineShared, type TlsUpgradeFn } from './connection.js';
import { UpdateHub } from './updates.js';

/** Refusals at the connection caps: a BYE greeting, then close (RFC 3501 §7.1.5). */
const CAP_REFUSED: Record<GateRefusal, string> = {
  'per-ip-cap': '* BYE Too many connections from your address, try again later',
  'total-cap': '* BYE Too many connections, try again later',
};

export interface ImapServerDeps {
  readonly logger: Logger;
  readonly authenticate: Authenticate;
  readonly store: Pick<MailboxStore, 'onChange'>;
  /** Our certificate; null disables STARTTLS and the implicit-TLS listener. */
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
  private readonly servers: { server: net.Server; secure: boolean }[] = [];
  /** Per-IP and total caps, one gate for IMAP and IMAPS together. */
  private readonly gate: ConnectionGate;
  private readonly perAlias: ConnectionGate;
  /** Cap refusals and handshake failures: one line per (event, IP, reason) and minute, with a count. */
  private readonly securityLog: RateBoundedLog;
  private readonly hub: UpdateHub;
  private readonly connections = new Set<Connection>();
  /** IMAPS sockets still in their TLS handshake (destroyed on stop, so stop never waits for a slow handshake). */
  private readonly handshaking = new Set<net.Socket>();
  private readonly shared: EngineShared;
  private readonly upgrade: TlsUpgradeFn | null;
  private unwatchTls: (() => void) | null = null;
  private stopping = false;
  private listeners: Listener[] = [];
  private nextId = 0;
  private readonly idPrefix = randomBytes(3).toString('hex');

  constructor(
    private readonly deps: ImapServerDeps,
    private readonly config: ImapServerConfig,
  ) {
    this.logger = deps.logger;
    this.limits = { ...DEFAULT_LIMITS, ...config.limits };
    const totalCap = capToFdShare(this.limits.maxConnections, 'imap');
    this.gate = new ConnectionGate(() => ({ perIp: this.limits.maxConnectionsPerIp, total: totalCap }));
    this.perAlias = new ConnectionGate(() => ({ perIp: this.limits.maxConnectionsPerAlias, total: 0 }));
    this.securityLog = new RateBoundedLog((key, count) => {
      const [event, ip, reason] = key.split('|') as ['conn.refused' | 'tls.failed', string, string];
      logSecurityEvent(this.logger, event, { ip, protocol: 'imap', reason, detail: { count } });
    });
    if (config.securePort && !deps.tls) throw new Error('IMAPS needs a TLS certificate');
    const material = deps.tls;
    this.upgrade = material
      ? tlsUpgrade({
          secureContext: () => material.getSecureContext(),
          timeoutMs: () => this.limits.tlsHandshakeTimeoutMs,
          onTimeout: (socket) => this.securityLog.note(`tls.failed|${socket.remoteAddress ?? 'unknown'}|handshake-timeout`),
        })
      : null;
    this.hub = new UpdateHub(deps.store, this.logger);
    const table = commandTable();
    this.shared = {
      logger: this.logger,
      limits: this.limits,
      table,
      contributed: contributedCapabilities(table),
      hub: this.hub,
      perAlias: this.perAlias,
      authenticate: deps.authenticate,
      upgrade: this.upgrade,
      closed: (connection) => this.connections.delete(connection),
    };
  }

  /** Open sessions (both listeners). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Per-connection input not yet framed and output not yet sent, summed and at most (tests, metrics). */
  bufferStats(): { readonly connections: number; readonly maxUnframed: number; readonly maxUnsent: number } {
    let maxUnframed = 0;
    let maxUnsent = 0;
    for (const connection of this.connections) {
      const { unframed, unsent } = connection.buffered();
      maxUnframed = Math.max(maxUnframed, unframed);
      maxUnsent = Math.max(maxUnsent, unsent);
    }
    return { connections: this.connections.size, maxUnframed, maxUnsent };
  }

  async start(): Promise<Listener[]> {
    this.stopping = false;
    const wanted: { port: number; secure: boolean; name: string }[] = [];
    if (this.config.port) wanted.push({ port: this.config.port, secure: false, name: 'imap' });
    if (this.config.securePort) wanted.push({ port: this.config.securePort, secure: true, name: 'imaps' });
    try {
      for (const { port, secure, name } of wanted) {
        const server = this.createServer(secure);
        this.servers.push({ server, secure });
        await listen(server, port, this.config.host);
        const address = server.address();
        const bound = typeof address === 'object' && address ? address.port : port;
        this.listeners.push({ name, host: this.config.host, port: bound, security: secure ? 'tls' : 'starttls' });
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    const material = this.deps.tls;
    if (material) {
      // Every handshake asks material.getSecureContext(), so a reloaded certificate applies to new connections.
      this.unwatchTls = material.onReload(() => this.logger.info({ event: 'imap.tls_reloaded' }, 'IMAP uses the reloaded certificate'));
    }
    return this.listeners;
  }

  async stop(): Promise<void> {
    this.unwatchTls?.();
    this.unwatchTls = null;
    const servers = this.servers.splice(0);
    const closing = servers.map(({ server }) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())));
    // Through tlsUpgrade's own failure path, which destroys the TLS wrap first: tearing the plain socket away
    // under a handshake in progress can crash Node (server/net.ts).
    this.stopping = true;
    for (const socket of this.handshaking) socket.emit('error', Object.assign(new Error('server shutting down'), { code: 'ESHUTDOWN' }));
    this.handshaking.clear();
    await Promise.all([...this.connections].map((connection) => connection.shutdownWith('Server shutting down')));
    await Promise.all(closing);
    this.hub.close();
    this.securityLog.flush();
    this.listeners = [];
  }

  private createServer(secure: boolean): net.Server {
    const server = net.createServer((socket) => this.accept(socket, secure));
    server.on('error', (error: unknown) => this.logger.warn({ err: errorSummary(error) }, 'IMAP listener error'));
    gateConnections(server, this.gate, (socket, refusal, ip) => {
      this.securityLog.note(`conn.refused|${ip}|${refusal}`);
      // On IMAPS nothing readable can be said before the handshake: the connection is just closed.
      refuseSocket(socket, secure ? null : CAP_REFUSED[refusal]);
    });
    return server;
  }

  private accept(socket: net.Socket, secure: boolean): void {
    socket.on('error', () => undefined);
    if (!secure) {
      this.open(socket, false);
      return;
    }
    const upgrade = this.upgrade;
    if (!upgrade) {
      socket.destroy();
      return;
    }
    this.handshaking.add(socket);
    upgrade(socket, (err, secured) => {
      this.handshaking.delete(socket);
      if (err || !secured) {
        if (this.stopping) {
          socket.destroy();
          return;
        }
        const handshake = handshakeErrorKind(err);
        if (handshake?.kind === 'failed') this.securityLog.note(`tls.failed|${handshake.ip}|handshake-failed`);
        else if (handshake?.kind !== 'timeout') this.logger.debug({ event: 'imap.tls_ended', kind: handshake?.kind ?? 'gone' }, 'IMAPS handshake did not complete');
        socket.destroy();
        return;
      }
      secured.on('error', () => undefined);
      this.open(secured, true, socket);
    });
  }

  private open(socket: net.Socket | tls.TLSSocket, secure: boolean, raw: net.Socket = socket): void {
    const ip = (raw.remoteAddress ?? '').replace(/^::ffff:/, '');
    const id = `${this.idPrefix}${(this.nextId++).toString(36)}`;
    let connection: Connection;
    try {
      const plaintextLogin = isLoopbackAddress(ip) && this.config.plaintextLoginOnLoopback !== false;
      connection = new Connection(id, ip, socket, secure, plaintextLogin, this.shared);
    } catch (error) {
      this.logger.error({ err: errorSummary(error) }, 'could not set up an IMAP connection');
      socket.destroy();
      return;
    }
    this.connections.add(connection);
    this.logger.debug({ event: 'imap.connect', cid: id, secure }, 'IMAP connection');
    connection.start();
  }
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
