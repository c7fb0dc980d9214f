// Guards for smtp-server sessions that every Sealpost SMTP listener (MX and submission) applies.
//
// STARTTLS command injection (RFC 3207 §4.2, CVE-2011-0411 class): bytes a client pipelines after
// "STARTTLS\r\n" in the same plaintext write must never run as commands inside the TLS session.
// smtp-server 3.21 already retires its plaintext parser at upgrade (tested in
// test/security/mx-starttls.test.ts); this guard makes that independent of the library version: the
// plaintext parser is told to drop every line it still holds, and a connection whose upgrade would keep
// the plaintext parser is closed instead of being served.
//
// Prompt ACKs (ackPromptly): a client with Nagle's algorithm on that writes the message and the closing
// ".\r\n" in separate writes (nodemailer and many MTAs do) cannot send that last line until its earlier
// bytes are acknowledged, and Linux delays the ACK up to 40 ms on a connection that looks interactive. The
// kernel is asked for an immediate ACK after the 354 reply and for every chunk read while DATA arrives.
import type net from 'node:net';
import type { SMTPServer } from 'smtp-server';
import { quickAck } from '../net.js';

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

/** Calls `onConnection` with every connection the server accepts from now on (composes with other wrappers of connect()). */
function eachConnection(server: SMTPServer, onConnection: (connection: unknown) => void): void {
  const connect = server.connect.bind(server);
  server.connect = (...args: Parameters<SMTPServer['connect']>): void => {
    const before = server.connections.size;
    connect(...args);
    if (server.connections.size === before) return;
    // A Set iterates in insertion order: the connection just added is the last one.
    let newest: unknown;
    for (const connection of server.connections) newest = connection;
    onConnection(newest);
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
  eachConnection(server, (connection) => guardConnection(connection, options));
}

/** The parts of smtp-server's parser (SMTPStream) the prompt-ACK hook touches. */
interface DataParser {
  _dataMode: boolean;
  _write: (chunk: Buffer, encoding: BufferEncoding, next: (error?: Error | null) => void) => void;
}

/** The parts of smtp-server's SMTPConnection the prompt-ACK hook touches (internal API, checked at run time). */
interface AckedConnection {
  _socket: net.Socket;
  _parser: DataParser | false;
  _createParser: () => DataParser;
  send: (code: number, data?: string | string[] | null, context?: string | false) => void;
}

const ACKED = Symbol('sealpost.ackPromptly');

function isAckable(value: unknown): value is AckedConnection {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<AckedConnection>;
  return typeof candidate.send === 'function' && typeof candidate._createParser === 'function' && '_socket' in candidate && '_parser' in candidate;
}

/** Makes a parser ask for an immediate ACK of every chunk it is handed while in DATA mode. */
function ackDataChunks(connection: AckedConnection, parser: DataParser | false): void {
  if (!parser || typeof parser._write !== 'function') return;
  const write = parser._write;
  parser._write = function (this: DataParser, chunk, encoding, next) {
    // Not sticky in Linux: the kernel leaves quick-ACK mode by itself, so it is asked again per chunk.
    if (this._dataMode) quickAck(connection._socket);
    write.call(this, chunk, encoding, next);
  };
}

/** Asks for prompt ACKs on one connection: after its 354 replies, and for each chunk of a message. */
function ackConnection(connection: unknown): void {
  // Only a performance hook: a library whose internals differ keeps delayed ACKs, nothing breaks.
  if (!isAckable(connection)) return;
  const send = connection.send;
  connection.send = function (this: AckedConnection, ...args) {
    send.apply(this, args);
    // After 354 the client sends the message and expects no reply until its end: its bytes are ACKed at once.
    if (args[0] === 354) quickAck(connection._socket);
  };
  ackDataChunks(connection, connection._parser);
  // STARTTLS replaces the parser with a new one for the TLS session.
  const createParser = connection._createParser;
  connection._createParser = function (this: AckedConnection) {
    const parser = createParser.call(this);
    ackDataChunks(connection, parser);
    return parser;
  };
}

/**
 * Installs prompt ACKs on an smtp-server instance (see the top of this file): every connection it accepts
 * from now on sets TCP_QUICKACK after each 354 reply and on every chunk of DATA, plain or TLS (the option goes
 * to the TCP socket under the TLS one). A no-op off Linux. Call once, before listen.
 */
export function ackPromptly(server: SMTPServer): void {
  const tagged = server as SMTPServer & { [ACKED]?: true };
  if (tagged[ACKED]) return;
  tagged[ACKED] = true;
  eachConnection(server, ackConnection);
}
