// SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4) with ESEARCH result options (RFC 4731), SEARCHRES
// (RFC 5182 RETURN (SAVE) and `$`), PARTIAL result ranges (RFC 5267 §4.4, RFC 9394) and CONDSTORE's MODSEQ
// (RFC 7162 §3.1.5), and RFC 5267 §4 contexts (RETURN (UPDATE), kept live by search-context.ts). The keys are read by search-keys.ts;
// the store answers with UIDs; this module numbers them for the session and writes `* SEARCH` or `* ESEARCH`.
import type { Mailbox } from '../../mailbox/types.js';
import type { CommandContext, CommandSpec, SelectedView, Session } from '../engine/types.js';
import { ImapError, imapBad } from '../errors.js';
import { ParseError, type Cursor } from '../wire/types.js';
import { esearchData, highestModseq, partialRange, returnedOnly, type PartialRange } from './esearch.js';
import { CONTEXT_SEARCH, checkContextTag, registerSearchContext } from './search-context.js';
import { parseSearchKeys, usesModseq, viewMatches } from './search-keys.js';

/** UPDATE and CONTEXT are RFC 5267 §4.2 / §4.3: they ask for a live result, not for result data. */
export type ReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE' | 'PARTIAL' | 'UPDATE' | 'CONTEXT';
const RETURN_OPTIONS: ReadonlySet<string> = new Set<ReturnOption>(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE', 'PARTIAL', 'UPDATE', 'CONTEXT']);

export interface ReturnOptions {
  readonly options: ReadonlySet<ReturnOption>;
  readonly partial: PartialRange | null;
}

/**
 * `"(" [search-return-opt *(SP search-return-opt)] ")"` after `RETURN SP`; `()` means ALL (RFC 4731 §3.1), and so
 * does a list of only UPDATE / CONTEXT (RFC 5267 §4), which ask for no data themselves: the client of a live result
 * needs the result it will receive ADDTO / REMOVEFROM for. Every
 * option name read is added to `seen` first, so a caller knows SAVE was asked for even when a later one is refused.
 */
export function parseReturnOptions(cursor: Cursor, seen: Set<string> = new Set()): ReturnOptions {
  const options = new Set<ReturnOption>();
  let partial: PartialRange | null = null;
  cursor.expect('(');
  let first = true;
  while (cursor.peek() !== ')') {
    if (!first) cursor.sp();
    first = false;
    const name = cursor.atom();
    seen.add(name);
    if (!RETURN_OPTIONS.has(name)) throw imapBad('Unknown SEARCH RETURN option');
    if (name === 'PARTIAL') {
      if (partial) throw imapBad('PARTIAL given twice');
      cursor.sp();
      partial = partialRange(cursor.atom());
    }
    options.add(name as ReturnOption);
  }
  cursor.expect(')');
  if (![...options].some((option) => option !== 'UPDATE' && option !== 'CONTEXT')) options.add('ALL');
  return { options, partial };
}

/** Ascending numbers as an IMAP sequence set: 2,3,4,9 → "2:4,9". */
export function sequenceSetText(numbers: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; ) {
    const first = numbers[i] as number;
    let last = first;
    while (i + 1 < numbers.length && numbers[i + 1] === last + 1) last = numbers[++i] as number;
    parts.push(first === last ? String(first) : `${first}:${last}`);
    i++;
  }
  return parts.join(',');
}

/**
 * What RETURN (SAVE) stores (RFC 5182 §2.4, RFC 9394 §3.1): MIN, MAX and/or PARTIAL alone save just the messages they
 * return; with ALL, COUNT or nothing else, every match.
 */
function savedPart(uids: readonly number[], returns: ReturnOptions): number[] {
  const { options } = returns;
  if (options.has('ALL') || options.has('COUNT') || (!options.has('MIN') && !options.has('MAX') && !options.has('PARTIAL'))) return [...uids];
  return returnedOnly(uids, returns.options, returns.partial);
}

interface SearchOutcome {
  /** Matching UIDs known to the session, ascending. */
  readonly uids: readonly number[];
  readonly modseqAsked: boolean;
}

async function writeResults(ctx: CommandContext, view: SelectedView, mailbox: Mailbox, found: SearchOutcome, returns: ReturnOptions | null): Promise<void> {
  const { session, uid } = ctx;
  const numberOf = (u: number): number => (uid ? u : view.seqOf(u));
  const numbers = found.uids.map(numberOf);
  // IMAP4rev2 has only ESEARCH: a SEARCH without RETURN answers as RETURN (ALL) (RFC 9051 §6.4.4).
  const asked = returns ?? (session.enabled.has('IMAP4rev2') ? { options: new Set<ReturnOption>(['ALL']), partial: null } : null);
  if (asked === null) {
    const modseq = found.modseqAsked ? highestModseq(mailbox, view.path, found.uids) : 0;
    await session.untagged('SEARCH', ...numbers.map(String), ...(modseq > 0 ? [`(MODSEQ ${modseq})`] : []));
    return;
  }
  const { options, partial } = asked;
  // RFC 5182 §2.4: RETURN (SAVE) alone produces no ESEARCH response (UPDATE / CONTEXT ask for no data).
  if (options.has('SAVE') && [...options].every((option) => option === 'SAVE' || option === 'UPDATE' || option === 'CONTEXT')) return;
  const data = esearchData({
    tag: ctx.tag,
    uid,
    numbers,
    uids: found.uids,
    options,
    partial,
    setText: sequenceSetText,
    modseqOf: found.modseqAsked ? (uids) => highestModseq(mailbox, view.path, uids) : null,
  });
  await session.untagged(...data);
}

function selectedOf(session: Session): { view: SelectedView; mailbox: Mailbox } {
  if (!session.selected || !session.user) throw imapBad('No mailbox selected');
  return { view: session.selected, mailbox: session.user.mailbox };
}

export const SEARCH_COMMAND: CommandSpec = {
  name: 'SEARCH',
  states: ['selected'],
  uid: true,
  // RFC 4731 result options, RFC 5182 RETURN (SAVE) and `$`, RFC 5032 OLDER/YOUNGER.
  capabilities: ['ESEARCH', 'SEARCHRES', 'WITHIN', CONTEXT_SEARCH],
  // RFC 3501 §7.4.1: no EXPUNGE while answering SEARCH; UID SEARCH may carry them.
  expungeAllowed: (uid) => uid,
  async run(ctx) {
    const { session, args: cursor } = ctx;
    const { view, mailbox } = selectedOf(session);
    let returns: ReturnOptions | null = null;
    const requested = new Set<string>();
    try {
      if (cursor.tryKeyword('RETURN')) {
        cursor.sp();
        returns = parseReturnOptions(cursor, requested);
        cursor.sp();
        if (returns.options.has('UPDATE')) checkContextTag(session, ctx.tag);
      }
      let charset: string | null = null;
      if (cursor.tryKeyword('CHARSET')) {
        cursor.sp();
        charset = cursor.astring().toString('latin1');
        cursor.sp();
      }
      const query = parseSearchKeys(cursor, { session, charset });
      // Messages this session has not been told about (no EXISTS yet) are not reported; those it has not been
      // told are gone (EXPUNGE held back) still are.
      const uids = viewMatches(mailbox, view, query);
      if (returns?.options.has('SAVE')) view.savedSearch = savedPart(uids, returns);
      // RFC 5267 §4.3: the live result starts from this one (NOUPDATE, written first, when the session keeps too many).
      if (returns?.options.has('UPDATE')) await registerSearchContext(session, ctx.tag, ctx.uid, query, uids);
      await writeResults(ctx, view, mailbox, { uids, modseqAsked: usesModseq(query) }, returns);
    } catch (error) {
      // RFC 5182 §2.1: a SEARCH with SAVE answered NO leaves an empty saved result; one answered BAD changes nothing.
      const bad = error instanceof ParseError || (error instanceof ImapError && error.reply.response === 'BAD');
      if (requested.has('SAVE') && !bad) view.savedSearch = [];
      throw error;
    }
    return { status: 'OK', text: `${ctx.uid ? 'UID SEARCH' : 'SEARCH'} completed` };
  },
};
