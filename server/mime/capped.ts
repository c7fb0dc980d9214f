// The part tree of a message that may exceed the MIME limits, built in one bounded pass of our own: each
// part's header is parsed by the indexer on its own (header only), delimiters are found on the raw bytes,
// and nothing past the caps is parsed. What lies beyond a cap is one opaque application/octet-stream part
// covering exactly those bytes, so BODYSTRUCTURE and BODY[n.m] describe the same stored bytes.
import type { MimePart } from './types.js';
import { boundedHeader, type MimeLimits } from './limits.js';
import { contentTypeOf, headerString, headerValue, type IndexerNode } from './indexer.js';
import { parseMimeTree } from './mime-tree.js';
import { childPart, countLineBreaks, findDelimiters, normalizedHeader, scanHeader, IDENTITY_ENCODINGS, type BuiltTree } from './tree.js';

const OPAQUE_TYPE = 'application/octet-stream';

function opaqueContentType(): IndexerNode['parsedHeader'][string] {
  return { value: OPAQUE_TYPE, type: 'application', subtype: 'octet-stream', params: {}, hasParams: false };
}

/** An indexer node for one header block only (its parsedHeader is what BODYSTRUCTURE/ENVELOPE read). */
function headerNode(buf: Buffer, start: number, headerEnd: number): IndexerNode {
  const bounded = boundedHeader(buf.subarray(start, headerEnd));
  const header = normalizedHeader(bounded, 0, bounded.length);
  const parsed = header ? parseMimeTree(`${header}\r\n\r\n`) : false;
  const node: IndexerNode = parsed || { header: [], parsedHeader: {}, multipart: false, boundary: false };
  if (!node.parsedHeader['content-type']) node.parsedHeader['content-type'] = { value: 'text/plain', type: 'text', subtype: 'plain', params: {}, hasParams: false };
  delete node.childNodes;
  delete node.message;
  node.body = false;
  return node;
}

/** Describes `node` as an opaque leaf over [bodyStart, end): its header bytes stay, its type does not. */
function makeOpaque(buf: Buffer, node: IndexerNode, bodyStart: number, end: number): void {
  node.parsedHeader['content-type'] = opaqueContentType();
  delete node.parsedHeader['content-transfer-encoding'];
  delete node.parsedHeader['content-disposition'];
  delete node.childNodes;
  delete node.message;
  node.multipart = false;
  node.boundary = false;
  node.size = end - bodyStart;
  node.lineCount = countLineBreaks(buf, bodyStart, end);
}

interface Walk {
  readonly buf: Buffer;
  readonly limits: MimeLimits;
  partsLeft: number;
  truncated: boolean;
  readonly out: BuiltTree;
}

interface Built {
  readonly part: MimePart;
  readonly node: IndexerNode;
}

/** The siblings from `start` on, as one header-less opaque part. */
function opaqueTail(w: Walk, start: number, end: number, part: string): Built {
  const node: IndexerNode = { header: [], parsedHeader: {}, multipart: false, boundary: false };
  makeOpaque(w.buf, node, start, end);
  const leaf: MimePart = { part, headerStart: start, headerEnd: start, bodyStart: start, bodyEnd: end, contentType: OPAQUE_TYPE };
  w.out.leaves.push({ part: leaf, node });
  w.truncated = true;
  return { part: leaf, node };
}

function isMessage(node: IndexerNode, inDigest: boolean): boolean {
  const explicitType = node.header.some((line) => /^content-type\s*:/i.test(line));
  if (inDigest && !explicitType) {
    node.parsedHeader['content-type'] = { value: 'message/rfc822', type: 'message', subtype: 'rfc822', params: {}, hasParams: false };
    return true;
  }
  const ct = headerValue(node, 'content-type');
  if (!ct || ct.type.toLowerCase() !== 'message' || ct.subtype.toLowerCase() !== 'rfc822') return false;
  if (!IDENTITY_ENCODINGS.has(headerString(node, 'content-transfer-encoding').toLowerCase().trim())) return false;
  ct.subtype = 'rfc822'; // body-structure.js only recognises the lower-case subtype
  return true;
}

function build(w: Walk, start: number, end: number, part: string, depth: number, inDigest: boolean): Built {
  const { buf } = w;
  w.partsLeft--;
  const { headerEnd } = scanHeader(buf, start, end);
  const node = headerNode(buf, start, headerEnd);
  const base = { part, headerStart: start, headerEnd, bodyStart: headerEnd, bodyEnd: end };
  const ct = headerValue(node, 'content-type');
  const boundary = ct?.type.toLowerCase() === 'multipart' ? ct.params.boundary : undefined;
  const container = Boolean(boundary) || isMessage(node, inDigest) || contentTypeOf(node).startsWith('multipart/');

  const opaque = (): Built => {
    makeOpaque(buf, node, headerEnd, end);
    const leaf: MimePart = { ...base, contentType: OPAQUE_TYPE };
    w.out.leaves.push({ part: leaf, node });
    return { part: leaf, node };
  };
  if (container && (depth >= w.limits.maxDepth || w.partsLeft <= 0)) {
    w.truncated = true;
    return opaque();
  }

  if (boundary && ct) {
    const delimiters = findDelimiters(buf, headerEnd, end, boundary);
    const closeAt = delimiters.findIndex((d) => d.close);
    const open = closeAt < 0 ? delimiters : delimiters.slice(0, closeAt);
    // No delimiter: a multipart without parts has no BODYSTRUCTURE a client can use.
    if (!open.length) return opaque();
    const close = closeAt < 0 ? undefined : delimiters[closeAt];
    const digest = ct.subtype.toLowerCase() === 'digest';
    const children: MimePart[] = [];
    const childNodes: IndexerNode[] = [];
    for (let k = 0; k < open.length; k++) {
      const d = open[k] as (typeof open)[number];
      const following = open[k + 1] ?? close;
      const childEnd = following ? Math.max(d.next, following.breakStart) : end;
      const childNo = childPart(part, children.length + 1);
      const more = k + 1 < open.length;
      if (more && w.partsLeft < 2) {
        // The cap is reached: this sibling and all after it become one part (the part held back for it below).
        const tailEnd = close ? Math.max(d.next, close.breakStart) : end;
        const tail = opaqueTail(w, d.next, tailEnd, childNo);
        w.partsLeft--;
        children.push(tail.part);
        childNodes.push(tail.node);
        break;
      }
      // While a child is built, one part stays held back for the tail of its later siblings.
      if (more) w.partsLeft--;
      const child = build(w, d.next, childEnd, childNo, depth + 1, digest);
      if (more) w.partsLeft++;
      children.push(child.part);
      childNodes.push(child.node);
    }
    node.multipart = ct.subtype;
    node.boundary = boundary;
    node.childNodes = childNodes;
    node.size = end - headerEnd;
    return { part: { ...base, contentType: contentTypeOf(node), children }, node };
  }
  if (container && !isMessageNode(node)) return opaque(); // multipart without a boundary

  if (container) {
    // Parts of an encapsulated message are numbered under this part; a top-level message/rfc822 is part 1.
    const message = build(w, headerEnd, end, part || '1', depth + 1, false);
    node.message = message.node;
    node.size = end - headerEnd;
    node.lineCount = countLineBreaks(buf, headerEnd, end);
    w.out.messages.push(message);
    return { part: { ...base, contentType: 'message/rfc822', message: message.part }, node };
  }

  node.size = end - headerEnd;
  node.lineCount = countLineBreaks(buf, headerEnd, end);
  const leaf: MimePart = { ...base, contentType: contentTypeOf(node) };
  w.out.leaves.push({ part: leaf, node });
  return { part: leaf, node };
}

function isMessageNode(node: IndexerNode): boolean {
  return contentTypeOf(node) === 'message/rfc822';
}

/** Our part tree and a matching indexer tree, within `limits`; `truncated` when a cap cut it short. */
export function buildCappedTree(raw: Buffer, limits: MimeLimits): BuiltTree & { readonly truncated: boolean } {
  const out: BuiltTree = { root: undefined as unknown as MimePart, indexerTree: undefined as unknown as IndexerNode, leaves: [], messages: [] };
  const w: Walk = { buf: raw, limits, partsLeft: limits.maxParts, truncated: false, out };
  const root = build(w, 0, raw.length, '', 0, false);
  return { ...out, root: root.part, indexerTree: root.node, truncated: w.truncated };
}
