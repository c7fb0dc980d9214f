// Sealpost as a script peer: the shared IMAP fixture, with deliveries and folders
// made through the store (fixture.mailboxOf(...)), so setup needs no IMAP command.
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import type { ScriptPeer, ScriptUser } from './script-runner.js';

/** Starts a fixture; every addUser makes a fresh alias, so scripts never share a mailbox. */
export async function startSealpostPeer(): Promise<ScriptPeer & { readonly fixture: ImapFixture }> {
  const fixture = await startImapFixture({ logLevel: 'warn' });
  let counter = 0;
  return {
    name: 'sealpost',
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
      // The store subscribes what it creates; a script's @folder stands for a folder nobody subscribed.
      mailbox.createFolder(folder);
      mailbox.subscribe(folder, false);
    },
    close: () => fixture.close(),
  };
}
