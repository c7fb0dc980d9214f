// The two public web listeners: HTTP (port 80 in production) answers ACME HTTP-01 challenges and sends
// everything else for a name we serve to HTTPS; HTTPS (443) answers TLS-ALPN-01 challenges (RFC 8737) and
// serves each domain's MTA-STS policy (RFC 8461 §3.3) at https://mta-sts.<domain>/.well-known/mta-sts.txt and its
// Thunderbird autoconfig at https://autoconfig.<domain>/mail/config-v1.1.xml (where mail clients look for it).
// Every other request is a 404 or 405. Both have per-IP and total connection caps, header size and time limits.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import { wholeNumbersFromEnv, type NumericSetting } from '../config/env-values.js';
import { thunderbirdConfig, type MailEndpoints } from '../config/autoconfig.js';
import { mtaStsPolicy, type MtaStsSettings } from '../config/mta-sts-policy.js';
import type { TlsMaterial } from '../config/tls.js';
import type { Logger } from '../log.js';
import { capToFdShare, closeServer, ConnectionGate, gateConnections, listen, RateBoundedLog, refuseSocket, type Listener } from '../net.js';
import type { ChallengeBook } from './challenges.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface WebLimits {
  /** Open connections one client IP may hold on each listener (0 = no cap). */
  readonly perIp: number;
  /** Open connections each listener holds in all (always within the web listeners' fd share). */
  readonly total: number;
  /** Time to send a request's headers (and, on HTTPS, to finish the TLS handshake). */
  readonly headersTimeoutMs: number;
  /** Time to send a whole request. */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveTimeoutMs: number;
  /** Request line plus headers; more is refused with 431. */
  readonly maxHeaderBytes: number;
}

const LIMITS: readonly NumericSetting<keyof WebLimits>[] = [
  { env: 'SEALPOST_WEB_MAX_CONNECTIONS_PER_IP', key: 'perIp', min: 0 },
  { env: 'SEALPOST_WEB_MAX_CONNECTIONS', key: 'total', min: 0 },
  { env: 'SEALPOST_WEB_HEADERS_TIMEOUT_MS', key: 'headersTimeoutMs', min: 1000 },
  { env: 'SEALPOST_WEB_REQUEST_TIMEOUT_MS', key: 'requestTimeoutMs', min: 1000 },
  { env: 'SEALPOST_WEB_KEEPALIVE_TIMEOUT_MS', key: 'keepAliveTimeoutMs', min: 1000 },
  { env: 'SEALPOST_WEB_MAX_HEADER_BYTES', key: 'maxHeaderBytes', min: 1024, max: 65_536 },
];

/** SEALPOST_WEB_* limits with their defaults; throws ConfigError naming a malformed one. */
export function webLimits(env: Env): WebLimits {
  const limits = wholeNumbersFromEnv(env, LIMITS, { perIp: 16, total: 256, headersTimeoutMs: 10_000, requestTimeoutMs: 20_000, keepAliveTimeoutMs: 5000, maxHeaderBytes: 8192 });
  return { ...limits, total: capToFdShare(limits.total, 'web') };
}

export interface WebDeps {
  readonly hostname: string;
  /** Where mail clients connect (the autoconfig answer): the host name and the listener ports. */
  readonly endpoints: MailEndpoints;
  readonly isLocalDomain: (domain: string) => boolean;
  readonly mtaSts: MtaStsSettings;
  readonly challenges: ChallengeBook;
  /** The certificate in use; an installed or reloaded one applies to new connections at once. */
  readonly tls: Pick<TlsMaterial, 'tlsOptions' | 'onReload'>;
  /** The port HTTPS is on (0 = off): where HTTP redirects to. */
  readonly httpsPort: number;
  readonly limits: WebLimits;
  readonly logger: Logger;
}

const ACME_PATH = '/.well-known/acme-challenge/';
const POLICY_PATH = '/.well-known/mta-sts.txt';
const AUTOCONFIG_PATHS = new Set(['/mail/config-v1.1.xml', '/.well-known/autoconfig/mail/config-v1.1.xml']);

/** The host name of a Host header (lower-case, no port, no trailing dot), or null when it is malformed. */
export function hostOfRequest(value: string | undefined): string | null {
  if (typeof value !== 'string' || value.length > 300) return null;
  const match = /^([A-Za-z0-9.-]+)(:\d{1,5})?$/.exec(value.trim());
  if (!match) return null;
  const name = match[1]!.toLowerCase().replace(/\.$/, '');
  return name.length > 0 && name.length <= 253 ? name : null;
}

/** The domain whose MTA-STS name `host` is (`mta-sts.<domain>`), when it is one of ours. */
export function mtaStsDomainOf(host: string, isLocalDomain: (domain: string) => boolean): string | null {
  if (!host.startsWith('mta-sts.')) return null;
  const domain = host.slice('mta-sts.'.length);
  return domain.includes('.') && isLocalDomain(domain) ? domain : null;
}

/** The domain whose autoconfig name `host` is (`autoconfig.<domain>`), when it is one of ours. */
export function autoconfigDomainOf(host: string, isLocalDomain: (domain: string) => boolean): string | null {
  if (!host.startsWith('autoconfig.')) return null;
  const domain = host.slice('autoconfig.'.length);
  return domain.includes('.') && isLocalDomain(domain) ? domain : null;
}

/** Whether a Host names something this server answers for (its host name, or mta-sts./autoconfig. of a domain). */
function servesHost(host: string, deps: WebDeps): boolean {
  if (host === deps.hostname.toLowerCase()) return true;
  const dot = host.indexOf('.');
  const label = host.slice(0, dot);
  return (label === 'mta-sts' || label === 'autoconfig') && deps.isLocalDomain(host.slice(dot + 1));
}

function reply(response: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

const methodAllowed = (method: string | undefined): boolean => method === 'GET' || method === 'HEAD';

/** HTTP: the HTTP-01 answer for a known token, a redirect to HTTPS for a name we serve, else 404. */
export function handleHttp(request: http.IncomingMessage, response: http.ServerResponse, deps: WebDeps): void {
  const url = request.url ?? '';
  if (!methodAllowed(request.method)) return reply(response, 405, 'Method not allowed.\n', { allow: 'GET, HEAD' });
  if (url.startsWith(ACME_PATH)) {
    // RFC 8555 §8.3: the body is the key authorization, nothing else.
    const answer = deps.challenges.httpAnswer(url.slice(ACME_PATH.length));
    return answer === null ? reply(response, 404, 'Not found.\n') : reply(response, 200, answer, { 'content-type': 'application/octet-stream' });
  }
  const host = hostOfRequest(request.headers.host);
  if (host === null || !servesHost(host, deps) || deps.httpsPort === 0 || !url.startsWith('/') || url.startsWith('//')) return reply(response, 404, 'Not found.\n');
  const port = deps.httpsPort === 443 ? '' : `:${deps.httpsPort}`;
  return reply(response, 301, 'Moved to HTTPS.\n', { location: `https://${host}${port}${url}` });
}

/**
 * HTTPS: the MTA-STS policy for mta-sts.<domain>, the Thunderbird autoconfig for autoconfig.<domain> (Host and,
 * when sent, SNI must both name it), else 404.
 */
export function handleHttps(request: http.IncomingMessage, response: http.ServerResponse, deps: WebDeps): void {
  if (!methodAllowed(request.method)) return reply(response, 405, 'Method not allowed.\n', { allow: 'GET, HEAD' });
  const host = hostOfRequest(request.headers.host);
  const sni = (request.socket as tls.TLSSocket).servername;
  const sniMatches = typeof sni !== 'string' || sni.toLowerCase() === host;
  const autoconfig = host === null ? null : autoconfigDomainOf(host, deps.isLocalDomain);
  if (autoconfig !== null && sniMatches && AUTOCONFIG_PATHS.has((request.url ?? '').split('?')[0] ?? '')) {
    // the ?emailaddress= a client adds changes nothing: the answer is per domain and holds no address
    return reply(response, 200, thunderbirdConfig(autoconfig, deps.endpoints), { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'public, max-age=3600' });
  }
  const domain = host === null ? null : mtaStsDomainOf(host, deps.isLocalDomain);
  if (domain === null || (typeof sni === 'string' && sni.toLowerCase() !== host) || request.url !== POLICY_PATH) return reply(response, 404, 'Not found.\n');
  // RFC 8461 §3.3: served as text/plain over HTTPS, no redirects.
  return reply(response, 200, mtaStsPolicy(deps.hostname, deps.mtaSts).text, { 'cache-control': 'max-age=300' });
}

/** The HTTPS server's ALPN choice: acme-tls/1 with the challenge certificate when one is open for the name (RFC 8737 §3), else http/1.1. */
function alpnChooser(challenges: ChallengeBook): (this: tls.TLSSocket, arg: { servername: string; protocols: string[] }) => string | undefined {
  return function choose(this: tls.TLSSocket, { servername, protocols }) {
    if (protocols.includes('acme-tls/1')) {
      const context = servername ? challenges.alpnContext(servername) : null;
      if (!context) return undefined; // RFC 8737 §3: no challenge for that name, no acme-tls/1 handshake
      this.setKeyCert(context);
      return 'acme-tls/1';
    }
    return protocols.includes('http/1.1') ? 'http/1.1' : undefined;
  };
}

/** A refusal for a plain HTTP connection over the caps (refuseSocket adds the final CRLF). */
const REFUSED_BY_CAP = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n';

export interface WebListeners {
  readonly listeners: Listener[];
  close(): Promise<void>;
}

/** Opens the HTTP and HTTPS listeners whose port is not 0; closes what it opened if one cannot bind. */
export async function openWebListeners(host: string, ports: { readonly http: number; readonly https: number }, deps: WebDeps): Promise<WebListeners> {
  const servers: http.Server[] = [];
  const refusals = new RateBoundedLog((key, count) => deps.logger.warn({ event: 'web.refused', reason: key, count }, 'web connections refused'));
  const close = async (): Promise<void> => {
    refusals.close();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await closeServer(server);
    }
  };
  const limits = deps.limits;
  const tune = (server: http.Server): void => {
    server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
    server.requestTimeout = limits.requestTimeoutMs;
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    server.maxRequestsPerSocket = 100;
    const gate = new ConnectionGate(() => ({ perIp: limits.perIp, total: limits.total }));
    const secure = server instanceof https.Server;
    gateConnections(server, gate, (socket: net.Socket, refusal) => {
      refusals.note(refusal);
      // A TLS client cannot read a plain-text answer: it is closed before the handshake.
      refuseSocket(socket, secure ? null : REFUSED_BY_CAP);
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: net.Socket) => {
      // Over-long headers, slow requests and malformed ones get their HTTP status, then the socket goes.
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
  };
  const checking = { connectionsCheckingInterval: Math.min(5000, Math.max(250, Math.floor(limits.headersTimeoutMs / 4))), maxHeaderSize: limits.maxHeaderBytes };
  const opened: Listener[] = [];
  try {
    if (ports.http > 0) {
      const server = http.createServer(checking, (request, response) => handleHttp(request, response, deps));
      tune(server);
      servers.push(server);
      opened.push(await listen(server, host, ports.http, 'http', 'http'));
    }
    if (ports.https > 0) {
      // No SNICallback here: Node runs it after the ALPN choice and it would replace the challenge certificate;
      // the server's own context is swapped on every reload instead (below).
      const { key, cert, minVersion, ciphers, honorCipherOrder } = deps.tls.tlsOptions();
      const server = https.createServer(
        {
          ...checking,
          key,
          cert,
          minVersion,
          ciphers,
          honorCipherOrder,
          ALPNCallback: alpnChooser(deps.challenges),
          handshakeTimeout: limits.headersTimeoutMs,
        },
        (request, response) => handleHttps(request, response, deps),
      );
      // A validation handshake (acme-tls/1) carries no HTTP: close it once the CA has seen the certificate.
      server.prependListener('secureConnection', (socket: tls.TLSSocket) => {
        if (socket.alpnProtocol === 'acme-tls/1') socket.end();
      });
      server.on('tlsClientError', (_error, socket) => socket.destroy());
      const unwatch = deps.tls.onReload(() => server.setSecureContext(deps.tls.tlsOptions()));
      server.once('close', unwatch);
      tune(server);
      servers.push(server);
      opened.push(await listen(server, host, ports.https, 'https', 'https'));
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { listeners: opened, close };
}
