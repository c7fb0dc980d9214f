// Mail addresses as Sealpost compares them: case-insensitive, IDN domains in punycode (ASCII) form,
// and `user+tag@domain` delivered to `user@domain`. Bad input throws InvalidAddress with one clear sentence.
import { domainToASCII, domainToUnicode } from 'node:url';
import { UserError } from '../config/errors.js';

export class InvalidAddress extends UserError {
  constructor(message: string) {
    super(message, 'INVALID_ADDRESS');
  }
}

export interface NormalizedDomain {
  /** Lowercase ASCII (punycode) form, the key everywhere. */
  readonly ascii: string;
  /** Unicode form for display. */
  readonly unicode: string;
}

export interface NormalizedAddress {
  /** `local@ascii-domain`, lowercase, without +tag: the key everywhere. */
  readonly address: string;
  readonly local: string;
  readonly domain: string;
  readonly unicodeDomain: string;
  /** `local@unicode-domain` for display. */
  readonly display: string;
  /** The +tag that was stripped, or null. */
  readonly tag: string | null;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// RFC 5322 atext (ASCII) plus any non-ASCII character except controls and spaces (RFC 6531 SMTPUTF8).
const LOCAL_CHARS = /^[a-z0-9!#$%&'*+/=?^_`{|}~\-.\u00a0-\u{10ffff}]+$/u;
const FORBIDDEN_UNICODE = /[\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]/u;

function quote(input: string): string {
  const shown = input.length > 80 ? `${input.slice(0, 77)}...` : input;
  return JSON.stringify(shown);
}

/** Validates and normalizes a domain name (IDN accepted); throws InvalidAddress. */
export function normalizeDomain(input: string): NormalizedDomain {
  const trimmed = input.trim().replace(/\.$/, '');
  if (trimmed === '') throw new InvalidAddress('The domain name is empty.');
  if (trimmed.startsWith('[')) throw new InvalidAddress(`${quote(input)} is an address literal; use a domain name.`);
  const ascii = domainToASCII(trimmed.normalize('NFC')).toLowerCase();
  const labels = ascii.split('.');
  if (ascii === '' || ascii.length > 253 || labels.some((label) => !LABEL.test(label))) {
    throw new InvalidAddress(`${quote(input)} is not a valid domain name.`);
  }
  if (labels.length < 2) throw new InvalidAddress(`${quote(input)} is not a valid mail domain (it needs at least one dot, like example.com).`);
  if (/^\d+$/.test(labels[labels.length - 1])) throw new InvalidAddress(`${quote(input)} looks like an IP address; use a domain name.`);
  return { ascii, unicode: domainToUnicode(ascii) || ascii };
}

/**
 * Validates and normalizes an address. With stripTag (default) `user+tag@d` becomes `user@d`
 * (the tag is returned separately); alias addresses themselves are created without a tag.
 */
export function normalizeAddress(input: string, options: { stripTag?: boolean } = {}): NormalizedAddress {
  let text = input.trim();
  if (text.startsWith('<') && text.endsWith('>')) text = text.slice(1, -1).trim();
  const at = text.lastIndexOf('@');
  if (text === '') throw new InvalidAddress('The address is empty.');
  if (at < 0) throw new InvalidAddress(`${quote(input)} is not a mail address (it has no @).`);
  let local = text.slice(0, at).normalize('NFC').toLowerCase();
  const domainPart = text.slice(at + 1);
  if (local === '') throw new InvalidAddress(`${quote(input)} has nothing before the @.`);
  if (domainPart === '') throw new InvalidAddress(`${quote(input)} has no domain after the @.`);
  if (local.startsWith('"')) throw new InvalidAddress(`${quote(input)} has a quoted local part, which Sealpost does not accept.`);
  if (!LOCAL_CHARS.test(local) || FORBIDDEN_UNICODE.test(local)) {
    throw new InvalidAddress(`${quote(input)} contains characters not allowed in a mail address.`);
  }
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    throw new InvalidAddress(`${quote(input)} has a misplaced dot before the @.`);
  }
  let tag: string | null = null;
  if (options.stripTag !== false) {
    const plus = local.indexOf('+');
    if (plus === 0) throw new InvalidAddress(`${quote(input)} has nothing before the +tag.`);
    if (plus > 0) {
      tag = local.slice(plus + 1);
      local = local.slice(0, plus);
      if (local.endsWith('.')) throw new InvalidAddress(`${quote(input)} has a misplaced dot before the @.`);
    }
  }
  if (Buffer.byteLength(local) > 64) throw new InvalidAddress(`${quote(input)} has a local part longer than 64 bytes.`);
  const domain = normalizeDomain(domainPart);
  const address = `${local}@${domain.ascii}`;
  if (Buffer.byteLength(address) > 254) throw new InvalidAddress(`${quote(input)} is longer than 254 bytes.`);
  return { address, local, domain: domain.ascii, unicodeDomain: domain.unicode, display: `${local}@${domain.unicode}`, tag };
}

/** Like normalizeAddress but null instead of an error (for SMTP RCPT lookups). */
export function tryNormalizeAddress(input: string): NormalizedAddress | null {
  try {
    return normalizeAddress(input);
  } catch {
    return null;
  }
}
