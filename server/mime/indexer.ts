// The one place that loads WildDuck's indexer. wildduck-env must be imported first (wild-config).
import '../wildduck-env.js';
import Indexer from '@zone-eu/wildduck/imap-core/lib/indexer/indexer.js';
import type { IndexerNode, IndexerHeaderValue } from '@zone-eu/wildduck/imap-core/lib/indexer/indexer.js';

export type { IndexerNode, IndexerHeaderValue };

export const indexer = new Indexer({});

export function headerValue(node: IndexerNode, key: 'content-type' | 'content-disposition'): IndexerHeaderValue | null {
  const v = node.parsedHeader[key];
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as IndexerHeaderValue).value === 'string') return v as IndexerHeaderValue;
  return null;
}

export function headerString(node: IndexerNode, key: string): string {
  const v = node.parsedHeader[key];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[v.length - 1] === 'string') return v[v.length - 1] as string;
  return '';
}

/** Lower-cased type/subtype as the indexer's BODYSTRUCTURE reports it (same fallbacks). */
export function contentTypeOf(node: IndexerNode): string {
  const ct = headerValue(node, 'content-type');
  let type = (ct?.type ?? '').toLowerCase();
  let subtype = (ct?.subtype ?? '').toLowerCase();
  if (!type || !subtype) {
    // body-structure.js maps incomplete types this way; keep our tree consistent with it.
    if (type === 'text' || subtype === 'plain') [type, subtype] = ['text', 'plain'];
    else [type, subtype] = ['application', 'octet-stream'];
  }
  return `${type}/${subtype}`;
}
