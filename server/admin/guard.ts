// What the admin listener checks before and around fastify's router: which Host names may reach it (DNS
// rebinding), the canonical form of a request path (so no spelling of /api escapes the session check), the
// same-origin rule for writes, per-IP and total connection caps, and a bounded rate of refusal log lines.
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../log.js';
import { ConnectionGate, RateBoundedLog, capToFdShare, gateConnections, isLoopbackHost, normalizeIp, refuseSocket } from '../net.js';
import { logSecurityEvent, type SecurityEvent } from '../security-log.js';

/** Who a Host header names: this admin server, or one of our mail domains for client autoconfiguration only. */
export type HostAccess = 'admin' | 'mail-client';

/** Mail-client autoconfiguration names (autoconfig.<domain>…) that may reach only the routes marked mailClient. */
const MAIL_CLIENT_PREFIXES = ['autoconfig.', 'autodiscover.', 'mta-sts.'] as const;

export interface HostPolicyOptions {
  /** The configured mail host name (ctx.config.hostname). */
  readonly hostname: string;
  /** The listen address (ctx.config.host); 0.0.0.0 / :: name nothing. */
  readonly listenHost: string;
  /** Extra names from SEALPOST_ADMIN_HOSTS (a reverse proxy's public name). */
  readonly extraHosts: readonly string[];
  /** Is this one of our mail domains (read per request: domains change at run time). */
  readonly isLocalDomain: (name: string) => boolean;
}

/** The host part of a Host header (lower case, no port, no brackets, no trailing dot), or null when malformed. */
export function hostOfHeader(value: string | undefined): string | null {
  if (value === undefined) return null;
  const text = value.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) return bracketed[1] ?? null;
  const plain = /^([a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text);
  if (!plain || !plain[1] || plain[1].startsWith('.') || plain[1].includes('..')) return null;
  return plain[1].replace(/\.$/, '');
}

/** What a Host header may reach on this server, or null when it names another server (refuse before routing). */
export function hostAccess(value: string | undefined, policy: HostPolicyOptions, localAddress: string | undefined): HostAccess | null {
  const host = hostOfHeader(value);
  if (!host) return null;
  if (isLoopbackHost(host)) return 'admin';
  const names = [policy.hostname, policy.listenHost, ...policy.extraHosts].map((n) => n.trim().toLowerCase().replace(/\.$/, ''));
  if (names.includes(host) && host !== '0.0.0.0' && host !== '::') return 'admin';
  // An IP literal equal to the address the client connected to names this very socket (LAN access by IP).
  if (localAddress && normalizeIp(host) === normalizeIp(localAddress)) return 'admin';
  const domain = MAIL_CLIENT_PREFIXES.reduce((name, prefix) => (name.startsWith(prefix) ? name.slice(prefix.length) : name), host);
  if (domain && policy.isLocalDomain(domain)) return 'mail-client';
  if (policy.isLocalDomain(host)) return 'mail-client';
  return null;
}

/**
 * The canonical form of a request path: percent-decoded, slashes collapsed, dot segments resolved, no trailing
 * slash. Only for classifying ("is this under /api?"); the router keeps its own view.
 */
export function canonicalPath(url: string): string {
  // An absolute-form target (GET http://host/api/x) names the same path as its origin-form.
  const raw = (url.split('?')[0] ?? '/').replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  let decoded = raw;
  // Decode repeatedly (bounded) so double encoding (%252F) cannot hide a segment either.
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      next = decoded.replace(/%([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
    if (next === decoded) break;
    decoded = next;
  }
  const segments: string[] = [];
  for (const segment of decoded.replace(/\\/g, '/').split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join('/')}`;
}

/** True when the raw path is not already canonical in structure (//, dot segments, encoded slashes, trailing slash). */
export function isStructurallyOdd(url: string): boolean {
  const raw = url.split('?')[0] ?? '/';
  if (raw === '/') return false;
  if (!raw.startsWith('/') || raw.endsWith('/') || raw.includes('//') || raw.includes('\\')) return true;
  if (/%(2f|5c|25)/i.test(raw)) return true; // encoded slash, backslash or percent (double encoding)
  return raw.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment));
}

/** Is this canonical path the API (or under it)? */
export function isApiPath(canonical: string): boolean {
  return canonical === '/api' || canonical.startsWith('/api/');
}

/** Does the Origin header name this server (scheme, host and port of the accepted Host)? */
export function sameOrigin(origin: string | undefined, scheme: 'http' | 'https', host: string | undefined): boolean {
  if (!origin || !host || origin === 'null') return false;
  try {
    const sent = new URL(origin);
    const expected = new URL(`${scheme}://${host}`);
    return sent.origin === expected.origin;
  } catch {
    return false;
  }
}

/** The Host a request is addressed to (X-Forwarded-Host when a trusted proxy sets it). */
export function effectiveHost(headers: http.IncomingHttpHeaders, trustProxy: boolean): string | undefined {
  const forwarded = trustProxy ? headers['x-forwarded-host'] : undefined;
  const first = typeof forwarded === 'string' ? forwarded.split(',')[0]?.trim() : undefined;
  return first || headers.host;
}

/** The admin's security log: failed sign-ins line by line (the limiter bounds them per client); refusals and
 * cap hits one line per (event, client, reason) and minute with a count, so a flood cannot fill the disk. */
export class AdminSecurityLog {
  private readonly bounded: RateBoundedLog;

  constructor(private readonly logger: Logger) {
    this.bounded = new RateBoundedLog((key, count) => {
      const [event, ip, reason] = key.split('|') as [SecurityEvent, string, string];
      logSecurityEvent(this.logger, event, { ip, protocol: 'admin', reason, detail: { count } });
    });
  }

  /** A refusal or cap hit (rate-bounded). */
  note(event: SecurityEvent, ip: string | undefined, reason: string): void {
    this.bounded.note(`${event}|${normalizeIp(ip ?? 'unknown')}|${reason}`);
  }

  /** A failed sign-in (every one: fail2ban counts them). */
  authFailed(ip: string | undefined, reason: string): void {
    logSecurityEvent(this.logger, 'auth.failed', { ip, protocol: 'admin', reason });
  }

  /** Emits the counts still pending and stops the timer. */
  close(): void {
    this.bounded.close();
  }
}

export interface AdminConnectionLimits {
  readonly perIp: number;
  readonly total: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isInteger(n) && n >= 0 ? n : fallback;
}

/** Admin listener limits from SEALPOST_ADMIN_* (0 = no cap; the total is always kept within the admin's fd share). */
export function adminConnectionLimits(env: Readonly<Record<string, string | undefined>>): AdminConnectionLimits {
  return {
    perIp: positiveInt(env.SEALPOST_ADMIN_MAX_CONNECTIONS_PER_IP, 32),
    total: capToFdShare(positiveInt(env.SEALPOST_ADMIN_MAX_CONNECTIONS, 128), 'admin'),
    headersTimeoutMs: Math.max(1000, positiveInt(env.SEALPOST_ADMIN_HEADERS_TIMEOUT_MS, 20_000)),
    requestTimeoutMs: Math.max(1000, positiveInt(env.SEALPOST_ADMIN_REQUEST_TIMEOUT_MS, 60_000)),
    keepAliveTimeoutMs: Math.max(1000, positiveInt(env.SEALPOST_ADMIN_KEEPALIVE_TIMEOUT_MS, 10_000)),
  };
}

export interface AdminServerOptions {
  readonly tls: https.ServerOptions | null;
  readonly limits: AdminConnectionLimits;
  readonly policy: HostPolicyOptions;
  readonly trustProxy: boolean;
  readonly securityLog: AdminSecurityLog;
}

const hostAccessOf = new WeakMap<http.IncomingMessage, HostAccess>();

/** The access a request's Host was given before routing ('admin' only for in-process app.inject calls, which never cross a socket). */
export function requestHostAccess(request: http.IncomingMessage): HostAccess {
  return hostAccessOf.get(request) ?? 'admin';
}

/** A minimal HTTP refusal for a connection over the caps (refuseSocket adds the final CRLF). */
const REFUSED_BY_CAP = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n';

/**
 * A fastify serverFactory: the http(s) server with connection caps in front of its connection handling and
 * the Host allow-list in front of the router. A refused connection gets a bare 503 and is closed before the
 * HTTP (or TLS) layer sees it.
 */
export function adminServerFactory(options: AdminServerOptions): (handler: http.RequestListener) => http.Server {
  return (handler) => {
    const gate = new ConnectionGate(() => ({ perIp: options.limits.perIp, total: options.limits.total }));
    const guarded: http.RequestListener = (request, response) => {
      const headers = request.headers;
      const ip = request.socket.remoteAddress;
      let access = hostAccess(headers.host, options.policy, request.socket.localAddress);
      if (access && options.trustProxy && typeof headers['x-forwarded-host'] === 'string') {
        const forwarded = hostAccess(effectiveHost(headers, true), options.policy, undefined);
        access = forwarded === null ? null : access === 'mail-client' || forwarded === 'mail-client' ? 'mail-client' : 'admin';
      }
      if (!access) {
        options.securityLog.note('http.refused', ip, 'bad-host');
        const body = JSON.stringify({ error: 'This server does not answer for that host name (Host header).', code: 'BAD_HOST' });
        // A missing or malformed Host is a bad request; a well-formed one naming another server is misdirected.
        const status = hostOfHeader(headers.host) === null ? 400 : 421;
        response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', connection: 'close' });
        response.end(body);
        return;
      }
      hostAccessOf.set(request, access);
      handler(request, response);
    };
    // Idle and slow connections are checked often enough that headersTimeout frees their slots promptly.
    const checking = { connectionsCheckingInterval: Math.min(5000, Math.max(250, Math.floor(options.limits.headersTimeoutMs / 4))) };
    const server = options.tls ? https.createServer({ ...options.tls, ...checking }, guarded) : http.createServer(checking, guarded);
    server.headersTimeout = Math.min(options.limits.headersTimeoutMs, options.limits.requestTimeoutMs);
    server.requestTimeout = options.limits.requestTimeoutMs;
    server.keepAliveTimeout = options.limits.keepAliveTimeoutMs;
    gateConnections(server, gate, (socket, refusal, ip) => {
      options.securityLog.note('conn.refused', ip, refusal);
      // A TLS client cannot read a plain-text answer: it is closed before the handshake.
      refuseSocket(socket, options.tls ? null : REFUSED_BY_CAP);
    });
    return server as http.Server;
  };
}
