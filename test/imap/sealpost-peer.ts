// Sealpost as a script peer: the shared IMAP fixture, with deliveries and folders made through the store
// (fixture.mailboxOf(...)), so setup needs no IMAP command.
import fs from 'node:fs';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import type { ScriptPeer, ScriptUser } from './script-runner.js';

export type SealpostEngine = 'old' | 'own';

/** True once the shared fixture can start the new engine (its `engine` option exists). */
export function ownEngineAvailable(): boolean {
  const source = fs.readFileSync(new URL('../helpers/imap-server.ts', import.meta.url), 'utf8');
  return /\bengine\??:/.test(source);
}

/** Starts a fixture on the given engine; every addUser makes a fresh alias, so scripts never share a mailbox. */
export async function startSealpostPeer(engine: SealpostEngine): Promise<ScriptPeer & { readonly fixture: ImapFixture }> {
  if (engine === 'own' && !ownEngineAvailable()) throw new Error('the IMAP fixture has no engine option yet: the new engine is not wired in');
  // The `engine` option selects the new protocol engine; the old one is the fixture's default.
  const options = engine === 'own' ? { engine, logLevel: 'warn' } : { logLevel: 'warn' };
  const fixture = await startImapFixture(options as Parameters<typeof startImapFixture>[0]);
  let counter = 0;
  return {
    name: `sealpost-${engine}`,
    host: fixture.host,
    port: fixture.port,
    fixture,
    async addUser(local: string): Promise<ScriptUser> {
      const { address, password } = await fixture.addUser(`${local}${++counter}`);
      return { login: address, password };
    },
    async deliver(user, folder, raw, options): Promise<void> {
      const mailbox = await fixture.mailboxOf(user.login, user.password);
      await mailbox.append(folder, raw, { flags: options.flags, internalDate: options.internalDate });
    },
    async createFolder(user, folder): Promise<void> {
      const mailbox = await fixture.mailboxOf(user.login, user.password);
      mailbox.createFolder(folder);
    },
    close: () => fixture.close(),
  };
}
