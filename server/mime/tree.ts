// Our own byte offsets for every MIME part, computed on the raw bytes and cross-checked against
// WildDuck's indexer tree (which gives BODYSTRUCTURE/ENVELOPE but keeps no offsets).
//
// Line breaks follow the indexer's reader so both sides agree on line boundaries: "\r*\n" is one
// break, a lone "\r" is one break. Delimiter lines follow RFC 2046 (transport padding allowed); the
// indexer compares whole lines, so it is fed a copy with padding removed from delimiter lines
// (which changes no part's header or body bytes).
import type { MimePart } from './types.js';
import { contentTypeOf, headerString, headerValue, type IndexerNode } from './indexer.js';
import { parseMimeTree } from './mime-tree.js';

const LF = 0x0a;
const CR = 0x0d;

export class MimeMismatch extends Error {
  constructor(reason: string) {
    super(`MIME tree disagrees with the indexer: ${reason}`);
  }
}

/** A leaf (or unparsed message) part with the indexer node describing its headers. */
export interface PartInfo {
  readonly part: MimePart;
  readonly node: IndexerNode;
}

export interface BuiltTree {
  readonly root: MimePart;
  /** Indexer tree with sizes set to raw byte lengths (feed to getBodyStructure). */
  readonly indexerTree: IndexerNode;
  readonly leaves: PartInfo[];
  /** Encapsulated message roots (for their decoded headers in body search text). */
  readonly messages: PartInfo[];
}

/** End of the line starting at pos and start of the next line (indexer line-break rules). */
export function lineAt(buf: Buffer, pos: number, end: number): { lineEnd: number; next: number } {
  let i = pos;
  while (i < end) {
    const c = buf[i];
    if (c === LF) return { lineEnd: i, next: i + 1 };
    if (c === CR) {
      let j = i;
      while (j < end && buf[j] === CR) j++;
      if (j < end && buf[j] === LF) return { lineEnd: i, next: j + 1 };
      return { lineEnd: i, next: i + 1 };
    }
    i++;
  }
  return { lineEnd: end, next: end };
}

/**
 * Line breaks in [start, end) by the same rules as lineAt ("\r*\n" or a lone "\r" is one), in one pass:
 * calling lineAt line by line rescans a run of lone CRs once per CR.
 */
export function countLineBreaks(buf: Buffer, start: number, end: number): number {
  let lines = 0;
  for (let p = start; p < end; p++) {
    const c = buf[p];
    if (c === LF) {
      lines++;
    } else if (c === CR) {
      let j = p;
      while (j < end && buf[j] === CR) j++;
      if (j < end && buf[j] === LF) {
        lines++;
        p = j;
      } else {
        lines += j - p;
        p = j - 1;
      }
    }
  }
  return lines;
}

/** Header block [start, headerEnd) including the empty line; the body starts at headerEnd. */
export function scanHeader(buf: Buffer, start: number, end: number): { headerEnd: number; blankLine: boolean } {
  let pos = start;
  while (pos < end) {
    const { lineEnd, next } = lineAt(buf, pos, end);
    if (lineEnd === pos) return { headerEnd: next, blankLine: true };
    pos = next;
  }
  return { headerEnd: end, blankLine: false };
}

/** Start of the line break that ends just before `lineStart` (delimiter lines own it). */
function breakStartBefore(buf: Buffer, lineStart: number, floor: number): number {
  let p = lineStart - 1;
  if (p < floor) return lineStart;
  if (buf[p] === LF) {
    while (p - 1 >= floor && buf[p - 1] === CR) p--;
    return p;
  }
  return p; // lone CR
}

export interface Delimiter {
  breakStart: number;
  next: number;
  close: boolean;
}

/** RFC 2046 delimiter lines of `boundary` inside [start, end), up to and including the close delimiter. */
export function findDelimiters(buf: Buffer, start: number, end: number, boundary: string): Delimiter[] {
  const dash = Buffer.from('--' + boundary, 'utf8');
  const out: Delimiter[] = [];
  let from = start;
  while (from < end) {
    const p = buf.indexOf(dash, from);
    if (p < 0 || p + dash.length > end) break;
    from = p + 1;
    if (p !== start && buf[p - 1] !== LF && buf[p - 1] !== CR) continue;
    let q = p + dash.length;
    let close = false;
    if (q + 2 <= end && buf[q] === 0x2d && buf[q + 1] === 0x2d) {
      close = true;
      q += 2;
    }
    while (q < end && (buf[q] === 0x20 || buf[q] === 0x09)) q++;
    const { lineEnd, next } = lineAt(buf, q, end);
    if (lineEnd !== q) continue; // "--boundaryX…": not a delimiter
    out.push({ breakStart: breakStartBefore(buf, p, start), next, close });
    if (close) break;
    from = next;
  }
  return out;
}

/** Header block as the indexer sees it: line breaks as CRLF, as a 'binary' string. */
export function normalizedHeader(buf: Buffer, start: number, end: number): string {
  return buf
    .toString('binary', start, end)
    .replace(/\r*\n|\r/g, '\r\n')
    .replace(/(\r\n)+$/, '');
}

/** Bytes the indexer adds when it turns bare "\n" into "\r\n" (it leaves lone "\r" alone). */
function bareLfCount(buf: Buffer, start: number, end: number): number {
  let n = 0;
  let p = buf.indexOf(LF, start);
  while (p >= 0 && p < end) {
    if (p === start || buf[p - 1] !== CR) n++;
    p = buf.indexOf(LF, p + 1);
  }
  return n;
}

export function childPart(parent: string, index: number): string {
  return parent ? `${parent}.${index}` : String(index);
}

export const IDENTITY_ENCODINGS = new Set(['', '7bit', '8bit', 'binary']);

/**
 * Makes the indexer tree describe encapsulated messages it misses, so BODYSTRUCTURE carries their
 * envelope: parts of multipart/digest without Content-Type (RFC 2046 5.1.5 default), and
 * message/rfc822 written in another case ("MESSAGE/RFC822": the indexer compares case-sensitively).
 */
function ensureMessage(buf: Buffer, bodyStart: number, end: number, node: IndexerNode, inDigest: boolean): void {
  if (node.message) return;
  const explicitType = node.header.some((line) => /^content-type\s*:/i.test(line));
  const ct = headerValue(node, 'content-type');
  const isRfc822 = ct !== null && ct.type.toLowerCase() === 'message' && ct.subtype.toLowerCase() === 'rfc822';
  if (inDigest && !explicitType) {
    node.parsedHeader['content-type'] = { value: 'message/rfc822', type: 'message', subtype: 'rfc822', params: {}, hasParams: false };
  } else if (isRfc822 && ct && IDENTITY_ENCODINGS.has(headerString(node, 'content-transfer-encoding').toLowerCase().trim())) {
    ct.subtype = 'rfc822'; // body-structure.js only recognises the lower-case subtype
  } else {
    return;
  }
  const message = parseMimeTree(buf.toString('binary', bodyStart, end));
  if (message) node.message = message;
}

function build(buf: Buffer, start: number, end: number, node: IndexerNode, part: string, out: BuiltTree, inDigest = false): MimePart {
  const { headerEnd } = scanHeader(buf, start, end);
  const expectedHeader = node.header.join('\r\n').replace(/(\r\n)+$/, '');
  if (normalizedHeader(buf, start, headerEnd) !== expectedHeader) throw new MimeMismatch(`header of part "${part}"`);
  if (!node.multipart) ensureMessage(buf, headerEnd, end, node, inDigest);
  const contentType = contentTypeOf(node);
  const base = { part, headerStart: start, headerEnd, bodyStart: headerEnd, bodyEnd: end, contentType };

  if (node.multipart && node.boundary) {
    const delimiters = findDelimiters(buf, headerEnd, end, node.boundary);
    const children: MimePart[] = [];
    const childNodes = node.childNodes ?? [];
    for (let k = 0; k < delimiters.length; k++) {
      const d = delimiters[k] as Delimiter;
      if (d.close) break;
      const following = delimiters[k + 1];
      const childEnd = following ? Math.max(d.next, following.breakStart) : end;
      const childNode = childNodes[children.length];
      if (!childNode) throw new MimeMismatch(`extra child in part "${part}"`);
      const digest = node.multipart.toLowerCase() === 'digest';
      children.push(build(buf, d.next, childEnd, childNode, childPart(part, children.length + 1), out, digest));
    }
    if (children.length !== childNodes.length) throw new MimeMismatch(`child count of part "${part}"`);
    // The indexer would describe it as "()" — not a BODYSTRUCTURE any client can use.
    if (children.length === 0) throw new MimeMismatch(`multipart part "${part}" without parts`);
    return { ...base, children };
  }

  // A multipart type without a usable boundary would come out of the indexer as "()".
  if (contentType.startsWith('multipart/')) throw new MimeMismatch(`multipart part "${part}" without a boundary`);

  if (node.message) {
    // Parts of an encapsulated message are numbered under this part; a top-level message/rfc822 is part 1.
    const message = build(buf, headerEnd, end, node.message, part || '1', out);
    out.messages.push({ part: message, node: node.message });
    node.size = end - headerEnd;
    return { ...base, message };
  }

  if (node.childNodes?.length) throw new MimeMismatch(`unexpected children in part "${part}"`);
  const expectedSize = end - headerEnd + bareLfCount(buf, headerEnd, end);
  if ((node.size ?? 0) !== expectedSize) throw new MimeMismatch(`body size of part "${part}"`);
  // BODYSTRUCTURE sizes must match the bytes we serve (the raw bytes, not a CRLF rewrite).
  node.size = end - headerEnd;
  const leaf: MimePart = base;
  out.leaves.push({ part: leaf, node });
  return leaf;
}

function collectBoundaries(node: IndexerNode, into: Set<string>): void {
  if (node.boundary) into.add(node.boundary);
  for (const c of node.childNodes ?? []) collectBoundaries(c, into);
  if (node.message) collectBoundaries(node.message, into);
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Parses with the indexer; strips transport padding from delimiter lines so its tree matches RFC 2046. */
function indexerTreeOf(raw: Buffer): IndexerNode {
  let input = raw.toString('binary');
  for (let pass = 0; pass < 4; pass++) {
    const tree = parseMimeTree(input);
    if (!tree) throw new MimeMismatch('indexer returned no tree');
    const boundaries = new Set<string>();
    collectBoundaries(tree, boundaries);
    let changed = false;
    for (const b of boundaries) {
      const binary = Buffer.from(b, 'utf8').toString('binary');
      const re = new RegExp(`^(--${escapeRegExp(binary)}(?:--)?)[ \\t]+(?=[\\r\\n]|$)`, 'gm');
      const next = input.replace(re, '$1');
      if (next !== input) {
        input = next;
        changed = true;
      }
    }
    if (!changed) return tree;
  }
  throw new MimeMismatch('delimiter padding did not settle');
}

/** Builds our part tree; throws MimeMismatch when it cannot agree with the indexer. */
export function buildTree(raw: Buffer): BuiltTree {
  const indexerTree = indexerTreeOf(raw);
  const out: BuiltTree = { root: undefined as unknown as MimePart, indexerTree, leaves: [], messages: [] };
  const root = build(raw, 0, raw.length, indexerTree, '', out);
  return { ...out, root };
}

/** Single text/plain part covering the whole body: what broken MIME degrades to. */
export function buildFallbackTree(raw: Buffer, useHeader: boolean): BuiltTree {
  const { headerEnd } = scanHeader(raw, 0, raw.length);
  const headerTree = parseMimeTree(useHeader ? raw.subarray(0, headerEnd).toString('binary') + '\r\n' : '\r\n');
  const node: IndexerNode = headerTree || { header: [], parsedHeader: {}, multipart: false, boundary: false };
  node.parsedHeader['content-type'] = { value: 'text/plain', type: 'text', subtype: 'plain', params: {}, hasParams: false };
  delete node.parsedHeader['content-transfer-encoding'];
  delete node.parsedHeader['content-disposition'];
  delete node.childNodes;
  delete node.message;
  node.multipart = false;
  node.boundary = false;
  node.body = false;
  node.size = raw.length - headerEnd;
  node.lineCount = countLineBreaks(raw, headerEnd, raw.length); // the indexer's lineCount
  const root: MimePart = { part: '', headerStart: 0, headerEnd, bodyStart: headerEnd, bodyEnd: raw.length, contentType: 'text/plain' };
  return { root, indexerTree: node, leaves: [{ part: root, node }], messages: [] };
}
