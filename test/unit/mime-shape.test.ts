// The MIME shape pre-scan (which messages get the capped parse or a worker thread, which a drain delivers alone):
// the line-at-a-time scan gives exactly the shape of the byte-at-a-time reference on real mail, generated mail,
// hand-made line-structure edge cases, hostile messages and seeded random bytes, and hands every message with a
// lone CR to the reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mimeShape, mimeShapeByBytes, mimeShapeByLines, type MimeShape } from '../../server/mime/limits.js';
import { toCrlf } from '../../server/mime/index.js';
import { generateCorpus } from '../helpers/corpus.js';
import { Rng } from '../helpers/fuzz-inputs.js';
import { compactPartsMessage, garbageMessage, hugeHeaderMessage, manyPartsMessage, nestedMessage, pairedPartsMessage } from '../helpers/mime-bombs.js';
import { loadPythonEmailCorpus, sharedDirOptOut } from '../helpers/shared-dir.js';

const hasLoneCr = (raw: Buffer): boolean => /\r(?!\n)/.test(raw.toString('latin1'));
const toLf = (raw: Buffer): Buffer => Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');

/** Both scans agree on raw; returns whether the line scan took it (it must exactly when no CR stands alone). */
function assertSameShape(label: string, raw: Buffer): boolean {
  const reference = mimeShapeByBytes(raw);
  const byLines = mimeShapeByLines(raw);
  if (hasLoneCr(raw)) assert.equal(byLines, null, `${label}: a lone CR goes to the byte scan`);
  else assert.deepStrictEqual(byLines, reference, `${label}: line scan = byte scan`);
  assert.deepStrictEqual(mimeShape(raw), reference, `${label}: mimeShape = byte scan`);
  return byLines !== null;
}

const shape = (s: Partial<MimeShape>): MimeShape => ({
  dashLines: 0,
  containerTypes: 0,
  longestField: 0,
  longestHeaderRun: 0,
  lines: 0,
  longestLoneCrRun: 0,
  ...s,
});

test('the shape counts what the indexer sees: fields with their continuation lines, runs from the empty line that starts them, lines with bytes', () => {
  const header = 'From: a\r\nSubject: b\r\n  c\r\n\r\nbody\r\n';
  assert.deepStrictEqual(mimeShape(Buffer.from(header)), shape({ lines: 5, longestField: 12 + 5, longestHeaderRun: 9 + 12 + 5 }));
  // The run after an empty line counts that line's own byte: 1 ("\n") + 4 ("X: y").
  assert.deepStrictEqual(mimeShape(Buffer.from('a\n\nX: y')), shape({ lines: 3, longestField: 4, longestHeaderRun: 5 }));
  assert.deepStrictEqual(mimeShape(Buffer.from('\r\n')), shape({ lines: 1 }));
  assert.deepStrictEqual(mimeShape(Buffer.alloc(0)), shape({}));
  assert.deepStrictEqual(mimeShape(Buffer.from('--b\n--b--')), shape({ lines: 2, dashLines: 2 }));
  const types = 'CONTENT-TYPE:  Multipart/Mixed; b=1\r\ncontent-type:message/rfc822\r\nContent-Type: text/plain\r\n';
  assert.equal(mimeShape(Buffer.from(types)).containerTypes, 2);
  assert.equal(mimeShape(Buffer.from('a\r\r\r\rb')).longestLoneCrRun, 4);
});

test('hand-made line structures: line endings, empty lines, long fields, continuation lines (RFC 5322 §2.2.3 folding), "--" lines (RFC 2046 §5.1.1 delimiters), Content-Type in any case', () => {
  const cases: Record<string, string> = {
    'just CRLF': '\r\n',
    'just LF': '\n',
    'empty lines only': '\r\n\r\n\n\r\n',
    'no trailing newline': 'From: a\r\nTo: b\r\n\r\nbody without end',
    'field without trailing newline': 'From: a\r\nSubject: last',
    'bare LF only': 'From: a\nTo: b\n\nbody\nmore\n',
    'CRLF only': 'From: a\r\nTo: b\r\n\r\nbody\r\nmore\r\n',
    'mixed CRLF and LF': 'From: a\r\nTo: b\n\r\nbody\nmore\r\n\n',
    'empty lines at start and end': '\r\n\r\nFrom: a\r\n\r\n\r\n',
    'empty line at start then header': '\nX: y\n',
    'continuation first': ' folded\r\nFrom: a\r\n',
    'continuation lines': 'Subject: a\r\n b\r\n\tc\r\n  d\r\nTo: x\r\n\r\n body starts with a space\r\n',
    'continuation after a non-field line': 'not a field\r\n continued?\r\nX: y\r\n',
    'continuation after a delimiter': '--b\r\n folded\r\n',
    'dash lines': '--\r\n-\r\n--b\r\n--b--\r\n---\r\n -- \r\n',
    'dash field name': '--x: y\r\n-x: y\r\n',
    'colon first': ': value\r\n:\r\n',
    'colon only line at end': 'From: a\r\n:',
    'space before colon': 'From : a\r\nX-Y:z\r\n',
    'field name with 8-bit byte': 'Fr\u00f6m: a\r\n',
    'Content-Type cases': 'content-type: MULTIPART/mixed\r\nCONTENT-TYPE:\tmessage/rfc822\r\ncOnTeNt-TyPe:multipart/alternative\r\nContent-Type: text/plain\r\n',
    'Content-Type folded value': 'Content-Type:\r\n multipart/mixed; boundary=x\r\n',
    'Content-Type at the end': 'X: y\r\nContent-Type: mult',
    'Content-Type without value': 'Content-Type:',
    'Content-Type as a continuation': 'X: y\r\n Content-Type: multipart/mixed\r\n',
    'Content-Type in the body': 'X: y\r\n\r\nContent-Type: message/partial\r\n',
    'field name of 99 bytes': `${'N'.repeat(99)}: v\r\n`,
    'field name of 100 bytes': `${'N'.repeat(100)}: v\r\n`,
    'colon in the 100th byte after a short line': `ab\r\n${'N'.repeat(98)}:\r\n`,
    'very long field': `From: a\r\nX-Long: ${'v'.repeat(70_000)}\r\n\r\nbody\r\n`,
    'very long folded field': `X-Folded: a\r\n${' x\r\n'.repeat(20_000)}\r\n`,
    'long header run of short fields': `${'A: b\r\n'.repeat(20_000)}\r\nbody\r\n`,
    'colons everywhere': '::::\r\n'.repeat(1000),
    'no colon at all': 'abc\r\n'.repeat(1000),
    'NUL bytes': 'X: \u0000\r\n\u0000\r\n',
    'CR before CRLF': 'X: y\r\r\n',
    'CR at the end': 'X: y\r\n\r',
    'lone CR line break': 'From: a\rTo: b\r\rbody\r',
    'lone CR run followed by LF': 'a\r\r\r\nb\r\n',
    'lone CR run followed by text': `a${'\r'.repeat(300)}b\r\n`,
  };
  let byLines = 0;
  for (const [label, text] of Object.entries(cases)) {
    const raw = Buffer.from(text, 'latin1');
    if (assertSameShape(label, raw)) byLines++;
    assertSameShape(`${label} (LF)`, toLf(raw));
    assertSameShape(`${label} (CRLF)`, toCrlf(raw));
  }
  assert.ok(byLines >= Object.keys(cases).length - 5, `most cases take the line scan (${byLines})`);
});

test('the shared python-email corpus: the same shape as sent, as CRLF and as bare LF', (t) => {
  const optOut = sharedDirOptOut();
  if (optOut) {
    t.diagnostic(optOut);
    return;
  }
  let byLines = 0;
  for (const { name, raw } of loadPythonEmailCorpus()) {
    if (assertSameShape(name, raw)) byLines++;
    assert.ok(assertSameShape(`${name} (CRLF)`, toCrlf(raw)));
    assertSameShape(`${name} (LF)`, toLf(raw));
  }
  assert.ok(byLines > 0);
});

test('generated mail of every kind, as CRLF, bare LF and with a lone CR dropped in', () => {
  for (const m of generateCorpus(240, 11)) {
    const label = `${m.kind} ${m.token}`;
    assert.ok(assertSameShape(label, m.raw), `${label}: a CRLF message takes the line scan`);
    assert.ok(assertSameShape(`${label} (LF)`, toLf(m.raw)));
    const at = Math.floor(m.raw.length / 2);
    assert.equal(assertSameShape(`${label} (lone CR)`, Buffer.concat([m.raw.subarray(0, at), Buffer.from('\rx'), m.raw.subarray(at)])), false);
  }
});

test('hostile messages: many parts, deep nesting, a huge header, garbage', () => {
  const hostile: [string, Buffer][] = [
    ['3,001 parts', manyPartsMessage(3001)],
    ['20,000 compact parts', compactPartsMessage(20_000)],
    ['300 paired parts', pairedPartsMessage(300)],
    ['60 levels', nestedMessage(60)],
    ['70 KB header field', hugeHeaderMessage(70_000)],
    ['garbage', garbageMessage(200_000, 3)],
    ['garbage without CR', Buffer.from(garbageMessage(200_000, 4).map((b) => (b === 0x0d ? 0x0a : b)))],
    ['a million LFs', Buffer.alloc(1_000_000, '\n')],
    ['half a million CRLFs', Buffer.from('\r\n'.repeat(500_000))],
  ];
  for (const [label, raw] of hostile) {
    assertSameShape(label, raw);
    assertSameShape(`${label} (LF)`, toLf(raw));
  }
  assert.equal(mimeShape(Buffer.alloc(1_000_000, '\n')).lines, 1_000_000);
});

test('seeded random bytes over "\\r\\n \\t:-aC" and over line-ending tokens (line-structure edge cases)', () => {
  const rng = new Rng(20261207);
  const bytes = Buffer.from('\r\n \t:-aC', 'latin1');
  const tokens = ['\r\n', '\n', '\n', ' ', '\t', ':', '-', '--', 'a', 'C', 'X:', 'Content-Type: multipart/x', 'content-type:message/y', 'N'.repeat(98)];
  let byLines = 0;
  for (let i = 0; i < 3000; i++) {
    const length = rng.int(i % 100 === 0 ? 3000 : 120);
    const raw = Buffer.alloc(length);
    for (let j = 0; j < length; j++) raw[j] = bytes[rng.int(bytes.length)] as number;
    assertSameShape(`bytes #${i}`, raw);
    const parts: string[] = [];
    for (let j = rng.int(60); j > 0; j--) parts.push(rng.chance(0.01) ? '\r' : rng.pick(tokens));
    if (assertSameShape(`tokens #${i}`, Buffer.from(parts.join(''), 'latin1'))) byLines++;
  }
  assert.ok(byLines > 2000, `the token strings mostly take the line scan (${byLines})`);
});
