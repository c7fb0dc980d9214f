// SEARCH / UID SEARCH: imap-core's parsed term tree → the store's SearchQuery (compiled to SQL there).
import type { ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import type { SearchQuery } from '../../mailbox/types.js';
import { imapNo } from '../errors.js';
import { utf8Of } from '../protocol.js';
import { asSelected, toUidSet } from '../state.js';

/** One node of commands/search.js's parsed query. */
interface SearchTerm {
  readonly key: string;
  readonly value?: unknown;
  readonly header?: string;
  readonly operator?: string;
  readonly exists?: boolean;
}

interface SearchRequest {
  readonly query: SearchTerm[];
  readonly terms: string[];
  readonly isUid: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const CHARSETS = new Set(['UTF-8', 'US-ASCII', 'UTF8']);
const TEXT_HEADERS: Record<string, 'subject' | 'from' | 'to' | 'cc' | 'bcc'> = { subject: 'subject', from: 'from', to: 'to', cc: 'cc', bcc: 'bcc' };

/** "1-Feb-2024" → "2024-02-01". */
function isoDay(text: string): string {
  const m = /^(\d{1,2})-([a-z]{3})-(\d{4})$/i.exec(text.trim());
  const month = m ? MONTHS.indexOf((m[2] as string).toLowerCase()) : -1;
  if (!m || month < 0) throw imapNo('CLIENTBUG', 'Invalid date in SEARCH');
  return `${m[3]}-${String(month + 1).padStart(2, '0')}-${String(Number(m[1])).padStart(2, '0')}`;
}

function isTerm(value: unknown): value is SearchTerm {
  return typeof value === 'object' && value !== null && typeof (value as SearchTerm).key === 'string';
}

function dateOp(operator: string | undefined, sent: boolean): 'before' | 'on' | 'since' | 'sentbefore' | 'senton' | 'sentsince' {
  const base = operator === '<' ? 'before' : operator === '=' ? 'on' : 'since';
  return sent ? (`sent${base}` as 'sentbefore' | 'senton' | 'sentsince') : base;
}

/** An operand of NOT/OR: one term, or several (imap-core expands NEW into two flag terms). */
function operand(value: unknown): SearchQuery {
  if (isTerm(value)) return toSearchQuery(value);
  if (Array.isArray(value) && value.length && value.every(isTerm)) {
    return value.length === 1 ? toSearchQuery(value[0] as SearchTerm) : { op: 'and', of: value.map((v: SearchTerm) => toSearchQuery(v)) };
  }
  throw imapNo('CLIENTBUG', 'Invalid SEARCH expression');
}

export function toSearchQuery(term: SearchTerm): SearchQuery {
  switch (term.key) {
    case 'all':
    case 'charset':
      return { op: 'all' };
    case 'not':
      return { op: 'not', of: operand(term.value) };
    case 'or': {
      const parts = Array.isArray(term.value) ? term.value : [];
      if (parts.length !== 2) throw imapNo('CLIENTBUG', 'Invalid OR in SEARCH');
      return { op: 'or', of: parts.map(operand) };
    }
    case 'uid': {
      const uids = Array.isArray(term.value) ? term.value.filter((v): v is number => typeof v === 'number') : [];
      return uids.length ? { op: 'uid', uids: toUidSet(uids) } : { op: 'not', of: { op: 'all' } };
    }
    case 'flag': {
      const flag = utf8Of(term.value);
      // We keep no \Recent: no message is recent.
      if (flag.toLowerCase() === '\\recent') return term.exists ? { op: 'not', of: { op: 'all' } } : { op: 'all' };
      return { op: 'flag', flag, set: term.exists !== false };
    }
    case 'header': {
      const name = (term.header ?? '').toLowerCase();
      const value = utf8Of(term.value);
      const field = TEXT_HEADERS[name];
      if (field && value !== '') return { op: field, value };
      return { op: 'header', name, value };
    }
    case 'body':
    case 'text':
      return { op: term.key, value: utf8Of(term.value) };
    case 'internaldate':
      return { op: dateOp(term.operator, false), date: isoDay(utf8Of(term.value)) };
    case 'date':
      return { op: dateOp(term.operator, true), date: isoDay(utf8Of(term.value)) };
    case 'size': {
      const size = Number(term.value);
      return { op: term.operator === '<' ? 'smaller' : 'larger', size: Number.isFinite(size) ? size : 0 };
    }
    case 'modseq':
      return { op: 'modseq', modseq: Number(term.value) || 0 };
    default:
      throw imapNo('CLIENTBUG', 'Unsupported SEARCH key');
  }
}

export function searchHooks() {
  return {
    onSearch(selected: unknown, request: SearchRequest, session: ImapSession): unknown[] {
      const folder = asSelected(selected);
      for (const term of request.query) {
        if (term.key === 'charset' && !CHARSETS.has(utf8Of(term.value).toUpperCase())) {
          throw imapNo('BADCHARSET (UTF-8 US-ASCII)', 'Unsupported charset');
        }
      }
      const parts = request.query.map(toSearchQuery);
      const query: SearchQuery = parts.length === 1 ? (parts[0] as SearchQuery) : { op: 'and', of: parts };
      const known = new Set(session.selected ? session.selected.uidList : []);
      // Messages this session has not been told about yet (no EXISTS) are not reported.
      const uids = folder.mailbox.search(folder.path, query).filter((uid) => known.has(uid));
      let highestModseq = 0;
      if (request.terms.includes('modseq') && uids.length) {
        const wanted = new Set(uids);
        for (const meta of folder.mailbox.listMessages(folder.path)) {
          if (wanted.has(meta.uid) && meta.modseq > highestModseq) highestModseq = meta.modseq;
        }
      }
      return [{ uidList: uids, highestModseq }];
    },
  };
}
