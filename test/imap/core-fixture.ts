// The shared IMAP fixture (real accounts, encrypted mailbox files, our certificate) with our own engine
// listening on extra ports next to it, until test/helpers/imap-server.ts offers `engine: 'own'`.
import { EngineImapServer } from '../../server/imap/engine/server.js';
import type { ImapLimits } from '../../server/imap/index.js';
import { freePorts } from '../helpers/ports.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';

export interface EngineFixture {
  readonly fx: ImapFixture;
  readonly engine: EngineImapServer;
  readonly port: number;
  readonly securePort: number;
  close(): Promise<void>;
}

export async function startEngineFixture(options: { limits?: Partial<ImapLimits>; plaintextLoginOnLoopback?: boolean } = {}): Promise<EngineFixture> {
  const fx = await startImapFixture({ limits: options.limits, plaintextLoginOnLoopback: options.plaintextLoginOnLoopback });
  const [port, securePort] = (await freePorts(2)) as [number, number];
  const pino = (await import('pino')).pino;
  const { Writable } = await import('node:stream');
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        fx.logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    }),
  );
  const engine = new EngineImapServer(
    { logger, authenticate: (a, p, c) => fx.accounts.authenticate(a, p, c), store: fx.store, tls: fx.tls },
    { host: '127.0.0.1', port, securePort, limits: options.limits, plaintextLoginOnLoopback: options.plaintextLoginOnLoopback },
  );
  await engine.start();
  return {
    fx,
    engine,
    port,
    securePort,
    async close() {
      await engine.stop();
      await fx.close();
    },
  };
}
