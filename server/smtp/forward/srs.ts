// Sender Rewriting Scheme: a forwarded message leaves with MAIL FROM rewritten to an address at the
// forwarding alias's domain, so the target's SPF check sees our domain; bounces to that address
// come back to our MX and are reversed to the original sender. Our own scheme on the usual shape:
//   SRS0=<hash>=<tt>=<orig-domain>=<orig-local>@<forward-domain>
//   SRS1=<hash>=<first-forward-domain>==<SRS0 tail>@<forward-domain>   (re-forwarding an SRS0 address)
// <tt> is the day number mod 1024 in base32; <hash> is 4 base32 chars of HMAC-SHA256(secret, …).
import { createHmac } from 'node:crypto';

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const HASH_LENGTH = 4;
const DAY_MS = 86_400_000;
/** Bounces older than this (days) are refused; RFC-less convention is 21. */
export const SRS_MAX_AGE_DAYS = 21;

function base32(bytes: Buffer, length: number): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= length) break;
  }
  return out;
}

function dayStamp(now: number): string {
  const day = Math.floor(now / DAY_MS) % 1024;
  return (B32[day >> 5] ?? 'a') + (B32[day & 31] ?? 'a');
}

function stampAgeDays(stamp: string, now: number): number | null {
  if (stamp.length !== 2) return null;
  const hi = B32.indexOf(stamp[0] ?? '');
  const lo = B32.indexOf(stamp[1] ?? '');
  if (hi < 0 || lo < 0) return null;
  const then = (hi << 5) | lo;
  const today = Math.floor(now / DAY_MS) % 1024;
  return (today - then + 1024) % 1024;
}

function splitAddress(address: string): { local: string; domain: string } | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

export class Srs {
  constructor(private readonly secret: Buffer) {
    if (secret.length < 16) throw new Error('SRS secret must be at least 16 bytes');
  }

  private hash(...parts: string[]): string {
    const mac = createHmac('sha256', this.secret).update(parts.join('\0').toLowerCase()).digest();
    return base32(mac, HASH_LENGTH);
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
    const srs0 = /^srs0([=+-])(.*)$/i.exec(local);
    if (srs0) {
      // Re-forwarding: keep the first forwarder's tail, name the first forwarder.
      const tail = srs0[2] ?? '';
      return `SRS1=${this.hash(domain, tail)}=${domain}==${tail}@${forwardDomain}`;
    }
    const srs1 = /^srs1[=+-]([^=]+)=([^=]+)==(.*)$/i.exec(local);
    if (srs1) {
      const firstDomain = srs1[2] ?? '';
      const tail = srs1[3] ?? '';
      return `SRS1=${this.hash(firstDomain, tail)}=${firstDomain}==${tail}@${forwardDomain}`;
    }
    const tt = dayStamp(now);
    return `SRS0=${this.hash(tt, domain, local)}=${tt}=${domain}=${local}@${forwardDomain}`;
  }

  /** True when the local part looks like one of ours (SRS0/SRS1), whether or not it verifies. */
  static isSrs(address: string): boolean {
    return /^srs[01][=+-]/i.test(address);
  }

  /**
   * Reverses an SRS address that arrived at our MX (a bounce) to where it must go back to:
   * the original sender for SRS0, the first forwarder's SRS0 address for SRS1. null when the hash
   * does not verify or the SRS0 stamp is too old (the caller then refuses the recipient).
   */
  reverse(address: string, now = Date.now()): string | null {
    const parts = splitAddress(address);
    if (!parts) return null;
    const srs0 = /^srs0[=+-]([^=]+)=([^=]+)=([^=]+)=(.+)$/i.exec(parts.local);
    if (srs0) {
      const [, hash, tt, domain, local] = srs0 as unknown as [string, string, string, string, string];
      if (hash.toLowerCase() !== this.hash(tt, domain, local)) return null;
      const age = stampAgeDays(tt.toLowerCase(), now);
      if (age === null || age > SRS_MAX_AGE_DAYS) return null;
      return `${local}@${domain}`;
    }
    const srs1 = /^srs1[=+-]([^=]+)=([^=]+)==(.+)$/i.exec(parts.local);
    if (srs1) {
      const [, hash, firstDomain, tail] = srs1 as unknown as [string, string, string, string];
      if (hash.toLowerCase() !== this.hash(firstDomain, tail)) return null;
      return `SRS0=${tail}@${firstDomain}`;
    }
    return null;
  }
}
