// PREVIEW (RFC 8970): up to 256 characters of plain text from the start of the message's first text body part
// (text/plain, or text/html reduced to text), transfer encoding and charset undone, white space collapsed.
// Only the first PREVIEW_READ_BYTES of that part are read, so a huge body costs no more than a small one.
import he from 'he';
import libcharset from 'libmime/lib/charset.js';
import { decodedParameter } from '../../mime/params.js';
import { bytesToText, headerFields } from '../../mime/text.js';
import type { MimePart } from '../../mime/types.js';
import { decodeTransfer, transferEncodingOf } from './binary.js';

/** RFC 8970 §3: "the preview text MUST NOT exceed 256 characters". */
export const PREVIEW_CHARS = 256;
/** Encoded bytes of the chosen part read for a preview (HTML markup and base64 need more than 256 bytes). */
const PREVIEW_READ_BYTES = 32 * 1024;

/** Reads bytes [start, end) of the message. */
export type ByteReader = (start: number, end: number) => Promise<Buffer>;

/** The first text/plain or text/html leaf that is not an attachment, not looking inside attached messages. */
async function firstTextPart(part: MimePart, read: ByteReader, depth = 0): Promise<MimePart | null> {
  if (depth > 100) return null;
  if (part.children) {
    for (const child of part.children) {
      const found = await firstTextPart(child, read, depth + 1);
      if (found) return found;
    }
    return null;
  }
  if (part.message) return depth === 0 ? firstTextPart(part.message, read, depth + 1) : null;
  if (part.contentType !== 'text/plain' && part.contentType !== 'text/html') return null;
  if (part.headerEnd > part.headerStart) {
    const fields = headerFields(await read(part.headerStart, part.headerEnd));
    const disposition = fields.find((f) => f.name.toLowerCase() === 'content-disposition')?.value ?? '';
    if (/^\s*attachment\b/i.test(disposition)) return null;
  }
  return part;
}

function charsetDecode(bytes: Buffer, charset: string): string {
  const cs = charset.trim().toLowerCase();
  if (!cs || cs === 'us-ascii' || cs === 'utf-8' || cs === 'utf8') return bytesToText(bytes);
  try {
    return libcharset.decode(bytes, cs);
  } catch {
    return bytesToText(bytes);
  }
}

const SKIPPED_ELEMENTS = new Set(['script', 'style', 'head', 'title']);

/**
 * Text of an HTML fragment: comments, scripts, styles and the head dropped, tags removed, entities decoded.
 * One pass with indexOf only (no backtracking regex), so unclosed markup costs linear time.
 */
export function htmlToText(html: string): string {
  const lowerHtml = html.toLowerCase();
  const out: string[] = [];
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      out.push(html.slice(i));
      break;
    }
    out.push(html.slice(i, lt), ' ');
    if (html.startsWith('<!--', lt)) {
      const close = html.indexOf('-->', lt + 4);
      if (close < 0) break;
      i = close + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) break;
    const name = /^([a-z][a-z0-9]*)/.exec(lowerHtml.slice(lt + 1, Math.min(gt, lt + 12)))?.[1] ?? '';
    i = gt + 1;
    if (SKIPPED_ELEMENTS.has(name)) {
      const close = lowerHtml.indexOf(`</${name}`, i);
      if (close < 0) break;
      const end = html.indexOf('>', close);
      i = end < 0 ? html.length : end + 1;
    }
  }
  const text = out.join('');
  try {
    return he.decode(text);
  } catch {
    return text;
  }
}

/** Collapses white space and cuts to PREVIEW_CHARS characters (whole code points). */
export function previewText(text: string): string {
  const collapsed = text.replace(/[\s\u00a0]+/gu, ' ').trim();
  const chars = Array.from(collapsed);
  return chars.length <= PREVIEW_CHARS ? collapsed : chars.slice(0, PREVIEW_CHARS).join('').trimEnd();
}

/** The PREVIEW text of a message (may be ''), read through `read`. */
export async function messagePreview(root: MimePart, read: ByteReader): Promise<string> {
  const part = await firstTextPart(root, read);
  if (!part) return '';
  const header = part.headerEnd > part.headerStart ? await read(part.headerStart, part.headerEnd) : Buffer.alloc(0);
  const fields = headerFields(header);
  const contentType = fields.find((f) => f.name.toLowerCase() === 'content-type')?.value ?? '';
  const encoding = transferEncodingOf(header) ?? 'identity';
  const end = Math.min(part.bodyEnd, part.bodyStart + PREVIEW_READ_BYTES);
  let body = end > part.bodyStart ? await read(part.bodyStart, end) : Buffer.alloc(0);
  if (encoding === 'base64' && end < part.bodyEnd) body = body.subarray(0, body.lastIndexOf(0x0a) + 1); // whole lines only
  let text = charsetDecode(decodeTransfer(body, encoding), decodedParameter(contentType, 'charset') ?? '');
  if (part.contentType === 'text/html') text = htmlToText(text);
  return previewText(text);
}
