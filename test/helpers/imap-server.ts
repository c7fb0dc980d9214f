// A real Sealpost IMAP server for tests and benchmarks: temp data dir, encrypted directory and mailbox
// files, accounts with real (cheap) argon2id, our self-signed certificate, free loopback ports.
// Logs are collected in memory so tests can assert what was (not) written.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Accounts } from '../../server/accounts/index.js';
import { TlsMaterial } from '../../server/config/tls.js';
import { KeyRing, type KdfParams } from '../../server/crypto/index.js';
import { Directory } from '../../server/directory/index.js';
import { ImapServer, type ImapLimits } from '../../server/imap/index.js';
import type { Logger } from '../../server/log.js';
import { openMailboxStore } from '../../server/mailbox/index.js';
import type { Mailbox, MailboxStore } from '../../server/mailbox/types.js';
import { openSealedQueue, type SealedQueue } from '../../server/queue/index.js';
import { freePorts } from './ports.js';

export const TEST_KDF = { algorithm: 'argon2id', memoryKiB: 8192, iterations: 1, parallelism: 1 } as const;

export interface ImapFixture {
  readonly dataDir: string;
  readonly host: '127.0.0.1';
  /** STARTTLS / plaintext-on-loopback port, and implicit TLS port. */
  readonly port: number;
  readonly securePort: number;
  readonly server: ImapServer;
  readonly accounts: Accounts;
  readonly store: MailboxStore;
  readonly tls: TlsMaterial;
  /** Every log line written so far (JSON strings). */
  readonly logs: string[];
  /** Creates an alias and returns its address and password. */
  addUser(local: string, quotaBytes?: number | null): Promise<{ address: string; password: string }>;
  /** The unlocked mailbox of an alias (logs in through accounts like a protocol would). */
  mailboxOf(address: string, password: string): Promise<Mailbox>;
  close(): Promise<void>;
}

export async function startImapFixture(
  options: {
    limits?: Partial<ImapLimits>;
    logLevel?: string;
    plaintextLoginOnLoopback?: boolean;
    kdf?: KdfParams;
  } = {},
): Promise<ImapFixture> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  for (const sub of ['mailboxes', 'queue', 'tls']) fs.mkdirSync(path.join(dataDir, sub), { mode: 0o700 });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger: Logger = pino({ level: options.logLevel ?? 'debug' }, sink);
  const directory = Directory.open(path.join(dataDir, 'sealpost.db'), crypto.randomBytes(32));
  directory.addDomain('example.test');
  const store = openMailboxStore(dataDir, { logger });
  const queue: SealedQueue = openSealedQueue(dataDir, crypto.randomBytes(32));
  let accounts: Accounts | null = null;
  const keyRing = new KeyRing({ onDrop: (id) => accounts?.handleKeysDropped(id) });
  accounts = new Accounts({ directory, mailboxes: store, keyRing, queue, logger, kdf: options.kdf ?? TEST_KDF });
  const tls = await TlsMaterial.open({ tlsDir: path.join(dataDir, 'tls'), hostname: 'localhost', logger });
  const [port, securePort] = (await freePorts(2)) as [number, number];
  const liveAccounts = accounts;
  const deps = { logger, authenticate: (a: string, p: string, c: Parameters<Accounts['authenticate']>[2]) => liveAccounts.authenticate(a, p, c), store, tls };
  const config = { host: '127.0.0.1', port, securePort, limits: options.limits, plaintextLoginOnLoopback: options.plaintextLoginOnLoopback };
  const server = new ImapServer(deps, config);
  await server.start();
  const sessions: { release(): void }[] = [];
  return {
    dataDir,
    host: '127.0.0.1',
    port,
    securePort,
    server,
    accounts: liveAccounts,
    store,
    tls,
    logs,
    async addUser(local, quotaBytes = null) {
      const address = `${local}@example.test`;
      const password = `Tangerine orbit 42 lanterns ${local.length}x`;
      await liveAccounts.createAlias(address, password, { quotaBytes });
      return { address, password };
    },
    async mailboxOf(address, password) {
      const session = await liveAccounts.authenticate(address, password, { ip: '127.0.0.1', protocol: 'cli' });
      sessions.push(session);
      return session.mailbox;
    },
    async close() {
      await server.stop();
      for (const s of sessions) s.release();
      keyRing.dropAll();
      await store.closeAll();
      queue.close();
      tls.close();
      directory.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
