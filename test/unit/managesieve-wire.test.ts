// ManageSieve framing (RFC 5804 §4): quoted strings, {n+} and {n} literals, lines split at every byte,
// and the bounds (line length, literal size, tokens per line) that keep a hostile client's input small.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ManageSieveReader, MAX_TOKENS, sieveString, type ReadEvent } from '../../server/managesieve/wire.js';

const limits = { maxLineBytes: 64, maxLiteralBytes: 100 };

function readAll(input: Buffer | string, chunk = Infinity): ReadEvent[] {
  const reader = new ManageSieveReader(limits);
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const events: ReadEvent[] = [];
  for (let i = 0; i < bytes.length; i += chunk === Infinity ? bytes.length : chunk) {
    reader.push(bytes.subarray(i, chunk === Infinity ? bytes.length : i + chunk));
    for (let e = reader.next(); e; e = reader.next()) events.push(e);
  }
  return events;
}

const show = (events: ReadEvent[]): unknown[] => events.map((e) => (e.type === 'line' ? e.tokens.map((t) => (t.kind === 'atom' ? t.value : `s:${t.value.toString()}`)) : e.type));

describe('ManageSieve wire (RFC 5804 §4)', () => {
  const script = 'require "x";\r\nkeep;\r\n';
  const input = `PUTSCRIPT "a \\"b\\" \\\\c" {${script.length}+}\r\n${script}\r\nGETSCRIPT {5}\r\nünï\r\nLOGOUT\r\n`;

  test('RFC 5804 §4: quoted strings unescape \\" and \\\\; {n+} and {n} literals carry CRLF and UTF-8 bytes', () => {
    assert.deepEqual(show(readAll(input)), [['PUTSCRIPT', 's:a "b" \\c', `s:${script}`], ['GETSCRIPT', 's:ünï'], ['LOGOUT']]);
  });

  test('the same input split at every byte gives the same lines', () => {
    assert.deepEqual(show(readAll(input, 1)), show(readAll(input)));
  });

  test('hostile: a literal over the limit is reported at its header, its octets skipped unread, the next line read', () => {
    const events = readAll(`PUTSCRIPT "x" {101+}\r\n${'y'.repeat(101)} trailing\r\nNOOP\r\n`);
    assert.deepEqual(show(events), ['literal-too-big', ['NOOP']]);
    assert.deepEqual(readAll('PUTSCRIPT "x" {99999999999+}\r\n').map((e) => e.type), ['literal-too-big']);
  });

  test('hostile: a line over maxLineBytes is reported even when it never ends', () => {
    assert.deepEqual(readAll(`NOOP "${'a'.repeat(200)}`).map((e) => e.type), ['line-too-long']);
    assert.deepEqual(readAll('a'.repeat(200)).map((e) => e.type), ['line-too-long']);
  });

  test('hostile: bad syntax gets one syntax event and the session resynchronises at the next line', () => {
    assert.deepEqual(show(readAll('NOOP "a\\x"\r\nNOOP\r\n')), ['syntax', ['NOOP']]);
    assert.deepEqual(show(readAll('NOOP {abc}\r\nNOOP\r\n')), ['syntax', ['NOOP']]);
    assert.deepEqual(show(readAll('NO\x01OP\r\nNOOP\r\n')), ['syntax', ['NOOP']]);
    assert.deepEqual(show(readAll(`${'A '.repeat(MAX_TOKENS + 1)}\r\nNOOP\r\n`)), ['syntax', ['NOOP']]);
  });

  test('reset() drops what was received (STARTTLS)', () => {
    const reader = new ManageSieveReader(limits);
    reader.push(Buffer.from('STARTTLS\r\nLOGOUT\r\n'));
    assert.deepEqual(show([reader.next()!]), [['STARTTLS']]);
    reader.reset();
    assert.equal(reader.next(), null);
  });

  test('sieveString quotes with escapes, and uses a literal for CR/LF', () => {
    assert.equal(sieveString('a "b" \\'), '"a \\"b\\" \\\\"');
    assert.equal(sieveString('a\r\nb'), '{4}\r\na\r\nb');
  });
});
