// Compiles an IMAP SEARCH tree into ONE SQL statement. Text keys have RFC 3501 semantics
// (case-insensitive substring): the trigram FTS5 index narrows candidates, then mbx_head()/mbx_body()
// check the exact substring on the stored (compressed, case-folded) text. Keys shorter than a trigram
// skip the index and only run the exact test (a scan: SQL LIKE would only fold ASCII case, and the
// text is stored compressed).
import { addressText, fieldValues, headerFields } from '../mime/text.js';
import { compressSync, decompress, methodOf } from './codec.js';
import { InvalidRequest } from './errors.js';
import { SYSTEM_FLAGS } from './names.js';
import type { Db } from './sqlite.js';
import type { SearchQuery, UidSet } from './types.js';
import type { SearchText } from '../mime/types.js';

export type SearchField = keyof SearchText;
const FIELDS: readonly SearchField[] = ['subject', 'from', 'to', 'cc', 'bcc', 'body', 'headers'];

/**
 * Case folding used for both the stored text and the search key, so they always agree: compatibility
 * normalization (composed/decomposed 'ü', ligatures), lower case, and ß ≡ ss (German "GRÜSSE" finds "Grüße").
 */
export const foldCase = (s: string): string => s.normalize('NFKC').toLowerCase().replace(/ß/g, 'ss');

export interface CompiledSearch {
  readonly sql: string;
  readonly params: unknown[];
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Text stored for search: lower-cased fields as compressed JSON (decoded only inside the encrypted file). */
export function encodeSearchText(text: SearchText): Record<SearchField, string> {
  const out = {} as Record<SearchField, string>;
  for (const f of FIELDS) out[f] = foldCase(text[f] ?? '');
  return out;
}

/** The header-side fields (small, searched often) and the body text are stored as separate blobs. */
export function splitSearchText(text: Record<SearchField, string>): { head: Record<string, string>; body: string } {
  const { body, ...head } = text;
  return { head, body };
}

/**
 * A stored search_head blob with its address fields (from, to, cc, bcc) rebuilt from the message's header block by
 * today's rules (group display names kept, server/mime/text.ts addressText), for mail indexed before them. The
 * other fields and the trigram index stay as they are: the index already holds every decoded header line.
 */
export function refreshedAddressHead(searchHead: Buffer, header: Buffer): Buffer {
  const head = JSON.parse(decompress(searchHead).toString('utf8')) as Record<string, string>;
  const fields = headerFields(header);
  for (const name of ['from', 'to', 'cc', 'bcc'] as const) head[name] = foldCase(addressText(fieldValues(fields, name)));
  return compressSync(Buffer.from(JSON.stringify(head)), methodOf(searchHead));
}

/** Inflates a blob once per statement row even when several keys of one query test the same message. */
function lastValueCache<T>(decode: (blob: Buffer) => T): (blob: unknown) => T | null {
  let lastBlob: Buffer | null = null;
  let lastValue: T | null = null;
  return (blob) => {
    if (!Buffer.isBuffer(blob)) return null;
    if (lastBlob && lastBlob.equals(blob)) return lastValue;
    lastValue = decode(blob);
    lastBlob = Buffer.from(blob);
    return lastValue;
  };
}

/**
 * Registers the exact-substring tests the compiled SQL calls on candidate rows:
 * mbx_head(search_head, 'from,to', needle), mbx_body(search_body, needle), mbx_header(search_head, name, needle),
 * and mbx_sent_day(search_head): the Date: header's own calendar date (SENT* keys).
 */
export function registerSearchFunctions(db: Db): void {
  const headOf = lastValueCache((blob) => JSON.parse(decompress(blob).toString('utf8')) as Record<string, string>);
  const bodyOf = lastValueCache((blob) => decompress(blob).toString('utf8'));
  const needleOf = (v: unknown): string => (typeof v === 'string' ? v : '');
  db.function('mbx_head', { deterministic: true }, (blob: unknown, fields: unknown, needle: unknown) => {
    const head = headOf(blob) ?? {};
    const value = needleOf(needle);
    for (const f of String(fields).split(',')) if ((head[f] ?? '').includes(value)) return 1;
    return 0;
  });
  db.function('mbx_sent_day', { deterministic: true }, (blob: unknown) => {
    const line = (headOf(blob)?.headers ?? '').split('\n').find((l) => l.startsWith('date:'));
    return line === undefined ? null : sentDayOf(line.slice(5));
  });
  db.function('mbx_body', { deterministic: true }, (blob: unknown, needle: unknown) => ((bodyOf(blob) ?? '').includes(needleOf(needle)) ? 1 : 0));
  db.function('mbx_header', { deterministic: true }, (blob: unknown, name: unknown, needle: unknown) => {
    const prefix = `${String(name)}:`;
    const value = needleOf(needle);
    for (const line of (headOf(blob)?.headers ?? '').split('\n')) {
      if (line.startsWith(prefix) && line.slice(prefix.length).includes(value)) return 1;
    }
    return 0;
  });
}

/** The one text the trigram index holds for a body: every field (a superset of what any key searches). */
export function indexedText(text: Record<SearchField, string>): string {
  return FIELDS.map((f) => text[f]).join('\n');
}

/** indexedText() of a stored body, from its search_head and search_body blobs (what the index catch-up reads). */
export function storedIndexedText(searchHead: Buffer, searchBody: Buffer): string {
  const head = JSON.parse(decompress(searchHead).toString('utf8')) as Record<string, string>;
  // A field missing from an old head blob joins as the empty string.
  return indexedText({ ...head, body: decompress(searchBody).toString('utf8') } as Record<SearchField, string>);
}

/** Most trigrams one text key puts into the index query. */
const MAX_TRIGRAMS = 24;

/**
 * An FTS5 query that every text containing `needle` satisfies: the AND of its distinct overlapping trigrams.
 * Overlapping, not just a covering set: the index answers in C, while every false candidate costs an inflate
 * of its search text in JS ("zq000000" as "zq0" AND "000" matched every message with "+0000" in its Date:
 * header that also had a zq0… token; with "q00" as well, 7x fewer). Long needles keep a covering set plus
 * the first others, up to MAX_TRIGRAMS.
 */
export function trigramQuery(needle: string): string | null {
  const chars = Array.from(needle);
  if (chars.length < 3) return null;
  const cover: number[] = [];
  for (let i = 0; i + 3 <= chars.length; i += 3) cover.push(i);
  if (cover[cover.length - 1] !== chars.length - 3) cover.push(chars.length - 3);
  const picked = new Set<string>();
  const gram = (i: number): string => chars.slice(i, i + 3).join('');
  // FTS5 reads its query as a C string: a trigram with NUL would cut it short (a syntax error), so those are left
  // to the exact test.
  const usable = (t: string): boolean => !t.includes('\0');
  for (const i of cover) if (usable(gram(i))) picked.add(gram(i));
  for (let i = 0; i + 3 <= chars.length && picked.size < MAX_TRIGRAMS; i++) if (usable(gram(i))) picked.add(gram(i));
  if (picked.size === 0) return null;
  return [...picked].map((t) => `"${t.replace(/"/g, '""')}"`).join(' AND ');
}

/** SQL for "uid in set"; `*` (Infinity) is the highest UID of the folder, as IMAP defines it. */
export function uidSetSql(uids: UidSet, params: unknown[], folderId: number): string {
  if (uids.length === 0) return '0';
  // better-sqlite3 binds positionally: every `?` gets its own value, so the folder id is pushed per use.
  const maxUid = `(SELECT coalesce(max(uid), 0) FROM messages WHERE folder_id = ?)`;
  const parts: string[] = [];
  for (const range of uids) {
    let [a, b] = range;
    if (!(typeof a === 'number' && typeof b === 'number') || Number.isNaN(a) || Number.isNaN(b)) {
      throw new InvalidRequest('bad uid set');
    }
    if (a > b) [a, b] = [b, a];
    if (b === Infinity) {
      if (a === Infinity) {
        params.push(folderId);
        parts.push(`m.uid = ${maxUid}`);
      } else {
        params.push(a, folderId);
        parts.push(`m.uid >= min(?, ${maxUid})`);
      }
    } else {
      params.push(a, b);
      parts.push('m.uid BETWEEN ? AND ?');
    }
  }
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

/**
 * A bodies column of the message row, read only when the expression is evaluated. Trap: never JOIN bodies for
 * text keys — bodies rows are large (the search blobs), a 10,000-message folder's bodies table outgrows the page
 * cache, and every row read is a page decryption: a join made `UID SEARCH BODY x` cost ~300 ms where the
 * index answers in ~1 ms. As a correlated subquery behind the index test it is read for candidates only.
 */
const bodiesColumn = (column: 'search_head' | 'search_body'): string => `(SELECT ${column} FROM bodies WHERE id = m.body_id)`;

/**
 * Rows whose body the trigram index lists, and every row whose body is newer than the index (stored since its
 * last catch-up, see SqliteMailbox.indexSearchBacklog): those go straight to the exact test. Trap: test m.body_id
 * (the messages row), not bodies.id: without ANALYZE statistics (a mailbox that was never closed) SQLite then
 * still evaluates it before touching bodies.
 */
const PREFILTER =
  '(m.body_id > (SELECT indexed_through FROM search_progress) OR m.body_id IN (SELECT rowid FROM search_index WHERE search_index MATCH ?))';

/** Exact test of one text key on a candidate row (body text and header fields live in different blobs). */
function exactText(fields: readonly SearchField[], needle: string, params: unknown[]): string {
  const parts: string[] = [];
  const head = fields.filter((f) => f !== 'body');
  if (head.length > 0) {
    params.push(head.join(','), needle);
    parts.push(`mbx_head(${bodiesColumn('search_head')}, ?, ?)`);
  }
  if (fields.includes('body')) {
    params.push(needle);
    parts.push(`mbx_body(${bodiesColumn('search_body')}, ?)`);
  }
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

function textKey(fields: readonly SearchField[], value: string, params: unknown[]): string {
  const needle = foldCase(value);
  if (needle.length === 0) return '1';
  const fts = trigramQuery(needle);
  if (fts === null) return exactText(fields, needle, params);
  params.push(fts);
  return `(${PREFILTER} AND ${exactText(fields, needle, params)})`;
}

/** What the compiled WHERE clause needs besides the messages row. */
interface CompileContext {
  /** SENT* keys read b.header_date on every row: the query joins bodies as b. */
  joinBodies: boolean;
}

function compileNode(q: SearchQuery, params: unknown[], depth: number, folderId: number, ctx: CompileContext): string {
  if (depth > 64) throw new InvalidRequest('search query nested too deeply');
  switch (q.op) {
    case 'all':
      return '1';
    case 'and':
      return q.of.length === 0 ? '1' : balanced(q.of.map((x) => compileNode(x, params, depth + 1, folderId, ctx)), 'AND');
    case 'or':
      return q.of.length === 0 ? '0' : balanced(q.of.map((x) => compileNode(x, params, depth + 1, folderId, ctx)), 'OR');
    case 'not':
      return `(NOT ${compileNode(q.of, params, depth + 1, folderId, ctx)})`;
    case 'uid':
      return uidSetSql(q.uids, params, folderId);
    case 'text':
      return textKey(['headers', 'body'], q.value, params);
    case 'body':
    case 'subject':
    case 'from':
    case 'to':
    case 'cc':
    case 'bcc':
      return textKey([q.op], q.value, params);
    case 'header': {
      const name = foldCase(q.name.trim());
      if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new InvalidRequest('bad header name');
      const needle = foldCase(q.value);
      const fts = trigramQuery(needle);
      const exact = `mbx_header(${bodiesColumn('search_head')}, ?, ?)`;
      if (fts === null) {
        params.push(name, needle);
        return exact;
      }
      params.push(fts, name, needle);
      return `(${PREFILTER} AND ${exact})`;
    }
    case 'flag': {
      const system = SYSTEM_FLAGS.find(([name]) => name.toLowerCase() === q.flag.toLowerCase());
      if (system) return `((m.sysflags & ${system[1]}) ${q.set ? '!=' : '='} 0)`;
      if (q.flag.startsWith('\\')) return q.set ? '0' : '1'; // \Recent and unknown system flags are never stored
      params.push(` ${q.flag.toLowerCase()} `);
      return `(instr(lower(m.keywords), ?) ${q.set ? '>' : '='} 0)`;
    }
    case 'before':
    case 'on':
    case 'since': {
      if (!DATE.test(q.date)) throw new InvalidRequest('bad search date');
      params.push(q.date);
      // Internal dates compare by UTC day.
      return `(substr(m.internal_date, 1, 10) ${dateCmp(q.op)} ?)`;
    }
    case 'sentbefore':
    case 'senton':
    case 'sentsince': {
      if (!DATE.test(q.date)) throw new InvalidRequest('bad search date');
      ctx.joinBodies = true;
      // RFC 3501: the Date: header's own calendar date, disregarding time and time zone. header_date is
      // the UTC instant, whose day differs from the written one by at most the offset (< 5 days even for
      // absurd offsets): only rows that close to the key pay for reading the header (mbx_sent_day). A
      // message without a parseable Date: header uses its internal date's UTC day.
      params.push(shiftDay(q.date, -SENT_DAY_SLACK), shiftDay(q.date, SENT_DAY_SLACK), q.date);
      const utcDay = 'substr(b.header_date, 1, 10)';
      const sentDay =
        `(CASE WHEN b.header_date IS NULL THEN substr(m.internal_date, 1, 10) ` +
        `WHEN ${utcDay} BETWEEN ? AND ? THEN coalesce(mbx_sent_day(b.search_head), ${utcDay}) ELSE ${utcDay} END)`;
      return `(${sentDay} ${dateCmp(q.op)} ?)`;
    }
    case 'larger':
    case 'smaller':
      if (!Number.isFinite(q.size)) throw new InvalidRequest('bad size');
      params.push(q.size);
      return `(m.size ${q.op === 'larger' ? '>' : '<'} ?)`;
    case 'modseq':
      if (!Number.isFinite(q.modseq)) throw new InvalidRequest('bad modseq');
      params.push(q.modseq);
      return '(m.modseq >= ?)';
    case 'older':
    case 'younger': {
      // RFC 5032: the instant `seconds` before now; internal dates are stored as ISO 8601 UTC, which sort as text.
      if (!Number.isFinite(q.seconds) || q.seconds < 0) throw new InvalidRequest('bad interval');
      params.push(new Date(Date.now() - q.seconds * 1000).toISOString());
      return `(m.internal_date ${q.op === 'older' ? '<=' : '>'} ?)`;
    }
    case 'savedbefore':
    case 'savedon':
    case 'savedsince': {
      if (!DATE.test(q.date)) throw new InvalidRequest('bad search date');
      params.push(q.date);
      // RFC 8514 §2.3: the save date, disregarding time and zone (by UTC day, like the internal date keys).
      return `(substr(${SAVE_DATE}, 1, 10) ${dateCmp(q.op)} ?)`;
    }
    case 'emailid':
    case 'threadid':
      // RFC 8474 §6: mbx_object_number (object-id.ts) maps an id back to its body / thread number, NULL for an id
      // this file never handed out (which then matches nothing).
      params.push(q.id);
      return q.op === 'emailid'
        ? "(m.body_id = mbx_object_number('M', ?))"
        : "(m.body_id IN (SELECT id FROM bodies WHERE thread_id = mbx_object_number('T', ?)))";
    default: {
      const never: never = q;
      throw new InvalidRequest(`unknown search key ${JSON.stringify(never)}`);
    }
  }
}

const SENT_DAY_SLACK = 5;

/**
 * The moment a message was saved into its folder (RFC 8514). Mail stored before the store kept save dates has none
 * (FETCH SAVEDATE says NIL): the SAVED* keys use its internal date then, the best estimate of when it arrived.
 */
const SAVE_DATE = 'coalesce(m.save_date, m.internal_date)';

/** Children per parenthesised group: SQLite parses `a AND b AND c` into a tree as deep as its length (limit 1000). */
const GROUP = 8;

/** `parts` joined by `op` in a balanced tree of groups, so a flat list of thousands of keys stays shallow. */
function balanced(parts: readonly string[], op: 'AND' | 'OR'): string {
  if (parts.length <= GROUP) return `(${parts.join(` ${op} `)})`;
  const size = Math.ceil(parts.length / GROUP);
  const groups: string[] = [];
  for (let i = 0; i < parts.length; i += size) groups.push(balanced(parts.slice(i, i + size), op));
  return balanced(groups, op);
}

function dateCmp(op: string): string {
  return op.endsWith('before') ? '<' : op.endsWith('on') ? '=' : '>=';
}

/** YYYY-MM-DD plus n days. */
function shiftDay(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * The calendar date written in a Date: header value ("Tue, 7 Jan 2025 23:30 -0800" → 2025-01-07), as
 * YYYY-MM-DD, ignoring time and zone (RFC 3501 SENT*); obsolete 2- and 3-digit years per RFC 5322 4.3. Null if unparseable.
 */
export function sentDayOf(dateValue: string): string | null {
  const m = /^\s*(?:[a-z]+\s*,\s*)?(\d{1,2})\s+([a-z]{3})[a-z]*\.?\s+(\d{2,4})\b/i.exec(dateValue);
  if (!m) return null;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  const day = Number(m[1]);
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  if (month < 0 || day < 1 || day > 31) return null;
  return `${String(year).padStart(4, '0')}-${String(month + 1).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** The whole query as one statement. */
export function compileSearch(folderId: number, query: SearchQuery): CompiledSearch {
  const params: unknown[] = [folderId];
  const ctx: CompileContext = { joinBodies: false };
  const where = compileNode(query, params, 0, folderId, ctx);
  // Flags, dates, sizes, UIDs and text keys need only the (small) messages rows; see bodiesColumn.
  const from = ctx.joinBodies ? 'messages m JOIN bodies b ON b.id = m.body_id' : 'messages m';
  return { sql: `SELECT m.uid FROM ${from} WHERE m.folder_id = ? AND ${where} ORDER BY m.uid`, params };
}
