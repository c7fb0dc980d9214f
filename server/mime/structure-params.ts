// BODYSTRUCTURE/BODY parameter lists (RFC 3501 §7.4.2 body-fld-param, and the body-fld-dsp parameters) from our
// RFC 2231 parameter reading instead of the indexer's. The indexer splits fields on every ";" (quoted ones
// too), joins only sections 0–9, rewrites the value as an RFC 2047 word and decodes it to 8-bit UTF-8, and
// flattens long lists in quadratic time. So BODYSTRUCTURE is built with the parameter lists emptied and our
// lists are put into their slots afterwards; the tree keeps the indexer's parameters for everything else
// (boundaries, charsets).
import type { IndexerHeaderValue, IndexerNode } from './indexer.js';
import { parametersOf, lastField, type MimeParameter } from './params.js';
import { bytesToText } from './text.js';
import { MimeMismatch } from './tree.js';

type ParamKey = 'content-type' | 'content-disposition';
const PARAM_KEYS: readonly ParamKey[] = ['content-type', 'content-disposition'];

function valueOf(node: IndexerNode, key: ParamKey): IndexerHeaderValue | null {
  const v = node.parsedHeader[key];
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as IndexerHeaderValue) : null;
}

function eachNode(node: IndexerNode | false | undefined, visit: (n: IndexerNode) => void, depth = 0): void {
  // Trees come from our builders (depth capped by SEALPOST_MIME_MAX_DEPTH); the bound only guards recursion.
  if (!node || depth > 2000) return;
  visit(node);
  for (const child of node.childNodes ?? []) eachNode(child, visit, depth + 1);
  eachNode(node.message, visit, depth + 1);
}

/** One parameter as BODYSTRUCTURE carries it: upper-case name (as the indexer writes every key), value as UTF-8 bytes. */
function imapPair(p: MimeParameter): [string, Buffer] {
  return [p.name.toUpperCase(), Buffer.from(bytesToText(Buffer.from(p.value, 'binary')), 'utf8')];
}

/** Our parameter list of a node's field, or null when the field is absent, has none, or was replaced by our builders. */
function listOf(node: IndexerNode, key: ParamKey, had: WeakSet<IndexerHeaderValue>): (string | Buffer)[] | null {
  const value = valueOf(node, key);
  // Only fields whose parameters the indexer read from the header: our builders replace a type (opaque part,
  // fallback text/plain, digest default) with a parameterless one, and its header's parameters no longer apply.
  if (!value || !had.has(value)) return null;
  const field = lastField(node, key);
  if (field === null) return null;
  const list = parametersOf(field).flatMap(imapPair);
  return list.length ? list : null;
}

function put(slots: unknown[], index: number, list: (string | Buffer)[] | null): void {
  if (slots[index] !== null) throw new MimeMismatch('BODYSTRUCTURE parameter slot not where expected');
  slots[index] = list;
}

function putDisposition(slots: unknown[], index: number, list: (string | Buffer)[] | null): void {
  const dsp = slots[index];
  if (dsp === null) return;
  if (!Array.isArray(dsp) || dsp.length !== 2 || dsp[1] !== null) throw new MimeMismatch('BODYSTRUCTURE disposition not where expected');
  dsp[1] = list;
}

/** Fills the parameter slots of `bs` (built by body-structure.js from `node`), walking both in step. */
function fill(bs: unknown, node: IndexerNode, extensions: boolean, had: WeakSet<IndexerHeaderValue>, depth = 0): void {
  if (!Array.isArray(bs) || depth > 2000) throw new MimeMismatch('BODYSTRUCTURE shape');
  const ct = valueOf(node, 'content-type');
  const type = ct?.type;
  const contentType = listOf(node, 'content-type', had);
  const disposition = listOf(node, 'content-disposition', had);
  if (type === 'multipart') {
    const children = node.childNodes ?? [];
    children.forEach((child, k) => fill(bs[k], child, extensions, had, depth + 1));
    const at = Math.max(children.length, 1) + 1; // children (or one empty list), subtype, parameters
    put(bs, at, contentType);
    if (extensions) putDisposition(bs, at + 1, disposition);
    return;
  }
  put(bs, 2, contentType);
  if (type === 'text') {
    if (extensions) putDisposition(bs, 9, disposition); // 7 basic fields, lines, md5
  } else if (type === 'message' && ct?.subtype === 'rfc822' && node.message) {
    fill(bs[8], node.message, extensions, had, depth + 1); // 7 basic fields, envelope, body
    putDisposition(bs, 11, disposition); // body-structure.js writes extension data here in BODY too
  } else if (extensions) {
    putDisposition(bs, 8, disposition); // 7 basic fields, md5
  }
}

/**
 * Runs `build` (the indexer's getBodyStructure / getBody) over `tree` with every parameter list emptied, then
 * writes our RFC 2231 lists into the result. The tree is left as it was.
 */
export function withOurParameters(tree: IndexerNode, builds: readonly { build: (t: IndexerNode) => unknown; extensions: boolean }[]): unknown[] {
  const had = new WeakSet<IndexerHeaderValue>();
  const restore: (() => void)[] = [];
  eachNode(tree, (node) => {
    for (const key of PARAM_KEYS) {
      const value = valueOf(node, key);
      if (!value?.hasParams) continue;
      had.add(value);
      const emptied: IndexerHeaderValue = { ...value, params: {}, hasParams: false };
      node.parsedHeader[key] = emptied;
      restore.push(() => {
        node.parsedHeader[key] = value;
      });
    }
  });
  let results: unknown[];
  try {
    results = builds.map(({ build }) => build(tree));
  } finally {
    for (const undo of restore) undo();
  }
  builds.forEach(({ extensions }, k) => fill(results[k], tree, extensions, had));
  return results;
}
