// Which queued messages a concurrent drain must deliver alone to keep arrival order. A leaf module: the unseal
// worker decides it beside the unsealing, off the event loop.
import { mimeShape, structureHeavy } from '../mime/limits.js';

/**
 * Messages this large are delivered one at a time: the store compresses them off the event loop (and parses
 * the largest in a worker thread), which would let later, smaller ones overtake them and take lower UIDs.
 */
export const LARGE_MESSAGE_BYTES = 256 * 1024;

/**
 * Whether a concurrent drain must deliver this message alone to keep arrival order: large, or shaped so
 * that the MIME parser hands it to a worker thread (many parts, containers or lines).
 */
export function deliversOutOfTurn(raw: Buffer): boolean {
  if (raw.length >= LARGE_MESSAGE_BYTES) return true;
  try {
    return structureHeavy(mimeShape(raw));
  } catch {
    return true;
  }
}
