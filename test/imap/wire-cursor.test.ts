// The argument cursor (server/imap/wire/cursor.ts) against the RFC 9051 / RFC 3501 §9 formal syntax: every
// legal form parses to the right value, every illegal one is a ParseError whose message never echoes the
// client's bytes, and hostile nesting cannot overflow the stack.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCursor, MAX_DEPTH } from '../../server/imap/wire/cursor.js';
import { ParseError, STAR, type Cursor, type CursorOptions } from '../../server/imap/wire/types.js';

const REV1: CursorOptions = { utf8: false, searchRes: false };
const cur = (text: string | Buffer, options: CursorOptions = REV1): Cursor => createCursor(typeof text === 'string' ? Buffer.from(text, 'latin1') : text, options);

/** Parses the whole input with `read` (which must consume all of it). */
function parse<T>(text: string | Buffer, read: (c: Cursor) => T, options: CursorOptions = REV1): T {
  const c = cur(text, options);
  const value = read(c);
  c.end();
  return value;
}

/** Asserts a ParseError whose message does not contain the secret marker from the input. */
function rejects(text: string | Buffer, read: (c: Cursor) => unknown, options: CursorOptions = REV1): void {
  assert.throws(
    () => parse(text, read, options),
    (error: unknown) => {
      assert.ok(error instanceof ParseError, `ParseError expected for ${JSON.stringify(String(text))}, got ${String(error)}`);
      assert.ok(!error.message.includes('SECRET') && error.message.length < 80, error.message);
      return true;
    },
    JSON.stringify(String(text)),
  );
}

const seq = (text: string, options: CursorOptions = REV1) => parse(text, (c) => c.sequenceSet(), options);

describe('IMAP wire cursor', () => {
  it('RFC 9051 §9: sequence-set accepts 1,*  *:3  4:2  1:*  *  and keeps ranges as written', () => {
    assert.deepEqual(seq('1,*'), { kind: 'set', ranges: [[1, 1], [STAR, STAR]] });
    assert.deepEqual(seq('*:3'), { kind: 'set', ranges: [[STAR, 3]] });
    assert.deepEqual(seq('4:2'), { kind: 'set', ranges: [[4, 2]] });
    assert.deepEqual(seq('1:*'), { kind: 'set', ranges: [[1, STAR]] });
    assert.deepEqual(seq('*'), { kind: 'set', ranges: [[STAR, STAR]] });
    assert.deepEqual(seq('1:3,7,9:10'), { kind: 'set', ranges: [[1, 3], [7, 7], [9, 10]] });
    assert.deepEqual(seq('4294967295'), { kind: 'set', ranges: [[4294967295, 4294967295]] });
  });

  it('RFC 9051 §9: sequence-set rejects 0, 1:, ,1, 1,,2, 1,, -1, 01, 4294967296 and 1:2:3', () => {
    for (const bad of ['0', '1:', ',1', '1,,2', '1,', '-1', '01', '4294967296', '1:0', '', 'SECRET', '1:2:3', '$']) {
      rejects(bad, (c) => c.sequenceSet());
    }
  });

  it('RFC 5182 §2.1: "$" is a sequence set only when SEARCHRES is advertised', () => {
    assert.deepEqual(seq('$', { utf8: false, searchRes: true }), { kind: 'saved' });
    rejects('$', (c) => c.sequenceSet());
  });

  it('RFC 9051 §9: number ≤ 2^32-1, nz-number ≥ 1, number64 ≤ 2^63-1', () => {
    assert.equal(parse('0', (c) => c.number()), 0);
    assert.equal(parse('007', (c) => c.number()), 7);
    assert.equal(parse('4294967295', (c) => c.number()), 4294967295);
    rejects('4294967296', (c) => c.number());
    rejects('0', (c) => c.nzNumber());
    rejects('x', (c) => c.number());
    assert.equal(parse('9007199254740991', (c) => c.number64()), 9007199254740991);
    assert.equal(parse('9223372036854775807', (c) => c.number64()), 2 ** 63, 'exact only up to 2^53');
    rejects('9223372036854775808', (c) => c.number64());
    rejects('9'.repeat(5000), (c) => c.number64());
  });

  it('RFC 9051 §4.3: quoted strings unescape \\\\ and \\" only; CR, LF, NUL and other escapes are errors', () => {
    assert.equal(parse('"a\\\\b\\"c"', (c) => c.string()).toString(), 'a\\b"c');
    assert.equal(parse('""', (c) => c.string()).toString(), '');
    assert.equal(parse('"tab\there"', (c) => c.string()).toString(), 'tab\there', 'TEXT-CHAR includes CTLs other than CR and LF');
    for (const bad of ['"a\\nSECRET"', '"SECRET', '"a\rb"', '"a\nb"', '"a\0b"', '"\\', 'SECRET', '']) rejects(bad, (c) => c.string());
  });

  it('RFC 9051 §9 QUOTED-CHAR: 8-bit data in quoted strings must be UTF-8', () => {
    assert.equal(parse(Buffer.from('"Grüße"'), (c) => c.string()).toString(), 'Grüße');
    rejects(Buffer.from([0x22, 0xff, 0xfe, 0x22]), (c) => c.string());
    rejects(Buffer.from([0x22, 0xc0, 0xaf, 0x22]), (c) => c.string()); // overlong "/"
  });

  it('RFC 9051 §4.3: literals inline ({n}, {n+}); literal8 only where allowed (RFC 3516)', () => {
    assert.equal(parse('{5}\r\nab\r\nc', (c) => c.string()).toString(), 'ab\r\nc');
    assert.equal(parse('{0+}\r\n', (c) => c.string()).toString(), '');
    assert.deepEqual(parse('~{3}\r\n\0\0\0', (c) => c.literal(true)), { data: Buffer.alloc(3), binary: true });
    rejects('~{3}\r\n\0\0\0', (c) => c.string());
    rejects('~{3}\r\n\0\0\0', (c) => c.literal());
    rejects('{5}\r\nab', (c) => c.string());
    rejects('{x}\r\nab', (c) => c.string());
  });

  it('RFC 9051 §9: astring is ASTRING-CHAR+ (with "]") or a string; NIL is the text "NIL"', () => {
    assert.equal(parse('NIL', (c) => c.astring()).toString(), 'NIL');
    assert.equal(parse('a]b', (c) => c.astring()).toString(), 'a]b');
    assert.equal(parse('{3}\r\nx y', (c) => c.astring()).toString(), 'x y');
    for (const bad of ['a%b', 'a*', '(', 'a\\b', Buffer.from([0x61, 0xe9])]) rejects(bad, (c) => c.astring());
  });

  it('RFC 9051 §9: nstring is NIL (any case) or a string', () => {
    assert.equal(parse('nil', (c) => c.nstring()), null);
    assert.equal(parse('"NIL"', (c) => c.nstring())?.toString(), 'NIL');
    rejects('NILS', (c) => c.nstring());
  });

  it('RFC 3501 §5.1: INBOX is case-insensitive (only the name itself); other names keep their case', () => {
    assert.equal(parse('inbox', (c) => c.mailbox()), 'INBOX');
    assert.equal(parse('"InBoX"', (c) => c.mailbox()), 'INBOX');
    assert.equal(parse('inbox/Sub', (c) => c.mailbox()), 'inbox/Sub');
    assert.equal(parse('Work/Projects', (c) => c.mailbox()), 'Work/Projects');
    assert.equal(parse('NIL', (c) => c.mailbox()), 'NIL');
  });

  it('RFC 3501 §5.1.3: mailbox names are modified UTF-7 decoded, strictly; UTF-8 when enabled (RFC 6855 §3)', () => {
    assert.equal(parse('"Entw&APw-rfe"', (c) => c.mailbox()), 'Entwürfe');
    assert.equal(parse('"&ZeVnLIqe-"', (c) => c.mailbox()), '日本語');
    assert.equal(parse('"A &- B"', (c) => c.mailbox()), 'A & B');
    assert.equal(parse('"&2D3eAA-"', (c) => c.mailbox()), '\u{1F600}', 'a surrogate pair');
    for (const bad of ['"&AGE-"', '"&Jjo"', '"&Jjo!-"', Buffer.from('"Entwürfe"'), '"&2D0-"', '"&3gA-"', '"&AOQ"', '"&AOR-"']) rejects(bad, (c) => c.mailbox());
    const utf8 = { utf8: true, searchRes: false };
    assert.equal(parse(Buffer.from('"Entwürfe"'), (c) => c.mailbox(), utf8), 'Entwürfe');
    assert.equal(parse('"Entw&APw-rfe"', (c) => c.mailbox(), utf8), 'Entw&APw-rfe', 'no mUTF-7 once UTF-8 is on');
  });

  it('RFC 9051 §9: list-mailbox takes % and * in atoms, or a string', () => {
    assert.equal(parse('Work/*', (c) => c.listMailbox()), 'Work/*');
    assert.equal(parse('%', (c) => c.listMailbox()), '%');
    assert.equal(parse('"Entw&APw-rfe/%"', (c) => c.listMailbox()), 'Entwürfe/%');
    assert.equal(parse('{6}\r\nWork/*', (c) => c.listMailbox()), 'Work/*');
    const c = cur('"" *');
    assert.equal(c.listMailbox(), '');
    c.sp();
    assert.equal(c.listMailbox(), '*');
    c.end();
    rejects('a(b', (c2) => c2.listMailbox());
  });

  it('RFC 9051 §9: flags: system flags canonical-cased, keywords (NIL, $Junk) as sent, \\* only in flag-perm', () => {
    assert.deepEqual(parse('(\\SEEN \\answered $Junk NIL \\Custom)', (c) => c.flagList()), ['\\Seen', '\\Answered', '$Junk', 'NIL', '\\Custom']);
    assert.deepEqual(parse('()', (c) => c.flagList()), []);
    assert.equal(parse('\\*', (c) => c.flag(true)), '\\*');
    rejects('\\*', (c) => c.flag());
    for (const bad of ['(\\Seen', '(\\Seen  $Junk)', '( \\Seen)', '(\\)', '(a%)', '\\Seen)']) rejects(bad, (c) => c.flagList());
  });

  it('RFC 9051 §9: date-time with RFC month names and zones; impossible dates are errors', () => {
    assert.equal(parse('"17-Jul-1996 02:44:25 -0700"', (c) => c.dateTime()).toISOString(), '1996-07-17T09:44:25.000Z');
    assert.equal(parse('" 1-jan-2024 00:00:00 +0100"', (c) => c.dateTime()).toISOString(), '2023-12-31T23:00:00.000Z');
    for (const bad of ['"31-Feb-2024 00:00:00 +0000"', '"17-Jly-1996 02:44:25 -0700"', '"17-Jul-1996 24:00:00 +0000"', '"17-Jul-1996 02:44:25"', '17-Jul-1996', '"17-Jul-96 02:44:25 +0000"']) {
      rejects(bad, (c) => c.dateTime());
    }
  });

  it('RFC 9051 §9: date is date-text or quoted date-text, returned as YYYY-MM-DD', () => {
    assert.equal(parse('1-Feb-2020', (c) => c.date()), '2020-02-01');
    assert.equal(parse('"29-feb-2024"', (c) => c.date()), '2024-02-29');
    for (const bad of ['29-Feb-2023', 'notadate', '1-Feb-20201', '"1-Feb-2020', '001-Feb-2020']) rejects(bad, (c) => c.date());
  });

  it('RFC 9051 §6.4.5: section specs: [], [TEXT], [1.2.HEADER.FIELDS (A B)], [1.MIME], [HEADER.FIELDS.NOT (X)]', () => {
    assert.deepEqual(parse('[]', (c) => c.section()), { path: '', text: '' });
    assert.deepEqual(parse('[TEXT]', (c) => c.section()), { path: '', text: 'TEXT' });
    assert.deepEqual(parse('[header]', (c) => c.section()), { path: '', text: 'HEADER' });
    assert.deepEqual(parse('[1.2.HEADER.FIELDS (A b)]', (c) => c.section()), { path: '1.2', text: 'HEADER.FIELDS', fields: ['A', 'b'] });
    assert.deepEqual(parse('[1.MIME]', (c) => c.section()), { path: '1', text: 'MIME' });
    assert.deepEqual(parse('[3]', (c) => c.section()), { path: '3', text: '' });
    assert.deepEqual(parse('[HEADER.FIELDS.NOT (X-Spam "Received" {2}\r\nTo)]', (c) => c.section()), {
      path: '',
      text: 'HEADER.FIELDS.NOT',
      fields: ['X-Spam', 'Received', 'To'],
    });
    for (const bad of ['[0]', '[1.]', '[MIME]', '[1TEXT]', '[HEADER.FIELDS]', '[HEADER.FIELDS ()]', '[TEXTS]', '[1.2', '[01]', '[SECRET]']) rejects(bad, (c) => c.section());
  });

  it('RFC 9051 §6.4.5: partial <start.length>', () => {
    assert.deepEqual(parse('<0.100>', (c) => c.partial()), { start: 0, length: 100 });
    assert.equal(parse('', (c) => c.partial()), null);
    for (const bad of ['<0.0>', '<0>', '<1.>', '<.5>', '<1.2']) rejects(bad, (c) => c.partial());
  });

  it('keywords: tryKeyword needs a delimiter after alphanumerics, so BODY does not match BODYSTRUCTURE or BODY.PEEK', () => {
    const c = cur('BODYSTRUCTURE BODY.PEEK[] body[1]');
    assert.equal(c.tryKeyword('BODY'), false);
    assert.equal(c.tryKeyword('BODYSTRUCTURE'), true);
    c.sp();
    assert.equal(c.tryKeyword('BODY'), false);
    assert.equal(c.tryKeyword('BODY.PEEK'), true);
    assert.deepEqual(c.section(), { path: '', text: '' });
    c.sp();
    assert.equal(c.peekAtom(), 'BODY[1');
    assert.equal(c.tryKeyword('BODY'), true);
    assert.deepEqual(c.section(), { path: '1', text: '' });
    c.end();
  });

  it('a FETCH argument list reads item by item', () => {
    const c = cur('1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)]<0.100> UID)');
    assert.deepEqual(c.sequenceSet(), { kind: 'set', ranges: [[1, STAR]] });
    c.sp();
    const items = c.list((x) => {
      if (x.tryKeyword('BODY.PEEK')) return { peek: x.section(), partial: x.partial() };
      return x.atom();
    });
    c.end();
    assert.deepEqual(items, ['FLAGS', { peek: { path: '', text: 'HEADER.FIELDS', fields: ['Subject'] }, partial: { start: 0, length: 100 } }, 'UID']);
  });

  it('lists: empty only when allowed, no leading/trailing/double spaces, unbalanced parens are errors', () => {
    assert.deepEqual(parse('(a b c)', (c) => c.list((x) => x.atom())), ['A', 'B', 'C']);
    assert.deepEqual(parse('()', (c) => c.list((x) => x.atom(), true)), []);
    for (const bad of ['()', '(a', '(a b', 'a)', '(a  b)', '(a )', '( a)', '((a)']) rejects(bad, (c) => c.list((x) => x.atom()));
  });

  it(`hostile input: 10,000 nested parentheses are a ParseError (nesting capped at ${MAX_DEPTH}), not a stack overflow`, () => {
    const deep = '('.repeat(10_000) + ')'.repeat(10_000);
    // A recursive reader of nested lists, as SEARCH keys are.
    const nested = (c: Cursor): unknown => (c.peek() === '(' ? c.list(nested, true) : c.atom());
    rejects(deep, nested);
    const depth = (n: number): string => '('.repeat(n) + 'A' + ')'.repeat(n);
    assert.doesNotThrow(() => parse(depth(MAX_DEPTH), nested));
    rejects(depth(MAX_DEPTH + 1), nested);
    // expect('(') counts too, for parsers that do not use list().
    const manual = (c: Cursor): void => {
      while (c.peek() === '(') c.expect('(');
      while (c.peek() === ')') c.expect(')');
    };
    rejects(deep, manual);
  });

  it('atoms reject 8-bit bytes and specials; end() refuses leftovers', () => {
    rejects(Buffer.from([0x41, 0xe9, 0x42]), (c) => c.atom());
    rejects('A{B', (c) => c.atom());
    rejects('NOOP extra', (c) => c.atom());
    assert.equal(parse('fetch', (c) => c.atom()), 'FETCH');
    assert.equal(parse('MiXed', (c) => c.atom(true)), 'MiXed');
    const c = cur('');
    assert.equal(c.atEnd(), true);
    assert.equal(c.peek(), '');
    assert.equal(c.trySp(), false);
    assert.throws(() => c.sp(), ParseError);
  });

  it('hostile input: random byte soup makes every method return or throw ParseError, never anything else', () => {
    // A fixed-seed generator so a failure reproduces.
    let seed = 0x5eed;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = Buffer.from('()[]<>{}~+*%$:,.-\\" \r\n0123456789ANILHEADERTEXTMIMEJanFebx&-\0\xff\x7f', 'latin1');
    const methods: ((c: Cursor) => unknown)[] = [
      (c) => c.atom(),
      (c) => c.number(),
      (c) => c.nzNumber(),
      (c) => c.number64(),
      (c) => c.string(),
      (c) => c.astring(),
      (c) => c.nstring(),
      (c) => c.mailbox(),
      (c) => c.listMailbox(),
      (c) => c.literal(true),
      (c) => c.sequenceSet(),
      (c) => c.flag(true),
      (c) => c.flagList(),
      (c) => c.dateTime(),
      (c) => c.date(),
      (c) => c.section(),
      (c) => c.partial(),
      (c) => c.list((x) => (x.peek() === '(' ? x.flagList() : x.astring()), true),
    ];
    for (let round = 0; round < 3000; round++) {
      const input = Buffer.alloc(1 + random(24));
      for (let i = 0; i < input.length; i++) input[i] = alphabet[random(alphabet.length)] as number;
      for (const method of methods) {
        for (const options of [REV1, { utf8: true, searchRes: true }]) {
          try {
            const c = cur(input, options);
            method(c);
            c.end();
          } catch (error) {
            assert.ok(error instanceof ParseError, `${String(error)} for ${input.toString('hex')}`);
          }
        }
      }
    }
  });
});
