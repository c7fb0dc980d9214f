// RFC 8474 object identifiers. MAILBOXID is random per folder (stored); EMAILID and THREADID are derived
// from the file's body and thread counters through a keyed permutation, so they are stable and unique
// (a permutation never maps two numbers to one id) without a stored column per message, and do not
// reveal how many messages or threads the file holds (RFC 8474 §7: ids should not leak information).
import { randomBytes } from 'node:crypto';
import type { Db } from './sqlite.js';

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

/** The six round keys of the Feistel network below, from the file's object key. */
function roundKeys(keyHex: string): number[] {
  const key = Buffer.from(keyHex.padEnd(32, '0').slice(0, 32), 'hex');
  return [0, 4, 8, 12, 0, 8].map((o, i) => (key.readUInt32BE(o) ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
}

/** The round function: a 24-bit hash of one half under one round key. */
function round(x: number, k: number): number {
  let h = Math.imul(x ^ k, 0x45d9f3b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  h ^= h >>> 16;
  return h & HALF;
}

/** Keyed permutation of 48-bit integers (a 6-round Feistel network over 24-bit halves). */
export function objectIdPermutation(keyHex: string): (n: number) => number {
  const rounds = roundKeys(keyHex);
  return (n) => {
    let left = Math.floor(n / 0x1000000) & HALF;
    let right = n & HALF;
    for (const k of rounds) {
      const next = left ^ round(right, k);
      left = right;
      right = next;
    }
    return left * 0x1000000 + right;
  };
}

/** The inverse of objectIdPermutation(keyHex): the same rounds, run backwards. */
export function objectIdInverse(keyHex: string): (n: number) => number {
  const rounds = roundKeys(keyHex).reverse();
  return (n) => {
    let left = Math.floor(n / 0x1000000) & HALF;
    let right = n & HALF;
    for (const k of rounds) {
      const previous = right ^ round(left, k);
      right = left;
      left = previous;
    }
    return left * 0x1000000 + right;
  };
}

const DERIVED = /^([MT])([0-9a-f]{12})$/;

/**
 * The body id ('M…', EMAILID) or thread id ('T…', THREADID) an object id stands for in this file, or null when it
 * is not one this file could have handed out (wrong prefix, shape or kind).
 */
export function objectNumber(keyHex: string, kind: 'M' | 'T', id: string): number | null {
  const m = DERIVED.exec(id);
  if (!m || m[1] !== kind) return null;
  return objectIdInverse(keyHex)(parseInt(m[2]!, 16));
}

/**
 * Registers `mbx_object_number(kind, id)` on a mailbox connection: objectNumber() with the file's key, NULL when
 * the id is not one of ours. Compiled searches use it to find messages by EMAILID / THREADID through indexes:
 *   EMAILID x  → m.body_id = mbx_object_number('M', ?)
 *   THREADID x → m.body_id IN (SELECT id FROM bodies WHERE thread_id = mbx_object_number('T', ?))   (index bodies_thread)
 */
export function registerObjectIdFunctions(db: Db): void {
  // Read once here: a function cannot run statements while the one calling it executes.
  const key = (db.prepare('SELECT object_key FROM mailbox_state').get() as { object_key: string | null } | undefined)?.object_key ?? '';
  db.function('mbx_object_number', { deterministic: true }, (kind: unknown, id: unknown) => {
    if ((kind !== 'M' && kind !== 'T') || typeof id !== 'string') return null;
    return objectNumber(key, kind, id);
  });
}

/** EMAILID / THREADID text: prefix + 12 hex digits of the permuted number. */
export function derivedObjectId(prefix: 'M' | 'T', permuted: number): string {
  return `${prefix}${permuted.toString(16).padStart(12, '0')}`;
}
