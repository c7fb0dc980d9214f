// Test scaffolding for the message-command tests (APPEND, REPLACE, COPY, MOVE): the shared IMAP fixture on our
// own engine, one fresh alias per test, and RawImap sessions logged in to it.
import type { ImapLimits } from '../../server/imap/index.js';
import type { RawImap, RawReply } from '../helpers/imap-raw.js';
import { startImapUsersFixture, type ImapTestUser, type ImapUsersFixture } from '../helpers/imap-users.js';

export type MessagesFixture = ImapUsersFixture;
export type TestUser = ImapTestUser;

export function startMessagesFixture(limits: Partial<ImapLimits> = {}): Promise<MessagesFixture> {
  return startImapUsersFixture('msg', limits);
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
