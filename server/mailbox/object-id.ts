// RFC 8474 object identifiers. MAILBOXID is random per folder (stored); EMAILID and THREADID are derived
// from the file's body and thread counters through a keyed permutation, so they are stable and unique
// (a permutation never maps two numbers to one id) without a stored column per message, and do not
// reveal how many messages or threads the file holds (RFC 8474 §7: ids should not leak information).
import { randomBytes } from 'node:crypto';

/** 'F' + 32 hex digits (128 random bits): a new folder's MAILBOXID. */
export function newMailboxObjectId(): string {
  return `F${randomBytes(16).toString('hex')}`;
}

/** SQL expression for the same, for migrations and triggers. */
export const MAILBOX_OBJECT_ID_SQL = `'F' || lower(hex(randomblob(16)))`;

/** A fresh key for the id permutation (stored in mailbox_state.object_key). */
export function newObjectKey(): string {
  return randomBytes(16).toString('hex');
}

const HALF = 0xffffff; // 24-bit halves: the permutation covers 0 … 2^48 - 1

/** Keyed permutation of 48-bit integers (a 6-round Feistel network over 24-bit halves). */
export function objectIdPermutation(keyHex: string): (n: number) => number {
  const key = Buffer.from(keyHex.padEnd(32, '0').slice(0, 32), 'hex');
  const rounds = [0, 4, 8, 12, 0, 8].map((o, i) => (key.readUInt32BE(o) ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
  const f = (x: number, k: number): number => {
    let h = Math.imul(x ^ k, 0x45d9f3b);
    h ^= h >>> 16;
    h = Math.imul(h, 0x45d9f3b);
    h ^= h >>> 16;
    return h & HALF;
  };
  return (n) => {
    let left = Math.floor(n / 0x1000000) & HALF;
    let right = n & HALF;
    for (const k of rounds) {
      const next = left ^ f(right, k);
      left = right;
      right = next;
    }
    return left * 0x1000000 + right;
  };
}

/** EMAILID / THREADID text: prefix + 12 hex digits of the permuted number. */
export function derivedObjectId(prefix: 'M' | 'T', permuted: number): string {
  return `${prefix}${permuted.toString(16).padStart(12, '0')}`;
}
