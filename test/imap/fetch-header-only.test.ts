// FETCH of ENVELOPE and of the message's own header sections (what clients list a folder with) is answered from
// the header end the store records with each body (bodies.header_end), without loading the parsed structure; a
// body stored before the store recorded it is answered from its structure. Either way the bytes are the same:
// each message is fetched once with header items only and once with BODYSTRUCTURE added (which loads the
// structure), and every header item must match, over real sockets, for generated, odd and hostile messages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Database from 'better-sqlite3-multiple-ciphers';
import { generateCorpus, loadSharedCorpus } from '../helpers/corpus.js';
import { crlf, fetchRacingExpungeAll, fetchResponses, startFetchFixture, status, type FetchFixture, type FetchResponse } from './fetch-helpers.js';
import type { Mailbox } from '../../server/mailbox/types.js';
import type { MessageStructure } from '../../server/mime/types.js';

let f: FetchFixture;
before(async () => {
  f = await startFetchFixture();
});
after(() => f.close());

const HEADER_ITEMS = [
  'ENVELOPE',
  'BODY.PEEK[HEADER]',
  'BODY.PEEK[HEADER.FIELDS (From Subject To Cc)]',
  'BODY.PEEK[HEADER.FIELDS.NOT (Received Subject)]',
  'BODY.PEEK[HEADER]<3.40>',
  'BODY.PEEK[HEADER.FIELDS (Subject)]<2.5>',
];

/** Messages whose headers are odd: no body, no header, a header past the 64 KiB ENVELOPE read, folding, 8-bit. */
function oddMessages(): Buffer[] {
  const longHeader = Array.from({ length: 1500 }, (_, i) => `X-Filler-${i}: ${'v'.repeat(50)}`);
  return [
    crlf('From: Alice <alice@example.com>', 'Subject: headers only, no blank line', 'To: bob@example.org'),
    crlf('', 'a body with an empty header before it', ''),
    crlf('Subject: folded', '  across two lines', 'From: "Weird, Name" <w@example.com>', 'To: a@example.com,', '\tb@example.com', '', 'body', ''),
    crlf(...longHeader, 'Subject: after 64 KiB of header', 'From: late@example.com', '', 'body', ''),
    Buffer.concat([crlf('Subject: =?utf-8?q?caf=C3=A9?= ', 'From: Jörg <j@example.com>', ''), Buffer.from('\r\nbody \xff\r\n', 'latin1')]),
    crlf('From: a@example.com', 'Subject: only a blank line follows', '', ''),
  ];
}

/** The header items of each FETCH response, by name. */
const headerItems = (r: FetchResponse): Map<string, unknown> => new Map([...r.items].filter(([name]) => name !== 'BODYSTRUCTURE'));

async function compareBothWays(imap: { command(text: string, timeoutMs?: number): Promise<{ tagged: string; lines: string[] }> }, count: number): Promise<void> {
  const headerOnly = await imap.command(`FETCH 1:* (${HEADER_ITEMS.join(' ')})`, 60_000);
  assert.equal(status(headerOnly.tagged), 'OK', headerOnly.tagged);
  const withStructure = await imap.command(`FETCH 1:* (${HEADER_ITEMS.join(' ')} BODYSTRUCTURE)`, 60_000);
  assert.equal(status(withStructure.tagged), 'OK', withStructure.tagged);
  const a = fetchResponses(headerOnly.lines);
  const b = fetchResponses(withStructure.lines);
  assert.equal(a.length, count);
  assert.equal(b.length, count);
  for (let i = 0; i < count; i++) {
    assert.deepEqual(headerItems(a[i]!), headerItems(b[i]!), `message ${i + 1}: header items differ between the header-only and the structure path`);
    assert.equal(a[i]!.order.length, HEADER_ITEMS.length);
  }
}

/** The store's own connection (a test reaching into the real file to make a body look like one from before v10). */
const dbOf = (mailbox: Mailbox): Database.Database => (mailbox as unknown as { handle: { db: Database.Database } }).handle.db;

describe('FETCH ENVELOPE and header sections without the parsed structure (RFC 9051 §6.4.5, §7.5.2)', () => {
  test('RFC 9051 §6.4.5: the recorded header end is the parsed root header end, for generated, shared-corpus and odd messages', async () => {
    const u = await f.user();
    const messages = [...generateCorpus(40, 3).map((m) => m.raw), ...loadSharedCorpus().map((m) => m.raw), ...oddMessages()];
    for (const raw of messages) await u.mailbox.append('INBOX', raw);
    const n = messages.length;
    const listed = u.mailbox.listHeaders('INBOX', [[1, n]]);
    const parsed = u.mailbox.fetch('INBOX', [[1, n]]);
    assert.equal(listed.length, n);
    for (let i = 0; i < n; i++) {
      const { root } = parsed[i]!.structure as MessageStructure;
      assert.equal(root.headerStart, 0);
      assert.equal(listed[i]!.headerEnd, root.headerEnd, `message ${i + 1}`);
    }
  });

  test('RFC 9051 §6.4.5/§7.5.2: ENVELOPE, BODY[HEADER], BODY[HEADER.FIELDS[.NOT] (…)] and partials are byte-identical either way', async () => {
    const u = await f.user();
    const messages = [...generateCorpus(40, 5).map((m) => m.raw), ...loadSharedCorpus().map((m) => m.raw), ...oddMessages()];
    for (const raw of messages) await u.mailbox.append('INBOX', raw);
    await u.imap.command('SELECT INBOX');
    await compareBothWays(u.imap, messages.length);
    // The values are the stored bytes: BODY[HEADER] of the header-only message is the whole message.
    const [first] = fetchResponses((await u.imap.command(`FETCH ${messages.length - 5} (BODY.PEEK[HEADER])`)).lines);
    assert.deepEqual(first!.items.get('BODY[HEADER]'), oddMessages()[0]);
  });

  test('RFC 9051 §6.4.5: a body stored before header ends were recorded is answered from its structure, beside ones that have it', async () => {
    const u = await f.user();
    const messages = generateCorpus(12, 9).map((m) => m.raw);
    for (const raw of messages) await u.mailbox.append('INBOX', raw);
    const db = dbOf(u.mailbox);
    const bodyOf = db.prepare('SELECT m.body_id FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.path = ? AND m.uid = ?');
    for (const uid of [2, 7]) db.prepare('UPDATE bodies SET header_end = NULL WHERE id = ?').run((bodyOf.get('INBOX', uid) as { body_id: number }).body_id);
    assert.deepEqual(
      u.mailbox.listHeaders('INBOX', [[1, 12]]).map((m) => m.headerEnd === null),
      Array.from({ length: 12 }, (_, i) => i === 1 || i === 6),
    );
    await u.imap.command('SELECT INBOX');
    await compareBothWays(u.imap, messages.length);
  });

  test('RFC 9051 §7.5.1: header-only FETCH 1:* racing another session that expunges everything answers OK with whole responses, and the server goes on', async () => {
    const u = await f.user();
    const messages = generateCorpus(400, 13).map((m) => m.raw);
    for (const raw of messages) await u.mailbox.append('INBOX', raw);
    const { fetched } = await fetchRacingExpungeAll(u, `FETCH 1:* (${HEADER_ITEMS.join(' ')})`);
    process.stdout.write(`# ${fetchResponses(fetched.lines).length} of ${messages.length} answered while the other session expunged\n`);
    // Each response that was sent is complete (every item), for a message of the folder as this session knows it.
    for (const r of fetchResponses(fetched.lines)) {
      assert.equal(r.order.length, HEADER_ITEMS.length, `message ${r.seq}`);
      assert.ok(r.seq >= 1 && r.seq <= messages.length);
    }
    const noop = await u.imap.command('NOOP');
    assert.equal(status(noop.tagged), 'OK');
    assert.equal(u.mailbox.status('INBOX').messages, 0);
  });

  test('RFC 9051 §6.4.5: ENVELOPE beside BODY[] and flags, and UID FETCH with header items, answer every message in order', async () => {
    const u = await f.user();
    const messages = generateCorpus(30, 11).map((m) => m.raw);
    for (const raw of messages) await u.mailbox.append('INBOX', raw);
    await u.imap.command('SELECT INBOX');
    const r = await u.imap.command('UID FETCH 1:* (FLAGS ENVELOPE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (Message-ID)] BODY.PEEK[])', 60_000);
    assert.equal(status(r.tagged), 'OK', r.tagged);
    const responses = fetchResponses(r.lines);
    assert.deepEqual(
      responses.map((x) => x.seq),
      messages.map((_, i) => i + 1),
    );
    for (const [i, x] of responses.entries()) {
      assert.deepEqual(x.items.get('BODY[]'), messages[i], `message ${i + 1} body`);
      const id = /^Message-ID: .*\r\n/im.exec(messages[i]!.toString('latin1'))?.[0] ?? '';
      const key = x.order.find((name) => name.toUpperCase().startsWith('BODY[HEADER.FIELDS'));
      assert.equal((x.items.get(key ?? '') as Buffer | undefined)?.toString('latin1'), `${id}\r\n`);
    }
  });
});
