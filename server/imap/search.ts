// SEARCH / UID SEARCH, answered by us instead of imap-core's handler, with ESEARCH (RFC 4731) result options.
// imap-core's version flattens parenthesised groups (`NOT (SEEN FLAGGED)` became `NOT SEEN FLAGGED`), expands
// every sequence set into a UID array sent to the store as one range per gap, and maps each hit to its
// sequence number with indexOf (quadratic: ~0.3 s for SEARCH ALL on 10,000 messages). Here the criteria are
// parsed straight into the store's SearchQuery, sets become ranges over the session's own UID list, and
// results are numbered through one Map.
import type { ImapAttribute, ImapCommandModule, ImapConnection } from '@zone-eu/wildduck/imap-core/index.js';
import imapTools from '@zone-eu/wildduck/imap-core/lib/imap-tools.js';
import type { SearchQuery } from '../mailbox/types.js';
import { ImapError, errorSummary, imapBad, imapNo, isExpected, replyFor } from './errors.js';
import { packUids, utf8Of } from './protocol.js';
import { runtimeOf } from './runtime.js';
import { asSelected } from './state.js';

type Handler = ImapCommandModule['handler'];

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const CHARSETS = new Set(['UTF-8', 'US-ASCII', 'UTF8']);
const NOTHING: SearchQuery = { op: 'not', of: { op: 'all' } };
const RETURN_OPTIONS = new Set(['MIN', 'MAX', 'ALL', 'COUNT']);

/** Flag keys without arguments. We keep no \Recent: RECENT and NEW match nothing, OLD everything. */
const FLAG_KEYS: Record<string, SearchQuery> = {
  ANSWERED: { op: 'flag', flag: '\\Answered', set: true },
  DELETED: { op: 'flag', flag: '\\Deleted', set: true },
  DRAFT: { op: 'flag', flag: '\\Draft', set: true },
  FLAGGED: { op: 'flag', flag: '\\Flagged', set: true },
  SEEN: { op: 'flag', flag: '\\Seen', set: true },
  UNANSWERED: { op: 'flag', flag: '\\Answered', set: false },
  UNDELETED: { op: 'flag', flag: '\\Deleted', set: false },
  UNDRAFT: { op: 'flag', flag: '\\Draft', set: false },
  UNFLAGGED: { op: 'flag', flag: '\\Flagged', set: false },
  UNSEEN: { op: 'flag', flag: '\\Seen', set: false },
  ALL: { op: 'all' },
  RECENT: NOTHING,
  NEW: NOTHING,
  OLD: { op: 'all' },
};
const TEXT_KEYS = { SUBJECT: 'subject', FROM: 'from', TO: 'to', CC: 'cc', BCC: 'bcc', BODY: 'body', TEXT: 'text' } as const;
const DATE_KEYS = {
  BEFORE: 'before', ON: 'on', SINCE: 'since', SENTBEFORE: 'sentbefore', SENTON: 'senton', SENTSINCE: 'sentsince',
} as const;

/** "1-Feb-2024" → "2024-02-01". */
export function isoDay(text: string): string {
  const m = /^"?(\d{1,2})-([a-z]{3})-(\d{4})"?$/i.exec(text.trim());
  const month = m ? MONTHS.indexOf((m[2] as string).toLowerCase()) : -1;
  if (!m || month < 0) throw imapBad('Invalid date in SEARCH');
  return `${m[3]}-${String(month + 1).padStart(2, '0')}-${String(Number(m[1])).padStart(2, '0')}`;
}

/** What a SEARCH command asks for, parsed. */
export interface ParsedSearch {
  readonly query: SearchQuery;
  /** ESEARCH result options (RETURN (...)); null for a plain SEARCH. RETURN () means ALL. */
  readonly returns: readonly ('MIN' | 'MAX' | 'ALL' | 'COUNT')[] | null;
  /** A MODSEQ key was used: the reply carries the highest mod-sequence of the hits (RFC 7162 3.1.5). */
  readonly usesModseq: boolean;
}

function isList(attr: ImapAttribute): attr is ImapAttribute[] {
  return Array.isArray(attr);
}

/** Text of a non-list argument; strings and literals arrive as 'binary' strings or Buffers. */
function tokenOf(attr: ImapAttribute | undefined): string | null {
  if (attr === undefined || attr === null || isList(attr)) return null;
  if (typeof attr === 'string') return attr;
  if (typeof attr === 'number') return String(attr);
  if (Buffer.isBuffer(attr)) return attr.toString('binary');
  const value = attr.value;
  if (value === undefined) return null;
  return Buffer.isBuffer(value) ? value.toString('binary') : String(value);
}

/**
 * Inclusive ranges of the set, resolved against the session's UID list and bridged over UIDs the session does
 * not know (they are dropped from every result anyway): `1:*` on a folder with holes is one range, not one per
 * gap. All known messages → ALL, none → nothing.
 */
export function setQuery(text: string, uidList: readonly number[], isUid: boolean): SearchQuery {
  if (!imapTools.validateSequence(text)) throw imapBad('Invalid sequence set in SEARCH');
  const total = uidList.length;
  if (!total) return NOTHING;
  const largest = isUid ? (uidList[total - 1] as number) : total;
  const ranges = text.split(',').map((part): [number, number] => {
    const [a, b = a] = part.split(':') as [string, string?];
    const from = a === '*' ? largest : Number(a);
    const to = b === '*' ? largest : Number(b);
    return [Math.min(from, to), Math.max(from, to)];
  });
  ranges.sort((x, y) => x[0] - y[0]);
  const inSet = (n: number): boolean => {
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [from, to] = ranges[mid] as [number, number];
      if (n < from) hi = mid - 1;
      else if (n > to) lo = mid + 1;
      else return true;
    }
    return false;
  };
  const out: [number, number][] = [];
  let matched = 0;
  let open: [number, number] | null = null;
  for (let i = 0; i < total; i++) {
    const uid = uidList[i] as number;
    if (inSet(isUid ? uid : i + 1)) {
      matched++;
      if (open) open[1] = uid;
      else out.push((open = [uid, uid]));
    } else {
      open = null;
    }
  }
  if (matched === total) return { op: 'all' };
  return out.length ? { op: 'uid', uids: out } : NOTHING;
}

class Criteria {
  private pos = 0;
  usesModseq = false;

  constructor(
    private readonly items: readonly ImapAttribute[],
    private readonly uidList: readonly number[],
  ) {}

  /** Every key of the list, ANDed. */
  all(): SearchQuery {
    const keys: SearchQuery[] = [];
    while (this.pos < this.items.length) keys.push(this.key(0));
    if (!keys.length) throw imapBad('SEARCH needs at least one key');
    return keys.length === 1 ? (keys[0] as SearchQuery) : { op: 'and', of: keys };
  }

  private arg(name: string): string {
    const value = tokenOf(this.items[this.pos]);
    if (value === null) throw imapBad(`Missing argument for ${name}`);
    this.pos++;
    return value;
  }

  private key(depth: number): SearchQuery {
    if (depth > 32) throw imapBad('SEARCH nested too deeply');
    const item = this.items[this.pos++];
    if (item === undefined) throw imapBad('Missing SEARCH key');
    if (isList(item)) {
      const group = new Criteria(item, this.uidList);
      const query = group.all();
      this.usesModseq ||= group.usesModseq;
      return query;
    }
    const token = tokenOf(item) ?? '';
    const name = token.toUpperCase();
    const flagKey = FLAG_KEYS[name];
    if (flagKey) return flagKey;
    if (name in TEXT_KEYS) {
      const value = utf8Of(this.arg(name));
      const op = TEXT_KEYS[name as keyof typeof TEXT_KEYS];
      // SUBJECT "" etc. match every message that has the field (RFC 3501: substring of the field).
      if (value === '' && op !== 'body' && op !== 'text') return { op: 'header', name: op, value: '' };
      return { op, value };
    }
    if (name in DATE_KEYS) return { op: DATE_KEYS[name as keyof typeof DATE_KEYS], date: isoDay(this.arg(name)) };
    switch (name) {
      case 'NOT':
        return { op: 'not', of: this.key(depth + 1) };
      case 'OR':
        return { op: 'or', of: [this.key(depth + 1), this.key(depth + 1)] };
      case 'HEADER': {
        const field = utf8Of(this.arg(name)).toLowerCase();
        const value = utf8Of(this.arg(name));
        if (field in { subject: 1, from: 1, to: 1, cc: 1, bcc: 1 } && value !== '') {
          return { op: field as 'subject' | 'from' | 'to' | 'cc' | 'bcc', value };
        }
        return { op: 'header', name: field, value };
      }
      case 'KEYWORD':
      case 'UNKEYWORD':
        return { op: 'flag', flag: utf8Of(this.arg(name)), set: name === 'KEYWORD' };
      case 'LARGER':
      case 'SMALLER': {
        const text = this.arg(name);
        if (!/^\d{1,15}$/.test(text)) throw imapBad(`Invalid number for ${name}`);
        return { op: name === 'LARGER' ? 'larger' : 'smaller', size: Number(text) };
      }
      case 'UID':
        return setQuery(this.arg(name), this.uidList, true);
      case 'MODSEQ': {
        // MODSEQ ["/flags/\\seen" all|priv|shared] n: per-flag entries are not kept, the message modseq is used.
        let text = this.arg(name);
        if (!/^\d+$/.test(text)) {
          this.arg(name);
          text = this.arg(name);
        }
        if (!/^\d{1,19}$/.test(text)) throw imapBad('Invalid MODSEQ value');
        this.usesModseq = true;
        return { op: 'modseq', modseq: Number(text) };
      }
      case 'CHARSET':
        throw imapBad('CHARSET must come first');
    }
    if (/^[\d*]/.test(token)) return setQuery(token, this.uidList, false);
    throw imapBad('Unknown SEARCH key');
  }
}

/** Parses a SEARCH command's arguments: [RETURN (options)] [CHARSET name] keys. */
export function parseSearch(attributes: readonly ImapAttribute[], uidList: readonly number[]): ParsedSearch {
  let at = 0;
  let returns: ParsedSearch['returns'] = null;
  if (tokenOf(attributes[0])?.toUpperCase() === 'RETURN' && isList(attributes[1] as ImapAttribute)) {
    const options = (attributes[1] as ImapAttribute[]).map((a) => (tokenOf(a) ?? '').toUpperCase());
    for (const option of options) {
      // SAVE is SEARCHRES (RFC 5182), which we do not advertise.
      if (!RETURN_OPTIONS.has(option)) throw imapBad('Unknown RETURN option');
    }
    returns = options.length ? [...new Set(options)].map((o) => o as 'MIN' | 'MAX' | 'ALL' | 'COUNT') : ['ALL'];
    at = 2;
  }
  if (tokenOf(attributes[at])?.toUpperCase() === 'CHARSET') {
    const charset = (tokenOf(attributes[at + 1]) ?? '').toUpperCase();
    if (!CHARSETS.has(charset)) throw imapNo('BADCHARSET (UTF-8 US-ASCII)', 'Unsupported charset');
    at += 2;
  }
  const criteria = new Criteria(attributes.slice(at), uidList);
  const query = criteria.all();
  return { query, returns, usesModseq: criteria.usesModseq };
}

/** The untagged reply: `* SEARCH …` or `* ESEARCH (TAG "…") [UID] MIN … MAX … ALL … COUNT …`. */
export function formatResult(
  tag: string,
  numbers: readonly number[],
  parsed: ParsedSearch,
  isUid: boolean,
  highestModseq: number,
): string {
  const modseq = parsed.usesModseq && numbers.length && highestModseq ? highestModseq : 0;
  if (!parsed.returns) {
    return `* SEARCH${numbers.length ? ' ' + numbers.join(' ') : ''}${modseq ? ` (MODSEQ ${modseq})` : ''}`;
  }
  const parts = [`* ESEARCH (TAG "${tag.replace(/[\\"]/g, '')}")`];
  if (isUid) parts.push('UID');
  for (const option of parsed.returns) {
    if (option === 'COUNT') parts.push(`COUNT ${numbers.length}`);
    else if (!numbers.length) continue;
    else if (option === 'MIN') parts.push(`MIN ${numbers[0]}`);
    else if (option === 'MAX') parts.push(`MAX ${numbers[numbers.length - 1]}`);
    else parts.push(`ALL ${packUids(numbers)}`);
  }
  if (modseq) parts.push(`MODSEQ ${modseq}`);
  return parts.join(' ');
}

export const searchCommand: Handler = function (this: ImapConnection, command, callback) {
  const selected = this.selected;
  if (!selected) return callback(null, { response: 'BAD', message: 'No folder selected' });
  const isUid = String(command.command).toUpperCase() === 'UID SEARCH';
  try {
    const folder = asSelected(selected.mailbox);
    const uidList = selected.uidList;
    const parsed = parseSearch(command.attributes, uidList);
    if (parsed.usesModseq && !selected.condstoreEnabled) this.condstoreEnabled = selected.condstoreEnabled = true;
    const seqOf = new Map<number, number>();
    for (let i = 0; i < uidList.length; i++) seqOf.set(uidList[i] as number, i + 1);
    // Messages this session has not been told about yet (no EXISTS) are not reported.
    const uids = folder.mailbox.search(folder.path, parsed.query).filter((uid) => seqOf.has(uid));
    let highestModseq = 0;
    if (parsed.usesModseq && uids.length) {
      const wanted = new Set(uids);
      for (const meta of folder.mailbox.listMessages(folder.path)) {
        if (wanted.has(meta.uid) && meta.modseq > highestModseq) highestModseq = meta.modseq;
      }
    }
    const numbers = isUid ? uids : uids.map((uid) => seqOf.get(uid) as number);
    this.send(formatResult(command.tag, numbers, parsed, isUid, highestModseq));
    callback(null, { response: 'OK', message: `${isUid ? 'UID SEARCH' : 'SEARCH'} completed` });
  } catch (error) {
    if (!isExpected(error)) {
      try {
        runtimeOf(this._server).logger.error({ command: 'search', err: errorSummary(error) }, 'IMAP SEARCH failed');
      } catch {}
    }
    const reply = error instanceof ImapError ? error.reply : replyFor(error, 'folder');
    callback(null, { response: reply.response, code: reply.code ?? false, message: reply.message });
  }
};
