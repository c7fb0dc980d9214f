// Just enough header handling for submission: find the header block, read From, add Message-ID/Date.
import { randomUUID } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser/index.js';

export interface HeaderField {
  /** Lower-case field name. */
  readonly name: string;
  /** Unfolded value. */
  readonly value: string;
}

/** Offset where the body starts (after the blank line), or raw.length when there is no body. */
export function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return crlf + 4;
  if (lf >= 0) return lf + 2;
  return raw.length;
}

export function parseHeaders(raw: Buffer): HeaderField[] {
  const block = raw.subarray(0, headerEnd(raw)).toString('utf8');
  const fields: HeaderField[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && fields.length > 0) {
      const last = fields[fields.length - 1] as HeaderField;
      fields[fields.length - 1] = { name: last.name, value: `${last.value} ${line.trim()}` };
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

/** Bare addresses (lower case) of every mailbox in the given header fields (groups flattened). */
export function addressesOf(fields: readonly HeaderField[], name: string): string[] {
  const out: string[] = [];
  for (const f of fields) {
    if (f.name !== name) continue;
    for (const a of addressparser(f.value, { flatten: true })) if (a.address) out.push(a.address.toLowerCase());
  }
  return out;
}

/** RFC 5322 date in UTC. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}

/** Prepends Message-ID and Date when the client left them out (RFC 6409 §8.3). */
export function completeHeaders(raw: Buffer, fields: readonly HeaderField[], domain: string, now = new Date()): Buffer {
  const add: string[] = [];
  if (!fields.some((f) => f.name === 'message-id')) add.push(`Message-ID: <${randomUUID()}@${domain}>`);
  if (!fields.some((f) => f.name === 'date')) add.push(`Date: ${rfc5322Date(now)}`);
  if (add.length === 0) return raw;
  return Buffer.concat([Buffer.from(add.join('\r\n') + '\r\n'), raw]);
}
