// The store's view of server/mime: parse at append time, (de)serialize the stored structure.
import { deserializeStructure, parseMessageAsync, serializeStructure, toCrlf } from '../mime/index.js';
import type { MessageStructure, ParsedMessage } from '../mime/types.js';

/** Parses off the event loop when the message is large (server/mime decides the threshold). */
export function parseForStore(raw: Buffer): Promise<ParsedMessage> {
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

export function deserializeStructureFromStore(bytes: Buffer): MessageStructure {
  return deserializeStructure(bytes);
}
