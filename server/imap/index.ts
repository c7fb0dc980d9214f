// IMAP service: `createImapService(ctx)` for server/app.ts; `ImapServer` for tests and benchmarks.
import type { AppContext, Service } from '../context.js';
import { EngineImapServer } from './engine/server.js';
import { ImapServer } from './server.js';
import { imapEngineFromEnv, imapLimitsFromEnv, imapPlaintextLoginOnLoopback } from './settings.js';

export { ImapServer, type ImapServerConfig, type ImapServerDeps } from './server.js';
export { DEFAULT_LIMITS, type ImapLimits } from './runtime.js';
export { EngineImapServer } from './engine/server.js';
export { IMAP_ENGINE_ENV, IMAP_ENV, IMAP_PLAINTEXT_ON_LOOPBACK_ENV, imapEngineFromEnv, imapLimitsFromEnv, imapPlaintextLoginOnLoopback, type ImapEngine } from './settings.js';

export function createImapService(ctx: AppContext): Service {
  // SEALPOST_IMAP_* limits; a bad value fails here, before anything listens.
  const limits = imapLimitsFromEnv(ctx.config.env);
  const Server = imapEngineFromEnv(ctx.config.env) === 'own' ? EngineImapServer : ImapServer;
  const server = new Server(
    {
      logger: ctx.logger.child({ service: 'imap' }),
      authenticate: (address, password, context) => ctx.accounts.authenticate(address, password, context),
      store: ctx.mailboxes,
      tls: ctx.tls,
    },
    {
      host: ctx.config.host,
      port: ctx.config.ports.imap,
      securePort: ctx.config.ports.imaps,
      limits,
      plaintextLoginOnLoopback: imapPlaintextLoginOnLoopback(ctx.config.env),
    },
  );
  return { name: 'imap', start: () => server.start(), stop: () => server.stop() };
}
