// SORT (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO) as one SQL statement over the per-message sort columns.
// Every key has a (folder_id, key, uid) index, so sorting a whole folder by one key is an index scan: ARRIVAL and
// DATE always, the others from the first SORT by them on (schema.ts ON_DEMAND_SORT_INDEXES).
import { InvalidRequest } from './errors.js';
import { ON_DEMAND_SORT_INDEXES } from './schema.js';
import { compileSearch, uidSetSql, type CompiledSearch } from './search.js';
import type { SearchQuery, SortKey, SortKeyName } from './types.js';

/**
 * The column each key orders by. Text columns hold i;ascii-casemap folded values (ASCII upper-cased at
 * append), so SQLite's BINARY collation is the RFC's comparator; DATE is the sent date, or the internal
 * date when the Date: header is missing or unparseable (RFC 5256 §2.2), as ISO 8601 UTC text.
 */
const COLUMNS: Readonly<Record<SortKeyName, string>> = {
  ARRIVAL: 'm.internal_date',
  CC: 'm.sort_cc',
  DATE: 'm.sort_date',
  FROM: 'm.sort_from',
  SIZE: 'm.size',
  SUBJECT: 'm.sort_subject',
  TO: 'm.sort_to',
  DISPLAYFROM: 'm.sort_dfrom',
  DISPLAYTO: 'm.sort_dto',
};

export function compileSort(folderId: number, keys: readonly SortKey[], query: SearchQuery): CompiledSearch {
  if (keys.length === 0) throw new InvalidRequest('SORT needs at least one sort key');
  const order: string[] = [];
  const seen = new Set<string>();
  for (const k of keys) {
    const column = COLUMNS[k.key];
    if (column === undefined) throw new InvalidRequest('unknown sort key');
    // A key already ordered by cannot order anything again: the ORDER BY has at most one term per column.
    if (seen.has(column)) continue;
    seen.add(column);
    order.push(`${column}${k.reverse ? ' DESC' : ''}`);
  }
  // RFC 5256 §3: messages equal on every key are in mailbox order (sequence order = UID order), not reversed.
  order.push('m.uid');
  const params: unknown[] = [folderId];
  const where = messageFilterSql(folderId, query, params);
  return { sql: `SELECT m.uid FROM messages m WHERE m.folder_id = ?${where} ORDER BY ${order.join(', ')}`, params };
}

/**
 * ` AND …` restricting `messages m` of a folder to a query's matches (params appended). A UID set alone (the IMAP
 * layer's "messages the session knows" restriction) is a condition on the row, much cheaper than a UID subquery
 * over the whole folder. Shared by SORT and THREAD.
 */
export function messageFilterSql(folderId: number, query: SearchQuery, params: unknown[]): string {
  if (query.op === 'all') return '';
  if (query.op === 'uid') return ` AND (${uidSetSql(query.uids, params, folderId)})`;
  const search = compileSearch(folderId, query);
  params.push(...search.params);
  return ` AND m.uid IN (SELECT uid FROM (${search.sql}))`;
}

/**
 * The on-demand index (schema.ts ON_DEMAND_SORT_INDEXES) a SORT by `keys` scans: its first key's, when that key's
 * index is built on demand; null otherwise. Later keys only order ties, which no single-key index serves.
 */
export function onDemandSortIndex(keys: readonly SortKey[]): { readonly name: string; readonly createSql: string } | null {
  const column = keys[0] ? COLUMNS[keys[0].key]?.slice('m.'.length) : undefined;
  const name = column === undefined ? undefined : ON_DEMAND_SORT_INDEXES[column];
  return column !== undefined && name !== undefined ? { name, createSql: `CREATE INDEX IF NOT EXISTS ${name} ON messages(folder_id, ${column}, uid)` } : null;
}
