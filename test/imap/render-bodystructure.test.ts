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
import type { Value } from '../../server/imap/wire/types.js';
import { generateCorpus, loadSharedCorpus } from '../helpers/corpus.js';

const isList = (v: Value | undefined): v is readonly Value[] => Array.isArray(v);
const word = (v: Value | undefined): string => {
  if (v && typeof v === 'object' && 'string' in v) return String(v.string).toLowerCase();
  return '';
};

/** Checks a BODY value against RFC 3501 §9 body-type-mpart / body-type-1part without extensions; counts parts. */
function checkBody(body: Value, part: MimePart, raw: Buffer, path: string): number {
  assert.ok(isList(body), `${path}: BODY is a list`);
  if (isList(body[0])) {
    const children = part.children ?? [];
    assert.equal(body.length, children.length + 1, `${path}: multipart BODY is its parts and subtype only`);
    assert.ok(word(body[body.length - 1]).length > 0, `${path}: subtype`);
    return children.reduce((n, child, k) => n + checkBody(body[k] as Value, child, raw, `${path}.${k + 1}`), 0);
  }
  const type = word(body[0]);
  const subtype = word(body[1]);
  if (type === 'text') {
    assert.equal(body.length, 8, `${path}: text BODY is 7 basic fields and lines`);
  } else if (type === 'message' && subtype === 'rfc822' && part.message) {
    assert.equal(body.length, 10, `${path}: message/rfc822 BODY is 7 basic fields, envelope, body, lines`);
    const inner = part.message;
    assert.deepEqual(body[7], envelopeFromHeader(raw.subarray(inner.headerStart, inner.headerEnd), { utf8: false }), `${path}: inner envelope`);
    return 1 + checkBody(body[8] as Value, inner, raw, `${path}.1`);
  } else {
    assert.equal(body.length, 7, `${path}: ${type}/${subtype} BODY is its 7 basic fields`);
  }
  // body-fld-octets: the size of the part's body as served.
  assert.deepEqual(body[6], { atom: String(part.bodyEnd - part.bodyStart) }, `${path}: size`);
  return 1;
}

/** BODYSTRUCTURE holds BODY's fields in the same places, plus extension data. */
function checkExtends(full: Value, body: Value, path: string): void {
  assert.ok(isList(full) && isList(body));
  if (isList(body[0])) {
    const count = body.length - 1;
    for (let k = 0; k < count; k++) checkExtends(full[k] as Value, body[k] as Value, `${path}.${k + 1}`);
    assert.deepEqual(full[count], body[count], `${path}: subtype`);
    assert.ok(full.length > body.length, `${path}: multipart BODYSTRUCTURE has body-ext-mpart`);
    return;
  }
  assert.ok(full.length > body.length, `${path}: BODYSTRUCTURE has body-ext-1part`);
  for (let i = 0; i < body.length; i++) {
    if (i === 8 && isList(body[0]) === false && isList(body[8])) checkExtends(full[8] as Value, body[8] as Value, `${path}.1`);
    else assert.deepEqual(full[i], body[i], `${path}: field ${i}`);
  }
}

async function render(raw: Buffer): Promise<{ body: Value; full: Value; root: MimePart }> {
  const { structure } = parseMessage(raw);
  const readHeader = async (part: MimePart): Promise<Buffer> => raw.subarray(part.headerStart, part.headerEnd);
  const body = await bodyStructureValue(structure.bodyStructure, structure.root, false, { utf8: false }, readHeader);
  const full = await bodyStructureValue(structure.bodyStructure, structure.root, true, { utf8: false }, readHeader);
  return { body, full, root: structure.root };
}

describe('BODY / BODYSTRUCTURE rendering (RFC 3501 §7.4.2, §9)', () => {
  test('RFC 3501 §7.4.2: BODY of every generated corpus message has no extension data; BODYSTRUCTURE extends it', async () => {
    let parts = 0;
    for (const m of generateCorpus(48, 5)) {
      const { body, full, root } = await render(m.raw);
      parts += checkBody(body, root, m.raw, m.kind);
      checkExtends(full, body, m.kind);
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
    const text = (v: Value | undefined): string => {
      assert.ok(v && typeof v === 'object' && 'string' in v);
      return Buffer.isBuffer(v.string) ? v.string.toString('utf8') : v.string;
    };
    for (const utf8 of [false, true]) {
      const full = await bodyStructureValue(structure.bodyStructure, structure.root, true, { utf8 }, readHeader);
      const pdf = (full as Value[])[0] as Value[];
      const params = pdf[2] as Value[];
      assert.deepEqual([text(params[0]).toUpperCase(), text(params[1])], ['NAME*', "UTF-8''Gr%C3%BC%C3%9Fe.pdf"]);
      const filename = text(((pdf[8] as Value[])[1] as Value[])[1]);
      if (utf8) assert.equal(filename, 'Grüße.pdf');
      else assert.equal(Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(filename)?.[1] ?? '', 'base64').toString('utf8'), 'Grüße.pdf');
    }
  });
});
