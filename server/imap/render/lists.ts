// Lists the IMAP grammar writes without separators: `env-from = "(" 1*address ")"` and
// `body-type-mpart = 1*body SP media-subtype` (RFC 3501 §9, RFC 9051 §9) put their elements side by side, with
// no SP between them (the response encoder separates list elements with SP, which the grammar allows elsewhere).
import { encodeValue } from '../wire/encode.js';
import type { Value } from '../wire/types.js';

/** The elements encoded side by side as one verbatim text, or null when that text would not be exact. */
function joined(items: readonly Value[], utf8: boolean): string | null {
  const parts: Buffer[] = [];
  for (const item of items) {
    for (const piece of encodeValue(item, { utf8 })) {
      // Envelope and body structure values are small: never streamed literals.
      if (!Buffer.isBuffer(piece)) return null;
      parts.push(piece);
    }
  }
  // Strings in these values come from JS strings, so their bytes are valid UTF-8 and survive the round trip
  // through a verbatim value. Should one not, the caller sends an ordinary list (SP between the elements)
  // rather than a literal whose announced length no longer matches its bytes.
  const bytes = Buffer.concat(parts);
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : null;
}

/** `(` elements side by side `)`: an address list. */
export function adjacentList(items: readonly Value[], utf8: boolean): Value {
  const text = joined(items, utf8);
  return text === null ? [...items] : { raw: `(${text})` };
}

/** The elements side by side, to be spread into an enclosing list: the parts of a multipart body. */
export function adjacentItems(items: readonly Value[], utf8: boolean): Value[] {
  const text = joined(items, utf8);
  return text === null ? [...items] : [{ raw: text }];
}
