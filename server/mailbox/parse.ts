// The store's view of server/mime: parse at append time, (de)serialize the stored structure.
import { deserializeStructure, serializeStructure, toCrlf } from '../mime/bytes.js';
import type { MessageStructure, ParsedMessage } from '../mime/types.js';

let mime: Promise<typeof import('../mime/index.js')> | null = null;

/**
 * Parses off the event loop when the message is large or has many parts (server/mime decides). Resolves for
 * any bytes: unreadable MIME is described as one part (mimeFallback), structure past the MIME limits as one
 * opaque part (mimeTruncated); the bytes stored are never changed by what the parser made of them.
 */
export async function parseForStore(raw: Buffer): Promise<ParsedMessage> {
  // The parser is loaded at the first append, not by everything that opens a mailbox (CLI start-up).
  // Kept as one promise: later appends continue in a microtask (group commit batches same-tick appends).
  mime ??= import('../mime/index.js');
  const { parseMessageAsync } = await mime;
  return parseMessageAsync(raw);
}

/**
 * The bytes the store keeps: the message as received, except that bare-LF line endings become CRLF
 * (IMAP sizes and offsets are CRLF; SMTP and IMAP APPEND already deliver CRLF, so those are untouched).
 */
export function canonicalBytes(raw: Buffer): Buffer {
  return toCrlf(raw);
}

export function serializeStructureForStore(structure: MessageStructure): Buffer {
  return serializeStructure(structure);
}

/**
 * What bodies.header_end records: where the message's own header ends (the parsed root's headerEnd), or null
 * when its header does not start at octet 0 (never for the parsers' trees; null makes FETCH load the structure).
 */
export function headerEndOf(parsed: ParsedMessage): number | null {
  const root = parsed.structure.root;
  return root.headerStart === 0 ? root.headerEnd : null;
}

export function deserializeStructureFromStore(bytes: Buffer): MessageStructure {
  return deserializeStructure(bytes);
}
