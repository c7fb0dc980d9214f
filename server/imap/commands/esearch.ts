// The ESEARCH response (RFC 4731 §3.1) of SEARCH and SORT (ESORT, RFC 5267 §3.1), with PARTIAL (RFC 5267 §4.4)
// and MODSEQ (RFC 7162 §3.1.5), built in one place. SEARCH lists its numbers ascending, SORT in sort order.
import type { Mailbox } from '../../mailbox/types.js';
import { uidRanges } from '../engine/selected.js';
import type { Value } from '../wire/types.js';
import { imapBad } from '../errors.js';

/**
 * RFC 5267 §4.4 / RFC 9394 §3.1 PARTIAL: positions `first:last` in the ascending result list, 1-based; negative
 * positions count from its end (-1 is the last result).
 */
export interface PartialRange {
  /** The range as the client wrote it, echoed in the response. */
  readonly text: string;
  readonly from: number;
  readonly to: number;
}

const PARTIAL_RANGE = /^(-?)([1-9]\d{0,9}):(-?)([1-9]\d{0,9})$/;

/** A PARTIAL range (RFC 9394 §3.1 partial-range); BAD when malformed. Also read by SORT (RFC 5267 §4.4). */
export function partialRange(text: string): PartialRange {
  const m = PARTIAL_RANGE.exec(text);
  // Both ends on the same side (RFC 9394: partial-range-first / partial-range-last), each an nz-number.
  if (!m || m[1] !== m[3] || Number(m[2]) > 0xffffffff || Number(m[4]) > 0xffffffff) throw imapBad('Invalid PARTIAL range');
  const sign = m[1] === '-' ? -1 : 1;
  const a = sign * Number(m[2]);
  const b = sign * Number(m[4]);
  return { text, from: Math.min(a, b), to: Math.max(a, b) };
}

/** The results at the range's positions (an ascending slice of `results`). */
export function partialSlice<T>(results: readonly T[], range: PartialRange): T[] {
  const n = results.length;
  const start = range.from > 0 ? range.from - 1 : n + range.from;
  const end = range.to > 0 ? range.to : n + range.to + 1;
  return results.slice(Math.max(start, 0), Math.max(end, 0));
}

/** RFC 7162 §3.1.5: the highest MODSEQ among the given messages (0 when none). */
export function highestModseq(mailbox: Mailbox, path: string, uids: readonly number[]): number {
  if (uids.length === 0) return 0;
  let highest = 0;
  for (const meta of mailbox.listMessages(path, uidRanges(uids))) if (meta.modseq > highest) highest = meta.modseq;
  return highest;
}

export interface EsearchResult {
  readonly tag: string;
  readonly uid: boolean;
  /** What the client is told (UIDs or sequence numbers), in result order, and the UIDs in the same order. */
  readonly numbers: readonly number[];
  readonly uids: readonly number[];
  readonly options: ReadonlySet<string>;
  readonly partial: PartialRange | null;
  /** A set of numbers as the response writes it (ascending compaction for SEARCH, order kept for SORT). */
  readonly setText: (numbers: readonly number[]) => string;
  /** MODSEQ in the query: the highest MODSEQ of some UIDs; null when not asked. */
  readonly modseqOf: ((uids: readonly number[]) => number) | null;
}

/** `ESEARCH (TAG "t") [UID] MIN … MAX … COUNT … ALL … PARTIAL (…) MODSEQ …` as untagged values. */
export function esearchData(result: EsearchResult): (Value | string)[] {
  const { numbers, uids, options, partial } = result;
  const data: (Value | string)[] = ['ESEARCH', [{ atom: 'TAG' }, { string: result.tag }]];
  if (result.uid) data.push('UID');
  if (numbers.length > 0) {
    // RFC 5267 §3.1: for SORT, MIN/MAX are the first and last message in the sort order.
    if (options.has('MIN')) data.push('MIN', String(numbers[0]));
    if (options.has('MAX')) data.push('MAX', String(numbers[numbers.length - 1]));
  }
  if (options.has('COUNT')) data.push('COUNT', String(numbers.length));
  if (numbers.length > 0 && options.has('ALL')) data.push('ALL', result.setText(numbers));
  if (partial) {
    // RFC 5267 §4.4: the range as asked and the messages at those positions, NIL when there are none.
    const slice = partialSlice(numbers, partial);
    data.push('PARTIAL', [{ atom: partial.text }, slice.length > 0 ? { atom: result.setText(slice) } : null]);
  }
  if (result.modseqOf && numbers.length > 0) {
    // RFC 7162 §3.1.5 with ESEARCH: over every match for ALL/COUNT, else over the messages MIN/MAX/PARTIAL returned.
    const every = options.has('ALL') || options.has('COUNT');
    const modseq = result.modseqOf(every ? uids : returnedOnly(uids, options, partial));
    if (modseq > 0) data.push('MODSEQ', String(modseq));
  }
  return data;
}

/** The UIDs MIN, MAX and PARTIAL return (what RETURN (SAVE) keeps when ALL/COUNT are not asked, RFC 5182 §2.4). */
export function returnedOnly(uids: readonly number[], options: ReadonlySet<string>, partial: PartialRange | null): number[] {
  if (uids.length === 0) return [];
  const picked = new Set<number>();
  if (options.has('MIN')) picked.add(uids[0] as number);
  if (options.has('MAX')) picked.add(uids[uids.length - 1] as number);
  if (partial) for (const uid of partialSlice(uids, partial)) picked.add(uid);
  return [...picked].sort((a, b) => a - b);
}
