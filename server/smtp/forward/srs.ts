// Sender Rewriting Scheme: a forwarded message leaves with MAIL FROM rewritten to an address at the
// forwarding alias's domain, so the target's SPF check sees our domain; bounces to that address
// come back to our MX and are reversed to the original sender. Our own scheme on the usual shape:
//   SRS0=<hash>=<tt>=<orig-domain>=<orig-local>@<forward-domain>
//   SRS1=<hash>=<tt>=<first-forward-domain>==<SRS0 tail>@<forward-domain>   (re-forwarding an SRS0 address)
// <tt> is the day number mod 1024 in base32 (2 chars, as libsrs2/postsrsd); <hash> is 13 base32 chars
// (65 bits) of HMAC-SHA256(secret, kind, tt, …), so guessing one takes ~2^64 tries instead of the
// 2^20 of the usual 4-char hash. SRS1 carries our own <tt> (the standard SRS1 has none) so it expires
// like SRS0. Hashes are compared case-insensitively (relays may fold the local part's case).
// Addresses from the earlier 4-char scheme no longer verify: bounces to them are refused (550).
import { createHmac, timingSafeEqual } from 'node:crypto';

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** Base32 characters of the hash: 13 × 5 = 65 bits. */
export const SRS_HASH_LENGTH = 13;
const DAY_MS = 86_400_000;
/** Bounces to SRS addresses older than this (days) are refused; postsrsd's default. */
export const SRS_MAX_AGE_DAYS = 21;
/** The day stamp wraps every 1024 days (10 bits), as in every SRS implementation. */
const STAMP_PERIOD = 1024;

/** Why an SRS address was refused: the hash does not verify (or the shape is wrong), or it is too old. */
export type SrsRefusal = 'srs-forged' | 'srs-expired';
export type SrsVerdict = { readonly original: string } | { readonly refused: SrsRefusal };

function base32(bytes: Buffer, length: number): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= length) break;
  }
  return out;
}

/** The 2-character day stamp for a moment (ms since the epoch). */
export function srsDayStamp(now: number): string {
  const day = Math.floor(now / DAY_MS) % STAMP_PERIOD;
  return (B32[day >> 5] ?? 'a') + (B32[day & 31] ?? 'a');
}

/** Days since a stamp was made (0 … 1023, modulo the stamp period), or null when it is not a stamp. */
export function srsStampAgeDays(stamp: string, now: number): number | null {
  if (stamp.length !== 2) return null;
  const hi = B32.indexOf(stamp[0]?.toLowerCase() ?? '');
  const lo = B32.indexOf(stamp[1]?.toLowerCase() ?? '');
  if (hi < 0 || lo < 0) return null;
  const then = (hi << 5) | lo;
  const today = Math.floor(now / DAY_MS) % STAMP_PERIOD;
  return (today - then + STAMP_PERIOD) % STAMP_PERIOD;
}

function splitAddress(address: string): { local: string; domain: string } | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

export interface SrsOptions {
  /** Bounces older than this many days are refused (1 … 1000; default 21). */
  readonly maxAgeDays?: number;
}

export class Srs {
  readonly maxAgeDays: number;

  constructor(
    private readonly secret: Buffer,
    options: SrsOptions = {},
  ) {
    if (secret.length < 16) throw new Error('SRS secret must be at least 16 bytes');
    const maxAge = options.maxAgeDays ?? SRS_MAX_AGE_DAYS;
    // The stamp wraps after 1024 days; a longer window would let wrapped stamps pass.
    if (!Number.isInteger(maxAge) || maxAge < 1 || maxAge > 1000) throw new Error('SRS maximum age must be 1 to 1000 days');
    this.maxAgeDays = maxAge;
  }

  /** The keyed hash of an SRS address's fields (lowercase base32, SRS_HASH_LENGTH chars). */
  hash(kind: 'srs0' | 'srs1', ...fields: string[]): string {
    const mac = createHmac('sha256', this.secret).update([kind, ...fields].join('\0').toLowerCase()).digest();
    return base32(mac, SRS_HASH_LENGTH);
  }

  private hashMatches(given: string, expected: string): boolean {
    const a = Buffer.from(given.toLowerCase());
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * Rewrites the envelope sender for forwarding through `forwardDomain`. The null sender stays null
   * (bounces are not rewritten); an address already at forwardDomain is kept as it is.
   */
  forward(sender: string, forwardDomain: string, now = Date.now()): string {
    if (sender === '') return '';
    const parts = splitAddress(sender);
    if (!parts) return sender;
    const { local, domain } = parts;
    if (domain.toLowerCase() === forwardDomain.toLowerCase()) return sender;
    const tt = srsDayStamp(now);
    const srs0 = /^srs0([=+-])(.*)$/i.exec(local);
    if (srs0) {
      // Re-forwarding: keep the first forwarder's tail, name the first forwarder.
      const tail = srs0[2] ?? '';
      return `SRS1=${this.hash('srs1', tt, domain, tail)}=${tt}=${domain}==${tail}@${forwardDomain}`;
    }
    const srs1 = /^srs1[=+-][^=]+=(?:[^=]+=)?([^=]+)==(.*)$/i.exec(local);
    if (srs1) {
      // Someone's SRS1 (standard, or ours with a stamp): keep its first forwarder and tail.
      const firstDomain = srs1[1] ?? '';
      const tail = srs1[2] ?? '';
      return `SRS1=${this.hash('srs1', tt, firstDomain, tail)}=${tt}=${firstDomain}==${tail}@${forwardDomain}`;
    }
    return `SRS0=${this.hash('srs0', tt, domain, local)}=${tt}=${domain}=${local}@${forwardDomain}`;
  }

  /** True when the local part looks like one of ours (SRS0/SRS1), whether or not it verifies. */
  static isSrs(address: string): boolean {
    return /^srs[01][=+-]/i.test(address);
  }

  /**
   * Checks an SRS address that arrived at our MX (a bounce) and says where it must go back to: the
   * original sender for SRS0, the first forwarder's SRS0 address for SRS1; or why it is refused.
   */
  verify(address: string, now = Date.now()): SrsVerdict {
    const parts = splitAddress(address);
    if (!parts) return { refused: 'srs-forged' };
    const srs0 = /^srs0[=+-]([^=]+)=([^=]+)=([^=]+)=(.+)$/i.exec(parts.local);
    if (srs0) {
      const [, hash, tt, domain, local] = srs0 as unknown as [string, string, string, string, string];
      if (!this.hashMatches(hash, this.hash('srs0', tt, domain, local))) return { refused: 'srs-forged' };
      return this.fresh(tt, now) ?? { original: `${local}@${domain}` };
    }
    const srs1 = /^srs1[=+-]([^=]+)=([^=]+)=([^=]+)==(.+)$/i.exec(parts.local);
    if (srs1) {
      const [, hash, tt, firstDomain, tail] = srs1 as unknown as [string, string, string, string, string];
      if (!this.hashMatches(hash, this.hash('srs1', tt, firstDomain, tail))) return { refused: 'srs-forged' };
      return this.fresh(tt, now) ?? { original: `SRS0=${tail}@${firstDomain}` };
    }
    return { refused: 'srs-forged' };
  }

  /** The reverse address, or null when the address does not verify or is too old. */
  reverse(address: string, now = Date.now()): string | null {
    const verdict = this.verify(address, now);
    return 'original' in verdict ? verdict.original : null;
  }

  private fresh(stamp: string, now: number): { refused: 'srs-expired' } | null {
    const age = srsStampAgeDays(stamp, now);
    // A stamp from the future wraps to a large age and is refused as well.
    return age !== null && age <= this.maxAgeDays ? null : { refused: 'srs-expired' };
  }
}
