// The search-key grammar shared by SEARCH, SORT and THREAD (RFC 9051 §6.4.4 and RFC 3501 §6.4.4, with
// RFC 7162 §3.1.5 MODSEQ, RFC 5032 OLDER/YOUNGER, RFC 8514 SAVED*, RFC 8474 EMAILID/THREADID and RFC 5182 `$`),
// read through the wire cursor straight into the store's SearchQuery. Sequence sets are resolved against the
// session's own view here, so the store only ever sees UIDs.
import type { Mailbox, SearchQuery, UidSet } from '../../mailbox/types.js';
import { bytesToText } from '../../mime/text.js';
import type { SelectedView, Session } from '../engine/types.js';
import { imapBad, imapNo } from '../errors.js';
import type { Cursor, SequenceSet } from '../wire/types.js';

/** Matches nothing (an empty UID set compiles to a false SQL term). */
export const NOTHING: SearchQuery = { op: 'uid', uids: [] };
const ALL: SearchQuery = { op: 'all' };

export interface SearchKeyContext {
  readonly session: Session;
  /** The CHARSET the command named, or null when it named none. */
  readonly charset: string | null;
}

/**
 * Throws `NO [BADCHARSET (UTF-8 US-ASCII)]` unless the charset is one we search in: UTF-8, which RFC 9051 §6.4.4 makes
 * mandatory, and its subset US-ASCII ("If the server does not support the specified [CHARSET], it MUST return a
 * tagged NO response (not a BAD)").
 */
export function checkCharset(charset: string | null): void {
  if (charset === null) return;
  const name = charset.toUpperCase();
  if (name === 'UTF-8' || name === 'US-ASCII' || name === 'UTF8' || name === 'ASCII') return;
  throw imapNo('BADCHARSET (UTF-8 US-ASCII)', 'Unsupported charset, use UTF-8');
}

/** Keys without an argument. */
const FLAG_KEYS: Readonly<Record<string, SearchQuery>> = {
  ALL,
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
  // RFC 8514: every folder of ours supports the save date (mail stored before it was kept has NIL).
  SAVEDATESUPPORTED: ALL,
};

const TEXT_KEYS = { BCC: 'bcc', BODY: 'body', CC: 'cc', FROM: 'from', SUBJECT: 'subject', TEXT: 'text', TO: 'to' } as const;

const DATE_KEYS = {
  BEFORE: 'before',
  ON: 'on',
  SINCE: 'since',
  SENTBEFORE: 'sentbefore',
  SENTON: 'senton',
  SENTSINCE: 'sentsince',
  SAVEDBEFORE: 'savedbefore',
  SAVEDON: 'savedon',
  SAVEDSINCE: 'savedsince',
} as const;

/** RFC 8474 §4: objectid = 1*255(ALPHA / DIGIT / "_" / "-"). */
const OBJECT_ID = /^[A-Za-z0-9_-]{1,255}$/;
/** RFC 7162 §3.1.5 entry-flag-name: "/flags/" attr-flag (the per-flag MODSEQ is not kept: the message's is used). */
const ENTRY_FLAG_NAME = /^\/flags\/\\?[\x21-\x7e]+$/i;
/** What a header field name can be: printable ASCII without ':' (RFC 5322 §3.6.8). */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** AND of the keys, nested ANDs and ALLs folded away. */
export function andOf(keys: readonly SearchQuery[]): SearchQuery {
  const flat: SearchQuery[] = [];
  for (const key of keys) {
    if (key.op === 'all') continue;
    if (key.op === 'and') flat.push(...key.of);
    else flat.push(key);
  }
  if (flat.length === 0) return ALL;
  return flat.length === 1 ? (flat[0] as SearchQuery) : { op: 'and', of: flat };
}

function orOf(a: SearchQuery, b: SearchQuery): SearchQuery {
  if (a.op === 'all' || b.op === 'all') return ALL;
  const of = [...(a.op === 'or' ? a.of : [a]), ...(b.op === 'or' ? b.of : [b])];
  return { op: 'or', of };
}

function notOf(key: SearchQuery): SearchQuery {
  if (key.op === 'not') return key.of;
  if (key.op === 'all') return NOTHING;
  return { op: 'not', of: key };
}

/**
 * Inclusive UID ranges covering exactly `uids` among the messages this session knows, bridged over UIDs it does not
 * know (no result ever includes those): `1:*` on a folder with holes is one range, not one per gap. Every known
 * message → ALL, none → NOTHING.
 */
export function uidsQuery(uids: readonly number[], view: SelectedView): SearchQuery {
  if (uids.length === 0) return NOTHING;
  if (uids.length === view.uids.length) return ALL;
  const ranges: [number, number][] = [];
  let lastSeq = -1;
  for (const uid of uids) {
    const seq = view.seqOf(uid);
    const open = ranges[ranges.length - 1];
    if (open && seq === lastSeq + 1) open[1] = uid;
    else ranges.push([uid, uid]);
    lastSeq = seq;
  }
  return { op: 'uid', uids: ranges as UidSet };
}

/** True when the query has a MODSEQ key: SEARCH then reports the highest mod-sequence (RFC 7162 §3.1.5). */
export function usesModseq(query: SearchQuery): boolean {
  switch (query.op) {
    case 'modseq':
      return true;
    case 'and':
    case 'or':
      return query.of.some(usesModseq);
    case 'not':
      return usesModseq(query.of);
    default:
      return false;
  }
}

/**
 * Whether a message the store no longer holds matches, from what the session knows of it (its UID and the flags last
 * reported); null when the query needs more (text, dates, sizes, MODSEQ).
 */
function matchesKnown(query: SearchQuery, uid: number, view: SelectedView): boolean | null {
  switch (query.op) {
    case 'all':
      return true;
    case 'uid':
      return query.uids.some(([a, b]) => uid >= Math.min(a, b) && uid <= Math.max(a, b));
    case 'flag': {
      const flags = view.flagsOf(uid);
      if (!flags) return null;
      const name = query.flag.toLowerCase();
      return flags.some((f) => f.toLowerCase() === name) === query.set;
    }
    case 'not': {
      const inner = matchesKnown(query.of, uid, view);
      return inner === null ? null : !inner;
    }
    case 'and':
    case 'or': {
      let unknown = false;
      for (const part of query.of) {
        const result = matchesKnown(part, uid, view);
        if (result === null) unknown = true;
        else if (result === (query.op === 'or')) return result;
      }
      return unknown ? null : query.op === 'and';
    }
    default:
      return null;
  }
}

/**
 * UIDs of the session's view that match, ascending: the store's answer restricted to messages the session knows,
 * plus messages expunged elsewhere whose EXPUNGE the session has not been sent yet (RFC 3501 §7.4.1 holds it back
 * during SEARCH): to the client they still exist, so `SEARCH ALL` still lists them, as long as what the session
 * knows of them (UID, flags) decides the query.
 */
export function viewMatches(mailbox: Mailbox, view: SelectedView, query: SearchQuery): number[] {
  const found = mailbox.search(view.path, query).filter((uid) => view.seqOf(uid) > 0);
  // Nothing changed since the session's last update: every message it knows is still stored.
  if (mailbox.status(view.path).highestModseq <= view.highestModseq) return found;
  const stored = new Set(mailbox.search(view.path, ALL));
  const ghosts = view.uids.filter((uid) => !stored.has(uid) && matchesKnown(query, uid, view) === true);
  if (ghosts.length === 0) return found;
  return [...found, ...ghosts].sort((a, b) => a - b);
}

class KeyReader {
  private readonly maxDepth: number;
  private readonly maxTextKeys: number;
  private readonly view: SelectedView;
  /** Text keys read so far (each is an index query and a scan of candidate rows in the store). */
  private textKeys = 0;

  constructor(
    private readonly cursor: Cursor,
    private readonly session: Session,
  ) {
    if (!session.selected) throw imapBad('No mailbox selected');
    this.view = session.selected;
    this.maxDepth = session.limits.maxSearchDepth;
    this.maxTextKeys = session.limits.maxSearchTextKeys;
  }

  private countTextKey(): void {
    if (++this.textKeys > this.maxTextKeys) throw imapNo('LIMIT', `More than ${this.maxTextKeys} text keys in one search`);
  }

  /** search-key *(SP search-key) up to the end of the arguments (or a `)` when `inList`). */
  keys(depth: number, inList: boolean): SearchQuery {
    const keys = [this.key(depth)];
    for (;;) {
      if (inList && this.cursor.peek() === ')') break;
      if (this.cursor.atEnd()) {
        if (inList) throw imapBad('Missing ) in search program');
        break;
      }
      this.cursor.sp();
      keys.push(this.key(depth));
    }
    return andOf(keys);
  }

  private text(): string {
    // Search strings are UTF-8 (US-ASCII is a subset); bytes that are not UTF-8 are read as Windows-1252, the way
    // the stored text of 8-bit messages was decoded (server/mime/text.ts), so such a search can still match.
    return bytesToText(this.cursor.astring());
  }

  private set(set: SequenceSet, uidMode: boolean): SearchQuery {
    // As a search key, message numbers beyond the mailbox match nothing (Dovecot: `SEARCH 1:*` in an empty
    // mailbox is an empty result), where FETCH and STORE answer BAD.
    return uidsQuery(this.view.resolve(set, uidMode, { lenient: true }), this.view);
  }

  private recent(): SearchQuery {
    const recent = [...this.view.recent].filter((uid) => this.view.seqOf(uid) > 0).sort((a, b) => a - b);
    return uidsQuery(recent, this.view);
  }

  key(depth: number): SearchQuery {
    if (depth >= this.maxDepth) throw imapBad(`Search program nested deeper than ${this.maxDepth} levels`);
    const cursor = this.cursor;
    const next = cursor.peek();
    if (next === '(') {
      cursor.expect('(');
      const group = this.keys(depth + 1, true);
      cursor.expect(')');
      return group;
    }
    if (next === '*' || next === '$' || (next >= '0' && next <= '9')) return this.set(cursor.sequenceSet(), false);
    if (next === '') throw imapBad('Missing search key');
    const name = cursor.atom();
    const flagKey = FLAG_KEYS[name];
    if (flagKey) return flagKey;
    if (name in TEXT_KEYS) {
      this.countTextKey();
      cursor.sp();
      const op = TEXT_KEYS[name as keyof typeof TEXT_KEYS];
      const value = this.text();
      // An empty string matches every message that has the field (a substring of any field text).
      if (value === '' && op !== 'body' && op !== 'text') return { op: 'header', name: op, value: '' };
      return { op, value };
    }
    if (name in DATE_KEYS) {
      cursor.sp();
      return { op: DATE_KEYS[name as keyof typeof DATE_KEYS], date: cursor.date() };
    }
    switch (name) {
      case 'NOT':
        cursor.sp();
        return notOf(this.key(depth + 1));
      case 'OR': {
        cursor.sp();
        const a = this.key(depth + 1);
        cursor.sp();
        return orOf(a, this.key(depth + 1));
      }
      case 'HEADER': {
        this.countTextKey();
        cursor.sp();
        const field = this.text().trim();
        cursor.sp();
        const value = this.text();
        // Any astring is a legal header-fld-name; one no header can have (space, colon, 8-bit) matches nothing.
        if (!FIELD_NAME.test(field)) return NOTHING;
        return { op: 'header', name: field.toLowerCase(), value };
      }
      case 'KEYWORD':
      case 'UNKEYWORD':
        cursor.sp();
        return { op: 'flag', flag: cursor.atom(true), set: name === 'KEYWORD' };
      case 'LARGER':
      case 'SMALLER':
        cursor.sp();
        return { op: name === 'LARGER' ? 'larger' : 'smaller', size: cursor.number64() };
      case 'UID':
        cursor.sp();
        return this.set(cursor.sequenceSet(), true);
      case 'RECENT':
      case 'NEW':
      case 'OLD': {
        // RFC 9051 Appendix E: IMAP4rev2 has no \Recent, and its search-key grammar no RECENT, NEW or OLD.
        if (this.session.enabled.has('IMAP4rev2')) throw imapBad(`${name} is not an IMAP4rev2 search key`);
        const recent = this.recent();
        if (name === 'RECENT') return recent;
        return name === 'NEW' ? andOf([recent, FLAG_KEYS.UNSEEN as SearchQuery]) : notOf(recent);
      }
      case 'MODSEQ':
        return this.modseq();
      case 'OLDER':
      case 'YOUNGER':
        cursor.sp();
        return { op: name === 'OLDER' ? 'older' : 'younger', seconds: cursor.nzNumber() };
      case 'EMAILID':
      case 'THREADID': {
        cursor.sp();
        const id = cursor.atom(true);
        if (!OBJECT_ID.test(id)) throw imapBad(`Invalid object id for ${name}`);
        return { op: name === 'EMAILID' ? 'emailid' : 'threadid', id };
      }
      case 'CHARSET':
        throw imapBad('CHARSET must come before the search keys');
    }
    throw imapBad('Unknown search key');
  }

  /** "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer (RFC 7162 §3.1.5). */
  private modseq(): SearchQuery {
    const cursor = this.cursor;
    cursor.sp();
    if (cursor.peek() === '"') {
      const entry = cursor.string().toString('latin1');
      if (!ENTRY_FLAG_NAME.test(entry)) throw imapBad('Invalid MODSEQ entry name');
      cursor.sp();
      const type = cursor.atom();
      if (type !== 'PRIV' && type !== 'SHARED' && type !== 'ALL') throw imapBad('Invalid MODSEQ entry type');
      cursor.sp();
    }
    return { op: 'modseq', modseq: cursor.number64() };
  }
}

/**
 * Reads `search-key *(SP search-key)` to the end of the command's arguments into one SearchQuery (the keys ANDed).
 * Sequence sets, UID sets, `$` and RECENT/NEW/OLD become UID ranges of the session's view; the query may still
 * match messages the session has not been told about yet (callers drop UIDs with view.seqOf(uid) === 0).
 * A MODSEQ key turns CONDSTORE on (RFC 7162 §3.1: "SEARCH command with the MODSEQ search criterion").
 * Throws ParseError / BAD for syntax, NO [BADCHARSET] for an unknown charset.
 */
export function parseSearchKeys(cursor: Cursor, ctx: SearchKeyContext): SearchQuery {
  checkCharset(ctx.charset);
  const query = new KeyReader(cursor, ctx.session).keys(0, false);
  cursor.end();
  if (usesModseq(query)) ctx.session.enable('CONDSTORE');
  return query;
}
