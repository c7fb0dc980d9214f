// Synchronous parse: our byte-offset tree + the indexer's ENVELOPE/BODYSTRUCTURE/BODY + search text.
import type { MessageStructure, ParsedMessage } from './types.js';
import { indexer, headerValue, type IndexerNode } from './indexer.js';
import { buildTree, buildFallbackTree, scanHeader, type BuiltTree } from './tree.js';
import { buildCappedTree } from './capped.js';
import { withOurParameters } from './structure-params.js';
import { buildSearchText, headerFields, fieldValues } from './text.js';
import { mimeLimits, mimeShape, needsCappedParse, type MimeLimits, type MimeShape } from './limits.js';

/** Non-text parts larger than this are de-duplication candidates even when not marked attachment. */
const DEDUPE_MIN_BYTES = 4096;

function msgIds(value: string): string[] {
  return value.match(/<[^<>\s]+>/g) ?? [];
}

function firstMsgId(values: readonly string[]): string | null {
  const v = values[0];
  if (v === undefined) return null;
  const ids = msgIds(v);
  return ids[0] ?? (v.trim() || null);
}

function headerDate(values: readonly string[]): Date | null {
  const v = values[0];
  if (!v) return null;
  const t = Date.parse(v.replace(/\([^)]*\)/g, ' ').trim());
  return Number.isNaN(t) ? null : new Date(t);
}

function attachmentRangesOf(tree: BuiltTree): [number, number][] {
  const ranges: [number, number][] = [];
  for (const { part, node } of tree.leaves) {
    const size = part.bodyEnd - part.bodyStart;
    if (size <= 0) continue;
    const disposition = (headerValue(node, 'content-disposition')?.value ?? '').toLowerCase().trim();
    const bodyText = part.contentType === 'text/plain' || part.contentType === 'text/html';
    if (disposition === 'attachment' || (!bodyText && size > DEDUPE_MIN_BYTES)) ranges.push([part.bodyStart, part.bodyEnd]);
  }
  return ranges.sort((a, b) => a[0] - b[0]);
}

/**
 * imap-core decodes every header value from 'binary' to UTF-8 (parse-mime-tree), and its ENVELOPE builder then
 * decodes the Subject a second time (create-envelope: Buffer.from(subject, 'binary').toString()), which turned
 * a raw 8-bit UTF-8 Subject (8BITMIME / UTF8=ACCEPT mail) into U+FFFD and mangled characters above U+00FF.
 * Re-encoding the decoded Subject as a 'binary' string before the envelope is built makes that second decode
 * exact (ASCII and RFC 2047 subjects are unchanged). Nested message/rfc822 envelopes go the same way.
 */
function subjectsAsBinary(node: IndexerNode | false | undefined, depth = 0): void {
  if (!node || depth > 64) return;
  const subject = node.parsedHeader.subject;
  const asBinary = (value: unknown): unknown => (typeof value === 'string' ? Buffer.from(value, 'utf8').toString('binary') : value);
  if (Array.isArray(subject)) node.parsedHeader.subject = subject.map(asBinary);
  else if (subject !== undefined) node.parsedHeader.subject = asBinary(subject);
  for (const child of node.childNodes ?? []) subjectsAsBinary(child, depth + 1);
  subjectsAsBinary(node.message, depth + 1);
}

function structureOf(raw: Buffer, tree: BuiltTree): MessageStructure {
  subjectsAsBinary(tree.indexerTree);
  const [bodyStructure, body] = withOurParameters(tree.indexerTree, [
    { build: (t) => indexer.getBodyStructure(t), extensions: true },
    { build: (t) => indexer.getBody(t), extensions: false },
  ]);
  return {
    envelope: indexer.getEnvelope(tree.indexerTree),
    bodyStructure,
    body,
    root: tree.root,
    size: raw.length,
  };
}

/**
 * Parses a raw message. Never throws: unusable MIME becomes one text/plain part (mimeFallback). `shape` is
 * mimeShape(raw) when the caller already has it (the scan is then not repeated).
 */
export function parseMessageSync(raw: Buffer, limits: MimeLimits = mimeLimits(), shape?: MimeShape): ParsedMessage {
  try {
    return parseWithin(raw, limits, shape);
  } catch {
    // Nothing above may stop a delivery (stack overflow, out-of-range input, a library bug): describe the
    // bytes without any parser.
    return opaqueMessage(raw);
  }
}

function parseWithin(raw: Buffer, limits: MimeLimits, shape: MimeShape | undefined): ParsedMessage {
  let tree: BuiltTree;
  let structure: MessageStructure;
  let mimeFallback = false;
  let mimeTruncated = false;
  try {
    if (needsCappedParse(shape ?? mimeShape(raw), limits)) {
      // Past the caps, or deep enough that the indexer's whole-message parse would not stay linear.
      const capped = buildCappedTree(raw, limits);
      mimeTruncated = capped.truncated;
      tree = capped;
    } else {
      tree = buildTree(raw);
    }
    structure = structureOf(raw, tree);
  } catch {
    mimeFallback = true;
    mimeTruncated = false;
    try {
      tree = buildFallbackTree(raw, true);
      structure = structureOf(raw, tree);
    } catch {
      // Even the header defeats the indexer: describe the message without its header fields.
      tree = buildFallbackTree(raw, false);
      structure = structureOf(raw, tree);
    }
  }
  const fields = headerFields(raw.subarray(tree.root.headerStart, tree.root.headerEnd));
  const references = fieldValues(fields, 'references').flatMap(msgIds);
  return {
    structure,
    search: buildSearchText(raw, tree),
    messageId: firstMsgId(fieldValues(fields, 'message-id')),
    inReplyTo: firstMsgId(fieldValues(fields, 'in-reply-to')),
    references,
    date: headerDate(fieldValues(fields, 'date')),
    attachmentRanges: mimeFallback ? [] : attachmentRangesOf(tree),
    ...(mimeFallback ? { mimeFallback } : {}),
    ...(mimeTruncated ? { mimeTruncated } : {}),
  };
}

/**
 * The message as one application/octet-stream body after its header block, with an empty envelope: what
 * a message no parser can describe is stored and served as. Uses no parser library, so it cannot fail.
 */
export function opaqueMessage(raw: Buffer): ParsedMessage {
  let headerEnd = 0;
  try {
    headerEnd = scanHeader(raw, 0, raw.length).headerEnd;
  } catch {
    headerEnd = 0;
  }
  const size = raw.length - headerEnd;
  const root = { part: '', headerStart: 0, headerEnd, bodyStart: headerEnd, bodyEnd: raw.length, contentType: 'application/octet-stream' };
  const basic = ['application', 'octet-stream', null, null, null, '7bit', size];
  return {
    structure: {
      envelope: [null, null, null, null, null, null, null, null, null, null],
      bodyStructure: [...basic, null, null, null, null],
      body: basic,
      root,
      size: raw.length,
    },
    search: { subject: '', from: '', to: '', cc: '', bcc: '', body: '', headers: '' },
    messageId: null,
    inReplyTo: null,
    references: [],
    date: null,
    attachmentRanges: [],
    mimeFallback: true,
  };
}
