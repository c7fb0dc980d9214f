// SEARCH as a command over a real socket against our own IMAP engine: ESEARCH result options (RFC 4731),
// SEARCHRES (RFC 5182), MODSEQ and implicit CONDSTORE (RFC 7162 §3.1.5), IMAP4rev2's ESEARCH-only replies
// (RFC 9051 §6.4.4), no EXPUNGE during SEARCH (RFC 3501 §7.4.1), BADCHARSET, the nesting limit and hostile input.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { imapLimitsFromEnv } from '../../server/imap/index.js';
import type { Mailbox } from '../../server/mailbox/types.js';
import { RawImap, type RawReply } from '../helpers/imap-raw.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';

const FLAGGED = [2, 3, 4, 9];
const message = (i: number): Buffer => Buffer.from(`From: sender${i}@example.com\r\nSubject: message ${i} zqsecret\r\n\r\nbody ${i}\r\n`);

let fx: ImapFixture;
let user: { address: string; password: string };
let mailbox: Mailbox;

async function login(): Promise<RawImap> {
  const r = await RawImap.connect(fx.port);
  assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /OK/);
  return r;
}

async function selected(): Promise<RawImap> {
  const r = await login();
  assert.match((await r.command('SELECT INBOX')).tagged, /OK/);
  return r;
}

const ok = (reply: RawReply): RawReply => {
  assert.match(reply.tagged, /^\w+ OK /, reply.tagged);
  return reply;
};
const tagOf = (reply: RawReply): string => reply.tagged.split(' ')[0] as string;
const esearch = (reply: RawReply): string[] => reply.lines.filter((l) => l.startsWith('* ESEARCH'));
const searchLine = (reply: RawReply): string[] => reply.lines.filter((l) => l.startsWith('* SEARCH'));
const modseqOf = (uid: number): number => mailbox.listMessages('INBOX', [[uid, uid]])[0]!.modseq;

before(async () => {
  fx = await startImapFixture();
  user = await fx.addUser('esearch');
  mailbox = await fx.mailboxOf(user.address, user.password);
  for (let i = 1; i <= 10; i++) await mailbox.append('INBOX', message(i), { flags: FLAGGED.includes(i) ? ['\\Flagged'] : [] });
  mailbox.createFolder('Other');
});
after(async () => fx?.close());

describe('RFC 4731 §3.1 ESEARCH: RETURN (MIN MAX COUNT ALL)', () => {
  test('UID SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED → * ESEARCH (TAG "…") UID MIN 2 MAX 9 COUNT 4 ALL 2:4,9', async () => {
    const r = await selected();
    const reply = ok(await r.command('UID SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED'));
    assert.deepEqual(esearch(reply), [`* ESEARCH (TAG "${tagOf(reply)}") UID MIN 2 MAX 9 COUNT 4 ALL 2:4,9`]);
    assert.deepEqual(searchLine(reply), []);
    await r.command('LOGOUT');
  });
  test('SEARCH (message numbers) carries no UID; RETURN () means ALL; options come back in one line', async () => {
    const r = await selected();
    let reply = ok(await r.command('SEARCH RETURN () FLAGGED'));
    assert.deepEqual(esearch(reply), [`* ESEARCH (TAG "${tagOf(reply)}") ALL 2:4,9`]);
    reply = ok(await r.command('SEARCH RETURN (COUNT MIN) UNFLAGGED'));
    assert.deepEqual(esearch(reply), [`* ESEARCH (TAG "${tagOf(reply)}") MIN 1 COUNT 6`]);
    await r.command('LOGOUT');
  });
  test('no match: COUNT 0, and no MIN, MAX or ALL', async () => {
    const r = await selected();
    let reply = ok(await r.command('SEARCH RETURN (MIN MAX ALL COUNT) SUBJECT nothing-like-this'));
    assert.deepEqual(esearch(reply), [`* ESEARCH (TAG "${tagOf(reply)}") COUNT 0`]);
    reply = ok(await r.command('UID SEARCH RETURN (MIN) DELETED'));
    assert.deepEqual(esearch(reply), [`* ESEARCH (TAG "${tagOf(reply)}") UID`]);
    await r.command('LOGOUT');
  });
  test('an unknown RETURN option is BAD', async () => {
    const r = await selected();
    assert.match((await r.command('SEARCH RETURN (FOO) ALL')).tagged, /^t\d+ BAD /);
    assert.match((await r.command('SEARCH RETURN MIN ALL')).tagged, /^t\d+ BAD /);
    ok(await r.command('NOOP'));
    await r.command('LOGOUT');
  });
});

describe('RFC 9051 §6.4.4 / §6.4.9: message numbers and UIDs apart', () => {
  test('in a folder with expunged messages, SEARCH answers sequence numbers and UID SEARCH UIDs', async () => {
    mailbox.createFolder('Gaps');
    for (let i = 1; i <= 5; i++) await mailbox.append('Gaps', message(i), { flags: i === 1 || i === 3 ? ['\\Deleted'] : [] });
    mailbox.expunge('Gaps');
    const r = await login();
    ok(await r.command('SELECT Gaps'));
    assert.deepEqual(searchLine(ok(await r.command('SEARCH 2:3'))), ['* SEARCH 2 3']);
    assert.deepEqual(searchLine(ok(await r.command('UID SEARCH 2:3'))), ['* SEARCH 4 5']);
    assert.deepEqual(searchLine(ok(await r.command('SEARCH UID 4:5'))), ['* SEARCH 2 3']);
    assert.deepEqual(searchLine(ok(await r.command('UID SEARCH UID 1:3'))), ['* SEARCH 2']);
    let reply = ok(await r.command('SEARCH RETURN (ALL) UID 1:*'));
    assert.deepEqual(esearch(reply), [`* ESEARCH (TAG "${tagOf(reply)}") ALL 1:3`]);
    reply = ok(await r.command('UID SEARCH RETURN (ALL MIN) ALL'));
    assert.deepEqual(esearch(reply), [`* ESEARCH (TAG "${tagOf(reply)}") UID MIN 2 ALL 2,4:5`]);
    ok(await r.command('UID SEARCH RETURN (SAVE) UID 4:*'));
    assert.deepEqual(searchLine(ok(await r.command('SEARCH $'))), ['* SEARCH 2 3']);
    await r.command('LOGOUT');
  });
});

describe('RFC 5267 §4.4 / RFC 9394 §3.1: RETURN (PARTIAL first:last) pages through the result', () => {
  test('positions from the start or (negative) from the end; the range is echoed; nothing in range is NIL', async () => {
    const r = await selected();
    const line = async (command: string): Promise<string> => {
      const reply = ok(await r.command(command));
      const [only] = esearch(reply);
      return (only ?? '').replace(`(TAG "${tagOf(reply)}") `, '');
    };
    // FLAGGED: messages 2 3 4 9.
    assert.equal(await line('SEARCH RETURN (PARTIAL 2:3) FLAGGED'), '* ESEARCH PARTIAL (2:3 3:4)');
    assert.equal(await line('UID SEARCH RETURN (PARTIAL 3:10) FLAGGED'), '* ESEARCH UID PARTIAL (3:10 4,9)');
    assert.equal(await line('SEARCH RETURN (PARTIAL -1:-2) FLAGGED'), '* ESEARCH PARTIAL (-1:-2 4,9)');
    assert.equal(await line('SEARCH RETURN (PARTIAL -4:-9) FLAGGED'), '* ESEARCH PARTIAL (-4:-9 2)');
    assert.equal(await line('SEARCH RETURN (PARTIAL 5:9) FLAGGED'), '* ESEARCH PARTIAL (5:9 NIL)');
    assert.equal(await line('SEARCH RETURN (COUNT PARTIAL 1:1) FLAGGED'), '* ESEARCH COUNT 4 PARTIAL (1:1 2)');
    for (const bad of ['PARTIAL 0:3', 'PARTIAL 1:-3', 'PARTIAL', 'PARTIAL 1', 'PARTIAL 1:2 PARTIAL 3:4', 'PARTIAL 1:99999999999']) {
      assert.match((await r.command(`SEARCH RETURN (${bad}) FLAGGED`)).tagged, /^t\d+ BAD /, bad);
    }
    // SAVE with PARTIAL saves the page (RFC 9394 §3.1).
    ok(await r.command('UID SEARCH RETURN (SAVE PARTIAL -1:-2) FLAGGED'));
    assert.deepEqual(searchLine(ok(await r.command('UID SEARCH $'))), ['* SEARCH 4 9']);
    await r.command('LOGOUT');
  });
});

describe('RFC 5182 SEARCHRES: RETURN (SAVE) and `$`', () => {
  test('RETURN (SAVE) alone answers no ESEARCH; `$` then names the saved messages in SEARCH and COPY', async () => {
    const r = await selected();
    const saved = ok(await r.command('UID SEARCH RETURN (SAVE) FLAGGED'));
    assert.deepEqual(saved.lines, []);
    assert.deepEqual(searchLine(ok(await r.command('UID SEARCH $'))), ['* SEARCH 2 3 4 9']);
    assert.deepEqual(searchLine(ok(await r.command('SEARCH $ UID 1:3'))), ['* SEARCH 2 3']);
    assert.deepEqual(searchLine(ok(await r.command('UID SEARCH UID $'))), ['* SEARCH 2 3 4 9']);
    ok(await r.command('COPY $ Other'));
    assert.deepEqual(mailbox.search('Other', { op: 'all' }).length, 4);
    await r.command('LOGOUT');
  });
  test('UID FETCH $ FLAGS after UID SEARCH RETURN (SAVE) fetches the saved messages', async () => {
    const r = await selected();
    ok(await r.command('UID SEARCH RETURN (SAVE) FLAGGED'));
    const fetched = ok(await r.command('UID FETCH $ FLAGS'));
    const uids = fetched.lines.map((l) => /UID (\d+)/.exec(l)?.[1]).filter(Boolean).map(Number).sort((a, b) => a - b);
    assert.deepEqual(uids, FLAGGED);
    await r.command('LOGOUT');
  });
  test('§2.4: SAVE with MIN and/or MAX alone saves just those; with COUNT or ALL every match', async () => {
    const r = await selected();
    const savedAfter = async (options: string): Promise<string[]> => {
      ok(await r.command(`UID SEARCH RETURN (${options}) FLAGGED`));
      return searchLine(ok(await r.command('UID SEARCH $')));
    };
    assert.deepEqual(await savedAfter('SAVE MIN'), ['* SEARCH 2']);
    assert.deepEqual(await savedAfter('MAX SAVE'), ['* SEARCH 9']);
    assert.deepEqual(await savedAfter('SAVE MIN MAX'), ['* SEARCH 2 9']);
    assert.deepEqual(await savedAfter('SAVE MIN COUNT'), ['* SEARCH 2 3 4 9']);
    await r.command('LOGOUT');
  });
  test('§2.1: a SEARCH with SAVE answered NO (BADCHARSET, LIMIT) empties the saved result; one answered BAD leaves it', async () => {
    const r = await selected();
    ok(await r.command('UID SEARCH RETURN (SAVE) FLAGGED'));
    assert.match((await r.command('UID SEARCH RETURN (SAVE) CHARSET KOI8-R FLAGGED')).tagged, /^t\d+ NO \[BADCHARSET/);
    assert.deepEqual(searchLine(ok(await r.command('UID SEARCH $'))), ['* SEARCH']);
    ok(await r.command('UID SEARCH RETURN (SAVE) FLAGGED'));
    assert.match((await r.command(`SEARCH RETURN (SAVE) ${'TEXT x '.repeat(65)}`.trim())).tagged, /^t\d+ NO \[LIMIT\]/);
    assert.deepEqual(searchLine(ok(await r.command('UID SEARCH $'))), ['* SEARCH']);
    ok(await r.command('UID SEARCH RETURN (SAVE) FLAGGED'));
    for (const bad of ['SEARCH RETURN (SAVE) NOSUCHKEY', 'SEARCH RETURN (SAVE NOSUCHOPTION) ALL', 'SEARCH RETURN (SAVE) (SEEN']) {
      assert.match((await r.command(bad)).tagged, /^t\d+ BAD /, bad);
      assert.deepEqual(searchLine(ok(await r.command('UID SEARCH $'))), ['* SEARCH 2 3 4 9'], bad);
    }
    // A SEARCH without SAVE never touches it, whatever its answer.
    assert.match((await r.command('SEARCH CHARSET KOI8-R ALL')).tagged, /^t\d+ NO /);
    assert.deepEqual(searchLine(ok(await r.command('UID SEARCH $'))), ['* SEARCH 2 3 4 9']);
    await r.command('LOGOUT');
  });
});

describe('RFC 7162 §3.1.5: SEARCH MODSEQ reports the highest mod-sequence and enables CONDSTORE', () => {
  test('before MODSEQ a flag change arrives without MODSEQ, after it with; * SEARCH ends with (MODSEQ n)', async () => {
    const r = await selected();
    mailbox.store('INBOX', [[5, 5]], 'add', ['\\Seen']);
    const before = ok(await r.command('NOOP'));
    assert.ok(before.lines.some((l) => /^\* 5 FETCH \(/.test(l) && !l.includes('MODSEQ')), JSON.stringify(before.lines));
    const base = modseqOf(5);
    const reply = ok(await r.command(`SEARCH MODSEQ ${base}`));
    assert.deepEqual(searchLine(reply), [`* SEARCH 5 (MODSEQ ${base})`]);
    mailbox.store('INBOX', [[6, 6]], 'add', ['\\Seen']);
    const afterNoop = ok(await r.command('NOOP'));
    assert.ok(afterNoop.lines.some((l) => /^\* 6 FETCH \(.*MODSEQ \(\d+\)/.test(l)), JSON.stringify(afterNoop.lines));
    await r.command('LOGOUT');
  });
  test('the per-flag entry name and type are accepted (and the message mod-sequence used); no match, no MODSEQ', async () => {
    const r = await selected();
    const highest = Math.max(...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(modseqOf));
    assert.deepEqual(searchLine(ok(await r.command('SEARCH MODSEQ "/flags/\\\\draft" all 1 UID 1:2'))), [`* SEARCH 1 2 (MODSEQ ${Math.max(modseqOf(1), modseqOf(2))})`]);
    assert.deepEqual(searchLine(ok(await r.command('SEARCH MODSEQ 1'))), [`* SEARCH 1 2 3 4 5 6 7 8 9 10 (MODSEQ ${highest})`]);
    assert.deepEqual(searchLine(ok(await r.command(`SEARCH MODSEQ ${highest + 1}`))), ['* SEARCH']);
    assert.match((await r.command('SEARCH MODSEQ "/flags/\\\\draft" sometimes 1')).tagged, /^t\d+ BAD /);
    await r.command('LOGOUT');
  });
  test('with ESEARCH: MODSEQ over every match for COUNT/ALL, over the returned message for MIN alone', async () => {
    const r = await selected();
    let reply = ok(await r.command('UID SEARCH RETURN (MIN) MODSEQ 1 FLAGGED'));
    assert.deepEqual(esearch(reply), [`* ESEARCH (TAG "${tagOf(reply)}") UID MIN 2 MODSEQ ${modseqOf(2)}`]);
    reply = ok(await r.command('UID SEARCH RETURN (COUNT) MODSEQ 1 UID 5:6'));
    assert.deepEqual(esearch(reply), [`* ESEARCH (TAG "${tagOf(reply)}") UID COUNT 2 MODSEQ ${Math.max(modseqOf(5), modseqOf(6))}`]);
    await r.command('LOGOUT');
  });
});

describe('RFC 9051 §6.4.4: an IMAP4rev2 client gets ESEARCH for every SEARCH', () => {
  test('ENABLE IMAP4rev2, then SEARCH FLAGGED → * ESEARCH (TAG "…") ALL 2:4,9', async () => {
    const r = await login();
    ok(await r.command('ENABLE IMAP4rev2'));
    ok(await r.command('SELECT INBOX'));
    const reply = ok(await r.command('SEARCH FLAGGED'));
    assert.deepEqual(reply.lines, [`* ESEARCH (TAG "${tagOf(reply)}") ALL 2:4,9`]);
    const none = ok(await r.command('UID SEARCH DELETED'));
    assert.deepEqual(none.lines, [`* ESEARCH (TAG "${tagOf(none)}") UID`]);
    // Appendix E: no \Recent in IMAP4rev2, so no RECENT, NEW or OLD search keys either.
    for (const key of ['RECENT', 'NEW', 'OLD', 'NOT RECENT']) assert.match((await r.command(`SEARCH ${key}`)).tagged, /^t\d+ BAD /, key);
    await r.command('LOGOUT');
  });
});

describe('RFC 3501 §7.4.1: no EXPUNGE while answering SEARCH; UID SEARCH may send it', () => {
  test('a message expunged elsewhere still exists for SEARCH (by what the session knows of it); UID SEARCH reports the EXPUNGE', async () => {
    const r = await selected();
    const extra = await mailbox.append('INBOX', message(11), { flags: ['\\Deleted'] });
    ok(await r.command('NOOP'));
    mailbox.expunge('INBOX', [[extra.uid, extra.uid]]);
    const plain = ok(await r.command('SEARCH ALL'));
    assert.ok(!plain.lines.some((l) => l.endsWith(' EXPUNGE')), JSON.stringify(plain.lines));
    assert.deepEqual(searchLine(plain), ['* SEARCH 1 2 3 4 5 6 7 8 9 10 11']);
    // Its flags as last reported decide flag keys; its text is gone, so text keys cannot match it.
    assert.deepEqual(searchLine(ok(await r.command('SEARCH DELETED'))), ['* SEARCH 11']);
    assert.deepEqual(searchLine(ok(await r.command('SEARCH OR DELETED FLAGGED'))), ['* SEARCH 2 3 4 9 11']);
    assert.deepEqual(searchLine(ok(await r.command('SEARCH NOT DELETED UID 11'))), ['* SEARCH']);
    assert.deepEqual(searchLine(ok(await r.command('SEARCH SUBJECT zqsecret 10:*'))), ['* SEARCH 10']);
    const uid = ok(await r.command('UID SEARCH ALL'));
    assert.ok(uid.lines.includes('* 11 EXPUNGE'), JSON.stringify(uid.lines));
    assert.deepEqual(searchLine(ok(await r.command('SEARCH ALL'))), ['* SEARCH 1 2 3 4 5 6 7 8 9 10']);
    await r.command('LOGOUT');
  });
});

describe('RFC 9051 §6.4.4 CHARSET: UTF-8 and US-ASCII, else NO [BADCHARSET (UTF-8 US-ASCII)]', () => {
  test('known charsets in any case, atom or quoted; unknown ones refused with the list', async () => {
    const r = await selected();
    assert.deepEqual(searchLine(ok(await r.command('SEARCH CHARSET utf-8 FLAGGED'))), ['* SEARCH 2 3 4 9']);
    assert.deepEqual(searchLine(ok(await r.command('SEARCH CHARSET "US-ASCII" FLAGGED'))), ['* SEARCH 2 3 4 9']);
    const refused = await r.command('SEARCH CHARSET KOI8-R FLAGGED');
    assert.equal(refused.tagged, `${tagOf(refused)} NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset, use UTF-8`);
    assert.deepEqual(refused.lines, []);
    await r.command('LOGOUT');
  });
});

describe('the nesting limit (SEALPOST_IMAP_MAX_SEARCH_DEPTH, default 64) and hostile input', () => {
  test('63 nested NOTs work, 64 are BAD with a clear text; the session goes on', async () => {
    const r = await selected();
    assert.deepEqual(searchLine(ok(await r.command(`SEARCH ${'NOT '.repeat(63)}FLAGGED`))), ['* SEARCH 1 5 6 7 8 10']);
    const deep = await r.command(`SEARCH ${'NOT '.repeat(64)}FLAGGED`);
    assert.equal(deep.tagged, `${tagOf(deep)} BAD Search program nested deeper than 64 levels`);
    assert.match((await r.command(`SEARCH ${'('.repeat(70)}ALL${')'.repeat(70)}`)).tagged, /^t\d+ BAD /);
    ok(await r.command('NOOP'));
    await r.command('LOGOUT');
  });
  test('a huge OR chain is refused at the limit, a flat list of thousands of keys is answered', async () => {
    const r = await selected();
    assert.match((await r.command(`SEARCH ${'OR SEEN '.repeat(6000)}ALL`)).tagged, /^t\d+ BAD /);
    assert.deepEqual(searchLine(ok(await r.command(`SEARCH ${'UNSEEN FLAGGED '.repeat(3000)}ALL`))), ['* SEARCH 2 3 4 9']);
    assert.deepEqual(searchLine(ok(await r.command(`SEARCH ${'OR UNSEEN FLAGGED '.repeat(40)}SUBJECT zq`))), ['* SEARCH 1 2 3 4 7 8 9 10']);
    await r.command('LOGOUT');
  });
  test('SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS (default 64): more text keys in one search are NO [LIMIT] (RFC 5530)', async () => {
    const r = await selected();
    const textKeys = (n: number): string => Array.from({ length: n }, (_, i) => `TEXT zq${i}`).join(' ');
    assert.deepEqual(searchLine(ok(await r.command(`SEARCH ${textKeys(64)}`))), ['* SEARCH']);
    const over = await r.command(`SEARCH ${textKeys(65)}`);
    assert.equal(over.tagged, `${tagOf(over)} NO [LIMIT] More than 64 text keys in one search`);
    // Every text key counts, inside OR and NOT too: 25 SUBJECT + 25 × (BODY, HEADER) = 75.
    const mixed = Array.from({ length: 25 }, (_, i) => `SUBJECT zq${i} NOT OR BODY x${i} HEADER Subject message`).join(' ');
    assert.match((await r.command(`SEARCH ${mixed}`)).tagged, /^t\d+ NO \[LIMIT\]/);
    // Flag, date, size and set keys are cheap and not counted.
    ok(await r.command(`SEARCH ${'SEEN UNSEEN LARGER 1 UID 1:* '.repeat(500)}ALL`));
    ok(await r.command('NOOP'));
    await r.command('LOGOUT');
  });
  test('8-bit garbage gets BAD (atom) or a plain answer (string), never a crash', async () => {
    const r = await selected();
    r.write(Buffer.concat([Buffer.from('g1 SEARCH SUBJECT '), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('\r\n')]));
    assert.match((await r.until('g1')).tagged, /^g1 BAD /);
    r.write(Buffer.concat([Buffer.from('g2 SEARCH BODY "'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('"\r\n')]));
    assert.match((await r.until('g2')).tagged, /^g2 (OK|BAD) /);
    r.write(Buffer.concat([Buffer.from('g3 SEARCH '), Buffer.from([0x00, 0x01, 0x7f]), Buffer.from('\r\n')]));
    assert.match((await r.until('g3')).tagged, /^g3 BAD /);
    for (const bad of ['SEARCH UID', 'SEARCH UID 1:4294967296', 'SEARCH LARGER 99999999999999999999999', 'SEARCH BEFORE 31-Foo-2024', 'SEARCH OR SEEN', 'SEARCH (SEEN', 'SEARCH SEEN)', 'SEARCH  SEEN', 'SEARCH CHARSET']) {
      assert.match((await r.command(bad)).tagged, /^t\d+ BAD /, bad);
    }
    // header-fld-name is any astring: a name no header can have is legal and matches nothing (Dovecot 2.3 alike).
    for (const name of ['"Bad Name"', '"Sub:ject"', '""']) assert.deepEqual(searchLine(ok(await r.command(`SEARCH HEADER ${name} x`))), ['* SEARCH'], name);
    ok(await r.command('NOOP'));
    await r.command('LOGOUT');
  });
  test('literals as search strings: 8-bit, NUL bytes, up to a command line long, two in one command', async () => {
    const r = await selected();
    assert.deepEqual(searchLine(await r.commandWithLiteral('SEARCH CHARSET UTF-8 SUBJECT', Buffer.from('ZQSECRET'))), ['* SEARCH 1 2 3 4 5 6 7 8 9 10']);
    assert.deepEqual(searchLine(await r.commandWithLiteral('SEARCH BODY', Buffer.from([0x00, 0xff, 0x00]))), ['* SEARCH']);
    assert.deepEqual(searchLine(await r.commandWithLiteral('SEARCH TEXT', Buffer.alloc(60_000, 'q'))), ['* SEARCH']);
    // A literal longer than a command line may be is refused before it is read (engine rule for all but APPEND).
    assert.match((await r.commandWithLiteral('SEARCH TEXT', Buffer.alloc(100_000, 'q'))).tagged, /^t\d+ BAD /);
    r.write('l1 SEARCH HEADER {7+}\r\nSubject {9+}\r\nmessage 1 FLAGGED\r\n');
    assert.deepEqual(searchLine(ok(await r.until('l1'))), ['* SEARCH']);
    r.write('l2 SEARCH HEADER {7+}\r\nSubject {9+}\r\nmessage 2 FLAGGED\r\n');
    assert.deepEqual(searchLine(ok(await r.until('l2'))), ['* SEARCH 2']);
    await r.command('LOGOUT');
  });
  test('no search term reaches the log', () => {
    assert.ok(!fx.logs.some((line) => /zqsecret/i.test(line)));
  });
});

describe('SEALPOST_IMAP_MAX_SEARCH_DEPTH and SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS set the limits', () => {
  test('SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS takes 1..1024', () => {
    assert.throws(() => imapLimitsFromEnv({ SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS: '0' }), /SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS/);
    assert.throws(() => imapLimitsFromEnv({ SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS: '1025' }), /SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS/);
    assert.deepEqual(imapLimitsFromEnv({ SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS: '2' }), { maxSearchTextKeys: 2 });
  });
  test('values outside 4..256 stop start-up with the variable named', () => {
    assert.throws(() => imapLimitsFromEnv({ SEALPOST_IMAP_MAX_SEARCH_DEPTH: '3' }), /SEALPOST_IMAP_MAX_SEARCH_DEPTH/);
    assert.throws(() => imapLimitsFromEnv({ SEALPOST_IMAP_MAX_SEARCH_DEPTH: '257' }), /SEALPOST_IMAP_MAX_SEARCH_DEPTH/);
    assert.deepEqual(imapLimitsFromEnv({ SEALPOST_IMAP_MAX_SEARCH_DEPTH: '256' }), { maxSearchDepth: 256 });
  });
  test('with SEALPOST_IMAP_MAX_SEARCH_DEPTH=8 and SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS=2: 7 nested NOTs work, 8 are BAD; 3 text keys are NO [LIMIT]', async () => {
    const small = await startImapFixture({ limits: imapLimitsFromEnv({ SEALPOST_IMAP_MAX_SEARCH_DEPTH: '8', SEALPOST_IMAP_MAX_SEARCH_TEXT_KEYS: '2' }) });
    try {
      const u = await small.addUser('depth');
      const r = await RawImap.connect(small.port);
      ok(await r.command(`LOGIN "${u.address}" "${u.password}"`));
      ok(await r.command('SELECT INBOX'));
      ok(await r.command(`SEARCH ${'NOT '.repeat(7)}ALL`));
      assert.match((await r.command(`SEARCH ${'NOT '.repeat(8)}ALL`)).tagged, /^t\d+ BAD Search program nested deeper than 8 levels/);
      ok(await r.command('SEARCH OR SUBJECT a FROM b'));
      assert.match((await r.command('SEARCH OR SUBJECT a FROM b HEADER X-Y c')).tagged, /^t\d+ NO \[LIMIT\] More than 2 text keys/);
      await r.command('LOGOUT');
    } finally {
      await small.close();
    }
  });
});
