// The fastify instance: cookies, sessions, CSRF, the error handler (no stack ever leaves the server),
// security headers and the built UI. Routes live in routes-*.ts and call the service layer (ops.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isUserError } from '../config/errors.js';
import type { AppContext } from '../context.js';
import { MailboxError } from '../mailbox/errors.js';
import type { AdminAuth, AdminSession, FailureLimiter } from './auth.js';
import type { EventRing } from './events.js';
import { adminServerFactory, canonicalPath, effectiveHost, isApiPath, isStructurallyOdd, requestHostAccess, sameOrigin, type AdminSecurityLog, type AdminServerOptions } from './guard.js';
import type { Jobs } from './jobs.js';
import type { AdminOps } from './ops.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without a session (login, setup, autoconfig, the UI's files). */
    public?: boolean;
    /** Skip the CSRF and Origin checks (only Outlook's autodiscover POST, which changes nothing). */
    csrf?: boolean;
    /** Mail-client autoconfiguration: also reachable through autoconfig.<domain>, autodiscover.<domain>, <domain>. */
    mailClient?: boolean;
  }
  interface FastifyRequest {
    adminSession: AdminSession | null;
  }
}

export interface AdminDeps {
  readonly ctx: AppContext;
  readonly auth: AdminAuth;
  readonly limiter: FailureLimiter;
  readonly jobs: Jobs;
  readonly events: EventRing;
  readonly ops: AdminOps;
  /** The built UI (renderer/dist) or null when it is not built. */
  readonly uiDir: string | null;
  /** The admin listener speaks HTTPS (cookies get Secure). */
  readonly https: boolean;
  /** Refusals and failed sign-ins are logged through this (bounded rate). */
  readonly securityLog: AdminSecurityLog;
  /** X-Forwarded-* headers are trusted (SEALPOST_ADMIN_TRUST_PROXY). */
  readonly trustProxy: boolean;
  /** Every route registered on the app (filled by buildHttp's onRoute hook): what is public, what writes. */
  readonly routes: AdminRoute[];
  /** Export files waiting for their one download: job id → file. */
  readonly downloads: Map<string, { file: string; name: string; aliasId: string }>;
}

/** One registered route as the authorization sees it. */
export interface AdminRoute {
  readonly method: string;
  readonly url: string;
  /** Reachable without a session. */
  readonly public: boolean;
  /** Checked for the CSRF token and a same-origin Origin when it writes. */
  readonly csrf: boolean;
  readonly mailClient: boolean;
}

export const SESSION_COOKIE = 'sp_session';
/**
 * connect-src: this origin, and this host on any port: after "Restart Sealpost now" moves the admin listener to
 * another port, the page asks the new port whether Sealpost is back before it goes there (the Host allow-list
 * has already vetted the name; anything else in it leaves just 'self').
 */
function connectSources(hostname: string): string {
  if (!/^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])$/.test(hostname)) return "connect-src 'self'; ";
  return `connect-src 'self' http://${hostname}:* https://${hostname}:*; `;
}

export const CSRF_COOKIE = 'sp_csrf';

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in out) continue;
    try {
      out[name] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // a malformed cookie value is ignored
    }
  }
  return out;
}

export function cookie(name: string, value: string, options: { httpOnly: boolean; maxAge: number; secure: boolean }): string {
  return [`${name}=${encodeURIComponent(value)}`, 'Path=/', `Max-Age=${options.maxAge}`, 'SameSite=Strict', options.httpOnly ? 'HttpOnly' : '', options.secure ? 'Secure' : '']
    .filter(Boolean)
    .join('; ');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/** Status for a user error code (everything else a user can fix is 400). */
function statusOf(code: string): number {
  if (/^(UNKNOWN_|NO_REMOTE$|NO_GENERATION$|NOT_FOUND$)/.test(code)) return 404;
  if (/(_EXISTS|_IN_USE|_LOCKED|^MAILBOX_LOCKED|^LOCKED)$/.test(code)) return 409;
  if (code === 'AUTH_FAILED') return 403;
  if (code === 'TOO_MANY_ATTEMPTS') return 429;
  if (/^REMOTE_(TIMEOUT|AUTH|BUCKET|UNREACHABLE|DAMAGED|SECRET)$|^REMOTE$|^NO_RCLONE$/.test(code)) return 502;
  return 400;
}

export function sendError(reply: FastifyReply, status: number, message: string, code?: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: message, ...(code ? { code } : {}) });
}

export function buildHttp(deps: AdminDeps, options: { server: Omit<AdminServerOptions, 'securityLog' | 'trustProxy'> }): FastifyInstance {
  const { ctx, auth } = deps;
  const app = Fastify({
    logger: false,
    trustProxy: deps.trustProxy,
    bodyLimit: 1024 * 1024,
    // Our own http(s) server: connection caps and the Host allow-list run before fastify routes anything.
    serverFactory: adminServerFactory({ ...options.server, securityLog: deps.securityLog, trustProxy: deps.trustProxy }),
    // Unknown properties are errors (not silently dropped) and types are never coerced (42 is not "42"),
    // so a client's mistake is a clear 400. Numeric path/query parts are declared as digit strings.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  }) as unknown as FastifyInstance;

  app.decorateRequest('adminSession', null);
  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as { public?: boolean; csrf?: boolean; mailClient?: boolean };
    for (const method of [route.method].flat()) {
      deps.routes.push({ method, url: route.url, public: config.public === true, csrf: config.csrf !== false, mailClient: config.mailClient === true });
    }
  });

  // Outlook posts XML; keep it as text (bounded by bodyLimit) for the autodiscover route.
  app.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string' }, (_request, body, done) => done(null, body));

  const refuse = (request: FastifyRequest, reply: FastifyReply, status: number, reason: string, message: string, code: string): FastifyReply => {
    deps.securityLog.note('http.refused', request.ip, reason);
    return sendError(reply, status, message, code);
  };

  // Authorization is decided on the route fastify matched (never on the URL text), deny by default: a route
  // is reachable without a session only when it is marked public. A request that matched no route is judged
  // by its canonical path, so no spelling of /api (%61pi, //api, /x/../api, /api/) gets past the session check.
  app.addHook('onRequest', async (request, reply) => {
    const cookies = parseCookies(request.headers.cookie);
    request.adminSession = auth.session(cookies[SESSION_COOKIE]);
    const config = request.routeOptions.config;
    const matched = request.routeOptions.url !== undefined;
    // A path that is not canonical in structure (//, dot segments, encoded slashes, trailing slash) never
    // reaches a route's handler: what it matched may not be what its canonical form names.
    const odd = isStructurallyOdd(request.url);
    const api = isApiPath(canonicalPath(request.url));
    if (requestHostAccess(request.raw) === 'mail-client' && !(matched && !odd && config.mailClient === true)) {
      return refuse(request, reply, 421, 'bad-host', 'This host name only serves mail client configuration.', 'BAD_HOST');
    }
    const isPublic = matched && !odd && config.public === true;
    const needsSession = matched ? !isPublic : api;
    if (needsSession && !request.adminSession) return refuse(request, reply, 401, 'no-session', 'Sign in first.', 'UNAUTHENTICATED');
    if (matched && odd) return sendError(reply, 404, 'No such API endpoint (use the canonical path).', 'NOT_FOUND');
    if (!['GET', 'HEAD', 'OPTIONS'].includes(request.method) && config.csrf !== false) {
      const header = request.headers['x-csrf-token'];
      const sent = typeof header === 'string' ? header : '';
      const fromCookie = cookies[CSRF_COOKIE] ?? '';
      const ok = sent !== '' && same(sent, fromCookie) && (!request.adminSession || same(sent, request.adminSession.csrf));
      if (!ok) return refuse(request, reply, 403, 'csrf', 'Missing or stale security token; reload the page and try again.', 'CSRF');
      const scheme = deps.https || request.protocol === 'https' ? 'https' : 'http';
      const origin = request.headers.origin;
      if (!sameOrigin(typeof origin === 'string' ? origin : undefined, scheme, effectiveHost(request.headers, deps.trustProxy))) {
        return refuse(request, reply, 403, 'bad-origin', 'This request did not come from the Sealpost admin page (Origin header).', 'ORIGIN');
      }
    }
    return undefined;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer'); // the setup link's token never leaves in a Referer
    reply.header('x-frame-options', 'DENY');
    reply.header('content-security-policy', `default-src 'self'; ${connectSources(request.hostname)}img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'`);
    if (isApiPath(canonicalPath(request.url)) && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler((fastifyError: FastifyError, request, reply) => {
    if (fastifyError.validation) return sendError(reply, 400, `Invalid request: ${fastifyError.message}.`, 'VALIDATION');
    const error: unknown = fastifyError;
    if (isUserError(error)) {
      const status = statusOf(error.code);
      if (status === 429 && 'retryAfterMs' in error) reply.header('retry-after', String(Math.ceil(Number(error.retryAfterMs) / 1000)));
      return sendError(reply, status, error.message, error.code);
    }
    if (error instanceof MailboxError) {
      const status = error.code === 'WRONG_KEY' ? 403 : error.code === 'MAILBOX_LOCKED' ? 409 : error.code === 'OVER_QUOTA' ? 409 : 400;
      return sendError(reply, status, error.message, error.code);
    }
    // fastify's own client errors (bad JSON, wrong content type, body too large) carry a 4xx status.
    const status = fastifyError.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(reply, status, fastifyError.message, fastifyError.code);
    ctx.logger.error({ event: 'admin.error', method: request.method, route: request.routeOptions.url ?? null, err: fastifyError.message }, 'admin request failed');
    return sendError(reply, 500, 'Something went wrong on the server; see its log.', 'INTERNAL');
  });

  app.setNotFoundHandler((request, reply) => {
    if (isApiPath(canonicalPath(request.url))) return sendError(reply, 404, 'No such API endpoint.', 'NOT_FOUND');
    return serveUi(deps, request, reply);
  });

  return app;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Files of the built UI; any other path gets index.html (the UI routes in the browser). */
export function serveUi(deps: AdminDeps, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (request.method !== 'GET' && request.method !== 'HEAD') return sendError(reply, 404, 'Not found.', 'NOT_FOUND');
  if (!deps.uiDir) {
    return reply.code(503).type('text/plain; charset=utf-8').send('The Sealpost admin UI is not built yet: run "npm run build:ui" (npm start does it), then reload.\n');
  }
  const pathname = decodeURIComponentSafe(request.url.split('?')[0] ?? '/');
  const root = deps.uiDir;
  const candidate = path.resolve(root, `.${path.posix.normalize(pathname)}`);
  const inside = candidate.startsWith(root + path.sep);
  let file = inside && fs.existsSync(candidate) && fs.statSync(candidate).isFile() ? candidate : path.join(root, 'index.html');
  if (!fs.existsSync(file)) file = path.join(root, 'index.html');
  const hashed = file.includes(`${path.sep}assets${path.sep}`);
  reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
  return reply.type(TYPES[path.extname(file)] ?? 'application/octet-stream').send(fs.createReadStream(file));
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return '/';
  }
}
