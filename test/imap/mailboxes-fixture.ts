// Scaffolding for the mailbox-command tests (LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, STATUS, QUOTA): the
// shared IMAP fixture on our own engine, a fresh alias per test, and raw sessions logged in to it.
import type { ImapLimits } from '../../server/imap/index.js';
import type { RawReply } from '../helpers/imap-raw.js';
import { startImapUsersFixture, type ImapTestUser, type ImapUsersFixture } from '../helpers/imap-users.js';

export type MailboxesFixture = ImapUsersFixture;
export type TestUser = ImapTestUser;

export function startMailboxesFixture(limits: Partial<ImapLimits> = {}): Promise<MailboxesFixture> {
  return startImapUsersFixture('mbx', limits);
}

/** The tagged line without its tag: 'OK LIST completed', 'NO [NONEXISTENT] No such folder', … */
export function result(reply: RawReply): string {
  return reply.tagged.slice(reply.tagged.indexOf(' ') + 1);
}

/** The untagged lines of one kind (`* LIST …`), in order. */
export function linesOf(reply: RawReply, kind: string): string[] {
  return reply.lines.filter((l) => l.startsWith(`* ${kind} `));
}

/** The names of `* LIST`/`* LSUB` lines, as sent (quotes removed). */
export function namesOf(reply: RawReply): string[] {
  return reply.lines
    .map((l) => /^\* (?:LIST|LSUB) \([^)]*\) (?:"\/"|NIL) "((?:[^"\\]|\\.)*)"/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** The attributes of one name's LIST/LSUB line, or null when it is not listed. */
export function attributesOf(reply: RawReply, name: string): string[] | null {
  for (const line of reply.lines) {
    const m = /^\* (?:LIST|LSUB) \(([^)]*)\) "\/" "((?:[^"\\]|\\.)*)"/.exec(line);
    if (m && m[2] === name) return (m[1] as string).split(' ').filter(Boolean);
  }
  return null;
}

/** A small RFC 5322 message. */
export function message(subject: string, body = 'Hello there.\r\n'): Buffer {
  return Buffer.from(`From: a@example.org\r\nTo: b@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@x>\r\n\r\n${body}`);
}
