// BODY and BODYSTRUCTURE rendering (server/imap/render/bodystructure.ts) from structures server/mime stores,
// on the generated corpus and the shared python-email corpus: BODY follows the RFC 3501 §9 `body` grammar
// without any extension data, BODYSTRUCTURE starts with the same fields and adds them, and encapsulated
// messages carry the envelope of their own header.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bodyStructureValue } from '../../server/imap/render/bodystructure.js';
import { envelopeFromHeader } from '../../server/imap/render/envelope.js';
import { parseMessage } from '../../server/mime/index.js';
import type { MimePart } from '../../server/mime/types.js';
import { encodeValue } from '../../server/imap/wire/encode.js';
import type { Value } from '../../server/imap/wire/types.js';
import { generateCorpus, loadSharedCorpus } from '../helpers/corpus.js';
import { parseValues, type Parsed } from './fetch-helpers.js';

/** The value as a client reads it off the wire (encoded, then parsed back). */
function wire(value: Value, utf8 = false): Parsed {
  const bytes = Buffer.concat(encodeValue(value, { utf8 }).map((piece) => (Buffer.isBuffer(piece) ? piece : Buffer.alloc(0))));
  return parseValues(bytes.toString('binary')).values[0] as Parsed;
}

const isList = (v: Parsed | undefined): v is Parsed[] => Array.isArray(v);
const word = (v: Parsed | undefined): string => (Buffer.isBuffer(v) ? v.toString('utf8').toLowerCase() : '');

/** Checks a BODY value against RFC 3501 §9 body-type-mpart / body-type-1part without extensions; counts parts. */
function checkBody(body: Parsed, part: MimePart, raw: Buffer, path: string): number {
  assert.ok(isList(body), `${path}: BODY is a list`);
  if (isList(body[0])) {
    const children = part.children ?? [];
    assert.equal(body.length, children.length + 1, `${path}: multipart BODY is its parts and subtype only`);
    assert.ok(word(body[body.length - 1]).length > 0, `${path}: subtype`);
    return children.reduce((n, child, k) => n + checkBody(body[k] as Parsed, child, raw, `${path}.${k + 1}`), 0);
  }
  const type = word(body[0]);
  const subtype = word(body[1]);
  if (type === 'text') {
    assert.equal(body.length, 8, `${path}: text BODY is 7 basic fields and lines`);
  } else if (type === 'message' && subtype === 'rfc822' && part.message) {
    assert.equal(body.length, 10, `${path}: message/rfc822 BODY is 7 basic fields, envelope, body, lines`);
    const inner = part.message;
    assert.deepEqual(body[7], wire(envelopeFromHeader(raw.subarray(inner.headerStart, inner.headerEnd), { utf8: false })), `${path}: inner envelope`);
    return 1 + checkBody(body[8] as Parsed, inner, raw, `${path}.1`);
  } else {
    assert.equal(body.length, 7, `${path}: ${type}/${subtype} BODY is its 7 basic fields`);
  }
  // body-fld-octets: the size of the part's body as served.
  assert.deepEqual(body[6], { atom: String(part.bodyEnd - part.bodyStart) }, `${path}: size`);
  return 1;
}

/** BODYSTRUCTURE holds BODY's fields in the same places, plus extension data. */
function checkExtends(full: Parsed, body: Parsed, path: string): void {
  assert.ok(isList(full) && isList(body));
  if (isList(body[0])) {
    const count = body.length - 1;
    for (let k = 0; k < count; k++) checkExtends(full[k] as Parsed, body[k] as Parsed, `${path}.${k + 1}`);
    assert.deepEqual(full[count], body[count], `${path}: subtype`);
    assert.ok(full.length > body.length, `${path}: multipart BODYSTRUCTURE has body-ext-mpart`);
    return;
  }
  assert.ok(full.length > body.length, `${path}: BODYSTRUCTURE has body-ext-1part`);
  for (let i = 0; i < body.length; i++) {
    if (i === 8 && isList(body[8])) checkExtends(full[8] as Parsed, body[8] as Parsed, `${path}.1`);
    else assert.deepEqual(full[i], body[i], `${path}: field ${i}`);
  }
}

async function render(raw: Buffer): Promise<{ body: Parsed; full: Parsed; root: MimePart; bodyText: string }> {
  const { structure } = parseMessage(raw);
  const readHeader = async (part: MimePart): Promise<Buffer> => raw.subarray(part.headerStart, part.headerEnd);
  const body = await bodyStructureValue(structure.bodyStructure, structure.root, false, { utf8: false }, readHeader);
  const full = await bodyStructureValue(structure.bodyStructure, structure.root, true, { utf8: false }, readHeader);
  const bodyText = Buffer.concat(encodeValue(body, { utf8: false }).filter((p): p is Buffer => Buffer.isBuffer(p))).toString('latin1');
  return { body: wire(body), full: wire(full), root: structure.root, bodyText };
}

describe('BODY / BODYSTRUCTURE rendering (RFC 3501 §7.4.2, §9)', () => {
  test('RFC 3501 §7.4.2: BODY of every generated corpus message has no extension data; BODYSTRUCTURE extends it', async () => {
    let parts = 0;
    for (const m of generateCorpus(48, 5)) {
      const { body, full, root, bodyText } = await render(m.raw);
      parts += checkBody(body, root, m.raw, m.kind);
      checkExtends(full, body, m.kind);
      // RFC 3501 §9 body-type-mpart = 1*body SP media-subtype: no SP between the parts.
      if (m.kind === 'alternative') assert.match(bodyText, /^\(\("TEXT" "PLAIN" .*\)\("TEXT" "HTML" .*\) "ALTERNATIVE"\)$/i);
    }
    assert.ok(parts > 100, `${parts} parts`);
  });

  const shared = loadSharedCorpus();
  test('RFC 3501 §7.4.2: the same holds for the shared python-email corpus', { skip: shared.length === 0 }, async () => {
    for (const m of shared) {
      const { body, full, root } = await render(m.raw);
      checkBody(body, root, m.raw, m.name);
      checkExtends(full, body, m.name);
    }
  });

  test('RFC 2231 parameters pass through as sent; raw 8-bit values are UTF-8 after ENABLE UTF8=ACCEPT, RFC 2047 words before', async () => {
    const raw = Buffer.from(
      [
        'From: a@b.example',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        "Content-Type: application/pdf; name*=UTF-8''Gr%C3%BC%C3%9Fe.pdf",
        'Content-Disposition: attachment; filename="Grüße.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        'AAAA',
        '--b--',
        '',
      ].join('\r\n'),
      'utf8',
    );
    const { structure } = parseMessage(raw);
    const readHeader = async (part: MimePart): Promise<Buffer> => raw.subarray(part.headerStart, part.headerEnd);
    for (const utf8 of [false, true]) {
      const full = wire(await bodyStructureValue(structure.bodyStructure, structure.root, true, { utf8 }, readHeader), utf8) as Parsed[];
      const pdf = full[0] as Parsed[];
      const params = pdf[2] as Buffer[];
      assert.deepEqual([String(params[0]).toUpperCase(), String(params[1])], ['NAME*', "UTF-8''Gr%C3%BC%C3%9Fe.pdf"]);
      const filename = String(((pdf[8] as Parsed[])[1] as Parsed[])[1]);
      if (utf8) assert.equal(filename, 'Grüße.pdf');
      else assert.equal(Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(filename)?.[1] ?? '', 'base64').toString('utf8'), 'Grüße.pdf');
    }
  });
});
