// ENVELOPE / BODYSTRUCTURE / BODY are exactly what imap-core would compute itself, sizes agree with
// the bytes FETCH serves, structures survive storage, search text finds what a user would search
// for, attachments are located for de-duplication, and no input makes the parser throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../server/wildduck-env.js';
import { createRequire } from 'node:module';
import libmime from 'libmime';
import {
  parseMessage,
  fetchSection,
  parseSectionSpec,
  serializeStructure,
  deserializeStructure,
  toCrlf,
  type MessageStructure,
} from '../../server/mime/index.js';
import { generateCorpus, sharedAttachments } from '../helpers/corpus.js';
import { loadPythonEmailCorpus, sharedDirOptOut } from '../helpers/shared-dir.js';

const require = createRequire(import.meta.url);
// imap-core's own FETCH value builder, used as the reference for what it expects.
const imapTools = require('@zone-eu/wildduck/imap-core/lib/imap-tools.js') as {
  getQueryResponse(query: { item: string }[], message: Record<string, unknown>, options?: Record<string, unknown>): unknown[];
};
const IndexerClass = require('@zone-eu/wildduck/imap-core/lib/indexer/indexer.js') as new () => {
  parseMimeTree(raw: Buffer): unknown;
  getBody(tree: unknown): unknown;
};

const body = async (s: MessageStructure, raw: Buffer, spec: string): Promise<Buffer> =>
  fetchSection(s, parseSectionSpec(spec) ?? { path: '', kind: 'full' }, async (a, b) => raw.subarray(a, b));

/** Calls back with (part number, size) for every non-multipart part of a BODYSTRUCTURE value. */
function walkBodyStructure(bs: unknown[], prefix: string, asMessage: boolean, visit: (part: string, size: number) => void): void {
  const num = (i: number): string => (prefix ? `${prefix}.${i}` : String(i));
  if (Array.isArray(bs[0])) {
    let i = 0;
    while (Array.isArray(bs[i])) {
      walkBodyStructure(bs[i] as unknown[], num(i + 1), false, visit);
      i++;
    }
    return;
  }
  const part = asMessage ? num(1) : prefix;
  visit(part, bs[6] as number);
  if (bs[0] === 'MESSAGE' && bs[1] === 'RFC822' && Array.isArray(bs[8])) walkBodyStructure(bs[8] as unknown[], part, true, visit);
}

async function assertSizesMatchServedBytes(name: string, raw: Buffer): Promise<void> {
  const { structure } = parseMessage(raw);
  const parts: [string, number][] = [];
  walkBodyStructure(structure.bodyStructure as unknown[], '', true, (p, size) => parts.push([p, size]));
  assert.ok(parts.length > 0, `${name}: has parts`);
  for (const [p, size] of parts) {
    assert.equal((await body(structure, raw, `BODY[${p}]`)).length, size, `${name}: BODYSTRUCTURE size of part ${p} = length of BODY[${p}]`);
  }
}

const corpus = generateCorpus(48, 11);

const text = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

/** A BODYSTRUCTURE parameter list: [NAME, value, NAME, value…] with upper-case names. */
function isParameterList(v: unknown): v is unknown[] {
  return (
    Array.isArray(v) &&
    v.length >= 2 &&
    v.length % 2 === 0 &&
    v.every((x, k) => (k % 2 === 0 ? typeof x === 'string' && /^[A-Z][A-Z0-9._-]*\*?$/.test(x) : typeof x === 'string' || Buffer.isBuffer(x)))
  );
}

/**
 * Our parameter lists differ from imap-core's on purpose (docs/imap.md, "BODYSTRUCTURE parameters"): RFC 2231 §3/§4
 * values stay encoded under "NAME*" (imap-core garbles them into "NAME") and RFC 2047 words stay as sent (imap-core
 * decodes them). Each of our lists is checked here: an RFC 2231 value must be exactly utf-8'' plus the
 * percent-encoded name of one of the message's attachments, any other value must decode (libmime) to imap-core's.
 * Then imap-core's list takes its place, so the caller compares everything else exactly.
 */
function reconcileParameters(ours: unknown, theirs: unknown, attachments: readonly string[], where: string): unknown {
  if (isParameterList(ours) && Array.isArray(theirs)) {
    assert.equal(ours.length, theirs.length, `${where}: parameter count`);
    for (let k = 0; k < ours.length; k += 2) {
      const name = ours[k] as string;
      const value = text(ours[k + 1]);
      if (name.endsWith('*')) {
        assert.equal(text(theirs[k]), name.slice(0, -1), `${where}: ${name}`);
        const decoded = attachments.find((a) => value === `utf-8''${encodeURIComponent(a)}`);
        assert.ok(decoded !== undefined, `${where}: ${name} ${value} is utf-8'' + an attachment name, percent-encoded`);
      } else {
        assert.equal(name, text(theirs[k]), `${where}: parameter name`);
        // imap-core sends 8-bit values as RFC 2047 words to clients without UTF8=ACCEPT: compare what a client decodes.
        assert.equal(libmime.decodeWords(value).trim(), libmime.decodeWords(text(theirs[k + 1])), `${where}: ${name} decodes to imap-core's value`);
      }
    }
    return theirs;
  }
  if (Array.isArray(ours) && Array.isArray(theirs) && ours.length === theirs.length) {
    return ours.map((v, k) => reconcileParameters(v, theirs[k], attachments, where));
  }
  return ours;
}

test('ENVELOPE, BODYSTRUCTURE and BODY equal what imap-core computes from the raw message itself', () => {
  const indexer = new IndexerClass();
  // Transport padding after a delimiter (RFC 2046) hides a part from imap-core's own parse; ours
  // keeps it (checked separately below), so those messages are compared part count only.
  for (const m of corpus.filter((c) => c.kind !== 'odd-boundary')) {
    const { structure } = parseMessage(m.raw);
    for (const acceptUTF8Enabled of [false, true]) {
      const query = [{ item: 'envelope' }, { item: 'bodystructure' }];
      const copy = deserializeStructure(serializeStructure(structure)); // getQueryResponse mutates what it gets
      const ours = imapTools.getQueryResponse(query, { envelope: copy.envelope, bodystructure: copy.bodyStructure }, { acceptUTF8Enabled });
      const theirs = imapTools.getQueryResponse(query, { raw: m.raw }, { acceptUTF8Enabled });
      const where = `${m.kind} ${m.token} utf8=${acceptUTF8Enabled}`;
      assert.deepEqual(reconcileParameters(ours, theirs, m.attachments, where), theirs, where);
    }
    const theirBody = indexer.getBody(indexer.parseMimeTree(m.raw));
    assert.deepEqual(reconcileParameters(structure.body, theirBody, m.attachments, `${m.kind}: BODY`), theirBody, `${m.kind}: BODY`);
    assert.equal(structure.size, m.raw.length);
  }
});

test('a part after a padded delimiter line is kept (imap-core alone drops it)', () => {
  const m = corpus.find((c) => c.kind === 'odd-boundary');
  assert.ok(m);
  const theirs = imapTools.getQueryResponse([{ item: 'bodystructure' }], { raw: m.raw })[0] as unknown[];
  const ours = parseMessage(m.raw).structure.bodyStructure as unknown[];
  const parts = (bs: unknown[]): number => bs.filter((x) => Array.isArray(x) && x.length >= 7).length; // leaf parts, not parameter lists
  assert.equal(parts(ours), 2);
  assert.equal(parts(theirs), 1);
  assert.ok(parseMessage(m.raw).search.body.includes(m.token), `the first part's text is searchable`);
});

test('the envelope carries the decoded subject and the sender a user sees', () => {
  for (const m of corpus) {
    const env = parseMessage(m.raw).structure.envelope as unknown[];
    assert.equal(String(env[1]), m.subject, `${m.kind}: subject`);
    const from = (env[2] as unknown[][])[0] as unknown[];
    assert.equal(String(from[0]), m.fromName);
    assert.equal(`${String(from[2])}@${String(from[3])}`, m.from);
    assert.equal(env[9], m.messageId);
  }
});

test('BODYSTRUCTURE sizes equal the bytes FETCH BODY[part] returns, for CRLF and bare-LF messages', async (t) => {
  for (const m of corpus) await assertSizesMatchServedBytes(`${m.kind} ${m.token}`, m.raw);
  const lf = corpus.slice(0, 16).map((m) => Buffer.from(m.raw.toString('binary').replace(/\r\n/g, '\n'), 'binary'));
  for (const [i, raw] of lf.entries()) await assertSizesMatchServedBytes(`lf-${i}`, raw);
  const optOut = sharedDirOptOut();
  if (optOut) {
    t.diagnostic(optOut);
    return;
  }
  for (const s of loadPythonEmailCorpus()) {
    await assertSizesMatchServedBytes(s.name, s.raw);
    await assertSizesMatchServedBytes(`${s.name} crlf`, toCrlf(s.raw));
  }
});

test('a stored structure comes back identical, Buffers still Buffers', () => {
  for (const m of corpus.slice(0, 16)) {
    const { structure } = parseMessage(m.raw);
    const back = deserializeStructure(serializeStructure(structure));
    assert.deepStrictEqual(back, structure);
    const charset = ((back.bodyStructure as unknown[]).flat(4) as unknown[]).find((v) => Buffer.isBuffer(v));
    assert.ok(Buffer.isBuffer(charset), `${m.kind}: a parameter value is still a Buffer`);
    assert.ok(Buffer.isBuffer((back.envelope as unknown[])[1]), 'subject is a Buffer');
  }
  assert.ok(JSON.stringify(parseMessage(corpus[0]?.raw as Buffer).structure).includes('"type":"Buffer"'), 'plain JSON would lose them (why v8.serialize)');
});

test('search text holds what a user searches for: decoded subject, names, addresses, every text part', () => {
  for (const m of corpus) {
    const { search } = parseMessage(m.raw);
    assert.ok(search.body.includes(m.token), `${m.kind}: body token ${m.token}`);
    assert.equal(search.subject, m.subject);
    assert.ok(search.from.includes(m.fromName) && search.from.includes(m.from), `${m.kind}: from ${search.from}`);
    assert.ok(search.to.includes(m.toName) && search.to.includes(m.to), `${m.kind}: to ${search.to}`);
    assert.ok(search.headers.includes(`Subject: ${m.subject}\n`), `${m.kind}: decoded Subject header line`);
    assert.ok(!search.body.includes('zq000000'));
    if (m.kind === 'mixed') assert.ok(search.body.includes('date,amount,ref'), 'a text/csv attachment is searchable');
    if (m.kind === 'odd-boundary') assert.ok(search.body.includes('notes '), 'a text attachment is searchable');
    if (m.kind === 'latin1') assert.ok(search.body.includes(`Grüße, ${m.fromName}`), 'ISO-8859-1 quoted-printable decoded');
    if (m.kind === 'forward') assert.ok(search.body.includes('Ursprüngliche Nachricht'), 'forwarded message headers are body text');
    if (m.kind === 'nested') assert.ok(!/<p>|&amp;/.test(search.body), 'html reduced to text');
  }
  const html = Buffer.from(
    'From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>\r\nTo: "Team" <team@example.org>, bob@example.net\r\nCc: Undisclosed:;\r\n' +
      'Subject: =?UTF-8?B?8J+OiSBwYXJ0eQ==?=\r\nContent-Type: text/html; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
      '<html><style>p{color:red}</style><body><p>Caf=E9 &amp; cr=E8me <b>zq424242</b></p><a href=3D"https://x.example/secret">link</a></body></html>\r\n',
  );
  const s = parseMessage(html).search;
  assert.equal(s.subject, '🎉 party');
  assert.equal(s.from, 'André <andre@example.com>');
  assert.equal(s.to, 'Team <team@example.org>, bob@example.net');
  assert.match(s.body, /Café & crème zq424242/);
  assert.ok(!s.body.includes('color:red') && !s.body.includes('x.example/secret'));
});

test('identical attachments in different messages are located at byte ranges holding identical bytes', () => {
  const shared = sharedAttachments();
  const seen = new Map<string, Buffer>();
  for (const m of corpus) {
    const parsed = parseMessage(m.raw);
    for (const [start, end] of parsed.attachmentRanges) {
      assert.ok(start < end && end <= m.raw.length);
      const bytes = m.raw.subarray(start, end);
      const decoded = Buffer.from(bytes.toString(), 'base64');
      const match = shared.find((a) => a.data.equals(decoded));
      if (match) {
        const prev = seen.get(match.name);
        if (prev) assert.ok(prev.equals(bytes), `${match.name}: same encoded bytes in every message`);
        seen.set(match.name, bytes);
      }
    }
    if (m.kind === 'plain' || m.kind === 'alternative' || m.kind === 'latin1') assert.equal(parsed.attachmentRanges.length, 0, `${m.kind} has none`);
    if (m.kind === 'mixed') assert.equal(parsed.attachmentRanges.length, 2);
  }
  assert.equal(seen.size, shared.length, 'every shared attachment was found');
});

test('Message-ID, In-Reply-To, References and Date are read from the header', () => {
  for (const m of corpus) {
    const p = parseMessage(m.raw);
    assert.equal(p.messageId, m.messageId);
    assert.equal(p.date?.getTime(), Math.floor(m.date.getTime() / 1000) * 1000);
  }
  const threaded = corpus.find((m) => m.raw.includes('In-Reply-To:'));
  assert.ok(threaded);
  const p = parseMessage(threaded.raw);
  assert.match(p.inReplyTo ?? '', /^<.+thread@example\.com>$/);
  assert.equal(p.references.length, 2);
  const bad = parseMessage(Buffer.from('Date: not a date\r\nMessage-ID: <a@b>\r\n\r\nx'));
  assert.equal(bad.date, null);
  assert.equal(bad.messageId, '<a@b>');
  assert.equal(parseMessage(Buffer.from('Subject: none\r\n\r\n')).messageId, null);
});

function* hostileInputs(): Generator<[string, Buffer]> {
  yield ['empty', Buffer.alloc(0)];
  yield ['only a newline', Buffer.from('\r\n')];
  yield ['header without newline', Buffer.from('Subject: x')];
  yield ['NUL bytes', Buffer.from('Subject: \0\0\r\nContent-Type: multipart/mixed; boundary=\0\r\n\r\n--\0\r\n\0\r\n')];
  yield ['a 1 MB line', Buffer.concat([Buffer.from('Subject: long\r\n\r\n'), Buffer.alloc(1024 * 1024, 0x61)])];
  yield ['lone CRs', Buffer.from('Subject: a\rTo: b\r\rbody\rmore\r')];
  yield ['boundary never closed', Buffer.from('Content-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\nContent-Type: text/plain\r\n\r\nhi\r\n')];
  yield ['boundary lines only', Buffer.from('Content-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\n--Z\r\n--Z--\r\n')];
  yield ['part without empty line', Buffer.from('Content-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\nContent-Type: text/plain\r\n--Z--\r\n')];
  yield ['base64 message/rfc822', Buffer.from('Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5DQo=\r\n')];
  yield ['unknown charset', Buffer.from('Subject: =?x-unknown?B?AAAA?=\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nqapla\r\n')];
  let deep = '';
  for (let i = 0; i < 3000; i++) deep += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
  yield ['3000 nested multiparts', Buffer.from(deep + 'Content-Type: text/plain\r\n\r\ndeep\r\n')];
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
  for (let i = 0; i < 20; i++) yield [`random bytes ${i}`, Buffer.from(Array.from({ length: 50 + (rnd() % 5000) }, () => rnd() & 0xff))];
  for (const m of corpus.slice(0, 16)) {
    for (const cut of [1, 17, Math.floor(m.raw.length / 3), Math.floor(m.raw.length / 2), m.raw.length - 9]) {
      yield [`${m.kind} truncated at ${cut}`, m.raw.subarray(0, cut)];
    }
  }
}

test('truncated, garbage and hostile input never throws and is still served byte for byte', async () => {
  for (const [name, raw] of hostileInputs()) {
    const parsed = parseMessage(raw);
    const s = parsed.structure;
    assert.deepEqual(await body(s, raw, 'BODY[]'), raw, `${name}: BODY[]`);
    assert.deepEqual(Buffer.concat([await body(s, raw, 'BODY[HEADER]'), await body(s, raw, 'BODY[TEXT]')]), raw, `${name}: HEADER + TEXT`);
    assert.ok(Array.isArray(s.bodyStructure) && Array.isArray(s.envelope), `${name}: structure present`);
    await assertSizesMatchServedBytes(name, raw);
    assert.doesNotThrow(() => deserializeStructure(serializeStructure(s)));
  }
  assert.equal(parseMessage(Buffer.from('Content-Type: multipart/mixed; boundary=Z\r\n\r\nno parts here\r\n')).mimeFallback, true);
});
