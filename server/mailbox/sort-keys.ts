// What SORT (RFC 5256 §3, RFC 5957) and THREAD (RFC 5256 §4) compare, computed once from a message's header
// block at append (and by the v4 migration for messages stored before it). Stored as plain columns so a
// sort is an index scan and a thread build reads no message bytes.
// Only libmime's word decoder and nodemailer's address parser are loaded here, not server/mime (which pulls
// in the indexer): the store opens (and migrates) files without loading the MIME parser.
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { asciiCasemap, baseSubject, decodeWords } from './base-subject.js';

export interface MessageKeys {
  /** RFC 5256 §2.1 base subject, i;ascii-casemap folded (upper-cased ASCII). */
  readonly subject: string;
  /** The subject extraction removed a reply/forward artifact (REFERENCES step 5). */
  readonly replyOrForward: boolean;
  /** addr-mailbox of the first From / To / Cc address, folded; '' when there is none. */
  readonly from: string;
  readonly to: string;
  readonly cc: string;
  /** RFC 5957 display value of the first From / To address, folded. */
  readonly displayFrom: string;
  readonly displayTo: string;
  /** First `<id>` of Message-ID, null when there is none. */
  readonly messageId: string | null;
  /** References ids (or In-Reply-To's first id when there are no References), oldest first, space-separated. */
  readonly refs: string;
}

/** Most reference ids kept per message: the newest ones (nearest ancestors), which REFERENCES links last. */
export const MAX_REFS = 100;
const MAX_ID = 998;

function msgIds(value: string): string[] {
  return (value.match(/<[^<>\s]+>/g) ?? []).filter((id) => id.length <= MAX_ID);
}

interface Address {
  readonly name: string;
  readonly mailbox: string;
  readonly host: string;
}

/**
 * The first address of an address header as IMAP's ENVELOPE lists it (RFC 3501 §7.4.2), or null: a group
 * ("undisclosed-recipients:;", "Team: a@x;") starts with its marker, whose addr-mailbox is the group name and
 * whose addr-name and addr-host are NIL; that marker is the first address SORT and DISPLAY sort by.
 */
function firstAddress(values: readonly string[]): Address | null {
  const value = values[0];
  if (value === undefined) return null;
  let list: { name?: string; address?: string; group?: unknown[] }[];
  try {
    list = addressparser(value) as { name?: string; address?: string; group?: unknown[] }[];
  } catch {
    return null;
  }
  const first = list[0];
  if (!first) return null;
  if (Array.isArray(first.group)) return { name: '', mailbox: decodeWords(first.name ?? '').trim(), host: '' };
  const address = (first.address ?? '').trim();
  const at = address.lastIndexOf('@');
  return {
    name: decodeWords(first.name ?? '').trim(),
    mailbox: at < 0 ? address : address.slice(0, at),
    host: at < 0 ? '' : address.slice(at + 1),
  };
}

/**
 * RFC 5957 §3 display value of an address: the RFC 2047-decoded display name when non-empty, else
 * mailbox@host, else the mailbox, else ''.
 */
function displayValue(a: Address | null): string {
  if (!a) return '';
  if (a.name) return a.name;
  if (a.mailbox && a.host) return `${a.mailbox}@${a.host}`;
  return a.mailbox;
}

export function keysFromFields(fields: readonly HeaderField[]): MessageKeys {
  const subject = baseSubject(fieldValues(fields, 'subject')[0] ?? '');
  const from = firstAddress(fieldValues(fields, 'from'));
  const to = firstAddress(fieldValues(fields, 'to'));
  const cc = firstAddress(fieldValues(fields, 'cc'));
  const messageId = msgIds(fieldValues(fields, 'message-id')[0] ?? '')[0] ?? null;
  let refs = fieldValues(fields, 'references').flatMap(msgIds);
  if (refs.length === 0) refs = msgIds(fieldValues(fields, 'in-reply-to')[0] ?? '').slice(0, 1);
  return {
    subject: asciiCasemap(subject.text),
    replyOrForward: subject.replyOrForward,
    from: asciiCasemap(from?.mailbox ?? ''),
    to: asciiCasemap(to?.mailbox ?? ''),
    cc: asciiCasemap(cc?.mailbox ?? ''),
    displayFrom: asciiCasemap(displayValue(from)),
    displayTo: asciiCasemap(displayValue(to)),
    messageId,
    refs: refs.slice(-MAX_REFS).join(' '),
  };
}

export interface HeaderField {
  /** Field name, lower case. */
  readonly name: string;
  /** Unfolded value, not RFC 2047 decoded, at most MAX_FIELD characters. */
  readonly value: string;
}

/** Header bytes read for keys: the fields SORT/THREAD use come first in practice; a huge header is cut. */
export const MAX_HEADER_BYTES = 256 * 1024;
/** Characters kept per field value (a References list of MAX_REFS ids fits). */
const MAX_FIELD = 128 * 1024;
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Fields of the header block at the start of `message` (up to its first empty line), unfolded. */
export function headerFieldsOf(message: Buffer): HeaderField[] {
  const bytes = message.subarray(0, MAX_HEADER_BYTES);
  let text: string;
  try {
    text = utf8Strict.decode(bytes);
  } catch {
    text = new TextDecoder('windows-1252').decode(bytes); // what senders of raw 8-bit headers mean
  }
  const out: HeaderField[] = [];
  for (const line of text.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n|\r/)) {
    if (!line) break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1, colon + 1 + MAX_FIELD).trim() });
  }
  return out;
}

function fieldValues(fields: readonly HeaderField[], name: string): string[] {
  return fields.filter((f) => f.name === name).map((f) => f.value);
}

/** Keys of a message from its leading bytes (the header block; the rest is ignored). */
export function messageKeys(message: Buffer): MessageKeys {
  return keysFromFields(headerFieldsOf(message));
}

/**
 * RFC 5256 §2.2 sent date as stored for sorting: the Date: header's instant (ISO 8601 UTC), else the
 * internal date. Instants outside years 0000-9999 do not sort as text, so they count as unparseable.
 */
export function sentDateKey(headerDate: string | null, internalDate: string): string {
  return headerDate !== null && /^\d{4}-/.test(headerDate) ? headerDate : internalDate;
}
