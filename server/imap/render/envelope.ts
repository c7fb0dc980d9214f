// ENVELOPE (RFC 3501 §7.4.2, RFC 9051 §7.5.2) computed from a message's header bytes, so every stored
// message gets the same answer whatever indexer version parsed it. Fields are the header values as sent
// (unfolded): RFC 2047 encoded words stay encoded for a client that has not enabled UTF-8; after ENABLE
// UTF8=ACCEPT / IMAP4rev2 names and the subject are decoded to UTF-8 (RFC 6855 §3 lets such a client
// receive UTF-8). Raw 8-bit text a 7-bit client cannot take becomes encoded words.
import libmime from 'libmime';
import { splitHeaderFields } from '../../mime/sections.js';
import { bytesToText } from '../../mime/text.js';
import type { Value } from '../wire/types.js';
import { parseAddressList, type EnvelopeAddress } from './addresses.js';
import { adjacentList } from './lists.js';

export interface RenderOptions {
  /** UTF8=ACCEPT or IMAP4rev2 enabled. */
  readonly utf8: boolean;
}

interface HeaderField {
  /** Lower-cased field name. */
  readonly name: string;
  readonly value: string;
}

/**
 * The fields of a header block with their values unfolded as Dovecot unfolds them for ENVELOPE: each line break
 * with the white space after it becomes one space, a tab becomes a space (RFC 5322 §2.2.3 only requires the
 * CRLF to go; quoted strings in ENVELOPE then never carry a tab).
 */
function headerFields(header: Buffer): HeaderField[] {
  return splitHeaderFields(header).map(({ name, bytes }) => {
    const text = bytesToText(bytes);
    const colon = text.indexOf(':');
    const value = text
      .slice(colon + 1)
      .replace(/\r?\n$/, '')
      .replace(/\r?\n[ \t]+/g, ' ')
      .replace(/\t/g, ' ')
      .trim();
    return { name, value };
  });
}

/** The last occurrence of a field (what Dovecot reports when a header repeats one), or null when absent. */
function lastValue(fields: readonly HeaderField[], name: string): string | null {
  for (let i = fields.length - 1; i >= 0; i--) {
    const field = fields[i] as HeaderField;
    if (field.name === name) return field.value;
  }
  return null;
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

function decodeWords(text: string): string {
  try {
    return libmime.decodeWords(text);
  } catch {
    return text; // an encoded word in an unknown charset stays as sent
  }
}

/** UTF-8 bytes of an encoded word's payload: 45 bytes make 60 base64 characters, a 72-character word. */
const WORD_BYTES = 45;

/** Text as RFC 2047 "B" encoded words (§2: at most 75 characters each, never splitting a character). */
export function encodeWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const char of text) {
    if (Buffer.byteLength(chunk + char, 'utf8') > WORD_BYTES) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk) words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join(' ');
}

/** Display text (subject, names): decoded for a UTF-8 client, 7-bit for the others. */
export function displayText(text: string, options: RenderOptions): string {
  if (options.utf8) return decodeWords(text);
  return NON_ASCII.test(text) ? encodeWords(text) : text;
}

const str = (text: string | null): Value => (text === null ? null : { string: text });

function addressValue(address: EnvelopeAddress, options: RenderOptions): Value {
  switch (address.kind) {
    case 'group-start':
      return [null, null, str(displayText(address.name, options)), null];
    case 'group-end':
      return [null, null, null, null];
    default:
      return [address.name === null ? null : str(displayText(address.name, options)), str(address.route), str(address.mailbox), str(address.host)];
  }
}

/** Every occurrence of an address field, in header order (a repeated To/Cc adds its addresses, as Dovecot reads it). */
function allValues(fields: readonly HeaderField[], name: string): string[] | null {
  const values = fields.filter((field) => field.name === name).map((field) => field.value);
  return values.length ? values : null;
}

/** An address-list field as an ENVELOPE list; NIL when absent or naming no address. */
function addressList(values: readonly string[] | null, options: RenderOptions): Value {
  if (values === null) return null;
  const addresses = values.flatMap((value) => parseAddressList(value));
  return addresses.length ? adjacentList(addresses.map((a) => addressValue(a, options)), options.utf8) : null;
}

/** ENVELOPE from the header block of a message (root or encapsulated message/rfc822). */
export function envelopeFromHeader(header: Buffer, options: RenderOptions): Value {
  const fields = headerFields(header);
  const subject = lastValue(fields, 'subject');
  const from = addressList(allValues(fields, 'from'), options);
  // RFC 3501 §7.4.2: "If the Sender or Reply-To lines are absent in the [RFC-2822] header, or are present
  // but empty, the server sets the corresponding member of the envelope to be the same value as the from member".
  const sender = addressList(allValues(fields, 'sender'), options) ?? from;
  const replyTo = addressList(allValues(fields, 'reply-to'), options) ?? from;
  return [
    str(lastValue(fields, 'date')),
    subject === null ? null : str(displayText(subject, options)),
    from,
    sender,
    replyTo,
    addressList(allValues(fields, 'to'), options),
    addressList(allValues(fields, 'cc'), options),
    addressList(allValues(fields, 'bcc'), options),
    str(lastValue(fields, 'in-reply-to')),
    str(lastValue(fields, 'message-id')),
  ];
}
