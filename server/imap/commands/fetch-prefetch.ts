// The bodies a FETCH of whole messages will send, read a few messages ahead (Mailbox.readMany: in a reader
// thread when the store has one) while the event loop writes the current ones: the thread decrypts pages and
// decodes parts, the event loop only frames and writes. Bounded: at most AHEAD batches beyond the one being
// written are in memory, and a batch stops growing at BATCH_BYTES.
import type { Mailbox } from '../../mailbox/types.js';

/** Messages per read batch: each batch is one message to the thread and one back. */
const BATCH_MESSAGES = 32;
/** Bytes a batch stops growing at (a message alone may be up to the caller's per-message cap). */
const BATCH_BYTES = 1024 * 1024;
/** Batches read ahead of the one being written. */
const AHEAD = 1;
/**
 * Fewest messages worth reading ahead: below this a page's bodies are read on the event loop as they are
 * written (a hand-off to a thread and back costs more than reading a few messages here).
 */
export const READ_AHEAD_MIN_MESSAGES = 8;

export interface WantedRange {
  readonly uid: number;
  readonly start: number;
  readonly end: number;
}

/** A range read ahead: its bytes, or null when the folder no longer holds the message. */
export interface Prefetched {
  readonly start: number;
  readonly end: number;
  readonly bytes: Promise<Buffer | null>;
}

interface Batch {
  readonly ranges: WantedRange[];
  bytes: number;
  result: Promise<(Buffer | null)[]> | null;
  /** Ranges of the batch not taken yet; at 0 the batch lets go of its buffers. */
  left: number;
}

export class BodyPrefetch {
  private readonly batches: Batch[] = [];
  /** Where each wanted UID sits: batch and index in it. */
  private readonly at = new Map<number, readonly [number, number]>();

  /** `wanted` in the order the FETCH will take them. */
  constructor(
    private readonly mailbox: Mailbox,
    private readonly folder: string,
    wanted: readonly WantedRange[],
  ) {
    let batch: Batch | null = null;
    for (const range of wanted) {
      if (!batch || batch.ranges.length >= BATCH_MESSAGES || batch.bytes >= BATCH_BYTES) {
        batch = { ranges: [], bytes: 0, result: null, left: 0 };
        this.batches.push(batch);
      }
      this.at.set(range.uid, [this.batches.length - 1, batch.ranges.length]);
      batch.ranges.push(range);
      batch.bytes += range.end - range.start;
      batch.left++;
    }
  }

  /** The read-ahead range of `uid` (starting its batch and the next AHEAD), or undefined if it was not wanted. */
  take(uid: number): Prefetched | undefined {
    const where = this.at.get(uid);
    if (!where) return undefined;
    this.at.delete(uid);
    const [k, i] = where;
    for (let j = k; j < Math.min(this.batches.length, k + 1 + AHEAD); j++) this.start(j);
    const batch = this.batches[k]!;
    const result = batch.result!;
    if (--batch.left === 0) batch.result = null;
    const range = batch.ranges[i]!;
    return { start: range.start, end: range.end, bytes: result.then((all) => all[i] ?? null) };
  }

  private start(k: number): void {
    const batch = this.batches[k]!;
    if (batch.result || batch.left === 0) return;
    const result = this.mailbox.readMany(this.folder, batch.ranges);
    // Not every batch is awaited (the FETCH may end early): its failure must not go unhandled. Takers see it.
    result.catch(() => undefined);
    batch.result = result;
  }
}
