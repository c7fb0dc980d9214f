// Side-by-side lists (server/imap/render/lists.ts): RFC 3501 §9 env-from and body-type-mpart without SP between
// elements, and the exact fallback when a verbatim text could not carry the bytes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adjacentItems, adjacentList } from '../../server/imap/render/lists.js';
import { encodeValue } from '../../server/imap/wire/encode.js';
import type { Value } from '../../server/imap/wire/types.js';

const wire = (value: Value, utf8 = false): Buffer =>
  Buffer.concat(encodeValue(value, { utf8 }).map((piece) => (Buffer.isBuffer(piece) ? piece : Buffer.alloc(0))));

describe('side-by-side lists (RFC 3501 §9)', () => {
  test('RFC 3501 §9 env-from: addresses follow each other without SP, literals included', () => {
    const items: Value[] = [
      [null, null, { string: 'a' }, { string: 'b.example' }],
      [{ string: 'Jürgen' }, null, { string: 'j' }, { string: 'x.example' }],
    ];
    assert.equal(wire(adjacentList(items, false)).toString('utf8'), '((NIL NIL "a" "b.example")({7}\r\nJürgen NIL "j" "x.example"))');
    assert.equal(wire(adjacentList(items, true), true).toString('utf8'), '((NIL NIL "a" "b.example")("Jürgen" NIL "j" "x.example"))');
  });

  test('RFC 3501 §9 body-type-mpart: parts side by side, then SP and the subtype', () => {
    const parts = adjacentItems([[{ string: 'TEXT' }], [{ string: 'HTML' }]], false);
    assert.equal(wire([...parts, { string: 'ALTERNATIVE' }]).toString(), '(("TEXT")("HTML") "ALTERNATIVE")');
  });

  test('bytes that are not UTF-8 fall back to an ordinary list, so a literal keeps its exact length', () => {
    const odd: Value[] = [[{ string: Buffer.from([0x41, 0xff, 0x42]) }], [{ string: 'x' }]];
    const list = adjacentList(odd, true);
    assert.ok(Array.isArray(list));
    const bytes = wire(list, true);
    assert.ok(bytes.includes(Buffer.from([0x7b, 0x33, 0x7d, 0x0d, 0x0a, 0x41, 0xff, 0x42])), bytes.toString('latin1'));
    assert.equal(adjacentItems(odd, true).length, 2);
  });
});
