// Test scaffolding for the message-command tests (APPEND, REPLACE, COPY, MOVE): the shared IMAP fixture on our
// own engine, one fresh alias per test, and RawImap sessions logged in to it.
import type { ImapLimits } from '../../server/imap/index.js';
import type { Mailbox } from '../../server/mailbox/types.js';
import { RawImap, type RawReply } from '../helpers/imap-raw.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';

export interface MessagesFixture {
  readonly fx: ImapFixture;
  /** The port our own engine listens on (plaintext, loopback login allowed). */
  readonly port: number;
  /** A fresh alias (optionally with a quota), its mailbox handle, and a logged-in raw session. */
  user(quotaBytes?: number | null): Promise<TestUser>;
  close(): Promise<void>;
}

export interface TestUser {
  readonly address: string;
  readonly password: string;
  readonly mailbox: Mailbox;
  /** Another logged-in session of the same alias. */
  connect(): Promise<RawImap>;
  readonly imap: RawImap;
}

export async function startMessagesFixture(limits: Partial<ImapLimits> = {}): Promise<MessagesFixture> {
  const fx = await startImapFixture({ limits, logLevel: 'warn' });
  const port = fx.port;
  const clients: RawImap[] = [];
  let counter = 0;
  const login = async (address: string, password: string): Promise<RawImap> => {
    const client = await RawImap.connect(port);
    clients.push(client);
    const reply = await client.command(`LOGIN "${address}" "${password}"`);
    if (!reply.tagged.includes(' OK ')) throw new Error(`LOGIN failed: ${reply.tagged}`);
    return client;
  };
  return {
    fx,
    port,
    async user(quotaBytes = null) {
      const { address, password } = await fx.addUser(`msg${++counter}`, quotaBytes);
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

/** The tagged line's status word: 'OK', 'NO' or 'BAD'. */
export function status(reply: RawReply): string {
  return reply.tagged.split(' ')[1] ?? '';
}

/** The response code of the tagged line without brackets ('' when none). */
export function code(reply: RawReply): string {
  return /^\S+ \S+ \[([^\]]*)\]/.exec(reply.tagged)?.[1] ?? '';
}

/** A small CRLF message with a given subject and body. */
export function message(subject: string, body = 'Hello there.'): Buffer {
  return Buffer.from(`From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n${body}\r\n`);
}

/** A multipart/mixed message whose part 1.2 (inside a multipart/alternative part 1) is text/html. */
export function multipartMessage(): Buffer {
  return Buffer.from(
    [
      'From: Alice <alice@example.com>',
      'To: Bob <bob@example.org>',
      'Subject: parts',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      '--outer',
      'Content-Type: multipart/alternative; boundary="inner"',
      '',
      '--inner',
      'Content-Type: text/plain',
      '',
      'plain words',
      '--inner',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '<p>html =C3=A9 words</p>',
      '--inner--',
      '',
      '--outer',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      'AAECAwQFBgc=',
      '--outer--',
      '',
    ].join('\r\n'),
  );
}

/** Sends `tag command`, then each literal after the server's `+` (synchronizing literals), and reads the reply. */
export async function withLiterals(client: RawImap, tag: string, pieces: readonly (string | Buffer)[]): Promise<RawReply> {
  // pieces alternate: text ending in `{n}`, literal bytes, text…; the first text is the command after the tag.
  client.write(`${tag} `);
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      client.write(piece);
      if (/\{\d+\}$/.test(piece)) {
        client.write('\r\n');
        const go = await client.readLine();
        if (!go.startsWith('+')) return { lines: [], tagged: go };
      }
    } else {
      client.write(piece);
    }
  }
  client.write('\r\n');
  return client.until(tag);
}
