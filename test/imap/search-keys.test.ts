// SEARCH keys over a real socket against our own IMAP engine (RFC 9051 §6.4.4 / RFC 3501 §6.4.4, RFC 5032,
// RFC 7162 §3.1.5, RFC 8514): every key on a small mailbox whose answers are known message by message.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Mailbox } from '../../server/mailbox/types.js';
import { RawImap, type RawReply } from '../helpers/imap-raw.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');

/** Five messages, each with what makes it the one answer to some key. */
const MESSAGES: { raw: Buffer; flags: string[]; internalDate: Date }[] = [
  {
    raw: crlf([
      'From: "Alice Example" <alice@example.com>',
      'To: Bob <bob@example.org>',
      'Subject: Quarterly report',
      // Written on 1 Feb in its own zone, 2 Feb in UTC: SENT* use the written day (RFC 3501 §6.4.4).
      'Date: Thu, 01 Feb 2024 23:30:00 -0800',
      '',
      'The invoice zq111 is attached.',
      '',
    ]),
    flags: ['\\Seen'],
    internalDate: new Date('2024-02-01T10:00:00Z'),
  },
  {
    raw: crlf([
      'From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>',
      'To: Project Team: carol@example.net, "Dave D" <dave@example.net>;',
      'Cc: eve@example.com',
      'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=',
      'Date: Mon, 5 Feb 2024 09:00:00 +0000',
      '',
      'hello',
      '',
    ]),
    flags: ['\\Flagged', '\\Answered', '$Label1'],
    internalDate: new Date('2024-02-05T12:00:00Z'),
  },
  {
    raw: crlf([
      'From: bob@example.org (Bob Builder)',
      'To: alice@example.com',
      'Bcc: secret@example.com',
      'Subject: Re: Quarterly report',
      'Date: Sat, 10 Feb 2024 08:00:00 +0000',
      '',
      'x'.repeat(5000) + ' zq333',
      '',
    ]),
    flags: ['\\Deleted', '\\Seen'],
    internalDate: new Date('2024-02-10T08:00:00Z'),
  },
  {
    raw: crlf(['From: drafts@example.com', 'To: Undisclosed recipients:;', 'Subject: draft', 'X-Custom: Hello World', 'Date: 15 Feb 2024 10:00 +0000', '', 'draft body', '']),
    flags: ['\\Draft'],
    internalDate: new Date('2024-02-15T10:00:00Z'),
  },
  {
    // No Date: header: SENT* use the internal date (now).
    raw: crlf(['From: new@example.com', 'Subject: fresh', '', 'just arrived', '']),
    flags: [],
    internalDate: new Date(),
  },
];

let fx: ImapFixture;
let user: { address: string; password: string };
let mailbox: Mailbox;
let client: RawImap;

/** Numbers of the `* SEARCH` response of a command that must succeed. */
async function search(command: string): Promise<number[]> {
  const reply = await client.command(command);
  return numbersOf(reply, command);
}

function numbersOf(reply: RawReply, command: string): number[] {
  assert.match(reply.tagged, /^t\d+ OK /, `${command}: ${reply.tagged}`);
  const lines = reply.lines.filter((l) => l.startsWith('* SEARCH'));
  assert.equal(lines.length, 1, `${command}: one * SEARCH in ${JSON.stringify(reply.lines)}`);
  // RFC 7162 §3.1.5: `(MODSEQ n)` follows the numbers when the query had a MODSEQ key.
  const words = (lines[0] as string).slice('* SEARCH'.length).replace(/ \(MODSEQ \d+\)$/, '').trim();
  return words === '' ? [] : words.split(' ').map(Number);
}

async function login(): Promise<RawImap> {
  const r = await RawImap.connect(fx.port);
  assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /OK/);
  return r;
}

before(async () => {
  fx = await startImapFixture();
  user = await fx.addUser('searcher');
  mailbox = await fx.mailboxOf(user.address, user.password);
  for (const m of MESSAGES) await mailbox.append('INBOX', m.raw, { flags: m.flags, internalDate: m.internalDate });
  client = await login();
  assert.match((await client.command('SELECT INBOX')).tagged, /OK/);
});
after(async () => {
  await client?.command('LOGOUT');
  await fx?.close();
});

describe('RFC 3501 §6.4.4 / RFC 9051 §6.4.4: every search key', () => {
  const cases: [string, number[]][] = [
    ['ALL', [1, 2, 3, 4, 5]],
    ['ANSWERED', [2]],
    ['UNANSWERED', [1, 3, 4, 5]],
    ['DELETED', [3]],
    ['UNDELETED', [1, 2, 4, 5]],
    ['DRAFT', [4]],
    ['UNDRAFT', [1, 2, 3, 5]],
    ['FLAGGED', [2]],
    ['UNFLAGGED', [1, 3, 4, 5]],
    ['SEEN', [1, 3]],
    ['UNSEEN', [2, 4, 5]],
    ['KEYWORD $Label1', [2]],
    ['UNKEYWORD $Label1', [1, 3, 4, 5]],
    ['KEYWORD Nothing', []],
    ['BCC secret', [3]],
    ['CC EVE@EXAMPLE', [2]],
    ['TO bob', [1]],
    ['FROM example.com', [1, 4, 5]],
    ['FROM "alice example"', [1]],
    ['SUBJECT quarterly', [1, 3]],
    ['SUBJECT ""', [1, 2, 3, 4, 5]],
    ['BODY zq333', [3]],
    ['BODY "Hello World"', []],
    ['TEXT zq111', [1]],
    ['TEXT "hello world"', [4]],
    ['HEADER X-Custom hello', [4]],
    ['HEADER x-custom ""', [4]],
    ['HEADER Subject report', [1, 3]],
    ['BEFORE 5-Feb-2024', [1]],
    ['ON 5-Feb-2024', [2]],
    ['SINCE 10-Feb-2024', [3, 4, 5]],
    ['BEFORE "5-Feb-2024"', [1]],
    ['SENTBEFORE 2-Feb-2024', [1]],
    ['SENTON 1-Feb-2024', [1]],
    ['SENTSINCE 10-Feb-2024', [3, 4, 5]],
    ['LARGER 4000', [3]],
    ['SMALLER 4000', [1, 2, 4, 5]],
    ['UID 2:3', [2, 3]],
    ['UID 4:*', [4, 5]],
    ['NOT SEEN', [2, 4, 5]],
    ['OR SEEN FLAGGED', [1, 2, 3]],
    ['NEW', [2, 4, 5]],
    ['RECENT', [1, 2, 3, 4, 5]],
    ['OLD', []],
    ['YOUNGER 3600', [5]],
    ['OLDER 3600', [1, 2, 3, 4]],
    ['SAVEDATESUPPORTED', [1, 2, 3, 4, 5]],
    ['SAVEDBEFORE 1-Jan-2000', []],
    ['SAVEDSINCE 1-Jan-2000', [1, 2, 3, 4, 5]],
    ['MODSEQ 1', [1, 2, 3, 4, 5]],
    ['all seen', [1, 3]],
  ];
  for (const [keys, want] of cases) {
    test(`SEARCH ${keys}`, async () => {
      assert.deepEqual(await search(`SEARCH ${keys}`), want);
    });
  }
});

describe('RFC 3501 §6.4.4: FROM/TO/CC/BCC look in the address fields: display names, addresses, group names', () => {
  test('a display name in RFC 2047 encoded form is found decoded (UTF-8 literal)', async () => {
    assert.deepEqual(numbersOf(await client.commandWithLiteral('SEARCH CHARSET UTF-8 FROM', 'Müller'), 'FROM Müller'), [2]);
    assert.deepEqual(numbersOf(await client.commandWithLiteral('SEARCH FROM', 'jürgen müller'), 'FROM jürgen'), [2]);
  });
  test('the address itself, and a name given as an RFC 5322 comment', async () => {
    assert.deepEqual(await search('SEARCH FROM jm@example.de'), [2]);
    assert.deepEqual(await search('SEARCH FROM "Bob Builder"'), [3]);
  });
  test('a group display name, its members and their names', async () => {
    assert.deepEqual(await search('SEARCH TO "Project Team"'), [2]);
    assert.deepEqual(await search('SEARCH TO carol@example.net'), [2]);
    assert.deepEqual(await search('SEARCH TO "Dave D"'), [2]);
    assert.deepEqual(await search('SEARCH TO "Undisclosed recipients"'), [4]);
  });
  test('SUBJECT finds an encoded subject decoded, in any case (ß ≡ ss)', async () => {
    assert.deepEqual(numbersOf(await client.commandWithLiteral('SEARCH CHARSET UTF-8 SUBJECT', 'GRÜSSE AUS KÖLN'), 'SUBJECT'), [2]);
  });
});

describe('RFC 3501 §6.4.4: keys combine with AND, OR, NOT and parentheses', () => {
  test('the RFC examples: FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"; TEXT "string not in mailbox"', async () => {
    assert.deepEqual(await search('SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'), [2]);
    assert.deepEqual(await search('SEARCH TEXT "string not in mailbox"'), []);
  });
  test('NOT (SEEN DELETED) negates the group; NOT SEEN DELETED negates SEEN only', async () => {
    assert.deepEqual(await search('SEARCH NOT (SEEN DELETED)'), [1, 2, 4, 5]);
    assert.deepEqual(await search('SEARCH NOT SEEN DELETED'), []);
  });
  test('OR of groups and nested ORs', async () => {
    assert.deepEqual(await search('SEARCH OR (SEEN UNDELETED) DRAFT'), [1, 4]);
    assert.deepEqual(await search('SEARCH OR OR ANSWERED DRAFT OR DELETED UID 5'), [2, 3, 4, 5]);
    assert.deepEqual(await search('SEARCH NOT NOT NOT NOT SEEN'), [1, 3]);
    assert.deepEqual(await search('SEARCH ((((SEEN)) (NOT DELETED)))'), [1]);
    // (NOT SEEN or NOT FLAGGED) and LARGER 100: message 5 is smaller.
    assert.deepEqual(await search('SEARCH OR NOT SEEN NOT FLAGGED LARGER 100'), [1, 2, 3, 4]);
  });
});

describe('RFC 9051 §9 sequence-set: message numbers with `*`, reversed ranges, UIDs', () => {
  test('1,* / *:3 / 4:2 / repeated numbers', async () => {
    assert.deepEqual(await search('SEARCH 1,*'), [1, 5]);
    assert.deepEqual(await search('SEARCH *:3'), [3, 4, 5]);
    assert.deepEqual(await search('SEARCH 4:2'), [2, 3, 4]);
    assert.deepEqual(await search('SEARCH 2,2,2:2 SEEN'), []);
    assert.deepEqual(await search('SEARCH 1:* SEEN'), [1, 3]);
  });
  test('RFC 9051 §6.4.4: as a search key, message numbers beyond the mailbox match nothing; 0 is not a number there (BAD)', async () => {
    assert.deepEqual(await search('SEARCH 6'), []);
    assert.deepEqual(await search('SEARCH 4:9'), [4, 5]);
    assert.deepEqual(await search('SEARCH OR 7 1'), [1]);
    assert.match((await client.command('SEARCH 0')).tagged, /^t\d+ BAD /);
    assert.match((await client.command('SEARCH 1:0')).tagged, /^t\d+ BAD /);
  });
  test('in an empty mailbox SEARCH 1:* and SEARCH * answer an empty result', async () => {
    mailbox.createFolder('Empty');
    const other = await login();
    try {
      assert.match((await other.command('SELECT Empty')).tagged, /OK/);
      for (const keys of ['1:*', '*', 'UID 1:*', 'ALL']) assert.deepEqual(numbersOf(await other.command(`SEARCH ${keys}`), keys), [], keys);
    } finally {
      await other.command('LOGOUT');
    }
  });
  test('UID SEARCH answers UIDs; UID n:* with n above the largest UID names the last message (RFC 9051 §6.4.9)', async () => {
    assert.deepEqual(await search('UID SEARCH UID 100:*'), [5]);
    assert.deepEqual(await search('UID SEARCH 2:3'), [2, 3]);
    assert.deepEqual(await search('UID SEARCH UID 6:10'), []);
  });
});

describe('RFC 5032 WITHIN and RFC 8474 object ids: syntax', () => {
  test('OLDER/YOUNGER take a non-zero number of seconds', async () => {
    assert.match((await client.command('SEARCH YOUNGER 0')).tagged, /^t\d+ BAD /);
    assert.match((await client.command('SEARCH OLDER x')).tagged, /^t\d+ BAD /);
    assert.deepEqual(await search('SEARCH OR YOUNGER 60 OLDER 60'), [1, 2, 3, 4, 5]);
  });
  test('EMAILID/THREADID take an objectid; anything else is BAD', async () => {
    assert.match((await client.command('SEARCH EMAILID "a b"')).tagged, /^t\d+ BAD /);
    assert.match((await client.command('SEARCH THREADID')).tagged, /^t\d+ BAD /);
  });
});

describe('RFC 8514 SAVED* and RFC 8474 §6 EMAILID/THREADID against the store\'s own values', () => {
  const imapDay = (ms: number): string => {
    const d = new Date(ms);
    return `${d.getUTCDate()}-${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()]}-${d.getUTCFullYear()}`;
  };
  test('SAVED* use the day each message was stored here, not its internal date', async () => {
    assert.deepEqual(await search(`SEARCH SAVEDSINCE ${imapDay(Date.now() - 86_400_000)}`), [1, 2, 3, 4, 5]);
    assert.deepEqual(await search(`SEARCH SAVEDBEFORE ${imapDay(Date.now() + 86_400_000)}`), [1, 2, 3, 4, 5]);
    assert.deepEqual(await search('SEARCH SAVEDON 5-Feb-2024'), []);
  });
  test('EMAILID finds the message FETCH EMAILID names; THREADID its thread; unknown ids nothing', async () => {
    const metas = mailbox.listMessages('INBOX', [[1, 5]], { thread: true });
    const second = metas[1]!;
    assert.deepEqual(await search(`SEARCH EMAILID ${second.emailId}`), [2]);
    const thread = metas.filter((m) => m.threadObjectId === second.threadObjectId).map((m) => m.uid);
    assert.deepEqual(await search(`SEARCH THREADID ${second.threadObjectId}`), thread);
    assert.deepEqual(await search('SEARCH EMAILID Mnothing'), []);
    assert.deepEqual(await search(`SEARCH OR EMAILID ${metas[0]!.emailId} EMAILID ${metas[4]!.emailId}`), [1, 5]);
  });
});

describe('RFC 3501 §2.3.2 / §6.4.4: RECENT, NEW and OLD agree with the `* n RECENT` of SELECT', () => {
  test('a second session gets \\Recent only for the message delivered after the first one selected', async () => {
    const late = await mailbox.append('INBOX', crlf(['From: late@example.com', 'Subject: late', '', 'late', '']));
    const other = await login();
    try {
      const selected = await other.command('SELECT INBOX');
      assert.ok(selected.lines.includes('* 1 RECENT'), JSON.stringify(selected.lines));
      const run = async (keys: string): Promise<number[]> => numbersOf(await other.command(`SEARCH ${keys}`), keys);
      assert.deepEqual(await run('RECENT'), [6]);
      assert.deepEqual(await run('NEW'), [6]);
      assert.deepEqual(await run('OLD'), [1, 2, 3, 4, 5]);
      assert.deepEqual(numbersOf(await other.command('UID SEARCH RECENT'), 'UID RECENT'), [late.uid]);
    } finally {
      await other.command('LOGOUT');
    }
    // The first session learns of the message (EXISTS) but it is not \Recent there.
    await client.command('NOOP');
    assert.deepEqual(await search('SEARCH RECENT'), [1, 2, 3, 4, 5]);
    assert.deepEqual(await search('SEARCH 6'), [6]);
    mailbox.store('INBOX', [[late.uid, late.uid]], 'add', ['\\Deleted']);
    mailbox.expunge('INBOX', [[late.uid, late.uid]]);
    await client.command('NOOP');
  });
});
