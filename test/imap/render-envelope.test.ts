// ENVELOPE rendering (server/imap/render/envelope.ts, addresses.ts) on header bytes, answers checked against
// RFC 3501 §7.4.2 and, where the RFC leaves room, against what Dovecot 2.3 answers for the same header.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAddressList } from '../../server/imap/render/addresses.js';
import { encodeWords, envelopeFromHeader } from '../../server/imap/render/envelope.js';
import { encodeValue } from '../../server/imap/wire/encode.js';
import type { Value } from '../../server/imap/wire/types.js';

/** The envelope as the wire carries it (7-bit client unless utf8). */
function wire(header: string, utf8 = false): string {
  const value = envelopeFromHeader(Buffer.from(`${header.replace(/\n/g, '\r\n')}\r\n\r\n`, 'utf8'), { utf8 });
  return text(value, utf8);
}

function text(value: Value, utf8: boolean): string {
  return Buffer.concat(encodeValue(value, { utf8 }).map((piece) => (Buffer.isBuffer(piece) ? piece : Buffer.alloc(0)))).toString('utf8');
}

describe('ENVELOPE (RFC 3501 §7.4.2, RFC 9051 §7.5.2)', () => {
  test('RFC 3501 §7.4.2: a missing Subject is NIL, an empty one is the empty string', () => {
    assert.match(wire('From: a@b.example'), /^\(NIL NIL \(\(NIL NIL "a" "b.example"\)\)/);
    assert.match(wire('From: a@b.example\nSubject: '), /^\(NIL "" /);
  });

  test('RFC 3501 §7.4.2: sender and reply-to default to from when absent', () => {
    const env = wire('From: Ann <ann@x.example>\nTo: bob@y.example\nDate: Thu, 13 Feb 1969 23:32:54 -0330\nMessage-ID: <1@x>\nIn-Reply-To: <0@x>');
    assert.equal(
      env,
      '("Thu, 13 Feb 1969 23:32:54 -0330" NIL (("Ann" NIL "ann" "x.example")) (("Ann" NIL "ann" "x.example")) (("Ann" NIL "ann" "x.example")) ((NIL NIL "bob" "y.example")) NIL NIL "<0@x>" "<1@x>")',
    );
  });

  test('RFC 3501 §7.4.2: group syntax is a start-of-group (NIL NIL "name" NIL), its members, and an end-of-group (NIL NIL NIL NIL)', () => {
    const env = wire('From: a@b.example\nTo: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Undisclosed recipients:;');
    assert.ok(
      env.includes(
        '((NIL NIL "A Group" NIL)("Ed Jones" NIL "c" "a.test")(NIL NIL "joe" "where.test")("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL)(NIL NIL "Undisclosed recipients" NIL)(NIL NIL NIL NIL))',
      ),
      env,
    );
  });

  test('RFC 3501 §9: env-from = "(" 1*address ")": the addresses of a list follow each other without SP', () => {
    const env = wire('From: a@b.example, c@d.example');
    assert.ok(env.includes('((NIL NIL "a" "b.example")(NIL NIL "c" "d.example"))'), env);
  });

  test('RFC 3501 §7.4.2: the at-domain-list (source route) is the adl member', () => {
    assert.deepEqual(parseAddressList('<@route1,@route2:jdoe@machine.example>'), [
      { kind: 'mailbox', name: null, route: '@route1,@route2', mailbox: 'jdoe', host: 'machine.example' },
    ]);
    assert.ok(wire('From: a@b.example\nSender: <@route1,@route2:jdoe@machine.example>').includes('((NIL "@route1,@route2" "jdoe" "machine.example"))'));
  });

  test('RFC 5322 §3.2.2: comments are dropped; a comment after a bare addr-spec is its name (as Dovecot answers)', () => {
    assert.deepEqual(parseAddressList('Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>'), [
      { kind: 'mailbox', name: 'Pete', route: null, mailbox: 'pete', host: 'silly.test' },
    ]);
    assert.deepEqual(parseAddressList('user@host (Real Name), (Comment Only) <c@d.e>'), [
      { kind: 'mailbox', name: 'Real Name', route: null, mailbox: 'user', host: 'host' },
      { kind: 'mailbox', name: null, route: null, mailbox: 'c', host: 'd.e' },
    ]);
  });

  test('RFC 5322 §3.4: quoted display names and local parts lose their quotes; missing parts are named as Dovecot names them', () => {
    assert.deepEqual(parseAddressList('"Joe Q. Public" <john.q.public@example.com>, "john doe"@x.y, nodomain, bad <>'), [
      { kind: 'mailbox', name: 'Joe Q. Public', route: null, mailbox: 'john.q.public', host: 'example.com' },
      { kind: 'mailbox', name: null, route: null, mailbox: 'john doe', host: 'x.y' },
      { kind: 'mailbox', name: null, route: null, mailbox: 'nodomain', host: 'MISSING_DOMAIN' },
      { kind: 'mailbox', name: 'bad', route: null, mailbox: 'MISSING_MAILBOX', host: 'MISSING_DOMAIN' },
    ]);
  });

  test('RFC 3501 §7.4.2: a name with a double quote is sent as a quoted string with its quote escaped', () => {
    const env = wire('From: "say \\"hi\\"" <a@b.example>');
    assert.ok(env.includes('(("say \\"hi\\"" NIL "a" "b.example"))'), env);
  });

  test('RFC 2047 words stay encoded for a 7-bit client and are decoded after ENABLE UTF8=ACCEPT (RFC 6855 §3)', () => {
    const header = 'From: =?utf-8?q?J=C3=BCrgen?= <j@x.example>\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and more';
    assert.ok(wire(header).includes('"=?utf-8?q?Gr=C3=BC=C3=9Fe?= and more" (("=?utf-8?q?J=C3=BCrgen?=" NIL "j" "x.example"))'));
    assert.ok(wire(header, true).includes('"Grüße and more" (("Jürgen" NIL "j" "x.example"))'));
  });

  test('raw 8-bit header text reaches a 7-bit client as encoded words that decode to the same text', () => {
    const env = wire('From: Jürgen Müller <j@x.example>\nSubject: Grüße aus Köln');
    assert.ok(!/[^\x20-\x7e]/.test(env), env);
    assert.ok(env.includes(`"${encodeWords('Grüße aus Köln')}"`), env);
    assert.ok(wire('From: Jürgen Müller <j@x.example>\nSubject: Grüße aus Köln', true).includes('"Grüße aus Köln"'));
  });

  test('RFC 2047 §2: encoded words are at most 75 characters and never split a character', () => {
    const long = '日本語のテキスト'.repeat(20);
    const words = encodeWords(long).split(' ');
    assert.ok(words.length > 1);
    for (const word of words) assert.ok(word.length <= 75, word);
    const decoded = words.map((w) => Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(w)?.[1] ?? '', 'base64').toString('utf8')).join('');
    assert.equal(decoded, long);
  });

  test('a repeated field: the last occurrence is reported (as Dovecot does); folded values are unfolded', () => {
    const env = wire('Subject: first\nSubject: second\nMessage-ID:\n <folded@x>\nDate: Thu,\n 13 Feb 1969 23:32:54 -0330');
    assert.ok(env.startsWith('("Thu, 13 Feb 1969 23:32:54 -0330" "second" NIL NIL NIL NIL NIL NIL NIL "<folded@x>")'), env);
  });

  test('hostile address lists end in bounded time and never throw (unterminated quotes, comments, brackets, stray specials)', () => {
    for (const value of ['"unterminated', '(((((', '<<<<a@b', '>>>;;;:::,,,@@@', 'a:b:c:d;e;', '[1.2.3.4', 'x@[1.2.3.4]', ',,,'.repeat(10_000), '('.repeat(50_000)]) {
      const list = parseAddressList(value);
      assert.ok(Array.isArray(list));
    }
    assert.deepEqual(parseAddressList('x@[1.2.3.4]'), [{ kind: 'mailbox', name: null, route: null, mailbox: 'x', host: '[1.2.3.4]' }]);
  });
});
