// MIME parameters per RFC 2231 (value extensions: sections, charset, language) and RFC 2047 words in quoted names:
// what BODYSTRUCTURE and BODY carry (as Dovecot 2.3 does: sections joined, extended values still encoded), the
// file name a user sees (checked against Python's email package), and hostile parameters that stay linear and
// never throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { decodeParameter, parametersOf, parseMessage, partFileName, fetchSection, type MessageStructure, type MimeParameter } from '../../server/mime/index.js';
import { parseMessageSync } from '../../server/mime/parse.js';
import { HOSTILE_DISPOSITIONS, PARAMETER_CASES, attachmentMessage } from '../helpers/rfc2231.js';

const text = (v: unknown): unknown => (Buffer.isBuffer(v) ? v.toString('utf8') : v);
const texts = (list: unknown): unknown => (Array.isArray(list) ? list.map(text) : list);

/** The attachment part (part 2) of BODYSTRUCTURE: its parameter list and its disposition's. */
function attachmentLists(bodyStructure: unknown): { typeParams: unknown; dispositionParams: unknown; disposition: unknown } {
  const part = (bodyStructure as unknown[])[1] as unknown[];
  const disposition = part[8] as unknown[] | null;
  return { typeParams: texts(part[2]), dispositionParams: disposition ? texts(disposition[1]) : null, disposition: disposition ? disposition[0] : null };
}

function first(list: readonly (MimeParameter | undefined)[] | undefined): MimeParameter {
  const p = list?.[0];
  assert.ok(p, 'a parameter');
  return p;
}

async function partHeader(structure: MessageStructure, raw: Buffer, part: string): Promise<Buffer> {
  return fetchSection(structure, { path: part, kind: 'mime' }, async (a, b) => raw.subarray(a, b));
}

/** Python's file name for part 2 of each message: get_filename() (RFC 2231), then RFC 2047 words decoded. */
function pythonFileNames(messages: readonly Buffer[]): (string | null)[] {
  const script = String.raw`
import sys, json, email
from email import policy
from email.header import decode_header, make_header
out = []
for raw in json.loads(sys.stdin.read()):
    m = email.message_from_bytes(raw.encode('latin-1'), policy=policy.compat32)
    f = m.get_payload(1).get_filename()
    if f is not None and '=?' in f:
        f = str(make_header(decode_header(f)))
    out.append(f)
print(json.dumps(out))
`;
  const input = JSON.stringify(messages.map((m) => m.toString('latin1')));
  return JSON.parse(execFileSync('python3', ['-c', script], { input }).toString()) as (string | null)[];
}

for (const c of PARAMETER_CASES) {
  test(c.title, async () => {
    const raw = attachmentMessage(c);
    const parsed = parseMessage(raw);
    assert.equal(parsed.mimeFallback, undefined);
    const bs = attachmentLists(parsed.structure.bodyStructure);
    assert.deepEqual(bs.typeParams, c.typeParams, 'BODYSTRUCTURE body-fld-param');
    assert.deepEqual(bs.dispositionParams, c.dispositionParams, 'BODYSTRUCTURE body-fld-dsp parameters');
    assert.equal(bs.disposition, c.disposition === null ? null : c.disposition.split(';')[0]?.toUpperCase());
    // BODY (RFC 3501 §7.4.2, non-extensible) carries the same body-fld-param.
    assert.deepEqual(texts(((parsed.structure.body as unknown[])[1] as unknown[])[2]), c.typeParams, 'BODY body-fld-param');
    assert.equal(partFileName(await partHeader(parsed.structure, raw, '2')), c.fileName, 'the name a user sees');
  });
}

test('RFC 2231 and RFC 2047 file names decode as Python’s email package decodes them', () => {
  const python = pythonFileNames(PARAMETER_CASES.map((c) => attachmentMessage(c)));
  PARAMETER_CASES.forEach((c, k) => assert.equal(python[k], c.fileName, c.title));
});

test('RFC 2231 §3: sections after a gap stay as written; sections joined as they are numbered, not as they are ordered', () => {
  assert.deepEqual(parametersOf('attachment; filename*1="second"; filename*0="first"'), [{ name: 'filename', value: 'firstsecond', extended: false }]);
  assert.deepEqual(parametersOf('attachment; filename*0="a"; filename*2="c"'), [
    { name: 'filename', value: 'a', extended: false },
    { name: 'filename*2', value: 'c', extended: false },
  ]);
  // RFC 2045 §5.1: parameter names are case-insensitive, so differently-cased sections are one parameter.
  assert.deepEqual(parametersOf("attachment; FileName*0*=UTF-8'en'%41; FILENAME*1*=%42"), [{ name: 'filename*', value: "UTF-8'en'%41%42", extended: true }]);
  // A plain and an extended value of the same name are both carried; the extended one is what a user sees.
  assert.deepEqual(
    parametersOf(`attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf; filename="Resume.pdf"`).map((p) => p.name),
    ['filename*', 'filename'],
  );
  assert.equal(partFileName(Buffer.from(`Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf; filename="Resume.pdf"\r\n\r\n`)), 'Résumé.pdf');
});

test('hostile parameters (10,000 sections, huge section numbers, bad escapes, unknown charsets) parse to the expected values', () => {
  const [tenK, tenKEncoded, huge, badEscapes, unknown, unknown2047, unterminated, repeated] = HOSTILE_DISPOSITIONS.map((h) => parametersOf(h.disposition));
  assert.deepEqual(tenK, [{ name: 'filename', value: 'x'.repeat(10_000), extended: false }]);
  assert.equal(tenKEncoded?.length, 1);
  assert.equal(decodeParameter(first(tenKEncoded)), 'A'.repeat(10_000));
  assert.deepEqual(huge, [
    { name: 'filename', value: 'a', extended: false },
    { name: 'filename*99999999', value: 'z', extended: false },
    { name: 'filename*4294967296', value: 'y', extended: false },
    { name: 'filename*99999999999999999999999999', value: 'w', extended: false },
  ]);
  assert.equal(decodeParameter(first(badEscapes)), '%ZZ%4ä%', 'a % without two hex digits stays as written');
  assert.equal(decodeParameter(first(unknown)), 'AB', 'bytes in a charset we do not know read as UTF-8');
  assert.equal(decodeParameter(first(unknown2047)), 'abc', 'an encoded word in an unknown charset reads as UTF-8 too');
  assert.deepEqual(unknown2047, [{ name: 'filename', value: '=?x-unknown-charset?q?abc?=', extended: false }], 'and is carried as sent');
  assert.deepEqual(unterminated, [{ name: 'filename', value: 'no end', extended: false }]);
  assert.deepEqual(repeated, [
    { name: 'filename', value: 'ad', extended: false },
    { name: 'filename*0', value: 'b', extended: false },
    { name: 'filename*01', value: 'c', extended: false }, // RFC 2231 §7: section numbers have no leading zeros
  ]);
});

// A hang guard, not a timing assertion: a quadratic join of 200,000 sections would not finish in time.
test('200,000 sections are joined in one pass', { timeout: 120_000 }, () => {
  const field = `attachment; filename*0*=utf-8''%41; ${Array.from({ length: 199_999 }, (_, n) => `filename*${n + 1}*=%42`).join('; ')}`;
  const [joined] = parametersOf(field);
  assert.ok(joined);
  assert.equal(joined?.value.length, "utf-8''".length + 3 * 200_000);
  assert.equal(decodeParameter(first([joined])), `A${'B'.repeat(199_999)}`);
});

test('messages with hostile parameters parse without throwing, are described by BODYSTRUCTURE and keep their bytes', async () => {
  for (const h of HOSTILE_DISPOSITIONS) {
    const raw = attachmentMessage({ contentType: 'application/pdf', disposition: h.disposition }, 'Hostile');
    const parsed = parseMessage(raw);
    const { dispositionParams, disposition } = attachmentLists(parsed.structure.bodyStructure);
    assert.equal(disposition, 'ATTACHMENT', h.title);
    assert.ok(Array.isArray(dispositionParams) && dispositionParams.length >= 2, `${h.title}: parameters listed`);
    const body = await fetchSection(parsed.structure, { path: '', kind: 'full' }, async (a, b) => raw.subarray(a, b));
    assert.ok(body.equals(raw), `${h.title}: BODY[] is the message`);
    assert.equal(typeof partFileName(await partHeader(parsed.structure, raw, '2')), 'string', `${h.title}: a file name`);
  }
});

/** A multipart/mixed message whose boundary parameter is written as `boundaryParam`, with the boundary "ab-cd". */
function boundaryMessage(boundaryParam: string): Buffer {
  return Buffer.from(
    `From: a@example.com\r\nTo: b@example.org\r\nSubject: split\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n ${boundaryParam}\r\n\r\n` +
      '--ab-cd\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--ab-cd\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n--ab-cd--\r\n',
  );
}

test('RFC 2231 §4 and §3: a multipart boundary given as boundary*= or in sections splits the message into its parts', async () => {
  for (const param of [`boundary*=us-ascii'en'ab-cd`, `boundary*="us-ascii''ab%2Dcd"`, 'boundary*0="ab"; boundary*1="-cd"', `boundary*0*=''ab; boundary*1=-cd`]) {
    const raw = boundaryMessage(param);
    // Past the part limit the message takes the capped path, which must understand the boundary too.
    for (const limits of [undefined, { maxDepth: 50, maxParts: 3 }]) {
      const parsed = limits ? parseMessageSync(raw, limits) : parseMessage(raw);
      assert.equal(parsed.mimeFallback, undefined, `${param}: parsed as multipart`);
      const read = async (a: number, b: number): Promise<Buffer> => raw.subarray(a, b);
      assert.equal((await fetchSection(parsed.structure, { path: '1', kind: 'full' }, read)).toString(), 'first part', `${param}: BODY[1]`);
      const bs = parsed.structure.bodyStructure as unknown[];
      assert.equal(bs.at(-5), 'MIXED');
      // The boundary is listed as it was written (sections joined), like every other parameter.
      assert.ok(Array.isArray(bs.at(-4)) && String((bs.at(-4) as unknown[])[0]).startsWith('BOUNDARY'), `${param}: boundary listed`);
      assert.ok(parsed.search.body.includes('first part'));
    }
    // The MIME header of the message keeps its bytes.
    const parsed = parseMessage(raw);
    const header = await fetchSection(parsed.structure, { path: '', kind: 'header' }, async (a, b) => raw.subarray(a, b));
    assert.ok(header.toString().includes(param));
  }
});

test('an RFC 2231 boundary that is not a valid boundary (RFC 2046 §5.1.1 bchars) leaves the message as one part, never an error', () => {
  for (const param of [`boundary*=utf-8''%C3%A4`, `boundary*=utf-8''${'x'.repeat(71)}`, `boundary*=utf-8''a%22b`, 'boundary*=']) {
    const parsed = parseMessage(boundaryMessage(param));
    assert.equal(parsed.mimeFallback, true, param);
  }
});
