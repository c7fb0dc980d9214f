// Small helpers for reading imap-core's parsed arguments and writing untagged responses.
import imapCore, { type ImapAttribute, type ImapConnection, type ImapResponse, type ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import imapTools from '@zone-eu/wildduck/imap-core/lib/imap-tools.js';

export const { imapHandler } = imapCore;

/** The text of an atom/string/sequence argument ('' for lists and NIL). Strings arrive as 'binary' JS strings. */
export function attrText(attr: ImapAttribute): string {
  if (attr === null || attr === undefined || Array.isArray(attr)) return '';
  if (typeof attr === 'string') return attr;
  if (typeof attr === 'number') return String(attr);
  if (Buffer.isBuffer(attr)) return attr.toString('binary');
  const value = attr.value;
  if (value === undefined) return '';
  return Buffer.isBuffer(value) ? value.toString('binary') : String(value);
}

/** A 'binary' protocol string (or Buffer) decoded as UTF-8, as clients send non-ASCII search terms and names. */
export function utf8Of(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'string') return Buffer.from(value, 'binary').toString('utf8');
  if (typeof value === 'number') return String(value);
  return '';
}

/** Compact UID set text ("1:3,7"). */
export function packUids(uids: readonly number[]): string {
  return imapTools.packMessageRange([...uids]);
}

/** Parses an IMAP sequence set ("1:4,9,20:*") into inclusive ranges; `*` is `largest`. Null when malformed. */
export function parseSequenceSet(text: string, largest: number): [number, number][] | null {
  if (!imapTools.validateSequence(text)) return null;
  const ranges: [number, number][] = [];
  for (const part of text.split(',')) {
    const [a, b = a] = part.split(':');
    const from = a === '*' ? largest : Number(a);
    const to = b === '*' ? largest : Number(b);
    ranges.push([Math.min(from, to), Math.max(from, to)]);
  }
  return ranges;
}

export function inRanges(ranges: readonly (readonly [number, number])[], value: number): boolean {
  for (const [from, to] of ranges) if (value >= from && value <= to) return true;
  return false;
}

/** Writes an untagged response behind whatever the connection already queued (keeps FETCH streams in order). */
export function writeUntagged(session: ImapSession | ImapConnection, response: ImapResponse | string): void {
  const compiled = typeof response === 'string' ? response : imapHandler.compiler(response);
  session.writeStream.write({ compiled });
}

/** Removes the `gone` UIDs from a session's UID list (sequence numbers shift); returns them, highest first. */
export function dropFromUidList(uidList: number[], gone: ReadonlySet<number>): number[] {
  const dropped: number[] = [];
  for (let i = uidList.length - 1; i >= 0; i--) {
    const uid = uidList[i] as number;
    if (gone.has(uid)) {
      uidList.splice(i, 1);
      dropped.push(uid);
    }
  }
  return dropped;
}

/** Tells the client that UIDs are gone: VANISHED after ENABLE QRESYNC, EXPUNGE otherwise (RFC 7162 §3.2.10). */
export function reportExpunged(session: ImapSession, uids: readonly number[], qresync: boolean): void {
  const selected = session.selected;
  if (!selected || uids.length === 0) return;
  if (!qresync) {
    for (const uid of uids) {
      const response = session.formatResponse('EXPUNGE', uid);
      if (response) session.writeStream.write(response);
    }
    return;
  }
  const gone = new Set(uids);
  const reported = dropFromUidList(selected.uidList, gone);
  if (reported.length) writeUntagged(session, `* VANISHED ${packUids(reported)}`);
}

/**
 * imap-core's UNSUBSCRIBE and APPEND hand us the folder name still as a 'binary' string (UTF-8 bytes one
 * char each) when UTF8=ACCEPT is on. Decode it when it is valid UTF-8; leave real Latin-1 names alone.
 */
export function decodeBinaryPath(path: string): string {
  const codes = [...path].map((c) => c.charCodeAt(0));
  if (!codes.some((c) => c >= 0x80) || codes.some((c) => c > 0xff)) return path;
  const decoded = Buffer.from(path, 'binary').toString('utf8');
  return decoded.includes('\ufffd') ? path : decoded;
}
