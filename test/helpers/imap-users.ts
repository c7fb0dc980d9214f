// A real IMAP server (startImapFixture) with a fresh alias per test: its mailbox handle and RawImap sessions
// logged in to it. Shared by the per-command test files of test/imap/.
import type { ImapLimits } from '../../server/imap/index.js';
import type { Mailbox } from '../../server/mailbox/types.js';
import { RawImap } from './imap-raw.js';
import { startImapFixture, type ImapFixture } from './imap-server.js';

export interface ImapTestUser {
  readonly address: string;
  readonly password: string;
  readonly mailbox: Mailbox;
  /** A logged-in raw session. */
  readonly imap: RawImap;
  /** Another logged-in session of the same alias. */
  connect(): Promise<RawImap>;
}

export interface ImapUsersFixture {
  readonly fx: ImapFixture;
  /** The plaintext port (loopback login allowed). */
  readonly port: number;
  /** A fresh alias (optionally with a quota in bytes), its mailbox handle, and a logged-in raw session. */
  user(quotaBytes?: number | null): Promise<ImapTestUser>;
  close(): Promise<void>;
}

/** `prefix` names the aliases (prefix1@…, prefix2@…) so a failing test's logs show which file made them. */
export async function startImapUsersFixture(prefix: string, limits: Partial<ImapLimits> = {}): Promise<ImapUsersFixture> {
  const fx = await startImapFixture({ limits, logLevel: 'warn' });
  const clients: RawImap[] = [];
  let counter = 0;
  const login = async (address: string, password: string): Promise<RawImap> => {
    const client = await RawImap.connect(fx.port);
    clients.push(client);
    const reply = await client.command(`LOGIN "${address}" "${password}"`);
    if (!reply.tagged.includes(' OK ')) throw new Error(`LOGIN failed: ${reply.tagged}`);
    return client;
  };
  return {
    fx,
    port: fx.port,
    async user(quotaBytes = null) {
      const { address, password } = await fx.addUser(`${prefix}${++counter}`, quotaBytes);
      const mailbox = await fx.mailboxOf(address, password);
      const imap = await login(address, password);
      return { address, password, mailbox, imap, connect: () => login(address, password) };
    },
    async close() {
      for (const c of clients) c.close();
      await fx.close();
    },
  };
}
