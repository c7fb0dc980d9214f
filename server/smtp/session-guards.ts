// Guards for smtp-server sessions that every Sealpost SMTP listener (MX and submission) applies.
//
// STARTTLS command injection (RFC 3207 §4.2, CVE-2011-0411 class): bytes a client pipelines after
// "STARTTLS\r\n" in the same plaintext write must never run as commands inside the TLS session.
// smtp-server 3.21 already retires its plaintext parser at upgrade (tested in
// test/security/mx-starttls.test.ts); this guard makes that independent of the library version: the
// plaintext parser is told to drop every line it still holds, and a connection whose upgrade would keep
// the plaintext parser is closed instead of being served.
import type { SMTPServer } from 'smtp-server';

/** The parts of smtp-server's per-connection parser the guard touches. */
interface PlaintextParser {
  isClosed: boolean;
  oncommand: (command: Buffer, callback?: () => void) => void;
}

/** The parts of smtp-server's SMTPConnection the guard touches (internal API, checked at run time). */
interface GuardedConnection {
  secure: boolean;
  remoteAddress?: string;
  _parser: PlaintextParser | false;
  _socket?: { readonly destroyed?: boolean; destroy(): void };
  upgrade: (callback: () => void, secureCallback?: () => void) => void;
}

export interface StartTlsGuardOptions {
  /** Called when a connection cannot be guarded (unknown library internals) and was closed instead. */
  readonly onUnguardable?: (reason: string) => void;
  /**
   * The TLS handshake after STARTTLS must finish within this many ms, or the connection is closed
   * (0 or absent: only the server's idle timeout applies). A client that says STARTTLS and then stalls
   * holds a descriptor; this bounds it independently of the (longer) idle timeout.
   */
  readonly handshakeTimeoutMs?: number;
  /** Called (with the client IP) when a connection was closed for not finishing its handshake in time. */
  readonly onHandshakeTimeout?: (ip: string | undefined) => void;
}

const GUARDED = Symbol('sealpost.startTlsGuard');

function isGuardable(value: unknown): value is GuardedConnection {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<GuardedConnection>;
  return typeof candidate.upgrade === 'function' && '_parser' in candidate;
}

/** Makes one connection's STARTTLS discard every plaintext byte buffered behind the STARTTLS command. */
function guardConnection(connection: unknown, options: StartTlsGuardOptions): void {
  if (!isGuardable(connection)) {
    options.onUnguardable?.('smtp-server connection has no upgrade()/_parser');
    (connection as { _socket?: { destroy(): void } } | null)?._socket?.destroy();
    return;
  }
  const upgrade = connection.upgrade.bind(connection);
  connection.upgrade = (callback, secureCallback) => {
    const plaintext = connection._parser;
    if (plaintext) {
      // Whatever this parser still holds arrived before the handshake: drop it without a reply.
      plaintext.oncommand = (_command, next) => next?.();
      plaintext.isClosed = true;
    }
    const raw = connection._socket;
    upgrade(callback, secureCallback);
    if (plaintext && connection._parser === plaintext) {
      // A library version that would feed TLS bytes to the plaintext parser: refuse to serve it.
      options.onUnguardable?.('smtp-server kept its plaintext parser across STARTTLS');
      connection._socket?.destroy();
      return;
    }
    const limit = options.handshakeTimeoutMs ?? 0;
    if (limit > 0 && raw) {
      setTimeout(() => {
        if (connection.secure || raw.destroyed) return;
        // Destroying the plain socket takes the half-made TLS socket on top of it along.
        options.onHandshakeTimeout?.(connection.remoteAddress);
        raw.destroy();
      }, limit).unref();
    }
  };
}

/**
 * Installs the STARTTLS guard on an smtp-server instance: every connection it accepts from now on
 * discards input buffered before the TLS handshake. Call once, right after constructing the server
 * (before listen). Composes with subclasses that override connect().
 */
export function guardStartTls(server: SMTPServer, options: StartTlsGuardOptions = {}): void {
  const tagged = server as SMTPServer & { [GUARDED]?: true };
  if (tagged[GUARDED]) return;
  tagged[GUARDED] = true;
  const connect = server.connect.bind(server);
  server.connect = (...args: Parameters<SMTPServer['connect']>): void => {
    const before = server.connections.size;
    connect(...args);
    if (server.connections.size === before) return;
    // A Set iterates in insertion order: the connection just added is the last one.
    let newest: unknown;
    for (const connection of server.connections) newest = connection;
    guardConnection(newest, options);
  };
}
