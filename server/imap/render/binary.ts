// BINARY[section] (RFC 3516): a part's content with its Content-Transfer-Encoding undone. Decoding follows
// what Python's email package does for `part.get_payload(decode=True)` (binascii.a2b_qp for
// quoted-printable, lenient base64 that skips characters outside the alphabet), so clients that compare
// against a local MIME library get the same bytes. Unknown encodings are refused: `NO [UNKNOWN-CTE]`.
import { headerFields } from '../../mime/text.js';

export type TransferEncoding = 'identity' | 'base64' | 'quoted-printable';

const IDENTITY = new Set(['', '7bit', '8bit', 'binary']);

/** The part's Content-Transfer-Encoding from its MIME header block, or null when it is one we cannot undo. */
export function transferEncodingOf(mimeHeader: Buffer): TransferEncoding | null {
  const field = headerFields(mimeHeader).find((f) => f.name.toLowerCase() === 'content-transfer-encoding');
  // Comments are allowed around the mechanism token (RFC 2045 §6.1 uses RFC 822 lexical tokens).
  const value = (field?.value ?? '').replace(/\([^)]*\)/g, '').trim().toLowerCase();
  if (IDENTITY.has(value)) return 'identity';
  if (value === 'base64' || value === 'quoted-printable') return value;
  return null;
}

const HEX = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
};

/** Quoted-printable decoding as binascii.a2b_qp (header=False) does it: soft breaks, `=XX`, stray `=` kept. */
export function decodeQuotedPrintable(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(input.length);
  let o = 0;
  let i = 0;
  while (i < input.length) {
    const c = input[i] as number;
    if (c !== 0x3d) {
      out[o++] = c;
      i++;
      continue;
    }
    i++;
    if (i >= input.length) break; // a final '=' is dropped
    const next = input[i] as number;
    if (next === 0x0a || next === 0x0d) {
      // Soft line break: skip to the end of the line.
      while (i < input.length && input[i] !== 0x0a) i++;
      if (i < input.length) i++;
    } else if (next === 0x3d) {
      out[o++] = 0x3d;
      i++;
    } else if (i + 1 < input.length && HEX(next) >= 0 && HEX(input[i + 1] as number) >= 0) {
      out[o++] = HEX(next) * 16 + HEX(input[i + 1] as number);
      i += 2;
    } else {
      out[o++] = 0x3d;
    }
  }
  return out.subarray(0, o);
}

/** Base64 decoding that skips line breaks and characters outside the alphabet, and stops at padding. */
export function decodeBase64(input: Buffer): Buffer {
  // Node's decoder ignores characters outside the alphabet and tolerates missing padding, like Python's
  // non-validating b64decode; what follows a '=' pad is ignored by both.
  return Buffer.from(input.toString('latin1'), 'base64');
}

export function decodeTransfer(body: Buffer, encoding: TransferEncoding): Buffer {
  switch (encoding) {
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

/** True when the bytes contain NUL, so they must travel as literal8 `~{n}` (RFC 3516 §4.3). */
export const needsLiteral8 = (bytes: Buffer): boolean => bytes.includes(0);
