// The shared IMAP fixture (real accounts, encrypted mailbox files, our certificate), with the server object at hand for its buffer statistics and connection count.
import { ImapServer, type ImapLimits } from '../../server/imap/index.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';

export interface EngineFixture {
  readonly fx: ImapFixture;
  readonly engine: ImapServer;
  readonly port: number;
  readonly securePort: number;
  close(): Promise<void>;
}

export async function startEngineFixture(options: { limits?: Partial<ImapLimits>; plaintextLoginOnLoopback?: boolean } = {}): Promise<EngineFixture> {
  const fx = await startImapFixture(options);
  return { fx, engine: fx.server, port: fx.port, securePort: fx.securePort, close: () => fx.close() };
}
