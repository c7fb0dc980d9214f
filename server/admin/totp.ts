// TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 30-second steps, 6 digits — what every authenticator app
// speaks. Secrets are 20 random bytes shown to the admin as base32 (RFC 4648, no padding).
import crypto from 'node:crypto';
import QRCode from 'qrcode';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;

export function base32Encode(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes base32 (case-insensitive, spaces and padding ignored); throws on other characters. */
export function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s=]/g, '');
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of clean) {
    const index = ALPHABET.indexOf(char);
    if (index < 0) throw new Error('not a base32 string');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function newTotpSecret(): string {
  return base32Encode(crypto.randomBytes(20));
}

/** HOTP(K, C) (RFC 4226 §5.3): dynamic truncation of HMAC-SHA1 over the 8-byte big-endian counter. */
export function hotp(secret: Uint8Array, counter: number, digits = TOTP_DIGITS): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = crypto.createHmac('sha1', secret).update(message).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The TOTP code for a moment (default now). */
export function totpAt(secretBase32: string, timeMs = Date.now(), digits = TOTP_DIGITS): string {
  return hotp(base32Decode(secretBase32), Math.floor(timeMs / 1000 / TOTP_STEP_SECONDS), digits);
}

/**
 * Checks a code against the current step and one step either side (clock drift). Returns the matched
 * step so the caller can refuse replays of the same step; null when the code is wrong.
 */
export function verifyTotp(secretBase32: string, code: string, timeMs = Date.now(), lastUsedStep = -1): number | null {
  const trimmed = code.replace(/\s/g, '');
  if (!/^\d{6}$/.test(trimmed)) return null;
  const secret = base32Decode(secretBase32);
  const now = Math.floor(timeMs / 1000 / TOTP_STEP_SECONDS);
  for (const step of [now - 1, now, now + 1]) {
    if (step <= lastUsedStep) continue;
    const expected = Buffer.from(hotp(secret, step));
    if (crypto.timingSafeEqual(expected, Buffer.from(trimmed))) return step;
  }
  return null;
}

/** otpauth:// URI for authenticator apps (they turn it into an entry; the UI shows it as text and as a QR code). */
export function totpUri(secretBase32: string, account: string, issuer = 'Sealpost'): string {
  const label = encodeURIComponent(`${issuer}:${account}`);
  return `otpauth://totp/${label}?secret=${secretBase32}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=${TOTP_DIGITS}&period=${TOTP_STEP_SECONDS}`;
}

/**
 * The otpauth:// URI as a QR code in SVG, for the enrolment screen to show as an image the authenticator
 * app scans. Made on the server so the UI needs no QR library; error correction M, a 2-module quiet zone.
 */
export async function totpQrSvg(uri: string): Promise<string> {
  if (!uri.startsWith('otpauth://totp/')) throw new Error('not an otpauth://totp/ URI');
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}
