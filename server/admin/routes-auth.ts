// /api/auth/*: first-run setup, login (rate limited), logout, admin password and TOTP; /auth/token for the
// desktop shell's one-time local sign-in.
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CSRF_COOKIE, SESSION_COOKIE, cookie, parseCookies, sendError, type AdminDeps } from './http.js';
import { WrongAdminCredentials, type AdminSession } from './auth.js';
import { isLoopbackAddress } from '../net.js';

const password = { type: 'string', minLength: 1, maxLength: 1024 } as const;

function isSecure(deps: AdminDeps, request: FastifyRequest): boolean {
  return deps.https || request.protocol === 'https';
}

export function startSession(deps: AdminDeps, request: FastifyRequest, reply: FastifyReply, via: AdminSession['via']): AdminSession {
  const session = deps.auth.createSession(via);
  const secure = isSecure(deps, request);
  reply.header('set-cookie', [
    cookie(SESSION_COOKIE, session.id, { httpOnly: true, maxAge: deps.auth.maxAgeSeconds, secure }),
    cookie(CSRF_COOKIE, session.csrf, { httpOnly: false, maxAge: deps.auth.maxAgeSeconds, secure }),
  ]);
  return session;
}

/**
 * The failure limiter's key: the client IP. Requests a reverse proxy on this machine relays (loopback peer
 * with X-Forwarded-For, proxy not trusted) share one key of their own, so failures from the internet never
 * lock out the owner who connects to loopback directly.
 */
export function limiterKey(deps: AdminDeps, request: FastifyRequest): string {
  const peer = request.socket.remoteAddress;
  if (!deps.trustProxy && isLoopbackAddress(peer) && request.headers['x-forwarded-for'] !== undefined) return 'via-local-proxy';
  return request.ip;
}

/** Counts a failed secret check and logs it in the stable security format. */
function failed(deps: AdminDeps, request: FastifyRequest, reason: string): void {
  deps.limiter.fail(limiterKey(deps, request));
  deps.securityLog.authFailed(request.ip, reason);
}

/** Refuses while the client is locked out; returns true when the handler may go on. */
function allowAttempt(deps: AdminDeps, request: FastifyRequest, reply: FastifyReply): boolean {
  const wait = deps.limiter.retryAfterMs(limiterKey(deps, request));
  if (wait <= 0) return true;
  reply.header('retry-after', String(Math.ceil(wait / 1000)));
  deps.events.add('admin.login_locked_out');
  deps.securityLog.note('auth.lockout', request.ip, 'too-many-failures');
  sendError(reply, 429, `Too many failed attempts; try again in ${Math.max(1, Math.ceil(wait / 60_000))} minute(s).`, 'TOO_MANY_ATTEMPTS');
  return false;
}

export function registerAuthRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { auth, limiter, events } = deps;

  app.get('/api/auth/state', { config: { public: true } }, async (request, reply) => {
    const session = request.adminSession;
    let csrfToken = session?.csrf ?? parseCookies(request.headers.cookie)[CSRF_COOKIE] ?? '';
    if (!session && !/^[A-Za-z0-9_-]{32,}$/.test(csrfToken)) {
      csrfToken = crypto.randomBytes(32).toString('base64url');
      reply.header('set-cookie', cookie(CSRF_COOKIE, csrfToken, { httpOnly: false, maxAge: 24 * 3600, secure: isSecure(deps, request) }));
    }
    return { setupRequired: !auth.isSetUp(), authenticated: session !== null, totpEnabled: auth.totpSecret() !== null, csrfToken };
  });

  app.post<{ Body: { token: string; password: string } }>(
    '/api/auth/setup',
    {
      config: { public: true },
      schema: { body: { type: 'object', required: ['token', 'password'], additionalProperties: false, properties: { token: { type: 'string', minLength: 1, maxLength: 200 }, password } } },
    },
    async (request, reply) => {
      if (!allowAttempt(deps, request, reply)) return reply;
      if (auth.setupClaimed()) return sendError(reply, 409, 'The admin password is already set; sign in instead.', 'ALREADY_SET_UP');
      if (!auth.checkSetupToken(request.body.token)) {
        failed(deps, request, 'bad-setup-token');
        events.add('admin.setup_refused');
        return sendError(reply, 403, 'This setup link is not valid (it works once, until the server restarts).', 'BAD_SETUP_TOKEN');
      }
      await auth.completeSetup(request.body.token, request.body.password);
      limiter.succeed(limiterKey(deps, request));
      const session = startSession(deps, request, reply, 'setup');
      events.add('admin.setup_done');
      return { ok: true, csrfToken: session.csrf };
    },
  );

  app.post<{ Body: { password: string; code?: string } }>(
    '/api/auth/login',
    {
      config: { public: true },
      schema: {
        body: { type: 'object', required: ['password'], additionalProperties: false, properties: { password, code: { type: 'string', maxLength: 12 } } },
      },
    },
    async (request, reply) => {
      if (!allowAttempt(deps, request, reply)) return reply;
      if (!auth.isSetUp()) return sendError(reply, 409, 'No admin password is set yet; open the setup link the server printed.', 'SETUP_REQUIRED');
      try {
        await auth.checkLogin(request.body.password, request.body.code);
      } catch (error) {
        if (!(error instanceof WrongAdminCredentials)) throw error;
        failed(deps, request, error.reason);
        events.add('admin.login_failed');
        return sendError(reply, 401, error.message, 'AUTH_FAILED');
      }
      limiter.succeed(limiterKey(deps, request));
      const session = startSession(deps, request, reply, 'password');
      events.add('admin.login');
      return { ok: true, csrfToken: session.csrf };
    },
  );

  app.post('/api/auth/logout', async (request, reply) => {
    if (request.adminSession) auth.endSession(request.adminSession.id);
    const secure = isSecure(deps, request);
    reply.header('set-cookie', [cookie(SESSION_COOKIE, '', { httpOnly: true, maxAge: 0, secure }), cookie(CSRF_COOKIE, '', { httpOnly: false, maxAge: 0, secure })]);
    return { ok: true };
  });

  app.post<{ Body: { currentPassword?: string; newPassword: string } }>(
    '/api/auth/password',
    {
      schema: {
        body: { type: 'object', required: ['newPassword'], additionalProperties: false, properties: { currentPassword: password, newPassword: password } },
      },
    },
    async (request, reply) => {
      const session = request.adminSession as AdminSession;
      // Signed in by the desktop token with no admin password yet: no current password to check.
      if (auth.isSetUp()) {
        if (!allowAttempt(deps, request, reply)) return reply;
        if (!request.body.currentPassword || !(await auth.verifyPassword(request.body.currentPassword))) {
          failed(deps, request, 'bad-password');
          return sendError(reply, 403, 'The current password is wrong.', 'AUTH_FAILED');
        }
      }
      await auth.setPassword(request.body.newPassword);
      auth.endOtherSessions(session.id);
      events.add('admin.password_changed');
      return { ok: true };
    },
  );

  app.post('/api/auth/totp/begin', async (request) => {
    const session = request.adminSession as AdminSession;
    return auth.beginTotp(session, `admin@${deps.ctx.config.hostname}`);
  });

  app.post<{ Body: { code: string } }>(
    '/api/auth/totp/enable',
    { schema: { body: { type: 'object', required: ['code'], additionalProperties: false, properties: { code: { type: 'string', minLength: 6, maxLength: 12 } } } } },
    async (request, reply) => {
      if (!allowAttempt(deps, request, reply)) return reply;
      try {
        auth.enableTotp(request.adminSession as AdminSession, request.body.code);
      } catch (error) {
        if (error instanceof WrongAdminCredentials) failed(deps, request, error.reason);
        throw error;
      }
      events.add('admin.totp_enabled');
      return { ok: true };
    },
  );

  app.post<{ Body: { password: string } }>(
    '/api/auth/totp/disable',
    { schema: { body: { type: 'object', required: ['password'], additionalProperties: false, properties: { password } } } },
    async (request, reply) => {
      if (!allowAttempt(deps, request, reply)) return reply;
      try {
        await auth.disableTotp(request.body.password);
      } catch (error) {
        if (error instanceof WrongAdminCredentials) failed(deps, request, error.reason);
        throw error;
      }
      events.add('admin.totp_disabled');
      return { ok: true };
    },
  );

  // The desktop shell opens /auth/token?t=<one-time token>; the token is spent and the window is signed in.
  app.get<{ Querystring: { t?: string } }>(
    '/auth/token',
    { config: { public: true }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { t: { type: 'string', maxLength: 200 } } } } },
    async (request, reply) => {
      if (!allowAttempt(deps, request, reply)) return reply;
      if (!request.query.t || !auth.useUiToken(request.query.t)) {
        failed(deps, request, 'bad-ui-token');
        events.add('admin.token_refused');
        return reply.code(403).type('text/plain; charset=utf-8').send('This sign-in link was already used or is not valid.\n');
      }
      startSession(deps, request, reply, 'token');
      events.add('admin.token_login');
      return reply.redirect('/', 303);
    },
  );
}
