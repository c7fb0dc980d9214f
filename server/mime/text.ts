// Decoded, searchable text of a message: headers (RFC 2047), addresses, and every text part
// (text attachments included, HTML reduced to text). Never written anywhere but the mailbox file.
import libmime from 'libmime';
import libcharset from 'libmime/lib/charset.js';
import libqp from 'libqp';
import he from 'he';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import type { SearchText } from './types.js';
import type { BuiltTree, PartInfo } from './tree.js';
import { headerString, headerValue } from './indexer.js';
import { boundedHeader } from './limits.js';

/** Body text kept per part; the rest is not searchable (bounds the FTS row). */
const MAX_PART_TEXT = 4 * 1024 * 1024;

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Raw header/body bytes as text: UTF-8 when valid, else Windows-1252 (what senders of 8-bit mean). */
export function bytesToText(bytes: Buffer): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

export function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value; // unknown charset in an encoded word: keep the text as sent
  }
}

export interface HeaderField {
  /** Field name as written. */
  readonly name: string;
  /** Unfolded value, not yet RFC 2047 decoded. */
  readonly value: string;
}

/** Header fields of a header block, unfolded (CRLF/LF + WSP → the WSP); at most what boundedHeader keeps. */
export function headerFields(header: Buffer): HeaderField[] {
  const text = bytesToText(boundedHeader(header));
  const out: HeaderField[] = [];
  for (const line of text.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n|\r/)) {
    if (!line) break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return out;
}

export function fieldValues(fields: readonly HeaderField[], name: string): string[] {
  const lower = name.toLowerCase();
  return fields.filter((f) => f.name.toLowerCase() === lower).map((f) => f.value);
}

interface ParsedAddress {
  readonly name?: string;
  readonly address?: string;
  readonly group?: readonly ParsedAddress[];
}

/** One mailbox as "Name <addr>" (or whichever half it has), its RFC 2047 name decoded. */
function mailboxText(a: ParsedAddress): string {
  const name = decodeWords(a.name ?? '').trim();
  const address = (a.address ?? '').trim();
  return name && address ? `${name} <${address}>` : name || address;
}

/**
 * What SEARCH FROM/TO/CC/BCC look in (RFC 3501 §6.4.4: the envelope structure's field): "Name <addr>, Other
 * <addr2>" with display names decoded (RFC 2047); a group keeps its display name as "Group: member, member;".
 */
export function addressText(values: readonly string[]): string {
  const parts: string[] = [];
  for (const value of values) {
    let list: ParsedAddress[];
    try {
      list = addressparser(value) as ParsedAddress[];
    } catch {
      parts.push(decodeWords(value));
      continue;
    }
    for (const a of list) {
      if (a.group) {
        const members = a.group.map(mailboxText).filter(Boolean).join(', ');
        parts.push(`${decodeWords(a.name ?? '').trim()}: ${members};`);
      } else {
        parts.push(mailboxText(a));
      }
    }
  }
  return parts.filter(Boolean).join(', ');
}

function transferDecode(body: Buffer, encoding: string): Buffer {
  switch (encoding) {
    case 'base64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return libqp.decode(body.toString('latin1'));
    default:
      return body;
  }
}

function charsetDecode(bytes: Buffer, charset: string): string {
  const cs = charset.trim().toLowerCase();
  if (!cs || cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8') return bytesToText(bytes);
  try {
    return libcharset.decode(bytes, cs);
  } catch {
    return bytesToText(bytes);
  }
}

// HTML → searchable text in one pass and he's entity decoder. html-to-text (what the indexer uses) was
// measured at ~60% of total parse time; search needs words, not layout. No backtracking regex runs over the
// document: unclosed "<", "<!--" or "<script" repeated over a large part made those quadratic (minutes).
const BLOCK_TAGS = new Set(['p', 'div', 'br', 'tr', 'td', 'th', 'li', 'ul', 'ol', 'table', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'hr', 'section', 'article', 'header', 'footer']);
const SKIPPED_ELEMENTS = new Set(['script', 'style', 'head', 'title']);

function stripTags(html: string): string {
  const lower = html.toLowerCase();
  const out: string[] = [];
  // Where each skipped element's closing tag was last searched for (a search from later on gives the same answer).
  const closers = new Map<string, { from: number; at: number }>();
  const closerAfter = (name: string, from: number): number => {
    const known = closers.get(name);
    if (known && known.from <= from && (known.at < 0 || known.at >= from)) return known.at;
    const at = lower.indexOf(`</${name}`, from);
    closers.set(name, { from, at });
    return at;
  };
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      out.push(html.slice(i));
      break;
    }
    out.push(html.slice(i, lt));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      if (end < 0) break; // an unclosed comment hides the rest
      out.push(' ');
      i = end + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt < 0) {
      out.push(html.slice(lt)); // no tag can close after here: the rest is text
      break;
    }
    const name = /^\/?([a-z][a-z0-9]*)/.exec(lower.slice(lt + 1, Math.min(gt, lt + 40)));
    const tag = name?.[1] ?? '';
    const closing = lower[lt + 1] === '/';
    i = gt + 1;
    if (!closing && SKIPPED_ELEMENTS.has(tag)) {
      const close = closerAfter(tag, gt + 1);
      if (close >= 0) {
        const closeEnd = html.indexOf('>', close);
        out.push(' ');
        i = closeEnd < 0 ? html.length : closeEnd + 1;
      }
      continue;
    }
    if (BLOCK_TAGS.has(tag)) out.push('\n');
  }
  return out.join('');
}

function htmlText(html: string): string {
  const stripped = stripTags(html)
    .replace(/[ \t\r\f]+/g, ' ')
    .replace(/ *\n[ \n]*/g, '\n');
  try {
    return he.decode(stripped).trim();
  } catch {
    return stripped.trim();
  }
}

/** Decoded text of a text/* part ('' for other types). */
export function partText(raw: Buffer, leaf: PartInfo): string {
  const { part, node } = leaf;
  if (!part.contentType.startsWith('text/')) return '';
  const ct = headerValue(node, 'content-type');
  const encoding = headerString(node, 'content-transfer-encoding').toLowerCase().trim();
  const bytes = transferDecode(raw.subarray(part.bodyStart, Math.min(part.bodyEnd, part.bodyStart + MAX_PART_TEXT * 2)), encoding);
  let text = charsetDecode(bytes, ct?.params.charset ?? '');
  if ((ct?.params.format ?? '').toLowerCase() === 'flowed') {
    text = libmime.decodeFlowed(text, (ct?.params.delsp ?? '').toLowerCase() === 'yes');
  }
  if (part.contentType === 'text/html') text = htmlText(text);
  return text.length > MAX_PART_TEXT ? text.slice(0, MAX_PART_TEXT) : text;
}

/** "Name: decoded value" lines of a header block. */
export function decodedHeaderLines(fields: readonly HeaderField[]): string {
  return fields.map((f) => `${f.name}: ${decodeWords(f.value)}\n`).join('');
}

export function buildSearchText(raw: Buffer, tree: BuiltTree): SearchText {
  const root = tree.root;
  const fields = headerFields(raw.subarray(root.headerStart, root.headerEnd));
  const body: string[] = [];
  // Encapsulated messages' headers are part of the outer body (SEARCH BODY/TEXT finds them).
  for (const m of tree.messages) {
    body.push(decodedHeaderLines(headerFields(raw.subarray(m.part.headerStart, m.part.headerEnd))));
  }
  for (const leaf of tree.leaves) {
    const text = partText(raw, leaf);
    if (text.trim()) body.push(text);
  }
  return {
    subject: fieldValues(fields, 'subject').map(decodeWords).join(' ').trim(),
    from: addressText(fieldValues(fields, 'from')),
    to: addressText(fieldValues(fields, 'to')),
    cc: addressText(fieldValues(fields, 'cc')),
    bcc: addressText(fieldValues(fields, 'bcc')),
    body: body.join('\n'),
    headers: decodedHeaderLines(fields),
  };
}
