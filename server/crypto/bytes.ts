// Small byte helpers shared by the crypto module: constant-time compare, wiping, random bytes.
import { randomFillSync, timingSafeEqual as nodeTimingSafeEqual } from 'node:crypto';

/** Constant-time equality of two byte strings; different lengths are simply unequal. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    // Still spend a comparison so the length check is not the only work done.
    nodeTimingSafeEqual(a, a);
    return false;
  }
  return nodeTimingSafeEqual(a, b);
}

/** Overwrites a buffer with zeros (best effort: JS may have copied it earlier). Accepts null/undefined. */
export function wipe(buf: Uint8Array | null | undefined): void {
  if (buf) buf.fill(0);
}

/**
 * Fresh random bytes in a Buffer of its own. Never Buffer.allocUnsafe: small unsafe Buffers share
 * a pool slab, so secrets would sit next to unrelated data and wiping one view would miss copies.
 */
export function randomBytes(length: number): Buffer {
  const out = Buffer.alloc(length);
  randomFillSync(out);
  return out;
}

/** A Buffer view over a Uint8Array without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Concatenates byte strings into one new Buffer (not pooled). */
export function concatBytes(...parts: Uint8Array[]): Buffer {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = Buffer.alloc(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
