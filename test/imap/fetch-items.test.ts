// FETCH / UID FETCH on our own engine over real sockets: every data item and macro, sections and partials
// byte for byte against the stored message, implicit \Seen, BODY without extension data, ENVELOPE over the
// wire, CONDSTORE enabled by FETCH MODSEQ, and hostile arguments.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { crlf, fetchResponses, onlyFetch, plain, startFetchFixture, status, type FetchFixture, type Parsed } from './fetch-helpers.js';

let f: FetchFixture;
before(async () => {
  f = await startFetchFixture();
});
after(() => f.close());

const SIMPLE = crlf(
  'From: Alice <alice@example.com>',
  'To: Bob <bob@example.org>',
  'Subject: simple',
  'Date: Mon, 4 Mar 2024 10:00:00 +0100',
  'Message-ID: <simple@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'First line of the body.',
  'Second line.',
  '',
);

const MULTI = crlf(
  'From: Alice <alice@example.com>',
  'To: Bob <bob@example.org>',
  'Subject: parts',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'preamble',
  '--outer',
  'Content-Type: text/html; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  'Content-Disposition: inline',
  'Content-Language: en',
  '',
  '<html><head><title>t</title><style>p{}</style></head><body><p>Hello =C3=A9 &amp; welcome</p></body></html>',
  '--outer',
  'Content-Type: message/rfc822',
  '',
  'From: Carol <carol@example.net>',
  'To: undisclosed-recipients:;',
  'Subject: inner',
  '',
  'inner body',
  '--outer',
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="a.bin"',
  '',
  'AAECAwQFBgc=',
  '--outer--',
  '',
);

const text = (v: Parsed | undefined): string => (Buffer.isBuffer(v) ? v.toString('utf8') : '');

/** Byte range of the first occurrence of `needle` … through the end of `until` in the raw message. */
function slice(raw: Buffer, from: string, to?: string): Buffer {
  const start = raw.indexOf(from);
  const end = to === undefined ? raw.length : raw.indexOf(to, start) + to.length;
  return raw.subarray(start, end);
}

describe('FETCH data items (RFC 9051 §6.4.5, RFC 3501 §6.4.5)', () => {
  test('RFC 3501 §6.4.5: UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ SAVEDATE EMAILID THREADID match the store', async () => {
    const u = await f.user();
    const { uid } = await u.mailbox.append('INBOX', SIMPLE, { flags: ['\\Flagged', 'Work'], internalDate: new Date('2024-03-05T12:15:16Z') });
    await u.imap.command('SELECT INBOX');
    const r = onlyFetch((await u.imap.command('FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ SAVEDATE EMAILID THREADID)')).lines);
    const [meta] = u.mailbox.listMessages('INBOX', undefined, { thread: true });
    assert.ok(meta);
    assert.deepEqual(r.order, ['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ', 'SAVEDATE', 'EMAILID', 'THREADID']);
    assert.deepEqual(plain(r.items.get('UID')), `ATOM:${uid}`);
    // RFC 3501 §2.3.2: the session that selected the folder first sees the new message as \Recent.
    assert.deepEqual((plain(r.items.get('FLAGS')) as string[]).sort(), ['ATOM:Work', 'ATOM:\\Flagged', 'ATOM:\\Recent']);
    assert.equal(text(r.items.get('INTERNALDATE')), '05-Mar-2024 12:15:16 +0000');
    assert.deepEqual(plain(r.items.get('RFC822.SIZE')), `ATOM:${SIMPLE.length}`);
    assert.deepEqual(plain(r.items.get('MODSEQ')), [`ATOM:${meta.modseq}`]);
    assert.match(text(r.items.get('SAVEDATE')), /^\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d \+0000$/);
    assert.deepEqual(plain(r.items.get('EMAILID')), [`ATOM:${meta.emailId}`]);
    assert.deepEqual(plain(r.items.get('THREADID')), [`ATOM:${meta.threadObjectId}`]);
  });

  test('RFC 9051 §6.4.5: the macros ALL, FAST and FULL name exactly their items', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', SIMPLE);
    await u.imap.command('SELECT INBOX');
    assert.deepEqual(onlyFetch((await u.imap.command('FETCH 1 ALL')).lines).order, ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']);
    assert.deepEqual(onlyFetch((await u.imap.command('FETCH 1 fast')).lines).order, ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    assert.deepEqual(onlyFetch((await u.imap.command('FETCH 1 FULL')).lines).order, ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']);
  });

  test('RFC 3501 §6.4.8: UID FETCH responses carry UID even when it was not asked for', async () => {
    const u = await f.user();
    const { uid } = await u.mailbox.append('INBOX', SIMPLE);
    await u.imap.command('SELECT INBOX');
    const r = onlyFetch((await u.imap.command(`UID FETCH ${uid} FLAGS`)).lines);
    assert.deepEqual(plain(r.items.get('UID')), `ATOM:${uid}`);
    assert.ok(r.items.has('FLAGS'));
  });

  test('RFC 3501 §6.4.5: BODY[], HEADER, TEXT, MIME, HEADER.FIELDS[.NOT] and RFC822* are the stored bytes', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', MULTI);
    await u.imap.command('EXAMINE INBOX');
    const headerEnd = MULTI.indexOf('\r\n\r\n') + 4;
    const r = onlyFetch(
      (
        await u.imap.command(
          'FETCH 1 (BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1] BODY.PEEK[HEADER.FIELDS (Subject "To")] BODY.PEEK[HEADER.FIELDS.NOT (subject to from mime-version)] RFC822 RFC822.HEADER RFC822.TEXT)',
        )
      ).lines,
    );
    const get = (key: string): Buffer => {
      const v = r.items.get(key);
      assert.ok(Buffer.isBuffer(v), `${key} missing in ${r.order.join(' ')}`);
      return v;
    };
    assert.deepEqual(get('BODY[]'), MULTI);
    assert.deepEqual(get('RFC822'), MULTI);
    assert.deepEqual(get('BODY[HEADER]'), MULTI.subarray(0, headerEnd));
    assert.deepEqual(get('RFC822.HEADER'), MULTI.subarray(0, headerEnd));
    assert.deepEqual(get('BODY[TEXT]'), MULTI.subarray(headerEnd));
    assert.deepEqual(get('RFC822.TEXT'), MULTI.subarray(headerEnd));
    assert.equal(get('BODY[1]').toString(), '<html><head><title>t</title><style>p{}</style></head><body><p>Hello =C3=A9 &amp; welcome</p></body></html>');
    assert.deepEqual(get('BODY[1.MIME]'), slice(MULTI, 'Content-Type: text/html', 'Content-Language: en\r\n\r\n'));
    assert.equal(get('BODY[2.HEADER]').toString(), 'From: Carol <carol@example.net>\r\nTo: undisclosed-recipients:;\r\nSubject: inner\r\n\r\n');
    assert.equal(get('BODY[2.TEXT]').toString(), 'inner body');
    assert.equal(get('BODY[2.1]').toString(), 'inner body');
    assert.equal(get('BODY[HEADER.FIELDS (Subject To)]').toString(), 'To: Bob <bob@example.org>\r\nSubject: parts\r\n\r\n');
    assert.equal(get('BODY[HEADER.FIELDS.NOT (subject to from mime-version)]').toString(), 'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n');
  });

  test('RFC 3501 §6.4.5: a partial answers <origin> with at most the asked octets; beyond the end it is empty', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', SIMPLE);
    await u.imap.command('EXAMINE INBOX');
    const r = onlyFetch((await u.imap.command(`FETCH 1 (BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<6.4> BODY.PEEK[HEADER]<${SIMPLE.length + 100}.5> BINARY.PEEK[1]<3.1000000>)`)).lines);
    assert.deepEqual(r.order, ['BODY[]<0>', 'BODY[TEXT]<6>', 'BODY[HEADER]<' + (SIMPLE.length + 100) + '>', 'BINARY[1]<3>']);
    assert.deepEqual(r.items.get('BODY[]<0>'), SIMPLE.subarray(0, 10));
    assert.equal(text(r.items.get('BODY[TEXT]<6>')), 'line');
    assert.equal(text(r.items.get(`BODY[HEADER]<${SIMPLE.length + 100}>`)), '');
    assert.equal(text(r.items.get('BINARY[1]<3>')), 'st line of the body.\r\nSecond line.\r\n');
  });

  test('RFC 9051 §6.4.5: a section of a part that does not exist is the empty string, as Dovecot answers', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', SIMPLE);
    await u.imap.command('EXAMINE INBOX');
    const r = onlyFetch((await u.imap.command('FETCH 1 (BODY[5] BODY[1.2.3] BINARY[7] BINARY.SIZE[7])')).lines);
    assert.equal(text(r.items.get('BODY[5]')), '');
    assert.equal(text(r.items.get('BODY[1.2.3]')), '');
    assert.equal(text(r.items.get('BINARY[7]')), '');
    assert.deepEqual(plain(r.items.get('BINARY.SIZE[7]')), 'ATOM:0');
  });

  test('a large message is streamed byte for byte (BODY[] and a partial across read pieces)', async () => {
    const u = await f.user();
    const line = 'The quick brown fox jumps over the lazy dog 0123456789.\r\n';
    const big = Buffer.concat([crlf('From: a@b.example', 'Subject: big', '', ''), Buffer.from(line.repeat(Math.ceil((3 * 1024 * 1024) / line.length)))]);
    await u.mailbox.append('INBOX', big);
    await u.imap.command('EXAMINE INBOX');
    const r = onlyFetch((await u.imap.command('FETCH 1 (BODY[] BODY[]<262000.300000>)', 60_000)).lines);
    assert.deepEqual(r.items.get('BODY[]'), big);
    assert.deepEqual(r.items.get('BODY[]<262000>'), big.subarray(262000, 562000));
  });
});

describe('implicit \\Seen (RFC 3501 §6.4.5, RFC 9051 §6.4.5)', () => {
  test('RFC 3501 §6.4.5: BODY[TEXT] sets \\Seen and the response carries the new FLAGS; BODY.PEEK[TEXT] does not', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', SIMPLE);
    await u.mailbox.append('INBOX', SIMPLE);
    await u.imap.command('SELECT INBOX');
    const peek = onlyFetch((await u.imap.command('FETCH 1 (BODY.PEEK[TEXT])')).lines);
    assert.deepEqual(peek.order, ['BODY[TEXT]']);
    assert.deepEqual(u.mailbox.listMessages('INBOX')[0]?.flags, []);
    const read = onlyFetch((await u.imap.command('FETCH 1 (BODY[TEXT])')).lines);
    assert.deepEqual(read.order, ['BODY[TEXT]', 'FLAGS']);
    assert.deepEqual(plain(read.items.get('FLAGS')), ['ATOM:\\Seen', 'ATOM:\\Recent']);
    assert.deepEqual(u.mailbox.listMessages('INBOX')[0]?.flags, ['\\Seen']);
    // Already seen: nothing changes, so no FLAGS is added.
    assert.deepEqual(onlyFetch((await u.imap.command('FETCH 1 (BODY[TEXT])')).lines).order, ['BODY[TEXT]']);
  });

  test('RFC 3501 §6.4.5: RFC822.TEXT and RFC822 set \\Seen; RFC822.HEADER does not ("equivalent to BODY.PEEK[HEADER]")', async () => {
    const u = await f.user();
    for (let i = 0; i < 3; i++) await u.mailbox.append('INBOX', SIMPLE);
    await u.imap.command('SELECT INBOX');
    await u.imap.command('FETCH 1 RFC822.TEXT');
    await u.imap.command('FETCH 2 RFC822');
    await u.imap.command('FETCH 3 RFC822.HEADER');
    assert.deepEqual(
      u.mailbox.listMessages('INBOX').map((m) => m.flags),
      [['\\Seen'], ['\\Seen'], []],
    );
  });

  test('RFC 3501 §6.3.2: in a folder opened with EXAMINE, BODY[] does not set \\Seen', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', SIMPLE);
    await u.imap.command('EXAMINE INBOX');
    const r = onlyFetch((await u.imap.command('FETCH 1 (BODY[] BINARY[1])')).lines);
    assert.deepEqual(r.order, ['BODY[]', 'BINARY[1]']);
    assert.deepEqual(u.mailbox.listMessages('INBOX')[0]?.flags, []);
  });

  test('RFC 7162 §3.1: FETCH MODSEQ enables CONDSTORE, so the implicit \\Seen is reported with its MODSEQ', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', SIMPLE);
    await u.imap.command('SELECT INBOX');
    await u.imap.command('FETCH 1 MODSEQ');
    const r = onlyFetch((await u.imap.command('FETCH 1 BODY[TEXT]')).lines);
    const [meta] = u.mailbox.listMessages('INBOX');
    assert.deepEqual(r.order, ['BODY[TEXT]', 'FLAGS', 'MODSEQ']);
    assert.deepEqual(plain(r.items.get('MODSEQ')), [`ATOM:${meta?.modseq}`]);
  });
});

describe('BODY and BODYSTRUCTURE (RFC 3501 §7.4.2)', () => {
  test('RFC 3501 §7.4.2: BODY is BODYSTRUCTURE without extension data, for multiparts, text, message/rfc822 and other parts', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', MULTI);
    await u.imap.command('EXAMINE INBOX');
    const r = onlyFetch((await u.imap.command('FETCH 1 (BODY BODYSTRUCTURE)')).lines);
    const body = r.items.get('BODY') as Parsed[];
    const structure = r.items.get('BODYSTRUCTURE') as Parsed[];
    // multipart: parts then subtype only; BODYSTRUCTURE adds parameters, disposition, language, location.
    assert.equal(body.length, 4);
    assert.equal(text(body[3]).toLowerCase(), 'mixed');
    assert.equal(structure.length, 8);
    assert.deepEqual(plain(structure[4]), ['BOUNDARY', 'outer']);
    const [htmlBody, messageBody, binBody] = body as [Parsed[], Parsed[], Parsed[]];
    const [htmlFull, messageFull, binFull] = structure as [Parsed[], Parsed[], Parsed[]];
    // text: 7 basic fields + lines; extensions: md5, disposition, language, location.
    assert.equal(htmlBody.length, 8);
    assert.equal(htmlFull.length, 12);
    assert.deepEqual(plain(htmlFull[9]), ['INLINE', null]);
    assert.deepEqual(plain(htmlFull[10]), ['en']);
    // message/rfc822: 7 basic fields + envelope + body + lines; the inner body is non-extensible too.
    assert.equal(messageBody.length, 10);
    assert.equal((messageBody[8] as Parsed[]).length, 8);
    assert.ok(messageFull.length > 10);
    assert.equal((messageFull[8] as Parsed[]).length, 12);
    // The inner envelope: subject, and the empty group `undisclosed-recipients:;`.
    const envelope = messageBody[7] as Parsed[];
    assert.equal(text(envelope[1]), 'inner');
    assert.deepEqual(plain(envelope[5]), [
      [null, null, 'undisclosed-recipients', null],
      [null, null, null, null],
    ]);
    // other single part: 7 basic fields only in BODY.
    assert.equal(binBody.length, 7);
    assert.ok(binFull.length >= 9);
    assert.deepEqual(plain(binFull[8]), ['ATTACHMENT', ['FILENAME', 'a.bin']]);
  });

  test('RFC 3501 §7.4.2 over the wire: ENVELOPE with a NIL subject, group syntax, comments and a source route', async () => {
    const u = await f.user();
    await u.mailbox.append(
      'INBOX',
      crlf(
        'From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>',
        'Sender: <@route1,@route2:jdoe@machine.example>',
        'To: A Group:Ed Jones <c@a.test>,joe@where.test;',
        'Cc: user@host (Real Name)',
        '',
        'no subject here',
        '',
      ),
    );
    await u.imap.command('EXAMINE INBOX');
    const envelope = onlyFetch((await u.imap.command('FETCH 1 ENVELOPE')).lines).items.get('ENVELOPE');
    assert.deepEqual(plain(envelope), [
      null,
      null,
      [['Pete', null, 'pete', 'silly.test']],
      [[null, '@route1,@route2', 'jdoe', 'machine.example']],
      [['Pete', null, 'pete', 'silly.test']],
      [
        [null, null, 'A Group', null],
        ['Ed Jones', null, 'c', 'a.test'],
        [null, null, 'joe', 'where.test'],
        [null, null, null, null],
      ],
      [['Real Name', null, 'user', 'host']],
      null,
      null,
      null,
    ]);
  });

  test('RFC 6855 §3: after ENABLE UTF8=ACCEPT names and subject arrive decoded as UTF-8; before, as RFC 2047 words', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', crlf('From: =?utf-8?q?J=C3=BCrgen?= <j@x.example>', 'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=', '', 'x', ''));
    await u.imap.command('EXAMINE INBOX');
    const before7bit = plain(onlyFetch((await u.imap.command('FETCH 1 ENVELOPE')).lines).items.get('ENVELOPE')) as unknown[];
    assert.equal(before7bit[1], '=?utf-8?q?Gr=C3=BC=C3=9Fe?=');
    // RFC 5161 §3.1: ENABLE is an authenticated-state command: a second session enables before EXAMINE.
    const utf8 = await u.connect();
    assert.equal(status((await utf8.command('ENABLE UTF8=ACCEPT')).tagged), 'OK');
    await utf8.command('EXAMINE INBOX');
    const after8bit = plain(onlyFetch((await utf8.command('FETCH 1 ENVELOPE')).lines).items.get('ENVELOPE')) as unknown[];
    assert.equal(after8bit[1], 'Grüße');
    assert.deepEqual(after8bit[2], [['Jürgen', null, 'j', 'x.example']]);
  });
});

describe('PREVIEW (RFC 8970)', () => {
  test('RFC 8970 §3: PREVIEW is plain text of the first text part (HTML reduced), white space collapsed, at most 256 characters', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', MULTI);
    await u.mailbox.append('INBOX', crlf('From: a@b.example', 'Content-Type: text/plain; charset=utf-8', '', `  ${'wörd '.repeat(100)}`, ''));
    await u.mailbox.append('INBOX', crlf('From: a@b.example', 'Content-Type: image/png', 'Content-Transfer-Encoding: base64', '', 'AAAA', ''));
    await u.imap.command('EXAMINE INBOX');
    const all = fetchResponses((await u.imap.command('FETCH 1:3 (PREVIEW (LAZY))')).lines);
    assert.equal(text(all[0]?.items.get('PREVIEW')), 'Hello é & welcome');
    const long = text(all[1]?.items.get('PREVIEW'));
    assert.equal(Array.from(long).length, 256);
    assert.ok(long.startsWith('wörd wörd'));
    assert.equal(text(all[2]?.items.get('PREVIEW')), '');
    assert.equal(status((await u.imap.command('FETCH 1 PREVIEW (FAST)')).tagged), 'BAD');
  });
});

describe('hostile FETCH arguments get BAD or bounded answers, never a crash', () => {
  test('RFC 9051 §6.4.5: unknown items, BINARY with a section text, a bad partial and VANISHED without CHANGEDSINCE are BAD', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', SIMPLE);
    await u.imap.command('SELECT INBOX');
    for (const args of ['1 (FOO)', '1 BODY[', '1 (BODY[]<1>)', '1 BINARY[HEADER]', '1 BINARY[1.MIME]', '1 (FLAGS) (VANISHED)', '1 (FLAGS) (CHANGEDSINCE)', '1 (FLAGS) (FOO 1)', '1', '1 ()', '2 FLAGS', '0 FLAGS']) {
      assert.equal(status((await u.imap.command(`FETCH ${args}`)).tagged), 'BAD', args);
    }
    assert.equal(status((await u.imap.command('FETCH 1 FLAGS')).tagged), 'OK');
  });

  test('a section path 1000 parts deep, a partial beyond the size and a long repeated item list are answered', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', MULTI);
    await u.imap.command('EXAMINE INBOX');
    const deep = Array.from({ length: 1000 }, () => '1').join('.');
    const r = onlyFetch((await u.imap.command(`FETCH 1 (BODY.PEEK[${deep}] BODY.PEEK[${deep}.MIME] BINARY.PEEK[${deep}] BODY.PEEK[]<4294967295.4294967295>)`)).lines);
    assert.equal(text(r.items.get(`BODY[${deep}]`)), '');
    assert.equal(text(r.items.get('BODY[]<4294967295>')), '');
    const many = Array.from({ length: 3000 }, (_, i) => (i % 2 ? 'FLAGS' : 'BODY.PEEK[1]<0.5>')).join(' ');
    const repeated = onlyFetch((await u.imap.command(`FETCH 1 (${many})`)).lines);
    assert.deepEqual(repeated.order, ['BODY[1]<0>', 'FLAGS']);
    assert.ok(Array.isArray(repeated.items.get('FLAGS')));
  });
});

describe('streamed literals (RFC 9051 §4.3, §7.5.1)', () => {
  test('RFC 9051 §4.3: a message expunged while its literal is half sent ends that connection; other sessions carry on', async () => {
    const u = await f.user();
    const big = Buffer.concat([crlf('From: a@b.example', 'Subject: big', '', ''), Buffer.alloc(40 * 1024 * 1024, 'x')]);
    await u.mailbox.append('INBOX', big);
    const socket = net.connect({ host: '127.0.0.1', port: f.fx.port });
    let received = 0;
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      head = (head + chunk.toString('latin1')).slice(-200);
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const waitFor = async (pattern: RegExp): Promise<void> => {
      for (let i = 0; i < 500 && !pattern.test(head); i++) await new Promise((r) => setTimeout(r, 10));
      assert.match(head, pattern);
    };
    await waitFor(/\r\n$/); // the greeting
    socket.write(`a LOGIN "${u.address}" "${u.password}"\r\nb SELECT INBOX\r\n`);
    await waitFor(/^b OK/m);
    // The client stops reading as it sends the FETCH: the server can only fill the socket buffers (a few MB on
    // loopback) with the 40 MB literal before it must wait; meanwhile another session expunges the message.
    socket.pause();
    socket.write('c FETCH 1 BODY.PEEK[]\r\n');
    await new Promise((r) => setTimeout(r, 500));
    const other = await u.connect();
    await other.command('SELECT INBOX');
    assert.equal(status((await other.command('STORE 1 +FLAGS.SILENT (\\Deleted)')).tagged), 'OK');
    assert.equal(status((await other.command('EXPUNGE')).tagged), 'OK');
    socket.resume();
    await closed;
    assert.ok(received < big.length, `the client got ${received} bytes`);
    assert.ok(!/^c OK/m.test(head), 'the FETCH did not claim success');
    assert.equal(status((await other.command('NOOP')).tagged), 'OK');
    assert.ok(f.fx.logs.some((line) => line.includes('could not finish a message literal')));
  });
});
