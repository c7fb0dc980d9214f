// The admin service: fastify on SEALPOST_ADMIN_PORT (loopback by default) with the JSON API under /api,
// the built Svelte UI at /, and public mail-client autoconfig. On first start with no admin password it
// prints a one-time setup link; the desktop shell signs in with a one-time local token (see auth.ts).
import fs from 'node:fs';
import type tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { AppContext, Listener, Service } from '../context.js';
import { ListenError } from '../net.js';
import { AdminAuth, FailureLimiter, type AdminSession } from './auth.js';
import { EventRing } from './events.js';
import { AdminSecurityLog, adminConnectionLimits } from './guard.js';
import { buildHttp, type AdminDeps, type AdminRoute } from './http.js';
import { Jobs } from './jobs.js';
import { AdminOps } from './ops.js';
import { registerAppPasswordRoutes } from './routes-app-passwords.js';
import { registerAuthRoutes } from './routes-auth.js';
import { registerAutoconfigRoutes } from './routes-autoconfig.js';
import { registerCertificateRoutes } from './routes-certificate.js';
import { dropDownload, registerDataRoutes } from './routes-data.js';
import { adminExposureWarning, adminTlsEnabled } from './exposure.js';
import { registerHostnameRoutes } from './routes-hostname.js';
import { registerMailRoutes } from './routes-mail.js';
import { registerRulesRoutes } from './routes-rules.js';
import { registerOutgoingRoutes } from './routes-outgoing.js';
import { registerReportRoutes } from './routes-reports.js';
import { registerSettingsRoutes } from './routes-settings.js';

export { adminExposureWarning, adminTlsEnabled, isLoopback } from './exposure.js';
export { UI_TOKEN_FILE } from './auth.js';

/** renderer/dist next to this checkout, or SEALPOST_UI_DIR (packaged builds). */
export function uiDirectory(env: Readonly<Record<string, string | undefined>>): string | null {
  const dir = env.SEALPOST_UI_DIR || fileURLToPath(new URL('../../renderer/dist', import.meta.url));
  return fs.existsSync(`${dir}/index.html`) ? fs.realpathSync(dir) : null;
}

export interface AdminServiceOptions {
  /** Where the setup link is printed (default: the process's stderr, so stdout keeps listener lines and JSON logs). */
  readonly announce?: (line: string) => void;
}

/** Where the admin's sessions are kept across a restart (RestartPort.kept). */
const KEPT_SESSIONS = 'admin.sessions';

/** Builds the fastify app without listening (tests and the service share it). */
export function createAdminApp(ctx: AppContext): { app: FastifyInstance; deps: AdminDeps } {
  const https = adminTlsEnabled(ctx.config.env, ctx.directory);
  const uiToken = ctx.config.env.SEALPOST_UI_TOKEN;
  const trustProxy = /^(1|true|on|yes)$/i.test(ctx.config.env.SEALPOST_ADMIN_TRUST_PROXY ?? '');
  // Under serve, the signed-in sessions outlive a restart: the page that asked for it reconnects still signed in.
  const kept = ctx.restart?.kept;
  let sessions = kept?.get(KEPT_SESSIONS) as Map<string, AdminSession> | undefined;
  if (kept && !sessions) kept.set(KEPT_SESSIONS, (sessions = new Map()));
  const deps: AdminDeps = {
    ctx,
    auth: new AdminAuth({ settings: ctx.directory, dataDir: ctx.paths.root, uiToken: uiToken && uiToken.length >= 16 ? uiToken : null, ...(sessions ? { sessions } : {}) }),
    limiter: new FailureLimiter(Number(ctx.config.env.SEALPOST_ADMIN_MAX_FAILURES) || 5),
    jobs: new Jobs(ctx.logger),
    events: new EventRing(),
    ops: new AdminOps(ctx),
    uiDir: uiDirectory(ctx.config.env),
    https,
    securityLog: new AdminSecurityLog(ctx.logger),
    routes: [],
    trustProxy,
    downloads: new Map(),
  };
  // SNICallback hands out the current context, so a replaced certificate file is used without a restart.
  const tls = https ? { ...ctx.tls.tlsOptions() } : null;
  const extraHosts = (ctx.config.env.SEALPOST_ADMIN_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const policy = { hostname: ctx.config.hostname, listenHost: ctx.config.host, extraHosts, isLocalDomain: (name: string) => ctx.directory.isLocalDomain(name) };
  const app = buildHttp(deps, { server: { tls, limits: adminConnectionLimits(ctx.config.env), policy } });
  registerAuthRoutes(app, deps);
  registerMailRoutes(app, deps);
  registerAppPasswordRoutes(app, deps);
  registerRulesRoutes(app, deps);
  registerReportRoutes(app, deps);
  registerDataRoutes(app, deps);
  registerSettingsRoutes(app, deps);
  registerHostnameRoutes(app, deps);
  registerAutoconfigRoutes(app, deps);
  registerOutgoingRoutes(app, deps);
  registerCertificateRoutes(app, deps);
  return { app, deps };
}

/** The admin service; routes() lists what the running app registered (the security tests ask every one). */
export function createAdminService(ctx: AppContext, options: AdminServiceOptions = {}): Service & { routes(): readonly AdminRoute[] } {
  let built: { app: FastifyInstance; deps: AdminDeps } | null = null;
  let routes: readonly AdminRoute[] = [];
  return {
    name: 'admin',
    routes: () => routes,
    async start(): Promise<Listener[]> {
      const port = ctx.config.ports.admin;
      if (port === 0) return [];
      built = createAdminApp(ctx);
      const { app, deps } = built;
      routes = deps.routes;
      // Remembered aliases are unlocked at start by the control service (server/accounts/remember.ts), once.
      try {
        await app.listen({ host: ctx.config.host, port });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const reason = code === 'EADDRINUSE' ? 'the port is already in use' : code === 'EACCES' ? 'permission denied' : error instanceof Error ? error.message : String(error);
        throw new ListenError(`Cannot open the admin listener on ${ctx.config.host}:${port}: ${reason}.`);
      }
      if (deps.https) {
        // Clients without SNI get the server's default certificate: keep it the current one after a renewal.
        const server = app.server as unknown as tls.Server;
        const unwatchTls = ctx.tls.onReload(() => server.setSecureContext(ctx.tls.tlsOptions()));
        server.once('close', unwatchTls);
      }
      const address = app.server.address();
      const bound = address && typeof address === 'object' ? address.port : port;
      deps.auth.publishUiToken();
      const scheme = deps.https ? 'https' : 'http';
      const shownHost = ctx.config.host === '0.0.0.0' || ctx.config.host === '::' ? '127.0.0.1' : ctx.config.host.includes(':') ? `[${ctx.config.host}]` : ctx.config.host;
      const setupToken = deps.auth.createSetupToken();
      if (setupToken) {
        const announce = options.announce ?? ((line: string) => process.stderr.write(`${line}\n`));
        announce(`Sealpost admin setup: open ${scheme}://${shownHost}:${bound}/setup?token=${setupToken} to set the admin password (the link works once).`);
      }
      const exposure = adminExposureWarning(ctx.config.host, bound, deps.https);
      if (exposure) ctx.logger.warn({ event: 'admin.exposed_without_tls' }, exposure);
      if (!deps.uiDir) ctx.logger.warn({ event: 'admin.ui_missing' }, 'the admin UI is not built (run "npm run build:ui"); the API works');
      return [{ name: 'admin', host: ctx.config.host, port: bound, security: deps.https ? 'https' : 'http' }];
    },
    async stop(): Promise<void> {
      if (!built) return;
      const { app, deps } = built;
      built = null;
      await app.close();
      deps.securityLog.close();
      await deps.jobs.settle();
      for (const id of [...deps.downloads.keys()]) dropDownload(deps, id);
      deps.auth.removeUiTokenFile();
    },
  };
}
