// The response encoder (server/imap/wire/encode.ts) and modified UTF-7 (mutf7.ts): quoted versus literal
// choice, streamed literals written with backpressure, dates and sequence sets, and round trips through the
// cursor (what we encode, a client's parser reads back as the same value).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCursor } from '../../server/imap/wire/cursor.js';
import {
  encodeLine,
  encodeValue,
  formatInternalDate,
  mailboxName,
  MAX_QUOTED_BYTES,
  nstring,
  quotedOrLiteral,
  sequenceSetText,
  writePieces,
  type EncodedPiece,
} from '../../server/imap/wire/encode.js';
import { decodeMutf7, encodeMutf7 } from '../../server/imap/wire/mutf7.js';
import type { StreamedLiteral, Value } from '../../server/imap/wire/types.js';

const REV1 = { utf8: false };
const UTF8 = { utf8: true };

/** Joins pieces into one Buffer (streamed literals read whole). */
async function bytesOf(pieces: readonly EncodedPiece[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await writePieces(pieces, (chunk) => void out.push(chunk), 3);
  return Buffer.concat(out);
}

const text = (value: Value | string, options = REV1): string =>
  Buffer.concat(encodeValue(value, options).map((p) => (Buffer.isBuffer(p) ? p : Buffer.alloc(0)))).toString('latin1');

describe('IMAP wire encoder', () => {
  it('RFC 9051 §4.3: short 7-bit text is quoted, with " and \\ escaped', () => {
    assert.equal(text({ string: 'hello' }), '"hello"');
    assert.equal(text({ string: '' }), '""');
    assert.equal(text({ string: 'a"b\\c' }), '"a\\"b\\\\c"');
  });

  it('RFC 9051 §4.3: CR, LF, NUL, 8-bit (without UTF8=ACCEPT) and long text become literals', () => {
    assert.equal(text({ string: 'a\r\nb' }), '{4}\r\na\r\nb');
    assert.equal(text({ string: 'a\0b' }), '{3}\r\na\0b');
    assert.equal(Buffer.concat(encodeValue({ string: 'Grüße' }, REV1) as Buffer[]).toString(), '{7}\r\nGrüße');
    const long = 'x'.repeat(MAX_QUOTED_BYTES + 1);
    assert.equal(text({ string: long }), `{${long.length}}\r\n${long}`);
    assert.equal(text({ string: long.slice(1) }), `"${long.slice(1)}"`);
  });

  it('RFC 6855 §3: with UTF8=ACCEPT, UTF-8 goes in quoted strings; invalid UTF-8 still as a literal', () => {
    assert.equal(Buffer.concat(encodeValue({ string: 'Grüße' }, UTF8) as Buffer[]).toString(), '"Grüße"');
    assert.equal(text({ string: Buffer.from([0xff, 0x41]) }, UTF8), '{2}\r\n\xffA');
  });

  it('values: NIL, atoms, raw text, nested lists, literal and literal8', () => {
    const value: Value = [{ atom: 'FLAGS' }, [{ atom: '\\Seen' }, { atom: '$Junk' }], { raw: 'BODY[1]<0>' }, null, { literal: Buffer.from('ab') }, { literal: Buffer.from([0]), binary: true }, []];
    assert.equal(text(value), '(FLAGS (\\Seen $Junk) BODY[1]<0> NIL {2}\r\nab ~{1}\r\n\0 ())');
    assert.equal(text(nstring(null)), 'NIL');
    assert.equal(text(nstring(undefined)), 'NIL');
    assert.equal(text(nstring('x')), '"x"');
  });

  it('encodeLine writes prefix, values joined by SP, CRLF; plain strings verbatim', () => {
    const pieces = encodeLine('* 3 FETCH', [[{ atom: 'UID' }, { atom: '7' }]], REV1);
    assert.deepEqual(pieces, [Buffer.from('* 3 FETCH (UID 7)\r\n')]);
    assert.deepEqual(encodeLine('*', ['OK [UIDNEXT 4] Predicted next UID'], REV1), [Buffer.from('* OK [UIDNEXT 4] Predicted next UID\r\n')]);
  });

  it('streamed literals: header, then the body read piece by piece with backpressure, then the rest', async () => {
    const body = Buffer.from('0123456789');
    const reads: [number, number][] = [];
    const streamed: StreamedLiteral = {
      streamed: true,
      length: body.length,
      read: async (offset, end) => (reads.push([offset, end]), body.subarray(offset, end)),
    };
    const pieces = encodeLine('* 1 FETCH', [[{ raw: 'BODY[]' }, streamed, { atom: 'UID' }, { atom: '9' }]], REV1);
    assert.equal(pieces.length, 3);
    assert.equal((pieces[0] as Buffer).toString(), '* 1 FETCH (BODY[] {10}\r\n');
    assert.equal(pieces[1], streamed);
    assert.equal((await bytesOf(pieces)).toString(), '* 1 FETCH (BODY[] {10}\r\n0123456789 UID 9)\r\n');
    assert.deepEqual(reads, [[0, 3], [3, 6], [6, 9], [9, 10]]);
    const binary: StreamedLiteral = { ...streamed, binary: true };
    assert.equal((await bytesOf(encodeValue(binary, REV1))).toString(), '~{10}\r\n0123456789');
    const short: StreamedLiteral = { ...streamed, read: async () => Buffer.alloc(1) };
    await assert.rejects(bytesOf(encodeValue(short, REV1)), /short read/);
  });

  it('RFC 9051 §9 date-time: INTERNALDATE as dd-Mon-yyyy hh:mm:ss +zzzz', () => {
    const date = new Date('1996-07-17T09:44:25Z');
    assert.equal(formatInternalDate(date), '17-Jul-1996 09:44:25 +0000');
    assert.equal(formatInternalDate(date, -420), '17-Jul-1996 02:44:25 -0700');
    assert.equal(formatInternalDate(new Date('2024-01-05T23:30:00Z'), 90), '06-Jan-2024 01:00:00 +0130');
  });

  it('sequence sets are written compactly, sorted and without duplicates', () => {
    assert.equal(sequenceSetText([1, 2, 3, 7]), '1:3,7');
    assert.equal(sequenceSetText([9, 1, 2, 2, 10, 5]), '1:2,5,9:10');
    assert.equal(sequenceSetText([]), '');
    assert.equal(sequenceSetText([4294967295]), '4294967295');
  });

  it('RFC 3501 §5.1.3: modified UTF-7 encodes non-ASCII and "&", and decodes back', () => {
    const cases: [string, string][] = [
      ['INBOX', 'INBOX'],
      ['Entwürfe', 'Entw&APw-rfe'],
      ['日本語', '&ZeVnLIqe-'],
      ['A & B', 'A &- B'],
      ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
      ['\u{1F600}', '&2D3eAA-'],
      ['tab\there', 'tab&AAk-here'],
    ];
    for (const [name, wire] of cases) {
      assert.equal(encodeMutf7(name), wire);
      assert.equal(decodeMutf7(wire), name);
    }
    for (const bad of ['&', '&AGE-', '&-&', 'ü', '&,,,-', '&AOQ', '&-&AOQ']) assert.equal(decodeMutf7(bad), null, bad);
  });

  it('round trip: strings encoded by us parse back to the same bytes with the cursor', () => {
    const samples = ['', 'plain', 'with space', 'quote " and \\ backslash', 'line\r\nbreak', 'nul\0byte', 'Grüße 日本', 'x'.repeat(5000), '{5}'];
    for (const options of [REV1, UTF8]) {
      for (const sample of samples) {
        const wire = quotedOrLiteral(sample, options.utf8);
        const cursor = createCursor(wire, { utf8: options.utf8, searchRes: false });
        assert.equal(cursor.string().toString(), sample, JSON.stringify(sample));
        cursor.end();
      }
    }
  });

  it('round trip: mailbox names encoded by us parse back to the same path', () => {
    for (const path of ['INBOX', 'Work/Projects', 'Entwürfe', 'A & B', '日本語/子', 'quote"d', 'x'.repeat(1200)]) {
      for (const utf8 of [false, true]) {
        const wire = Buffer.concat(encodeValue(mailboxName(path, utf8), { utf8 }) as Buffer[]);
        const cursor = createCursor(wire, { utf8, searchRes: false });
        assert.equal(cursor.mailbox(), path, `${path} utf8=${utf8}`);
        cursor.end();
      }
    }
  });

  it('round trip: flag lists, INTERNALDATE and sequence sets parse back', () => {
    const flags: Value = [{ atom: '\\Seen' }, { atom: '$Forwarded' }, { atom: '\\Draft' }];
    assert.deepEqual(createCursor(Buffer.from(text(flags)), { utf8: false, searchRes: false }).flagList(), ['\\Seen', '$Forwarded', '\\Draft']);
    const date = new Date('2026-12-06T07:19:18Z');
    assert.equal(createCursor(Buffer.from(text({ string: formatInternalDate(date, 60) })), { utf8: false, searchRes: false }).dateTime().getTime(), date.getTime());
    const set = createCursor(Buffer.from(sequenceSetText([1, 2, 3, 8, 10, 11])), { utf8: false, searchRes: false }).sequenceSet();
    assert.deepEqual(set, { kind: 'set', ranges: [[1, 3], [8, 8], [10, 11]] });
  });
});
