// Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): printable US-ASCII except "&" stands for itself, "&" is
// "&-", every other character is UTF-16BE in modified BASE64 (`,` instead of `/`, no padding) between "&" and
// "-". Decoding is strict: anything another encoder could not have produced is refused, so one folder has
// exactly one wire name.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

const printable = (code: number): boolean => code >= 0x20 && code <= 0x7e;

/** Encodes a mailbox name (any Unicode string) to modified UTF-7. */
export function encodeMutf7(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const code = name.charCodeAt(i);
    if (code === 0x26) {
      out += '&-';
      i++;
      continue;
    }
    if (printable(code)) {
      let j = i + 1;
      while (j < name.length && printable(name.charCodeAt(j)) && name.charCodeAt(j) !== 0x26) j++;
      out += name.slice(i, j);
      i = j;
      continue;
    }
    let j = i + 1;
    while (j < name.length && !printable(name.charCodeAt(j))) j++;
    const units = Buffer.alloc((j - i) * 2);
    for (let k = i; k < j; k++) units.writeUInt16BE(name.charCodeAt(k), (k - i) * 2);
    out += `&${units.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
    i = j;
  }
  return out;
}

/** Decodes modified UTF-7; null when `text` is not valid modified UTF-7 (8-bit, bad BASE64, bad UTF-16, …). */
export function decodeMutf7(text: string): string | null {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (!printable(code)) return null;
    if (code !== 0x26) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x26 && printable(text.charCodeAt(j))) j++;
      out += text.slice(i, j);
      i = j;
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) return null;
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    const decoded = decodeShifted(text, i + 1, end);
    if (decoded === null) return null;
    out += decoded;
    i = end + 1;
  }
  return out;
}

/** The characters of one `&…-` run; null when invalid. */
function decodeShifted(text: string, start: number, end: number): string | null {
  let bits = 0;
  let nbits = 0;
  let out = '';
  let high = 0; // pending high surrogate
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? (VALUE[code] as number) : -1;
    if (value < 0) return null;
    bits = ((bits << 6) | value) & 0xffffff;
    nbits += 6;
    if (nbits < 16) continue;
    nbits -= 16;
    const unit = (bits >> nbits) & 0xffff;
    if (high) {
      if (unit < 0xdc00 || unit > 0xdfff) return null;
      out += String.fromCharCode(high, unit);
      high = 0;
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
      high = unit;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return null;
    } else {
      // Printable ASCII must stand for itself (RFC 3501 §5.1.3), so encoding it is an error.
      if (printable(unit)) return null;
      out += String.fromCharCode(unit);
    }
  }
  // Leftover bits are padding: fewer than 6, all zero; a run ends on a whole UTF-16 character.
  if (high || nbits >= 6 || (bits & ((1 << nbits) - 1)) !== 0 || out.length === 0) return null;
  return out;
}
