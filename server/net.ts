// The one place for address classes (loopback, private, link-local, metadata…) and for opening listeners.
// Every listener's "is this loopback?" rule and the outbound SSRF policy use these functions, so a security
// rule about addresses exists once.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import type { ListenerName, SealpostConfig } from './config/index.js';
import { UserError } from './errors.js';

/** What kind of address an IP is, from the point of view of "may we talk to it / trust it". */
export type AddressClass =
  | 'loopback' // 127.0.0.0/8, ::1
  | 'unspecified' // 0.0.0.0/8, ::
  | 'private' // 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7
  | 'link-local' // 169.254/16 (cloud metadata lives here), fe80::/10
  | 'multicast' // 224/4, ff00::/8
  | 'reserved' // 240/4, broadcast, documentation and benchmark ranges, 6to4/teredo and other special IPv6
  | 'public';

/** Strips an IPv6 zone and unwraps IPv4-mapped / -compatible forms (::ffff:127.0.0.1, ::ffff:7f00:1) to IPv4. */
export function normalizeIp(ip: string): string {
  let text = ip.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!net.isIPv6(text)) return text;
  const words = ipv6Words(text);
  if (!words) return text;
  const upperZero = words.slice(0, 5).every((w) => w === 0);
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (deprecated compatible, except :: and ::1) carry an IPv4 address.
  if (upperZero && (words[5] === 0xffff || (words[5] === 0 && (words[6] !== 0 || words[7]! > 1)))) {
    return `${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}.${words[7]! & 0xff}`;
  }
  return text.toLowerCase();
}

/** The class of an IP address (v4, v6, mapped forms); 'reserved' for anything that is not an IP literal. */
export function addressClass(ip: string): AddressClass {
  const address = normalizeIp(ip);
  if (net.isIPv4(address)) return ipv4Class(address.split('.').map(Number) as [number, number, number, number]);
  if (net.isIPv6(address)) {
    const words = ipv6Words(address);
    return words ? ipv6Class(words) : 'reserved';
  }
  return 'reserved';
}

/** A connection from this machine itself (127/8, ::1 and their mapped forms). Names such as "localhost" are not IPs and are not loopback here. */
export function isLoopbackAddress(ip: string | undefined | null): boolean {
  return typeof ip === 'string' && addressClass(ip) === 'loopback';
}

/** A listen host or Host header naming this machine: a loopback IP or the literal "localhost". */
export function isLoopbackHost(host: string): boolean {
  const name = host.trim().toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || isLoopbackAddress(name);
}

/**
 * Why an outbound target address is refused (webhooks, forwards' relay checks), or null when it may be dialled.
 * allowLoopback/allowPrivate: for a service the owner runs beside us (their rspamd), this machine and the LAN are fine.
 */
export function outboundAddressRefusal(ip: string, options: { readonly allowPrivate?: boolean; readonly allowLoopback?: boolean } = {}): string | null {
  const kind = addressClass(ip);
  if (kind === 'public') return null;
  if (kind === 'private' && options.allowPrivate) return null;
  if (kind === 'loopback' && options.allowLoopback) return null;
  const what: Record<Exclude<AddressClass, 'public'>, string> = {
    loopback: 'a loopback address (this machine)',
    unspecified: 'an unspecified address',
    private: 'a private (LAN) address',
    'link-local': 'a link-local address (cloud metadata lives there)',
    multicast: 'a multicast address',
    reserved: 'a reserved address',
  };
  return `${what[kind]}`;
}

function ipv4Class([a, b, c]: [number, number, number, number]): AddressClass {
  if (a === 127) return 'loopback';
  if (a === 0) return 'unspecified';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)) return 'private';
  if (a === 169 && b === 254) return 'link-local';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved'; // 240/4 and 255.255.255.255
  // IETF protocol assignments, documentation (TEST-NET-1/2/3), benchmarking, 6to4 relay anycast
  if ((a === 192 && b === 0 && (c === 0 || c === 2)) || (a === 198 && (b === 18 || b === 19)) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113) || (a === 192 && b === 88 && c === 99)) {
    return 'reserved';
  }
  return 'public';
}

function ipv6Class(w: number[]): AddressClass {
  if (w.every((x) => x === 0)) return 'unspecified';
  if (w.slice(0, 7).every((x) => x === 0) && w[7] === 1) return 'loopback';
  const first = w[0]!;
  if ((first & 0xfe00) === 0xfc00) return 'private'; // fc00::/7 unique local
  if ((first & 0xffc0) === 0xfe80) return 'link-local';
  if ((first & 0xffc0) === 0xfec0) return 'private'; // deprecated site-local
  if ((first & 0xff00) === 0xff00) return 'multicast';
  // NAT64 (64:ff9b::/96) embeds an IPv4 address: classify that one.
  if (first === 0x64 && w[1] === 0xff9b && w.slice(2, 6).every((x) => x === 0)) {
    return ipv4Class([w[6]! >> 8, w[6]! & 0xff, w[7]! >> 8, w[7]! & 0xff]);
  }
  // 2001:db8::/32 documentation, 2001::/32 Teredo, 2002::/16 6to4 (tunnel to arbitrary IPv4), 100::/64 discard
  if ((first === 0x2001 && (w[1] === 0x0db8 || w[1] === 0)) || first === 0x2002 || (first === 0x0100 && w.slice(1, 4).every((x) => x === 0))) return 'reserved';
  if ((first & 0xe000) !== 0x2000) return 'reserved'; // only 2000::/3 is global unicast
  return 'public';
}

/** The eight 16-bit words of an IPv6 literal (with an embedded dotted IPv4 tail), or null. */
function ipv6Words(text: string): number[] | null {
  let body = text;
  const tail: number[] = [];
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    if (!net.isIPv4(last)) return null;
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    body = body.slice(0, lastColon); // drop ":a.b.c.d"
    if (body.endsWith(':')) body += ':'; // it followed "::": keep the "::" whole
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const head = parse(halves[0]!);
  const rear = halves.length === 2 ? parse(halves[1]!) : [];
  const total = 8 - tail.length;
  const missing = total - head.length - rear.length;
  if (halves.length === 1 && missing !== 0) return null;
  if (missing < 0) return null;
  const words = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rear, ...tail];
  if (words.length !== 8 || words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) return null;
  return words;
}

/** How a listener is secured; printed by `serve` after the port. */
export type ListenerSecurity = 'plain' | 'starttls' | 'tls' | 'http' | 'https';

/** One open socket, as `serve` reports it: "imap listening on 127.0.0.1:1143 (starttls)". */
export interface Listener {
  /** Listener name as in the config (imap, imaps, smtp, submission…). */
  readonly name: ListenerName | string;
  readonly host: string;
  readonly port: number;
  readonly security: ListenerSecurity;
}

/** Binds a server; rejects with a clear message when the port is taken. */
export function listen(server: net.Server, host: string, port: number, name: string, security: ListenerSecurity): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const reason = error.code === 'EADDRINUSE' ? 'the port is already in use' : error.code === 'EACCES' ? 'permission denied' : error.message;
      reject(new ListenError(`Cannot open the ${name} listener on ${host}:${port}: ${reason}.`));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const address = server.address();
      const bound = address && typeof address === 'object' ? address.port : port;
      resolve({ name, host, port: bound, security });
    });
  });
}

/**
 * Opens a protocol's STARTTLS listener and its implicit-TLS one (a port of 0 is skipped): make(secure) builds
 * each server, which goes into `started` before it binds so stop() closes it even when binding fails.
 */
export async function listenPlainAndTls<S extends { readonly server: net.Server }>(
  ctx: { readonly config: Pick<SealpostConfig, 'host' | 'ports'> },
  names: { readonly plain: ListenerName; readonly tls: ListenerName },
  make: (secure: boolean) => S,
  started: S[],
): Promise<Listener[]> {
  const opened: Listener[] = [];
  const plan = [
    { name: names.plain, secure: false, security: 'starttls' },
    { name: names.tls, secure: true, security: 'tls' },
  ] as const;
  for (const p of plan) {
    const port = ctx.config.ports[p.name];
    if (port === 0) continue;
    const server = make(p.secure);
    started.push(server);
    opened.push(await listen(server.server, ctx.config.host, port, p.name, p.security));
  }
  return opened;
}

export class ListenError extends UserError {
  /** hint: what to do, when the default (free the address and port) does not fit. */
  constructor(message: string, hint?: string) {
    super(message, 'LISTEN_FAILED', hint ? { hint } : {});
  }
}

interface SockoptBinding {
  setsockopt(socket: net.Socket, level: number, option: number, value: number): void;
}

/** Linux's TCP_QUICKACK (IPPROTO_TCP = 6, TCP_QUICKACK = 12); other systems have no such option. */
const TCP_QUICKACK = process.platform === 'linux' ? { level: 6, option: 12 } : null;
let sockopt: SockoptBinding | null | undefined;

/**
 * Makes the kernel acknowledge the next data on this connection at once instead of delaying the ACK.
 *
 * Why: after a server writes a continuation (`+ Ready` for an IMAP literal, `354` for SMTP DATA) it has
 * nothing to say until the client's data is complete, and Linux then delays its ACK (up to 40 ms, since the
 * connection looks interactive). A client with Nagle's algorithm on that writes its data and the closing
 * CRLF in two writes (Python's imaplib does) holds the CRLF until that ACK arrives: about 45 ms per literal.
 * Quick-ACK mode lasts until the kernel leaves it by itself, so it is set after each such continuation.
 * A no-op where the option or the native binding (npm `sockopt`, Node-API) is missing; never throws.
 */
export function quickAck(socket: net.Socket): void {
  if (!TCP_QUICKACK) return;
  if (sockopt === undefined) {
    try {
      sockopt = createRequire(import.meta.url)('sockopt') as SockoptBinding;
    } catch {
      sockopt = null;
    }
  }
  if (!sockopt) return;
  try {
    sockopt.setsockopt(socket, TCP_QUICKACK.level, TCP_QUICKACK.option, 1);
  } catch {
    // Closed socket (no handle) or not TCP (a test's stream pair): nothing to acknowledge.
  }
}

/** Closes a listening server (resolves at once when it is not listening). */
export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

/** Whether host:port can be bound now (tried and released at once): a check before moving a listener there. */
export function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** Why a connection was refused by a gate: its IP is at the per-IP cap, or the listener is at its total cap. */
export type GateRefusal = 'per-ip-cap' | 'total-cap';

export interface ConnectionCaps {
  /** Open connections one client IP may hold on this listener (0 = no per-IP cap). */
  readonly perIp: number;
  /** Open connections the listener holds in all (0 = no total cap). */
  readonly total: number;
}

/**
 * Per-IP and total connection caps for one listener (or one protocol's pair of listeners). admit() counts
 * a connection or says why not; the caller answers the refusal in its protocol's words and closes. IPv4-mapped
 * IPv6 addresses count as their IPv4 address. Caps are read on every admit, so a settings change applies.
 */
export class ConnectionGate {
  private readonly open = new Map<string, number>();
  private openTotal = 0;

  constructor(private readonly caps: () => ConnectionCaps) {}

  /** Counts a new connection from ip, or returns why it is refused (then nothing is counted). */
  admit(ip: string | undefined | null): GateRefusal | null {
    const key = normalizeIp(ip ?? 'unknown');
    const { perIp, total } = this.caps();
    if (total > 0 && this.openTotal >= total) return 'total-cap';
    const current = this.open.get(key) ?? 0;
    if (perIp > 0 && current >= perIp) return 'per-ip-cap';
    this.open.set(key, current + 1);
    this.openTotal += 1;
    return null;
  }

  /** Releases a connection admitted earlier (call exactly once per admitted connection). */
  release(ip: string | undefined | null): void {
    const key = normalizeIp(ip ?? 'unknown');
    const current = this.open.get(key) ?? 0;
    if (current <= 0) return;
    if (current === 1) this.open.delete(key);
    else this.open.set(key, current - 1);
    this.openTotal -= 1;
  }

  /** Open connections from ip (or in all when ip is omitted). */
  count(ip?: string): number {
    return ip === undefined ? this.openTotal : (this.open.get(normalizeIp(ip)) ?? 0);
  }
}

/**
 * The process's open-file soft limit (Linux: /proc/self/limits), or null when unknown. Node raises its soft
 * limit to the hard limit at start, so this is what the listeners' total caps must fit under.
 */
export function fdSoftLimit(readLimits: () => string = defaultReadLimits): number | null {
  try {
    const line = readLimits()
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const value = line?.trim().split(/\s{2,}/)[1];
    if (!value || value === 'unlimited') return null;
    const n = Number(value);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function defaultReadLimits(): string {
  return readFileSync('/proc/self/limits', 'utf8');
}

/**
 * Each listener family's share of the fd soft limit. Together they stay at or under 70 %, leaving the rest for
 * mailbox files, the WAL, DNS, outbound connections and logs, so a flood on one listener can never take the
 * descriptors another needs.
 */
export const FD_SHARE = { smtp: 0.2, submission: 0.08, imap: 0.23, pop3: 0.1, managesieve: 0.02, admin: 0.05, web: 0.02 } as const;
export type CappedListener = keyof typeof FD_SHARE;

/** A configured total cap, lowered to the listener family's share of the fd soft limit (0 = "no cap" becomes that share). */
export function capToFdShare(total: number, listener: CappedListener, fdLimit: number | null = fdSoftLimit()): number {
  if (fdLimit === null) return total;
  const share = Math.max(1, Math.floor(fdLimit * FD_SHARE[listener]));
  return total > 0 ? Math.min(total, share) : share;
}

/** The refusal a gate reports, with the client IP it concerns. */
export type ConnectionRefusedHandler = (socket: net.Socket, refusal: GateRefusal, ip: string) => void;

/**
 * Puts a ConnectionGate in front of a server's own connection handler(s): every accepted socket is counted
 * (and released when it closes) before the protocol library sees it, so the cap covers sockets still in a
 * TLS handshake too. A refused socket goes to `refuse` (which answers in the protocol's words) and never
 * reaches the library. Call before the server listens.
 */
export function gateConnections(server: net.Server, gate: ConnectionGate, refuse: ConnectionRefusedHandler): void {
  const handlers = server.listeners('connection') as ((socket: net.Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: net.Socket) => {
    const ip = normalizeIp(socket.remoteAddress ?? 'unknown');
    const refusal = gate.admit(ip);
    if (refusal) {
      socket.on('error', () => undefined);
      refuse(socket, refusal, ip);
      return;
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      gate.release(ip);
    };
    socket.once('close', release);
    // Protocol libraries strip every listener off the raw socket when they wrap it in TLS (STARTTLS/STLS);
    // the release must survive that, or each upgraded connection would be counted forever.
    const removeAll = socket.removeAllListeners.bind(socket);
    socket.removeAllListeners = (event?: string | symbol): net.Socket => {
      removeAll(event);
      if (!released && (event === undefined || event === 'close')) socket.once('close', release);
      return socket;
    };
    for (const handler of handlers) handler.call(server, socket);
  });
}

/**
 * Writes a one-line refusal on a plain socket and closes it as soon as the line is handed to the kernel:
 * refused sockets must not linger, or a flood of them would hold the descriptors the caps protect.
 */
export function refuseSocket(socket: net.Socket, line: string | null): void {
  socket.on('error', () => undefined);
  socket.resume(); // unread input would turn the close into a reset that can swallow the refusal
  if (line === null || socket.destroyed) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), 1000);
  timer.unref();
  socket.end(`${line}\r\n`, () => {
    clearTimeout(timer);
    socket.destroy();
  });
}

/**
 * Bounds identical log lines under a flood: the first event for a key is emitted at once, later ones within
 * `windowMs` are only counted and emitted as one line with the count when the window ends. At most `maxKeys`
 * keys are tracked; beyond that events count under the key "*".
 */
export class RateBoundedLog {
  private readonly entries = new Map<string, { suppressed: number; until: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly emit: (key: string, count: number) => void,
    private readonly windowMs = 60_000,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.flush(false), Math.max(1000, Math.floor(windowMs / 2)));
    this.timer.unref();
  }

  /** Counts one event for key; emits it now when no line for key was emitted in the current window. */
  note(key: string): void {
    const at = this.now();
    const slot = this.entries.has(key) || this.entries.size < this.maxKeys ? key : '*';
    const entry = this.entries.get(slot);
    if (!entry) {
      this.entries.set(slot, { suppressed: 0, until: at + this.windowMs });
      this.emit(slot, 1);
      return;
    }
    if (at < entry.until) {
      entry.suppressed += 1;
      return;
    }
    this.emit(slot, entry.suppressed + 1);
    entry.suppressed = 0;
    entry.until = at + this.windowMs;
  }

  /** Emits the counts of windows that ended (all of them when `all`), and forgets quiet keys. */
  flush(all = true): void {
    const at = this.now();
    for (const [key, entry] of this.entries) {
      if (!all && at < entry.until) continue;
      if (entry.suppressed > 0) this.emit(key, entry.suppressed);
      this.entries.delete(key);
    }
  }

  /** Emits what is still counted and stops the timer. */
  close(): void {
    clearInterval(this.timer);
    this.flush(true);
  }
}

/** What a server-side TLS upgrade needs: the current context (certificate reloads apply) and a time limit. */
export interface TlsUpgradeOptions {
  readonly secureContext: () => tls.SecureContext;
  readonly timeoutMs: () => number;
  /** Told (with the plain socket) when a handshake did not complete in time. */
  readonly onTimeout?: (socket: net.Socket) => void;
}

/**
 * Wraps an accepted socket in server-side TLS with a bounded handshake (implicit TLS, STARTTLS, STLS): the
 * callback gets the TLS socket once the handshake is done, or an error when it fails, the client goes away
 * or the time limit passes. On a timeout the TLS socket is destroyed, never the plain one under it: tearing
 * the plain socket away under a TLS wrap in the middle of a handshake can crash Node (seen: SIGSEGV, 20.20).
 */
export function tlsUpgrade(options: TlsUpgradeOptions): (socket: net.Socket, callback: (err: Error | null, secured?: tls.TLSSocket) => void) => void {
  return (socket, callback) => {
    let done = false;
    const secureSocket = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: options.secureContext(),
      SNICallback: (_servername, cb) => cb(null, options.secureContext()),
    });
    const fail = (error?: Error): void => {
      if (done) return;
      done = true;
      if (!secureSocket.destroyed) secureSocket.destroy();
      callback(Object.assign(error ?? new Error('Socket closed while initiating TLS'), { remoteAddress: socket.remoteAddress, tlsHandshake: true }));
    };
    const onTimeout = (): void => {
      options.onTimeout?.(socket);
      fail(Object.assign(new Error('TLS handshake timeout'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }));
    };
    const onClose = (): void => fail();
    secureSocket.setTimeout(options.timeoutMs(), onTimeout);
    socket.once('error', fail);
    secureSocket.once('error', fail);
    secureSocket.once('close', onClose);
    secureSocket.once('secure', () => {
      secureSocket.setTimeout(0);
      secureSocket.removeListener('timeout', onTimeout);
      socket.removeListener('error', fail);
      secureSocket.removeListener('error', fail);
      secureSocket.removeListener('close', onClose);
      if (done) {
        secureSocket.destroy();
        return;
      }
      done = true;
      callback(null, secureSocket); // the caller attaches its own listeners at once
    });
  };
}

/**
 * How a listener error from a TLS handshake should be logged: 'timeout' (already logged by tlsUpgrade's
 * onTimeout), 'failed' (the client spoke bad TLS: a security event, rate-bounded by the caller), 'gone' (the
 * client closed before finishing: scanners and probes, debug only), or null for any other error.
 */
export function handshakeErrorKind(error: unknown): { readonly kind: 'timeout' | 'failed' | 'gone'; readonly ip: string } | null {
  if (!(error instanceof Error)) return null;
  const fields = error as Error & { code?: string; remoteAddress?: string; tlsHandshake?: boolean; meta?: { remoteAddress?: string } };
  const ip = fields.remoteAddress ?? fields.meta?.remoteAddress ?? 'unknown';
  if (fields.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return { kind: 'timeout', ip };
  if (error.message === 'Socket closed while initiating TLS' || fields.code === 'ECONNRESET' || fields.code === 'SocketError') return fields.tlsHandshake || fields.meta ? { kind: 'gone', ip } : null;
  if (fields.tlsHandshake || fields.code === 'TLSError' || /^ERR_SSL_/.test(fields.code ?? '')) return { kind: 'failed', ip };
  return null;
}
