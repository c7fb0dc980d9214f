// Lists the IMAP grammar writes without separators: `env-from = "(" 1*address ")"` and
// `body-type-mpart = 1*body SP media-subtype` (RFC 3501 §9, RFC 9051 §9) put their elements side by side, with
// no SP between them (the response encoder separates list elements with SP, which the grammar allows elsewhere).
import { encodeValue } from '../wire/encode.js';
import type { Value } from '../wire/types.js';

/** The elements encoded and joined with nothing between them, as one verbatim value; `parens` wraps them in ( ). */
export function adjacent(items: readonly Value[], utf8: boolean, parens: boolean): Value {
  const parts: Buffer[] = [];
  for (const item of items) {
    for (const piece of encodeValue(item, { utf8 })) {
      // Envelope and body structure values are small: never streamed literals.
      if (!Buffer.isBuffer(piece)) throw new Error('streamed literal inside an envelope or body structure');
      parts.push(piece);
    }
  }
  // Every string in these values came from a JS string, so its bytes are valid UTF-8 and survive the round trip.
  const text = Buffer.concat(parts).toString('utf8');
  return { raw: parens ? `(${text})` : text };
}
