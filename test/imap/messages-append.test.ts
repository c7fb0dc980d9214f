// APPEND on our own engine over real sockets: APPENDUID, flags and dates, EXISTS before the tagged OK,
// TRYCREATE / OVERQUOTA / TOOBIG, literal8, MULTIAPPEND all-or-nothing, CATENATE with URLs, hostile input.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { code, message, multipartMessage, startMessagesFixture, status, withLiterals, type MessagesFixture } from './messages-fixture.js';

const LIMIT = 64 * 1024;
let f: MessagesFixture;

before(async () => {
  f = await startMessagesFixture({ maxMessageBytes: LIMIT });
});
after(() => f.close());

function appendUid(tagged: string): { uidValidity: number; uids: string } {
  const m = /\[APPENDUID (\d+) ([0-9:,]+)\]/.exec(tagged);
  assert.ok(m, `no APPENDUID in ${tagged}`);
  return { uidValidity: Number(m[1]), uids: m[2] as string };
}

describe('APPEND (RFC 9051 §6.3.12, RFC 3501 §6.3.11)', () => {
  test('RFC 4315 §3: APPENDUID names the stored message; bytes, flags, keywords and internal date are kept', async () => {
    const u = await f.user();
    const raw = message('kept');
    const reply = await u.imap.commandWithLiteral('APPEND INBOX (\\Seen $Forwarded Work) "05-Mar-2024 14:15:16 +0200"', raw);
    assert.equal(status(reply), 'OK', reply.tagged);
    const { uidValidity, uids } = appendUid(reply.tagged);
    assert.equal(uidValidity, u.mailbox.status('INBOX').uidValidity);
    const uid = Number(uids);
    assert.deepEqual(await u.mailbox.readMessage('INBOX', uid), raw);
    const [meta] = u.mailbox.listMessages('INBOX', [[uid, uid]]);
    assert.deepEqual([...(meta?.flags ?? [])].sort(), ['$Forwarded', 'Work', '\\Seen']);
    assert.equal(meta?.internalDate.toISOString(), '2024-03-05T12:15:16.000Z');
  });

  test('RFC 9051 §6.3.12 / §7.4.1: APPEND into the selected folder reports EXISTS before the tagged OK', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', message('already there'));
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.commandWithLiteral('APPEND INBOX', message('mine'));
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.ok(reply.lines.includes('* 2 EXISTS'), reply.lines.join('|'));
  });

  test('RFC 9051 §6.3.12: a folder that does not exist is NO [TRYCREATE]; nothing is stored', async () => {
    const u = await f.user();
    const reply = await u.imap.commandWithLiteral('APPEND Nowhere', message('lost'));
    assert.equal(status(reply), 'NO');
    assert.equal(code(reply), 'TRYCREATE');
    assert.equal(u.mailbox.quota().messages, 0);
  });

  test('RFC 9208 §4.3 / RFC 5530: over quota is NO [OVERQUOTA]', async () => {
    const u = await f.user(500);
    const reply = await u.imap.commandWithLiteral('APPEND INBOX', message('big', 'x'.repeat(600)));
    assert.equal(status(reply), 'NO');
    assert.equal(code(reply), 'OVERQUOTA');
  });

  test('RFC 9051 §2.3.2: \\Recent and unknown system flags cannot be set by APPEND (BAD)', async () => {
    const u = await f.user();
    for (const flag of ['\\Recent', '\\Bogus']) {
      const reply = await u.imap.commandWithLiteral(`APPEND INBOX (${flag})`, message('flag'));
      assert.equal(status(reply), 'BAD', reply.tagged);
    }
    assert.equal(u.mailbox.quota().messages, 0);
  });

  test('RFC 9051 §6.3.12: a malformed date-time is BAD', async () => {
    const u = await f.user();
    const reply = await u.imap.commandWithLiteral('APPEND INBOX "31-Feb-2024 99:00:00 +0000"', message('date'));
    assert.equal(status(reply), 'BAD', reply.tagged);
  });

  test('an empty message is refused with NO (as Dovecot does)', async () => {
    const u = await f.user();
    const reply = await u.imap.command('APPEND INBOX {0+}\r\n');
    assert.equal(status(reply), 'NO', reply.tagged);
  });

  test('RFC 3516 §4.4: a literal8 with NUL bytes is stored as is', async () => {
    const u = await f.user();
    const raw = Buffer.concat([Buffer.from('Subject: binary\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), Buffer.from([0, 1, 2, 0, 255, 0, 13, 10])]);
    const reply = await withLiterals(u.imap, 'b1', [`APPEND INBOX ~{${raw.length}}`, raw]);
    assert.equal(status(reply), 'OK', reply.tagged);
    const uid = Number(appendUid(reply.tagged).uids);
    assert.deepEqual(await u.mailbox.readMessage('INBOX', uid), raw);
  });

  test('RFC 6855 §4: with UTF8=ACCEPT enabled, APPEND takes UTF8 (literal8); without it that form is BAD', async () => {
    const u = await f.user();
    const raw = Buffer.from('Subject: Grüße\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nÄpfel\r\n');
    const refused = await u.imap.command(`APPEND INBOX UTF8 (~{${raw.length}+}\r\n${raw.toString('binary')})`);
    assert.equal(status(refused), 'BAD', refused.tagged);
    assert.equal(status(await u.imap.command('ENABLE UTF8=ACCEPT')), 'OK');
    const reply = await u.imap.command(`APPEND INBOX UTF8 (~{${raw.length}+}\r\n${raw.toString('binary')})`);
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.deepEqual(await u.mailbox.readMessage('INBOX', Number(appendUid(reply.tagged).uids)), raw);
  });

  test('RFC 9051 §9 grammar: APPEND without data, or with a quoted string as data, is BAD', async () => {
    const u = await f.user();
    for (const command of ['APPEND INBOX', 'APPEND INBOX (\\Seen)', 'APPEND INBOX "hello"', 'APPEND INBOX (\\Seen) {3+}\r\nabc extra']) {
      const reply = await u.imap.command(command);
      assert.equal(status(reply), 'BAD', `${command} → ${reply.tagged}`);
    }
    assert.equal(u.mailbox.quota().messages, 0);
  });

  test('RFC 7889 APPENDLIMIT, RFC 4469 §4.2 TOOBIG: APPEND larger than the limit is refused before its data (synchronizing literal)', async () => {
    const u = await f.user();
    u.imap.write(`s1 APPEND INBOX {${LIMIT + 1}}\r\n`);
    const refusal = await u.imap.readLine();
    assert.match(refusal, /^s1 NO \[TOOBIG\]/);
    assert.equal(status(await u.imap.command('NOOP')), 'OK');
    assert.equal(u.mailbox.quota().messages, 0);
  });

  test('RFC 7888 LITERAL+, RFC 7889: an oversized non-synchronizing APPEND is read and dropped; the connection stays usable', async () => {
    const u = await f.user();
    u.imap.write(`s2 APPEND INBOX {${LIMIT + 1}+}\r\n`);
    u.imap.write(Buffer.concat([Buffer.alloc(LIMIT + 1, 0x61), Buffer.from('\r\n')]));
    const reply = await u.imap.until('s2');
    assert.equal(status(reply), 'NO', reply.tagged);
    assert.equal(status(await u.imap.command('NOOP')), 'OK');
    assert.equal(u.mailbox.quota().messages, 0);
  });
});

describe('MULTIAPPEND (RFC 3502)', () => {
  test('RFC 3502 §6.3.11: several messages in one command; APPENDUID carries a UID set (RFC 4315 §3)', async () => {
    const u = await f.user();
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const [a, b, c] = [message('one'), message('two'), message('three')];
    const reply = await withLiterals(u.imap, 'm1', [`APPEND INBOX (\\Seen) {${a.length}}`, a, ` {${b.length}}`, b, ` (\\Flagged) "01-Jan-2020 00:00:00 +0000" {${c.length}}`, c]);
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.equal(appendUid(reply.tagged).uids, '1:3');
    assert.ok(reply.lines.includes('* 3 EXISTS'), reply.lines.join('|'));
    const metas = u.mailbox.listMessages('INBOX');
    assert.deepEqual(metas.map((m) => [...m.flags]), [['\\Seen'], [], ['\\Flagged']]);
    assert.deepEqual(await u.mailbox.readMessage('INBOX', 2), b);
  });

  test('RFC 3502 §6.3.11: all or nothing: the second message breaking the quota stores neither', async () => {
    const u = await f.user(1000);
    const a = message('fits', 'a'.repeat(300));
    const b = message('breaks', 'b'.repeat(800));
    const before = u.mailbox.status('INBOX');
    const reply = await withLiterals(u.imap, 'm2', [`APPEND INBOX {${a.length}}`, a, ` {${b.length}}`, b]);
    assert.equal(status(reply), 'NO', reply.tagged);
    assert.equal(code(reply), 'OVERQUOTA');
    const afterwards = u.mailbox.status('INBOX');
    assert.equal(afterwards.messages, 0);
    // Not even a UID was used up: nothing was stored and rolled back.
    assert.equal(afterwards.uidNext, before.uidNext);
  });

  test('RFC 3502 §6.3.11: when the store refuses the second message, the first one is removed again', async () => {
    const u = await f.user();
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const a = message('first');
    const b = message('second');
    // A keyword longer than the store keeps (128 characters) passes the grammar and is refused by the store.
    const reply = await withLiterals(u.imap, 'm4', [`APPEND INBOX {${a.length}}`, a, ` (${'k'.repeat(200)}) {${b.length}}`, b]);
    assert.equal(status(reply), 'NO', reply.tagged);
    assert.equal(u.mailbox.status('INBOX').messages, 0);
    // The first message really was stored (its UID is used up) and then expunged.
    assert.equal(u.mailbox.status('INBOX').uidNext, 2);
    // The client never hears of the message that came and went within its own command.
    assert.ok(!reply.lines.some((l) => / (EXISTS|EXPUNGE|FETCH)$|FETCH \(/.test(l)), reply.lines.join('|'));
    assert.equal(status(await u.imap.command('NOOP')), 'OK');
  });

  test('RFC 3502 §6.3.11: a bad second message (syntax) stores nothing', async () => {
    const u = await f.user();
    const a = message('first');
    const reply = await withLiterals(u.imap, 'm3', [`APPEND INBOX {${a.length}}`, a, ' (\\Recent) {3}', Buffer.from('abc')]);
    assert.equal(status(reply), 'BAD', reply.tagged);
    assert.equal(u.mailbox.quota().messages, 0);
  });
});

describe('CATENATE (RFC 4469)', () => {
  test('RFC 4469 §3: TEXT and a URL to another message\'s part give the parts byte for byte (as BODY.PEEK[1.2])', async () => {
    const u = await f.user();
    const source = await u.mailbox.append('INBOX', multipartMessage());
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const head = Buffer.from('From: Alice <alice@example.com>\r\nSubject: forwarded part\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n');
    const tail = Buffer.from('\r\n-- \r\nsig\r\n');
    const url = `/INBOX;UIDVALIDITY=${source.uidValidity}/;UID=${source.uid}/;SECTION=1.2`;
    // Synchronizing literals around the URL, as in the RFC 4469 §3 example.
    const reply = await withLiterals(u.imap, 'c1', [`APPEND Drafts (\\Draft) CATENATE (TEXT {${head.length}}`, head, ` URL "${url}" TEXT {${tail.length}}`, tail, ')']);
    assert.equal(status(reply), 'OK', reply.tagged);
    const stored = await u.mailbox.readMessage('Drafts', Number(appendUid(reply.tagged).uids));
    assert.equal(stored.toString('latin1'), `${head.toString()}<p>html =C3=A9 words</p>${tail.toString()}`);

    // The same part as FETCH hands it out.
    const fetched = await u.imap.command(`UID FETCH ${source.uid} (BODY.PEEK[1.2])`);
    assert.equal(status(fetched), 'OK', fetched.tagged);
    const text = fetched.lines.join('\n');
    const literal = /BODY\[1\.2\] \{(\d+)\}\r\n/.exec(text);
    assert.ok(literal, text);
    const at = literal.index + literal[0].length;
    const part = Buffer.from(text.slice(at, at + Number(literal[1])), 'binary');
    assert.deepEqual(stored, Buffer.concat([head, part, tail]));
  });

  test('RFC 4469 §3: a URL relative to the selected folder, with ;PARTIAL (URL-PARTIAL)', async () => {
    const u = await f.user();
    const raw = message('relative', '0123456789');
    const source = await u.mailbox.append('INBOX', raw);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.command(`APPEND INBOX CATENATE (URL ";UID=${source.uid}/;SECTION=HEADER" URL ";UID=${source.uid}/;SECTION=TEXT/;PARTIAL=2.5")`);
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.ok(reply.lines.includes('* 2 EXISTS'), reply.lines.join('|'));
    const uid = Number(appendUid(reply.tagged).uids);
    const header = raw.subarray(0, raw.indexOf('\r\n\r\n') + 4);
    assert.equal((await u.mailbox.readMessage('INBOX', uid)).toString(), `${header.toString()}23456`);
  });

  const badUrls: [string, string][] = [
    ['imap://other@example.test/INBOX/;UID=1', 'another user or host'],
    ['/INBOX/../Sent/;UID=1', 'a dot-dot segment'],
    ['/INBOX/;UID=999', 'a message that does not exist'],
    ['/INBOX;UIDVALIDITY=1/;UID=1', 'a stale UIDVALIDITY'],
    ['/INBOX/;UID=1/;SECTION=9', 'a part that does not exist'],
    [';UID=1', 'a relative URL with no folder selected'],
  ];
  for (const [url, why] of badUrls) {
    test(`RFC 4469 §4.1: NO [BADURL] for ${why}; nothing is stored`, async () => {
      const u = await f.user();
      await u.mailbox.append('INBOX', message('source'));
      const reply = await u.imap.command(`APPEND INBOX CATENATE (TEXT {2+}\r\nhi URL "${url}")`);
      assert.equal(status(reply), 'NO', reply.tagged);
      assert.equal(code(reply), `BADURL ${url}`);
      assert.equal(u.mailbox.quota().messages, 1);
    });
  }

  test('RFC 4469 §4.2: NO [TOOBIG] when the joined message exceeds APPENDLIMIT', async () => {
    const u = await f.user();
    const big = await u.mailbox.append('INBOX', message('big', 'z'.repeat(40 * 1024)));
    const url = `/INBOX/;UID=${big.uid}`;
    const reply = await u.imap.command(`APPEND INBOX CATENATE (URL "${url}" URL "${url}")`);
    assert.equal(status(reply), 'NO', reply.tagged);
    assert.equal(code(reply), 'TOOBIG');
    assert.equal(u.mailbox.quota().messages, 1);
  });

  test('hostile: more CATENATE parts than the per-command cap (32) is refused, nothing stored', async () => {
    const u = await f.user();
    const source = await u.mailbox.append('INBOX', message('tiny', 'x'));
    const urls = Array.from({ length: 33 }, () => `URL "/INBOX/;UID=${source.uid}/;SECTION=TEXT"`).join(' ');
    const reply = await u.imap.command(`APPEND INBOX CATENATE (${urls})`);
    assert.equal(status(reply), 'NO', reply.tagged);
    assert.equal(code(reply), 'LIMIT');
    const texts = Array.from({ length: 33 }, () => 'TEXT {1+}\r\nx').join(' ');
    const literals = await u.imap.command(`APPEND INBOX CATENATE (${texts})`);
    assert.notEqual(status(literals), 'OK', literals.tagged);
    assert.equal(status(await u.imap.command('NOOP')), 'OK');
    assert.equal(u.mailbox.quota().messages, 1);
  });

  test('RFC 4469 §5 grammar: an empty CATENATE list or an unknown part is BAD', async () => {
    const u = await f.user();
    assert.equal(status(await u.imap.command('APPEND INBOX CATENATE ()')), 'BAD');
    assert.equal(status(await u.imap.command('APPEND INBOX CATENATE (FILE "x")')), 'BAD');
    assert.equal(u.mailbox.quota().messages, 0);
  });
});
