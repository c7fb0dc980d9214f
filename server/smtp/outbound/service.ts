// Wiring of the outbound queue into the appliance: the queue object every process opens (serve and the
// CLI share outbound.sqlite through WAL), and the delivery worker that only `serve` runs.
import type { Accounts } from '../../accounts/index.js';
import type { DataLayout } from '../../config/index.js';
import type { AppContext, Listener, Service } from '../../context.js';
import type { Directory } from '../../directory/index.js';
import { SecretStore } from '../../keychain/index.js';
import type { Logger } from '../../log.js';
import { resolverFromEnv } from '../dns.js';
import { OutboundQueue } from './index.js';
import { outboundOptionsFromEnv } from './options.js';

export interface OpenOutboundOptions {
  readonly paths: DataLayout;
  readonly appKey: Buffer;
  readonly logger: Logger;
  readonly hostname: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly directory: Directory;
  /** Late-bound: DSNs go through accounts.deliverOrQueue (sealed queue when the mailbox is locked). */
  readonly accounts: () => Accounts | null;
}

export function openOutboundQueue(options: OpenOutboundOptions): OutboundQueue {
  return new OutboundQueue({
    file: options.paths.outboundDb,
    appKey: options.appKey,
    logger: options.logger,
    hostname: options.hostname,
    resolver: resolverFromEnv(options.env),
    options: outboundOptionsFromEnv(options.env),
    secrets: new SecretStore(options.paths.root, options.appKey, { ...options.env }),
    notifySender: async (sender, aliasId, raw) => {
      const accounts = options.accounts();
      const alias = (aliasId ? options.directory.getAliasById(aliasId) : null) ?? options.directory.getAlias(sender);
      if (!alias || !accounts) return false;
      await accounts.deliverOrQueue(alias, raw, { folder: 'INBOX', receivedAt: new Date() });
      return true;
    },
  });
}

/** The background delivery worker (no listener). */
export function createOutboundService(ctx: AppContext): Service {
  return {
    name: 'outbound',
    async start(): Promise<Listener[]> {
      ctx.outbound.start();
      return [];
    },
    async stop(): Promise<void> {
      await ctx.outbound.stop();
    },
  };
}
