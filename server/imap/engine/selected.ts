// The selected folder as one session has reported it to its client (RFC 9051 §2.3.1.2): the sequence number ↔
// UID map, the flags last reported, the \Recent set, the keywords announced in FLAGS and what the update queue
// (updates.ts) still holds back. Only the engine's update flush changes the map.
import { imapBad } from '../errors.js';
import { STAR, type SequenceSet } from '../wire/types.js';
import type { ResolveOptions, SelectedView } from './types.js';

/** The system flags every folder permits (RFC 9051 §2.3.2); keywords come on top. */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;

const isKeyword = (flag: string): boolean => !flag.startsWith('\\');

export class Selected implements SelectedView {
  /** uids[seq - 1], ascending. Expunged messages whose EXPUNGE is held back (updates.ts) are still here. */
  uids: number[];
  /** Flags as last reported per UID. */
  readonly flags = new Map<number, readonly string[]>();
  highestModseq: number;
  readonly recent = new Set<number>();
  savedSearch: readonly number[] = [];
  /** Keywords announced in the last `* FLAGS` response. */
  readonly keywords = new Set<string>();
  /** Journal position: entries up to here were pulled (reported, or held in `held`). */
  pulledModseq: number;
  /** Expunged UIDs not yet reported (EXPUNGE not allowed during FETCH/STORE/SEARCH), with their MODSEQ. */
  readonly held = new Map<number, number>();
  /** MODSEQs of this session's own changes (not echoed as FETCH). */
  readonly own = new Set<number>();

  constructor(
    readonly path: string,
    readonly readOnly: boolean,
    readonly uidValidity: number,
    uids: number[],
    highestModseq: number,
  ) {
    this.uids = uids;
    this.highestModseq = highestModseq;
    this.pulledModseq = highestModseq;
  }

  /** Largest UID known to this session (0 when empty). */
  get largestUid(): number {
    return this.uids.length ? (this.uids[this.uids.length - 1] as number) : 0;
  }

  /** Index of the first UID ≥ uid. */
  private lowerBound(uid: number): number {
    let lo = 0;
    let hi = this.uids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.uids[mid] as number) < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  seqOf(uid: number): number {
    const i = this.lowerBound(uid);
    return this.uids[i] === uid ? i + 1 : 0;
  }

  flagsOf(uid: number): readonly string[] | undefined {
    return this.flags.get(uid);
  }

  flagsCurrent(folderHighestModseq: number): boolean {
    // Every journal entry up to pulledModseq has been applied to `flags` by the update flush (own changes too);
    // a folder whose HIGHESTMODSEQ has not moved past it has had no append, expunge or flag change since.
    return this.held.size === 0 && this.pulledModseq === folderHighestModseq && this.highestModseq === folderHighestModseq;
  }

  /** The keyword list for `* FLAGS` / PERMANENTFLAGS: system flags and every keyword announced. */
  flagList(): string[] {
    return [...SYSTEM_FLAGS, ...[...this.keywords].sort()];
  }

  /** Keywords in `flags` not announced yet (they need a new `* FLAGS`, RFC 3501 §7.2.6). */
  newKeywords(flags: readonly string[]): string[] {
    return flags.filter((flag) => isKeyword(flag) && !this.keywords.has(flag));
  }

  resolve(set: SequenceSet, uidMode: boolean, options: ResolveOptions = {}): number[] {
    if (set.kind === 'saved') {
      // RFC 5182 §2.1: `$` is the saved result; UIDs expunged since are simply gone.
      return this.savedSearch.filter((uid) => this.seqOf(uid) > 0);
    }
    // One range (`1:*`, `n:m`: what clients send for a sync): a slice of the ascending UID list, no set or sort.
    if (set.ranges.length === 1) {
      const [a, b] = set.ranges[0]!;
      if (!uidMode) {
        const count = this.uids.length;
        const from = a === STAR ? count : a;
        const to = b === STAR ? count : b;
        const lo = Math.min(from, to);
        const hi = Math.max(from, to);
        if ((lo < 1 || hi > count) && !options.lenient) throw imapBad('Invalid sequence number');
        return this.uids.slice(Math.max(lo, 1) - 1, Math.max(0, Math.min(hi, count)));
      }
      const largest = this.largestUid;
      const from = a === STAR ? largest : a;
      const to = b === STAR ? largest : b;
      return this.uids.slice(this.lowerBound(Math.min(from, to)), this.lowerBound(Math.max(from, to) + 1));
    }
    const out = new Set<number>();
    if (!uidMode) {
      const count = this.uids.length;
      for (const [a, b] of set.ranges) {
        const from = a === STAR ? count : a;
        const to = b === STAR ? count : b;
        const lo = Math.min(from, to);
        const hi = Math.max(from, to);
        // RFC 9051 §9 (seq-number): "The server should respond with a tagged BAD response to a command that uses
        // a message sequence number greater than the number of messages in the selected mailbox. This includes
        // "*" if the selected mailbox is empty." (Dovecot 2.3 does.)
        if ((lo < 1 || hi > count) && !options.lenient) throw imapBad('Invalid sequence number');
        for (let seq = Math.max(lo, 1); seq <= Math.min(hi, count); seq++) out.add(this.uids[seq - 1] as number);
      }
    } else {
      const largest = this.largestUid;
      for (const [a, b] of set.ranges) {
        // RFC 9051 §6.4.9: `*` is the largest UID in use; `n:*` with n above it still names that message.
        const from = a === STAR ? largest : a;
        const to = b === STAR ? largest : b;
        const lo = Math.min(from, to);
        const hi = Math.max(from, to);
        for (let i = this.lowerBound(lo); i < this.uids.length && (this.uids[i] as number) <= hi; i++) out.add(this.uids[i] as number);
      }
    }
    return [...out].sort((x, y) => x - y);
  }
}

/** Ascending UIDs → compact sequence-set text (`1:3,7`). */
export function uidSetText(uids: readonly number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = -1;
  let prev = -1;
  for (const uid of sorted) {
    if (uid === prev) continue;
    if (uid === prev + 1) {
      prev = uid;
      continue;
    }
    if (start >= 0) parts.push(start === prev ? String(start) : `${start}:${prev}`);
    start = prev = uid;
  }
  if (start >= 0) parts.push(start === prev ? String(start) : `${start}:${prev}`);
  return parts.join(',');
}

/** UIDs → inclusive ranges for the store. */
export function uidRanges(uids: readonly number[]): [number, number][] {
  const sorted = [...uids].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const uid of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && uid <= last[1] + 1) last[1] = Math.max(last[1], uid);
    else ranges.push([uid, uid]);
  }
  return ranges;
}
