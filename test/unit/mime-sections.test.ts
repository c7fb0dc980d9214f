// FETCH BODY[...] sections are byte-identical to an independent reference (Python's email
// package) for the generated corpus and the shared python-email corpus (../shared, or
// SEALPOST_SHARED_DIR; missing fails the test, SEALPOST_SHARED_DIR=none skips it), and attachment
// names decode as Python decodes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  parseMessage,
  fetchSection,
  parseSectionSpec,
  sectionSize,
  toCrlf,
  partFileName,
  type MessageStructure,
  type SectionSpec,
  type RangeReader,
} from '../../server/mime/index.js';
import { splitHeaderFields } from '../../server/mime/sections.js';
import { generateCorpus } from '../helpers/corpus.js';
import { loadPythonEmailCorpus, sharedDirOptOut } from '../helpers/shared-dir.js';

const readerOf = (raw: Buffer): RangeReader => async (start, end) => raw.subarray(start, end);

const section = (s: MessageStructure, raw: Buffer, text: string): Promise<Buffer> => {
  const spec = parseSectionSpec(text);
  assert.ok(spec, `section spec ${text} parses`);
  return fetchSection(s, spec, readerOf(raw));
};

// Independent reference: Python's email parser (compat32), payload bytes of every leaf part and the
// header field names of every part, numbered the IMAP way (message/rfc822 parts descend).
const PY_REFERENCE = String.raw`
import sys, json, base64, email
from email import policy
from email.header import decode_header, make_header
def raw(s):
    return s.encode('ascii', 'surrogateescape') if isinstance(s, str) else s
def keys(p):
    return [k.lower() for k in p.keys()]
def lax(p):
    return any(type(d).__name__ == 'MissingHeaderBodySeparatorDefect' for d in p.defects)
def filename(p):
    # RFC 2231 (get_filename collapses sections and charsets), then RFC 2047 words inside a quoted name.
    f = p.get_filename()
    if f is not None and '=?' in f:
        try:
            f = str(make_header(decode_header(f)))
        except Exception:
            pass
    return f
def walk_part(out, num, p):
    ct = p.get_content_type()
    if p.is_multipart() and p.get_content_maintype() == 'multipart':
        out.append({'part': num, 'type': ct, 'keys': keys(p), 'children': len(p.get_payload())})
        for i, sub in enumerate(p.get_payload(), 1):
            walk_part(out, num + '.' + str(i) if num else str(i), sub)
    elif ct == 'message/rfc822' and p.is_multipart():
        inner = p.get_payload(0)
        out.append({'part': num, 'type': ct, 'keys': keys(p), 'innerKeys': keys(inner)})
        walk_message(out, num, inner)
    elif p.is_multipart():
        out.append({'part': num, 'type': ct, 'keys': keys(p), 'opaque': True})
    else:
        out.append({'part': num, 'type': ct, 'keys': keys(p), 'lax': lax(p), 'payload': base64.b64encode(raw(p.get_payload(decode=False))).decode(), 'filename': filename(p)})
def walk_message(out, prefix, m):
    if m.is_multipart() and m.get_content_maintype() == 'multipart':
        for i, sub in enumerate(m.get_payload(), 1):
            walk_part(out, prefix + '.' + str(i) if prefix else str(i), sub)
    else:
        walk_part(out, prefix + '.1' if prefix else '1', m)
res = {}
for f in sys.argv[1:]:
    m = email.message_from_bytes(open(f, 'rb').read(), policy=policy.compat32)
    out = []
    walk_message(out, '', m)
    res[f] = {'parts': out, 'headerKeys': keys(m), 'defects': [type(d).__name__ for d in m.defects], 'anyDefect': any(len(p.defects) > 0 for p in m.walk())}
print(json.dumps(res))
`;

interface Ref {
  parts: RefPart[];
  headerKeys: string[];
  defects: string[];
  /** Python found a MIME defect somewhere in the message. */
  anyDefect: boolean;
}

interface RefPart {
  part: string;
  type: string;
  keys: string[];
  payload?: string;
  /** Python's get_filename() with RFC 2047 words decoded; null when the part names no file. */
  filename?: string | null;
  /** Python found no empty line after this part's header (it and IMAP servers split it differently). */
  lax?: boolean;
  children?: number;
  innerKeys?: string[];
}

function pythonReference(messages: { name: string; raw: Buffer }[]): Map<string, Ref> {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-'));
  try {
    const files = messages.map((m, i) => {
      const f = join(dir, `${i}.eml`);
      writeFileSync(f, m.raw);
      return f;
    });
    const out = execFileSync('python3', ['-c', PY_REFERENCE, ...files], { maxBuffer: 256 * 1024 * 1024 }).toString();
    const parsed = JSON.parse(out) as Record<string, Ref>;
    return new Map(messages.map((m, i) => [m.name, parsed[files[i] as string] as Ref]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Field names of a header block; lines that are no field (an mbox "From " line) are not compared.
const fieldNames = (header: Buffer): string[] =>
  splitHeaderFields(header)
    .map((f) => f.name)
    .filter((n) => /^[!-9;-~]+$/.test(n));

async function checkAgainstReference(name: string, raw: Buffer, ref: Ref): Promise<void> {
  const { structure, mimeFallback } = parseMessage(raw);
  assert.deepEqual(await section(structure, raw, 'BODY[]'), raw, `${name}: BODY[] is the raw message`);
  const header = await section(structure, raw, 'BODY[HEADER]');
  const text = await section(structure, raw, 'BODY[TEXT]');
  assert.deepEqual(Buffer.concat([header, text]), raw, `${name}: HEADER + TEXT = message`);
  // Python ends the header at the first line that is not a field; IMAP servers (Dovecot, the
  // indexer) read fields up to the empty line. Past that point the two legitimately differ.
  if (ref.defects.includes('MissingHeaderBodySeparatorDefect')) return;
  assert.deepEqual(fieldNames(header), ref.headerKeys, `${name}: header fields`);
  if (mimeFallback) {
    // Deliberately broken MIME: one text/plain part that is the whole body.
    assert.deepEqual(await section(structure, raw, 'BODY[1]'), text, `${name}: fallback part 1 = body`);
    return;
  }
  for (const p of ref.parts) {
    if (p.lax) continue;
    const mime = await section(structure, raw, `BODY[${p.part}.MIME]`);
    if (p.part !== '1' || structure.root.children) {
      assert.deepEqual(fieldNames(mime), p.keys, `${name}: ${p.part}.MIME fields`);
      assert.ok(mime.subarray(-2).toString() === '\r\n' || mime.subarray(-1).toString() === '\n', `${name}: ${p.part}.MIME ends with the empty line`);
    }
    if (p.payload !== undefined) {
      const got = await section(structure, raw, `BODY[${p.part}]`);
      assert.deepEqual(got, Buffer.from(p.payload, 'base64'), `${name}: BODY[${p.part}] (${p.type})`);
      assert.equal(partFileName(mime), p.filename ?? null, `${name}: file name of part ${p.part} (RFC 2231, RFC 2047)`);
    }
    if (p.innerKeys) {
      const inner = await section(structure, raw, `BODY[${p.part}.HEADER]`);
      assert.deepEqual(fieldNames(inner), p.innerKeys, `${name}: ${p.part}.HEADER fields`);
      const whole = await section(structure, raw, `BODY[${p.part}]`);
      const innerText = await section(structure, raw, `BODY[${p.part}.TEXT]`);
      assert.deepEqual(Buffer.concat([inner, innerText]), whole, `${name}: ${p.part}.HEADER + ${p.part}.TEXT = ${p.part}`);
    }
  }
  // One past the last part does not exist.
  const top = ref.parts.filter((p) => !p.part.includes('.')).length;
  assert.equal((await section(structure, raw, `BODY[${top + 1}]`)).length, 0);
}

test('every section of 64 generated messages matches the Python email reference byte for byte', async () => {
  const corpus = generateCorpus(64, 3).map((m, i) => ({ name: `gen-${i}-${m.kind}`, raw: m.raw }));
  const ref = pythonReference(corpus);
  for (const m of corpus) {
    assert.equal(parseMessage(m.raw).mimeFallback, undefined, `${m.name} parses without fallback`);
    await checkAgainstReference(m.name, m.raw, ref.get(m.name) as Ref);
  }
});

test('the shared python-email corpus: sections match the reference, as stored (CRLF) and as sent (LF)', async (t) => {
  // Runs wherever ../shared (or SEALPOST_SHARED_DIR) exists and fails loudly where it does not; only
  // SEALPOST_SHARED_DIR=none skips it.
  const optOut = sharedDirOptOut();
  if (optOut) {
    t.skip(optOut);
    return;
  }
  const shared = loadPythonEmailCorpus();
  const crlf = shared.map((m) => ({ name: `${m.name} (crlf)`, raw: toCrlf(m.raw) }));
  const asIs = shared.map((m) => ({ name: `${m.name} (as is)`, raw: m.raw }));
  const all = [...crlf, ...asIs];
  const ref = pythonReference(all);
  const fallbacks: string[] = [];
  for (const m of all) {
    const ref1 = ref.get(m.name) as Ref;
    if (parseMessage(m.raw).mimeFallback) {
      fallbacks.push(m.name);
      // Only broken MIME degrades to one text/plain part: Python finds a defect in it too, or it is
      // the one known case of parts that consist of nothing but a delimiter line.
      assert.ok(ref1.anyDefect || /^msg_37\.txt/.test(m.name), `${m.name}: only broken MIME falls back`);
    }
    // RFC 2231 §4 boundary*="ansi-x3.4-1968''EeQfGwPcQSOJBaQU" (msg_33) is split into its parts.
    if (m.name.startsWith('msg_33.txt')) assert.equal(parseMessage(m.raw).mimeFallback, undefined, `${m.name}: RFC 2231 boundary understood`);
    await checkAgainstReference(m.name, m.raw, ref1);
  }
  t.diagnostic(`one text/plain part: ${fallbacks.join(', ')}`);
});

const SAMPLE = Buffer.from(
  [
    'Received: from a.example by b.example;',
    '\tMon, 1 Jan 2024 10:00:00 +0000',
    'Received: from c.example by a.example; Mon, 1 Jan 2024 09:59:00 +0000',
    'From: Alice <alice@example.com>',
    'To: bob@example.net',
    'Subject: a subject that',
    ' is folded over two lines',
    'X-Empty:',
    'Content-Type: multipart/mixed; boundary="XX"',
    '',
    'preamble',
    '--XX',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'first part',
    '--XX',
    'Content-Type: message/rfc822',
    'Content-Description: forwarded',
    '',
    'From: Carol <carol@example.org>',
    'Subject: inner',
    'Content-Type: multipart/alternative; boundary=YY',
    '',
    '--YY',
    'Content-Type: text/plain',
    '',
    'inner text',
    '--YY',
    'Content-Type: text/html',
    '',
    '<p>inner html</p>',
    '--YY--',
    '',
    '--XX--',
    'epilogue',
    '',
  ].join('\r\n'),
);

test('HEADER.FIELDS keeps matching fields with their folded lines, in message order, then the empty line', async () => {
  const { structure } = parseMessage(SAMPLE);
  const got = (s: string): Promise<string> => section(structure, SAMPLE, s).then((b) => b.toString());
  assert.equal(
    await got('BODY[HEADER.FIELDS (SUBJECT received)]'),
    'Received: from a.example by b.example;\r\n\tMon, 1 Jan 2024 10:00:00 +0000\r\nReceived: from c.example by a.example; Mon, 1 Jan 2024 09:59:00 +0000\r\nSubject: a subject that\r\n is folded over two lines\r\n\r\n',
  );
  assert.equal(await got('BODY[HEADER.FIELDS (X-Nothing)]'), '\r\n');
  assert.equal(await got('BODY[HEADER.FIELDS (x-empty)]'), 'X-Empty:\r\n\r\n');
  assert.equal(
    await got('BODY[HEADER.FIELDS.NOT (Received Subject Content-Type X-Empty)]'),
    'From: Alice <alice@example.com>\r\nTo: bob@example.net\r\n\r\n',
  );
  assert.equal(await got('BODY[2.HEADER.FIELDS (SUBJECT)]'), 'Subject: inner\r\n\r\n');
  assert.equal(await got('BODY[2.HEADER.FIELDS.NOT (SUBJECT FROM)]'), 'Content-Type: multipart/alternative; boundary=YY\r\n\r\n');
  assert.equal(await got('BODY[1.HEADER.FIELDS (SUBJECT)]'), '', 'a text part has no HEADER');
  assert.equal(await got('BODY[HEADER.FIELDS (FROM TO)]<6.12>'), 'Alice <alice');
});

test('every section kind on a nested message, and partial ranges', async () => {
  const { structure } = parseMessage(SAMPLE);
  const got = (s: string): Promise<string> => section(structure, SAMPLE, s).then((b) => b.toString());
  const text = SAMPLE.toString();
  assert.equal(await got('BODY[]'), text);
  assert.equal(await got('BODY[HEADER]'), text.slice(0, text.indexOf('\r\n\r\n') + 4));
  assert.equal(await got('BODY[TEXT]'), text.slice(text.indexOf('\r\n\r\n') + 4));
  assert.equal(await got('BODY[1]'), 'first part');
  assert.equal(await got('BODY[1.MIME]'), 'Content-Type: text/plain; charset=us-ascii\r\n\r\n');
  assert.equal(await got('BODY[2.MIME]'), 'Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n');
  assert.match(await got('BODY[2]'), /^From: Carol <carol@example.org>\r\n[\s\S]*--YY--\r\n$/);
  assert.equal(await got('BODY[2.HEADER]'), 'From: Carol <carol@example.org>\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n');
  assert.match(await got('BODY[2.TEXT]'), /^--YY\r\n[\s\S]*--YY--\r\n$/);
  assert.equal(await got('BODY[2.1]'), 'inner text');
  assert.equal(await got('BODY[2.2]'), '<p>inner html</p>');
  assert.equal(await got('BODY[2.2.MIME]'), 'Content-Type: text/html\r\n\r\n');
  // Parts that do not exist are empty, never an error.
  for (const s of ['BODY[3]', 'BODY[1.1]', 'BODY[2.3]', 'BODY[2.1.1]', 'BODY[9.9.9]', 'BODY[1.TEXT]', 'BODY[2.1.HEADER]']) {
    assert.equal(await got(s), '', s);
  }
  // Partials: <start.length> and <start>; beyond the end is empty.
  assert.equal(await got('BODY[]<0.8>'), 'Received');
  assert.equal(await got('BODY[1]<6>'), 'part');
  assert.equal(await got('BODY[1]<6.100>'), 'part');
  assert.equal(await got('BODY[1]<10.5>'), '');
  assert.equal(await got('BODY[1]<99999.5>'), '');
  assert.equal(await got('BODY[2.1]<0.0>'), '');
  assert.equal(await got('BODY[2.HEADER]<6.5>'), 'Carol');
  // A single-part message has exactly one part, "1", its body.
  const single = Buffer.from('Subject: x\r\n\r\nhello\r\n');
  const s1 = parseMessage(single).structure;
  assert.equal((await section(s1, single, 'BODY[1]')).toString(), 'hello\r\n');
  assert.equal((await section(s1, single, 'BODY[2]')).toString(), '');
  assert.equal(sectionSize(s1, { path: '1', kind: 'full' }), 7);
});

test('only the byte range a section needs is read from storage', async () => {
  const m = generateCorpus(8, 5).find((c) => c.kind === 'shared-attachment');
  assert.ok(m);
  const { structure } = parseMessage(m.raw);
  const reads: [number, number][] = [];
  const reader: RangeReader = async (start, end) => {
    reads.push([start, end]);
    return m.raw.subarray(start, end);
  };
  const att = structure.root.children?.[1];
  assert.ok(att);
  const spec: SectionSpec = { path: '2', kind: 'full', partial: { start: 100, length: 50 } };
  const bytes = await fetchSection(structure, spec, reader);
  assert.deepEqual(bytes, m.raw.subarray(att.bodyStart + 100, att.bodyStart + 150));
  assert.deepEqual(reads, [[att.bodyStart + 100, att.bodyStart + 150]]);
  reads.length = 0;
  await fetchSection(structure, { path: '', kind: 'header.fields', fields: ['subject'] }, reader);
  assert.deepEqual(reads, [[0, structure.root.headerEnd]], 'HEADER.FIELDS reads just the header');
});

test('section specs parse the way IMAP clients write them', () => {
  assert.deepEqual(parseSectionSpec('BODY[]'), { path: '', kind: 'full' });
  assert.deepEqual(parseSectionSpec('BODY.PEEK[1.2.MIME]'), { path: '1.2', kind: 'mime' });
  assert.deepEqual(parseSectionSpec('body[text]<0.100>'), { path: '', kind: 'text', partial: { start: 0, length: 100 } });
  assert.deepEqual(parseSectionSpec('BODY[1.2.HEADER.FIELDS (FROM TO)]<0.100>'), {
    path: '1.2',
    kind: 'header.fields',
    fields: ['FROM', 'TO'],
    partial: { start: 0, length: 100 },
  });
  assert.deepEqual(parseSectionSpec('BODY[HEADER.FIELDS.NOT (Subject)]<5>'), {
    path: '',
    kind: 'header.fields.not',
    fields: ['Subject'],
    partial: { start: 5 },
  });
  assert.deepEqual(parseSectionSpec('3'), { path: '3', kind: 'full' });
  for (const bad of ['BODY[MIME]', 'BODY[0]', 'BODY[1.]', 'BODY[HEADER.FIELDS]', 'BODY[HEADER.FIELDS ()]', 'BODY[1TEXT]', 'BODY[FOO]']) {
    assert.equal(parseSectionSpec(bad), null, bad);
  }
});
