// The certificates service: the public HTTP/HTTPS listeners (ACME challenges, MTA-STS policy) and the ACME
// certificate manager, started by app.ts before the mail listeners so they pick up an issued certificate.
import { acmeSettings, ACME_STATUS_SETTING, type AcmeStatus } from '../config/acme.js';
import { mtaStsSettings } from '../config/mta-sts-policy.js';
import type { AppContext, Listener, Service } from '../context.js';
import { ChallengeBook } from './challenges.js';
import { CertificateManager } from './manager.js';
import { openWebListeners, webLimits, type WebListeners } from './web.js';

export { CertificateManager } from './manager.js';

export function createCertificatesService(ctx: AppContext): Service & { readonly manager: CertificateManager } {
  const { config } = ctx;
  // Settings are read here so a malformed value stops serve with one sentence before anything listens.
  const settings = acmeSettings(config.env, config);
  const mtaSts = mtaStsSettings(config.env);
  const limits = webLimits(config.env);
  const logger = ctx.logger.child({ component: 'certs' });
  const challenges = new ChallengeBook();
  const manager = new CertificateManager({
    settings,
    tlsDir: ctx.paths.tlsDir,
    appKey: ctx.appKey,
    hostname: config.hostname,
    domains: () => ctx.directory.listDomains().map((d) => d.name),
    ports: { http: config.ports.http, https: config.ports.https },
    tls: ctx.tls,
    challenges,
    status: { get: () => ctx.directory.getSetting(ACME_STATUS_SETTING), set: (value: AcmeStatus) => ctx.directory.setSetting(ACME_STATUS_SETTING, value) },
    logger,
  });
  let web: WebListeners | null = null;
  return {
    name: 'certificates',
    manager,
    async start(): Promise<Listener[]> {
      web = await openWebListeners(config.host, config.ports, {
        hostname: config.hostname,
        endpoints: config,
        isLocalDomain: (domain) => ctx.directory.isLocalDomain(domain),
        mtaSts,
        challenges,
        tls: ctx.tls,
        httpsPort: config.ports.https,
        limits,
        logger,
      });
      if (!settings.enabled) logger.info({ event: 'acme.off' }, `ACME certificates are ${settings.reason}`);
      manager.start();
      return web.listeners;
    },
    async stop(): Promise<void> {
      await manager.stop();
      await web?.close();
      web = null;
    },
  };
}
