// SORT and UID SORT (RFC 5256 §3), with RFC 5957 DISPLAYFROM/DISPLAYTO (SORT=DISPLAY) and RFC 5267 §3 ESORT
// result options (`RETURN (MIN MAX COUNT ALL)` → `* ESEARCH`). Search keys are read by search-keys.ts; the store
// orders the matching UIDs (server/mailbox/sort.ts) and this module numbers them for the session.
import type { Mailbox, SearchQuery, SortKey, SortKeyName } from '../../mailbox/types.js';
import type { CommandContext, CommandSpec, SelectedView, Session } from '../engine/types.js';
import { imapBad } from '../errors.js';
import type { Cursor } from '../wire/types.js';
import { esearchData, highestModseq, partialRange, type PartialRange } from './esearch.js';
import { CONTEXT_SORT, checkContextTag, registerSortContext } from './search-context.js';
import { andOf, NOTHING, parseSearchKeys, usesModseq } from './search-keys.js';

const SORT_KEYS: ReadonlySet<string> = new Set<SortKeyName>(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);

type EsortOption = 'MIN' | 'MAX' | 'COUNT' | 'ALL' | 'PARTIAL' | 'UPDATE' | 'CONTEXT';
const ESORT_OPTIONS: ReadonlySet<string> = new Set<EsortOption>(['MIN', 'MAX', 'COUNT', 'ALL', 'PARTIAL', 'UPDATE', 'CONTEXT']);

/** `sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"`, `sort-criterion = ["REVERSE" SP] sort-key`. */
export function parseSortCriteria(cursor: Cursor): SortKey[] {
  const keys: SortKey[] = [];
  cursor.expect('(');
  for (;;) {
    if (keys.length > 0) cursor.sp();
    let reverse = false;
    let name = cursor.atom();
    if (name === 'REVERSE') {
      reverse = true;
      cursor.sp();
      name = cursor.atom();
    }
    if (!SORT_KEYS.has(name)) throw imapBad('Unknown sort criterion');
    // No count limit of its own: the command's size limit bounds the list, and the store orders by each key once.
    keys.push({ key: name as SortKeyName, reverse });
    if (cursor.peek() === ')') break;
  }
  cursor.expect(')');
  return keys;
}

/**
 * RFC 5267 §3.1 `sort-return-opts = "RETURN" SP "(" [sort-return-opt *(SP sort-return-opt)] ")"`; `()` means ALL, and
 * so does a list of only UPDATE / CONTEXT (§4.2, §4.3: they ask for no data). PARTIAL m:n is §4.4.
 */
function parseEsortOptions(cursor: Cursor): { options: ReadonlySet<EsortOption>; partial: PartialRange | null } {
  const options = new Set<EsortOption>();
  let partial: PartialRange | null = null;
  cursor.expect('(');
  while (cursor.peek() !== ')') {
    if (options.size > 0 || cursor.peek() === ' ') cursor.sp();
    const name = cursor.atom();
    if (!ESORT_OPTIONS.has(name)) throw imapBad('Unknown SORT RETURN option');
    if (name === 'PARTIAL') {
      if (partial) throw imapBad('PARTIAL given twice');
      cursor.sp();
      partial = partialRange(cursor.atom());
    }
    options.add(name as EsortOption);
  }
  cursor.expect(')');
  if (![...options].some((option) => option !== 'UPDATE' && option !== 'CONTEXT')) options.add('ALL');
  return { options, partial };
}

/** `SORT`/`THREAD` charset: mandatory astring (RFC 5256 §3); unsupported ones get NO [BADCHARSET] from parseSearchKeys. */
export function parseCharset(cursor: Cursor): string {
  return cursor.astring().toString('latin1');
}

export function selectedOf(session: Session): { view: SelectedView; mailbox: Mailbox } {
  if (!session.selected || !session.user) throw imapBad('No mailbox selected');
  return { view: session.selected, mailbox: session.user.mailbox };
}

/**
 * The query limited to messages the session has been told about: those arriving since its last EXISTS have
 * higher UIDs than any it knows, and are not reported (RFC 9051 §7.4.1: numbers must match the client's view).
 */
export function knownOnly(query: SearchQuery, view: SelectedView): SearchQuery {
  const highest = view.uids[view.uids.length - 1];
  if (highest === undefined) return NOTHING;
  return andOf([query, { op: 'uid', uids: [[1, highest]] }]);
}

/**
 * UID → sequence number (0: not in the session's view) for numbering many results at once: a table over the
 * view's UID span when the UIDs are dense enough (one array read per UID), else the view's own binary search.
 * Built per command; the view does not change while a command numbers its results (synchronous code).
 */
export function sequenceNumbers(view: SelectedView, results: number): (uid: number) => number {
  const uids = view.uids;
  const count = uids.length;
  if (count === 0) return () => 0;
  const low = uids[0]!;
  const high = uids[count - 1]!;
  const span = high - low + 1;
  // Only worth it for many results, and only when the table stays within a few times the view's size.
  if (results < 64 || span > 4 * count + 1024) return (uid) => view.seqOf(uid);
  const table = new Int32Array(span);
  for (let i = 0; i < count; i++) table[uids[i]! - low] = i + 1;
  return (uid) => (uid < low || uid > high ? 0 : table[uid - low]!);
}

/**
 * Numbers joined by SP, written as ASCII digits straight into one buffer: for 100,000 results several times
 * cheaper than converting each number to a string and joining.
 */
export function numbersText(numbers: readonly number[]): string {
  const digits = Buffer.allocUnsafe(numbers.length * 11);
  let at = 0;
  for (let i = 0; i < numbers.length; i++) {
    if (i > 0) digits[at++] = 0x20;
    let n = numbers[i]!;
    // UIDs and sequence numbers are below 2^32 (10 digits): written backwards from the last digit.
    let width = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) width++;
    for (let j = at + width - 1; j >= at; j--) {
      digits[j] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    at += width;
  }
  return digits.toString('latin1', 0, at);
}

/**
 * Numbers in sort order as an ESORT `ALL` value: a sequence-set in that order, runs of consecutive ascending
 * numbers written as ranges (RFC 5267 §3.1: "in the requested sort order, using a sequence-set").
 */
export function orderedSetText(numbers: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; i++) {
    const first = numbers[i]!;
    let last = first;
    while (i + 1 < numbers.length && numbers[i + 1] === last + 1) last = numbers[++i]!;
    parts.push(first === last ? String(first) : `${first}:${last}`);
  }
  return parts.join(',');
}

async function run(ctx: CommandContext): Promise<{ status: 'OK'; text: string }> {
  const { session, args: cursor, uid } = ctx;
  const { view, mailbox } = selectedOf(session);
  let returns: ReadonlySet<EsortOption> | null = null;
  let partial: PartialRange | null = null;
  if (cursor.tryKeyword('RETURN')) {
    cursor.sp();
    ({ options: returns, partial } = parseEsortOptions(cursor));
    cursor.sp();
    if (returns.has('UPDATE')) checkContextTag(session, ctx.tag);
  }
  const keys = parseSortCriteria(cursor);
  cursor.sp();
  const charset = parseCharset(cursor);
  cursor.sp();
  const query = parseSearchKeys(cursor, { session, charset });
  // Messages the session has not been told about (arrived since its last EXISTS) are dropped by the view's
  // numbering below (sequence number 0), so the store query needs no UID restriction of its own (which would
  // cost a UID subquery over the whole folder).
  const sorted = view.uids.length === 0 ? [] : mailbox.sort(view.path, keys, query);
  const seqOf = sequenceNumbers(view, sorted.length);
  let uids: number[];
  let numbers: number[];
  if (uid) {
    uids = sorted.filter((u) => seqOf(u) > 0);
    numbers = uids;
  } else {
    uids = [];
    numbers = [];
    for (const u of sorted) {
      const seq = seqOf(u);
      if (seq === 0) continue;
      uids.push(u);
      numbers.push(seq);
    }
  }
  const modseqAsked = usesModseq(query);
  if (returns === null) {
    const modseq = modseqAsked ? highestModseq(mailbox, view.path, uids) : 0;
    const data: string[] = ['SORT'];
    if (numbers.length > 0) data.push(numbersText(numbers));
    if (modseq > 0) data.push(`(MODSEQ ${modseq})`);
    await session.untagged(...data);
  } else {
    // RFC 5267 §4.3: the live result starts from this one (NOUPDATE, written first, when the session keeps too many).
    if (returns.has('UPDATE')) await registerSortContext(session, ctx.tag, uid, query, keys, uids);
    const data = esearchData({
      tag: ctx.tag,
      uid,
      numbers,
      uids,
      options: returns,
      partial,
      setText: orderedSetText,
      modseqOf: modseqAsked ? (picked) => highestModseq(mailbox, view.path, picked) : null,
    });
    await session.untagged(...data);
  }
  return { status: 'OK', text: `${uid ? 'UID SORT' : 'SORT'} completed` };
}

export const SORT_COMMAND: CommandSpec = {
  name: 'SORT',
  states: ['selected'],
  uid: true,
  capabilities: ['SORT', 'SORT=DISPLAY', 'ESORT', CONTEXT_SORT],
  // Like SEARCH (RFC 3501 §7.4.1): sequence numbers in the answer must stay valid, so no EXPUNGE with SORT.
  expungeAllowed: (uid) => uid,
  run,
};

export const SORT_COMMANDS: readonly CommandSpec[] = [SORT_COMMAND];
