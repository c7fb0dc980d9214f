// MIME limits: SEALPOST_MIME_MAX_DEPTH / SEALPOST_MIME_MAX_PARTS, the opaque part that stands for what lies
// past them (BODYSTRUCTURE and BODY[n] describe the same bytes), parsing that never throws whatever the bytes,
// the linear BODYSTRUCTURE compiler FETCH uses, and HTML search text that stays linear on unclosed tags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MIME_LIMITS,
  deserializeStructure,
  serializeStructure,
  fetchSection,
  mimeLimits,
  mimeLimitsFromEnv,
  parseMessage,
  parseSectionSpec,
  type MessageStructure,
  type MimeLimits,
  type MimePart,
  type ParsedMessage,
} from '../../server/mime/index.js';
import { opaqueMessage, parseMessageSync } from '../../server/mime/parse.js';
import { buildCappedTree } from '../../server/mime/capped.js';
import { buildTree } from '../../server/mime/tree.js';
import { indexer } from '../../server/mime/indexer.js';
import { ConfigError } from '../../server/config/index.js';
import { bodyStructureValue } from '../../server/imap/render/bodystructure.js';
import { envelopeFromHeader } from '../../server/imap/render/envelope.js';
import { createCursor } from '../../server/imap/wire/cursor.js';
import { encodeValue } from '../../server/imap/wire/encode.js';
import type { Cursor, Value } from '../../server/imap/wire/types.js';
import { generateCorpus } from '../helpers/corpus.js';
import { compactPartsMessage, garbageMessage, hugeHeaderMessage, manyPartsMessage, nestedMessage, pairedPartsMessage } from '../helpers/mime-bombs.js';

/** The bytes FETCH writes for a value (no streamed pieces in ENVELOPE/BODYSTRUCTURE). */
function wireText(value: Value, utf8: boolean): Buffer {
  return Buffer.concat(encodeValue(value, { utf8 }).map((piece) => (Buffer.isBuffer(piece) ? piece : Buffer.alloc(0))));
}

/**
 * Reads a parenthesised list of nstring / number / list items with our own grammar cursor; throws unless well formed.
 * Lists may follow each other without a space, as RFC 3501 §9 writes address lists and multipart bodies.
 */
function readNested(bytes: Buffer): void {
  const list = (c: Cursor): void => {
    c.expect('(');
    while (c.peek() !== ')') {
      if (c.atEnd()) throw new Error('unterminated list');
      if (c.peek() === '(') list(c);
      else if (/[0-9]/.test(c.peek())) c.number();
      else c.nstring();
      if (c.peek() !== ')' && c.peek() !== '(') c.sp();
    }
    c.expect(')');
  };
  const cursor = createCursor(bytes, { utf8: true, searchRes: false });
  list(cursor);
  cursor.end();
}

/** ENVELOPE and BODYSTRUCTURE / BODY of a parsed message as FETCH renders them (server/imap/render). */
async function rendered(raw: Buffer, structure: MessageStructure, utf8: boolean): Promise<Buffer[]> {
  const header = (part: MimePart): Promise<Buffer> => Promise.resolve(raw.subarray(part.headerStart, part.headerEnd));
  const envelope = envelopeFromHeader(raw.subarray(structure.root.headerStart, structure.root.headerEnd), { utf8 });
  const full = await bodyStructureValue(structure.bodyStructure, structure.root, true, { utf8 }, header);
  const body = await bodyStructureValue(structure.bodyStructure, structure.root, false, { utf8 }, header);
  return [envelope, full, body].map((value) => wireText(value, utf8));
}

const read = (raw: Buffer) => async (a: number, b: number): Promise<Buffer> => raw.subarray(a, b);
const section = (s: MessageStructure, raw: Buffer, spec: string): Promise<Buffer> =>
  fetchSection(s, parseSectionSpec(spec) ?? { path: '', kind: 'full' }, read(raw));

function countParts(part: MimePart): number {
  let n = 1;
  for (const child of part.children ?? []) n += countParts(child);
  if (part.message) n += countParts(part.message);
  return n;
}

function depthOf(part: MimePart): number {
  const below = [...(part.children ?? []), ...(part.message ? [part.message] : [])].map(depthOf);
  return below.length ? 1 + Math.max(...below) : 0;
}

/** (part number, BODYSTRUCTURE size) of every non-multipart part, in the numbering FETCH uses. */
function leafSizes(bs: unknown[], prefix: string, asMessage: boolean, out: [string, number][] = []): [string, number][] {
  const num = (i: number): string => (prefix ? `${prefix}.${i}` : String(i));
  if (Array.isArray(bs[0])) {
    for (let i = 0; Array.isArray(bs[i]); i++) leafSizes(bs[i] as unknown[], num(i + 1), false, out);
    return out;
  }
  const part = asMessage ? num(1) : prefix;
  out.push([part, bs[6] as number]);
  if (String(bs[0]).toLowerCase() === 'message' && String(bs[1]).toLowerCase() === 'rfc822' && Array.isArray(bs[8])) leafSizes(bs[8] as unknown[], part, true, out);
  return out;
}

/** What FETCH answers for a parsed message agrees with itself and with the stored bytes. */
async function assertServable(name: string, raw: Buffer, parsed: ParsedMessage): Promise<void> {
  const s = parsed.structure;
  assert.equal(s.size, raw.length, `${name}: size`);
  assert.ok((await section(s, raw, 'BODY[]')).equals(raw), `${name}: BODY[] is the raw message`);
  for (const [part, size] of leafSizes(s.bodyStructure as unknown[], '', true)) {
    assert.equal((await section(s, raw, `BODY[${part}]`)).length, size, `${name}: BODYSTRUCTURE size of ${part} = length of BODY[${part}]`);
  }
  const copy = deserializeStructure(serializeStructure(s));
  for (const bytes of await rendered(raw, copy, false)) assert.doesNotThrow(() => readNested(bytes), `${name}: ENVELOPE / BODYSTRUCTURE / BODY are well formed`);
}

test('SEALPOST_MIME_MAX_DEPTH and SEALPOST_MIME_MAX_PARTS: defaults, overrides, and a bad value named', () => {
  assert.deepEqual(mimeLimitsFromEnv({}), DEFAULT_MIME_LIMITS);
  assert.deepEqual(DEFAULT_MIME_LIMITS, { maxDepth: 50, maxParts: 3000 });
  assert.deepEqual(mimeLimitsFromEnv({ SEALPOST_MIME_MAX_DEPTH: '8', SEALPOST_MIME_MAX_PARTS: ' 500 ' }), { maxDepth: 8, maxParts: 500 });
  for (const bad of ['abc', '1', '-5', '2.5', '99999999999']) {
    assert.throws(() => mimeLimitsFromEnv({ SEALPOST_MIME_MAX_PARTS: bad }), (e: unknown) => e instanceof ConfigError && /SEALPOST_MIME_MAX_PARTS/.test(e.message));
  }
  // Parsing never fails on a bad setting: it keeps the defaults.
  assert.deepEqual(mimeLimits({ SEALPOST_MIME_MAX_DEPTH: 'lots' }), DEFAULT_MIME_LIMITS);
});

test('within the caps, the bounded parse describes a message exactly as the indexer does from the whole message', () => {
  let compared = 0;
  for (const m of generateCorpus(120, 3)) {
    const whole = buildTree(m.raw);
    const bounded = buildCappedTree(m.raw, DEFAULT_MIME_LIMITS);
    assert.equal(bounded.truncated, false);
    assert.deepEqual(bounded.root, whole.root, `${m.kind}: part offsets`);
    assert.deepEqual(indexer.getBodyStructure(bounded.indexerTree), indexer.getBodyStructure(whole.indexerTree), `${m.kind}: BODYSTRUCTURE`);
    assert.deepEqual(indexer.getEnvelope(bounded.indexerTree), indexer.getEnvelope(whole.indexerTree), `${m.kind}: ENVELOPE`);
    compared++;
  }
  assert.equal(compared, 120);
});

test('past SEALPOST_MIME_MAX_PARTS the rest is one opaque application/octet-stream part; BODYSTRUCTURE and BODY[n] agree', async () => {
  const limits: MimeLimits = { maxDepth: 50, maxParts: 10 };
  const flat = manyPartsMessage(100);
  const parsed = parseMessageSync(flat, limits);
  assert.equal(parsed.mimeTruncated, true);
  assert.equal(countParts(parsed.structure.root), 10);
  const children = parsed.structure.root.children ?? [];
  assert.equal(children.length, 9);
  const tail = children[8] as MimePart;
  assert.equal(tail.contentType, 'application/octet-stream');
  // The tail starts with part 9's header and ends before the close delimiter.
  assert.equal((await section(parsed.structure, flat, 'BODY[9]')).toString().split('\r\n')[0], 'Content-Type: text/plain; name="p9.txt"');
  assert.ok((await section(parsed.structure, flat, 'BODY[9]')).toString().endsWith('part 100'));
  assert.equal((await section(parsed.structure, flat, 'BODY[9.MIME]')).length, 0, 'the opaque part has no header of its own');
  assert.equal((await section(parsed.structure, flat, 'BODY[8]')).toString(), 'part 8');
  for (const [name, raw] of [['flat', flat], ['compact', compactPartsMessage(50)], ['paired', pairedPartsMessage(30)], ['nested', nestedMessage(30)]] as const) {
    const p = parseMessageSync(raw, limits);
    assert.ok(countParts(p.structure.root) <= limits.maxParts, `${name}: at most maxParts parts`);
    await assertServable(name, raw, p);
  }
  // Within the caps nothing changes.
  const small = manyPartsMessage(5);
  assert.deepEqual(parseMessageSync(small, limits), parseMessage(small));
});

test('containers nested deeper than SEALPOST_MIME_MAX_DEPTH are one opaque part keeping their own header', async () => {
  const limits: MimeLimits = { maxDepth: 3, maxParts: 3000 };
  const raw = nestedMessage(10);
  const parsed = parseMessageSync(raw, limits);
  assert.equal(parsed.mimeTruncated, true);
  assert.equal(depthOf(parsed.structure.root), 3);
  assert.match((await section(parsed.structure, raw, 'BODY[1.1.1.MIME]')).toString(), /^Content-Type: multipart\/mixed; boundary="n3"\r\n\r\n$/);
  assert.ok((await section(parsed.structure, raw, 'BODY[1.1.1]')).toString().includes('the bottom'));
  await assertServable('nested', raw, parsed);

  // message/rfc822 inside message/rfc822 counts as nesting too.
  const chain = Buffer.from(
    Array.from({ length: 8 }, (_, i) => `From: level${i}@example.net\r\nSubject: level ${i}\r\nContent-Type: message/rfc822\r\n\r\n`).join('') + 'From: x@example.net\r\nSubject: inner\r\n\r\nbody\r\n',
  );
  const rfc = parseMessageSync(chain, limits);
  assert.equal(rfc.mimeTruncated, true);
  assert.ok(depthOf(rfc.structure.root) <= 3);
  await assertServable('rfc822 chain', chain, rfc);
  // 10,000 levels with the default cap: no stack overflow, no fallback.
  const deep = parseMessageSync(nestedMessage(10_000), DEFAULT_MIME_LIMITS);
  assert.equal(deep.mimeFallback, undefined);
  assert.equal(depthOf(deep.structure.root), DEFAULT_MIME_LIMITS.maxDepth);
});

test('parsing for delivery never throws: garbage, truncation, NUL bytes, a 10 MB header line, empty input', async () => {
  const inputs: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['garbage', garbageMessage(256 * 1024, 7)],
    ['NUL bytes', Buffer.concat([Buffer.from('From: a@example.net\r\nSubject: \0\0\r\n\r\n'), Buffer.alloc(1000)])],
    ['10 MB header line', hugeHeaderMessage(10 * 1024 * 1024)],
    ['10 MB To:', Buffer.from(`From: a@example.net\r\nTo: ${'x@example.net, '.repeat(700_000)}\r\n\r\nbody\r\n`)],
    ['truncated multipart', manyPartsMessage(50).subarray(0, 1234)],
    ['only a header', Buffer.from('Subject: no body')],
    ['only delimiters', Buffer.from('Content-Type: multipart/mixed; boundary=x\r\n\r\n' + '--x\r\n'.repeat(5000))],
    ['multipart without boundary', Buffer.from('Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n')],
    ['a run of lone CRs', Buffer.concat([Buffer.from('From: a@example.net\r\n\r\n'), Buffer.alloc(256 * 1024, '\r'), Buffer.from('x\r\n')])],
    ['unclosed html', Buffer.from(`Content-Type: text/html\r\n\r\n${'<script <!-- <'.repeat(20_000)}`)],
  ];
  for (const limits of [DEFAULT_MIME_LIMITS, { maxDepth: 2, maxParts: 3 }]) {
    for (const [name, raw] of inputs) {
      const parsed = parseMessageSync(raw, limits);
      await assertServable(`${name} (${limits.maxParts} parts)`, raw, parsed);
    }
  }
  const huge = parseMessage(hugeHeaderMessage(10 * 1024 * 1024));
  assert.equal(huge.search.subject, 'huge header');
  // The parser-free description used when everything else fails.
  const raw = Buffer.from('X: y\r\n\r\nopaque');
  const opaque = opaqueMessage(raw);
  assert.equal(opaque.mimeFallback, true);
  await assertServable('opaque', raw, opaque);
});

test('RFC 3501 §7.4.2 / §9: ENVELOPE, BODYSTRUCTURE and BODY of odd and hostile messages are well-formed IMAP lists', async () => {
  const messages = [...generateCorpus(40, 5).map((m) => m.raw), manyPartsMessage(300), nestedMessage(60), hugeHeaderMessage(40_000), garbageMessage(5000)];
  for (const raw of messages) {
    const { structure } = parseMessage(raw);
    for (const utf8 of [false, true]) {
      for (const bytes of await rendered(raw, deserializeStructure(serializeStructure(structure)), utf8)) {
        assert.doesNotThrow(() => readNested(bytes));
        if (!utf8) assert.ok(!bytes.some((b) => b > 0x7f) || bytes.includes(0x7b), 'without UTF8=ACCEPT, 8-bit text only inside literals');
      }
    }
  }
});

test('HTML search text: tags, comments, scripts and styles are not words; unclosed ones keep the text before them', () => {
  const raw = Buffer.from(
    'Content-Type: text/html\r\n\r\n<html><head><title>T</title><style>p{color:red}</style></head><body><p>Visible&amp;words</p>' +
      '<!-- hidden comment --><script>var hidden = 1;</script><div>more<br>lines</div> tail <!-- never closed hidden',
  );
  const text = parseMessage(raw).search.body;
  assert.match(text, /Visible&words/);
  assert.match(text, /more\nlines/);
  assert.match(text, /tail/);
  assert.doesNotMatch(text, /hidden|color|<|>/);
  const unclosed = parseMessage(Buffer.from('Content-Type: text/html\r\n\r\nbefore <b>bold</b> <script>after')).search.body;
  assert.match(unclosed, /before bold/);
});
