// Message bytes a protocol will send, read a few messages ahead (Mailbox.readMany: in a reader thread when the
// store has one) while the event loop writes the current ones: the thread decrypts pages and decodes parts, the
// event loop only frames and writes. IMAP FETCH of whole messages and POP3 RETR use it. Bounded: at most AHEAD
// batches beyond the one being taken from are in memory, and a batch stops growing at BATCH_BYTES.
import type { Mailbox } from './types.js';

/** Largest message (or range) worth reading ahead: larger ones are read or streamed as they are sent. */
export const READ_AHEAD_MAX_BYTES = 256 * 1024;
/** Messages per read batch by default: each batch is one message to the thread and one back. */
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
  /** Batches whose reads are started and not let go of (at most 1 + AHEAD after each take). */
  private readonly loaded = new Set<number>();

  /**
   * `wanted` in the order they will most likely be taken. `batchMessages` (default 32) is the most messages
   * read in one batch: smaller for a caller that may take only a few of many (each take reads its whole batch
   * and the next).
   */
  constructor(
    private readonly mailbox: Mailbox,
    private readonly folder: string,
    wanted: readonly WantedRange[],
    options: { readonly batchMessages?: number } = {},
  ) {
    const most = Math.max(1, options.batchMessages ?? BATCH_MESSAGES);
    let batch: Batch | null = null;
    for (const range of wanted) {
      if (!batch || batch.ranges.length >= most || batch.bytes >= BATCH_BYTES) {
        batch = { ranges: [], bytes: 0, result: null, left: 0 };
        this.batches.push(batch);
      }
      this.at.set(range.uid, [this.batches.length - 1, batch.ranges.length]);
      batch.ranges.push(range);
      batch.bytes += range.end - range.start;
      batch.left++;
    }
  }

  /**
   * The read-ahead range of `uid` (starting its batch and the next AHEAD), or undefined if it was not wanted.
   * Batches outside those are let go of, read or not, so a caller that takes a few messages out of order keeps
   * at most 1 + AHEAD batches in memory (a batch let go of is read again if one of its messages is taken).
   */
  take(uid: number): Prefetched | undefined {
    const where = this.at.get(uid);
    if (!where) return undefined;
    this.at.delete(uid);
    const [k, i] = where;
    const last = Math.min(this.batches.length, k + 1 + AHEAD) - 1;
    for (const j of this.loaded) {
      if (j < k || j > last) this.release(j);
    }
    for (let j = k; j <= last; j++) this.start(j);
    const batch = this.batches[k]!;
    const result = batch.result!;
    if (--batch.left === 0) this.release(k);
    const range = batch.ranges[i]!;
    return { start: range.start, end: range.end, bytes: result.then((all) => all[i] ?? null) };
  }

  /** Batches read or being read and not let go of yet (tests check the bound: at most 1 + AHEAD). */
  get heldBatches(): number {
    return this.loaded.size;
  }

  private release(k: number): void {
    this.batches[k]!.result = null;
    this.loaded.delete(k);
  }

  private start(k: number): void {
    const batch = this.batches[k]!;
    if (batch.result || batch.left === 0) return;
    const result = this.mailbox.readMany(this.folder, batch.ranges);
    // Not every batch is awaited (the FETCH may end early): its failure must not go unhandled. Takers see it.
    result.catch(() => undefined);
    batch.result = result;
    this.loaded.add(k);
  }
}
