// The store's view of server/mime: parse at append time, (de)serialize the stored structure.
// TEMPORARY stand-in until server/mime/index.ts lands: mailparser for the search text, no attachment ranges.
import v8 from 'node:v8';
import { simpleParser, type AddressObject } from 'mailparser';
import type { MessageStructure, ParsedMessage } from '../mime/types.js';

/** Messages at least this big are parsed off the event loop. */
export const ASYNC_PARSE_BYTES = 512 * 1024;

const addressText = (a: AddressObject | AddressObject[] | undefined): string =>
  a === undefined ? '' : (Array.isArray(a) ? a : [a]).map((x) => x.text).join(', ');

export async function parseForStore(raw: Buffer): Promise<ParsedMessage> {
  const m = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true });
  const headers = m.headerLines.map((h) => h.line.replace(/\r?\n[ \t]+/g, ' ')).join('\n');
  const structure: MessageStructure = {
    envelope: null,
    bodyStructure: null,
    body: null,
    root: { part: '', headerStart: 0, headerEnd: 0, bodyStart: 0, bodyEnd: raw.length, contentType: 'text/plain' },
    size: raw.length,
  };
  const refs = m.references;
  return {
    structure,
    search: {
      subject: m.subject ?? '',
      from: addressText(m.from),
      to: addressText(m.to),
      cc: addressText(m.cc),
      bcc: addressText(m.bcc),
      body: [m.text ?? '', typeof m.html === 'string' ? m.html.replace(/<[^>]*>/g, ' ') : ''].join('\n'),
      headers,
    },
    messageId: m.messageId ?? null,
    inReplyTo: m.inReplyTo ?? null,
    references: refs === undefined ? [] : Array.isArray(refs) ? refs : [refs],
    date: m.date ?? null,
    attachmentRanges: [],
  };
}

export function serializeStructureForStore(structure: MessageStructure): Buffer {
  return v8.serialize(structure);
}

export function deserializeStructureFromStore(bytes: Buffer): MessageStructure {
  return v8.deserialize(bytes) as MessageStructure;
}
