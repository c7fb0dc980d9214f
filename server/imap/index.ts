// IMAP service: `createImapService(ctx)` for server/app.ts; `ImapServer` for tests and benchmarks.
import type { AppContext, Service } from '../context.js';
import { ImapServer } from './engine/server.js';
import { imapLimitsFromEnv, imapPlaintextLoginOnLoopback } from './settings.js';

export { ImapServer, type ImapServerConfig, type ImapServerDeps } from './engine/server.js';
export { DEFAULT_LIMITS, type ImapLimits } from './runtime.js';
export { IMAP_ENV, IMAP_PLAINTEXT_ON_LOOPBACK_ENV, imapLimitsFromEnv, imapPlaintextLoginOnLoopback } from './settings.js';

export function createImapService(ctx: AppContext): Service {
  // SEALPOST_IMAP_* limits; a bad value fails here, before anything listens.
  const limits = imapLimitsFromEnv(ctx.config.env);
  const server = new ImapServer(
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
