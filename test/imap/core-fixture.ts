// The shared IMAP fixture (real accounts, encrypted mailbox files, our certificate) running our own engine,
// with the engine object at hand for its buffer statistics and connection count.
import { EngineImapServer } from '../../server/imap/engine/server.js';
import type { ImapLimits } from '../../server/imap/index.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';

export interface EngineFixture {
  readonly fx: ImapFixture;
  readonly engine: EngineImapServer;
  readonly port: number;
  readonly securePort: number;
  close(): Promise<void>;
}

export async function startEngineFixture(options: { limits?: Partial<ImapLimits>; plaintextLoginOnLoopback?: boolean } = {}): Promise<EngineFixture> {
  const fx = await startImapFixture({ ...options, engine: 'own' });
  if (!(fx.server instanceof EngineImapServer)) throw new Error('the fixture did not start the own engine');
  return { fx, engine: fx.server, port: fx.port, securePort: fx.securePort, close: () => fx.close() };
}
