// mboxrd (one file per folder): "From " separator lines, every body line matching /^>*From / gets one
// more ">" on write and loses one on read, and one blank line after each message. Message bytes
// (CRLF or LF) are kept exactly, so export → import is byte-for-byte.
//
// Flags travel the way mutt, Dovecot and Thunderbird read them: `Status:` (R seen, O old),
// `X-Status:` (A answered, F flagged, T draft, D deleted) and `X-Keywords:` (space-separated keywords).
// We write exactly these three lines, in this order, at the very top of each message (the only
// difference between the exported and the stored bytes); import takes the flags from that block and
// removes it, so the imported message is byte-identical again. A foreign mbox (no such leading block)
// keeps its bytes; its Status/X-Status/X-Keywords headers, wherever they are, still give the flags.
import fs from 'node:fs';

const X_STATUS: readonly (readonly [string, string])[] = [
  ['\\Answered', 'A'],
  ['\\Flagged', 'F'],
  ['\\Draft', 'T'],
  ['\\Deleted', 'D'],
];

/** An IMAP keyword atom we can carry in X-Keywords (printable ASCII, no space, parentheses or backslash start). */
const isKeyword = (k: string): boolean => /^[\x21-\x7e]+$/.test(k) && !k.startsWith('\\') && !/[()]/.test(k);

/** The three flag header lines we put at the top of a message, with the message's own line ending. */
export function flagHeaderBlock(flags: readonly string[], eol: string): string {
  const lower = new Set(flags.map((f) => f.toLowerCase()));
  const status = `${lower.has('\\seen') ? 'R' : ''}O`;
  const xStatus = X_STATUS.filter(([flag]) => lower.has(flag.toLowerCase())).map(([, letter]) => letter).join('');
  const keywords = flags.filter(isKeyword);
  return `Status: ${status}${eol}X-Status:${xStatus ? ` ${xStatus}` : ''}${eol}X-Keywords:${keywords.length ? ` ${keywords.join(' ')}` : ''}${eol}`;
}

function flagsFrom(status: string, xStatus: string, keywords: string): string[] {
  const flags: string[] = [];
  if (/R/.test(status)) flags.push('\\Seen');
  for (const [flag, letter] of X_STATUS) if (xStatus.includes(letter)) flags.push(flag);
  for (const k of keywords.split(/[\s,]+/)) if (isKeyword(k)) flags.push(k);
  return flags;
}

const OUR_BLOCK = /^Status: (R?O)(\r?\n)X-Status:(?: ([AFTD]*))?\r?\nX-Keywords:(?: ([^\r\n]*))?\r?\n/;

/**
 * Flags of an mbox message and its bytes as they were before export: our leading block is removed;
 * without it the bytes stay as they are and flags come from Status/X-Status/X-Keywords in the header.
 */
export function takeFlagHeaders(raw: Buffer): { raw: Buffer; flags: string[] | null } {
  const head = raw.subarray(0, 2048).toString('latin1');
  const ours = OUR_BLOCK.exec(head);
  if (ours) return { raw: raw.subarray(ours[0].length), flags: flagsFrom(ours[1] ?? '', ours[3] ?? '', ours[4] ?? '') };
  const end = head.search(/\r?\n\r?\n/);
  const header = end < 0 ? head : head.slice(0, end);
  const field = (name: string): string | null => {
    const m = new RegExp(`^${name}:[ \\t]*([^\\r\\n]*)`, 'im').exec(header);
    return m ? (m[1] ?? '') : null;
  };
  const status = field('Status');
  const xStatus = field('X-Status');
  const keywords = field('X-Keywords');
  if (status === null && xStatus === null && keywords === null) return { raw, flags: null };
  return { raw, flags: flagsFrom(status ?? '', xStatus ?? '', keywords ?? '') };
}

/** asctime(3) in UTC, as the From_ line carries it. */
export function asctime(d: Date): string {
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${day} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** The date at the end of a From_ line, or null. */
export function parseFromLineDate(line: string): Date | null {
  const m = /(\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})\s*$/.exec(line);
  if (!m || MONTHS[m[1] as string] === undefined) return null;
  return new Date(Date.UTC(Number(m[6]), MONTHS[m[1] as string] as number, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
}

/** mboxrd-escapes one message: every line matching ^>*From gains a ">". */
export function escapeFromLines(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  while (start < raw.length) {
    const nl = raw.indexOf(0x0a, start);
    const end = nl === -1 ? raw.length : nl + 1;
    const line = raw.subarray(start, end);
    let i = 0;
    while (i < line.length && line[i] === 0x3e) i++;
    if (line.subarray(i, i + 5).toString('latin1') === 'From ') parts.push(Buffer.from('>'));
    parts.push(line);
    start = end;
  }
  return Buffer.concat(parts);
}

export class MboxWriter {
  private readonly fd: number;
  count = 0;

  constructor(file: string) {
    this.fd = fs.openSync(file, 'w', 0o600);
  }

  /** Appends one message; with flags, our Status/X-Status/X-Keywords block goes on top (see above). */
  write(raw: Buffer, internalDate: Date, flags?: readonly string[]): void {
    const withFlags = flags ? Buffer.concat([Buffer.from(flagHeaderBlock(flags, eolOf(raw)), 'latin1'), raw]) : raw;
    const body = escapeFromLines(withFlags);
    const tail = body.length && body[body.length - 1] === 0x0a ? '\n' : '\n\n';
    fs.writeSync(this.fd, `From MAILER-DAEMON ${asctime(internalDate)}\n`);
    fs.writeSync(this.fd, body);
    fs.writeSync(this.fd, tail);
    this.count++;
  }

  close(): void {
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
  }
}

export interface MboxMessage {
  readonly raw: Buffer;
  readonly internalDate: Date | null;
  /** From the flag headers (see takeFlagHeaders); null when the message has none. */
  readonly flags: string[] | null;
}

/** CRLF when the message's first line ends with it, else LF. */
function eolOf(raw: Buffer): string {
  const nl = raw.indexOf(0x0a);
  return nl > 0 && raw[nl - 1] === 0x0d ? '\r\n' : '\n';
}

function unescapeLine(line: Buffer): Buffer {
  let i = 0;
  while (i < line.length && line[i] === 0x3e) i++;
  if (i > 0 && line.subarray(i, i + 5).toString('latin1') === 'From ') return line.subarray(1);
  return line;
}

function finish(lines: Buffer[], fromLine: string): MboxMessage {
  let raw = Buffer.concat(lines);
  // Drop the one blank line that separates messages (LF, or CRLF when the file is CRLF throughout).
  if (raw.subarray(-4).toString('latin1') === '\r\n\r\n') raw = raw.subarray(0, -2);
  else if (raw.subarray(-1).toString('latin1') === '\n') raw = raw.subarray(0, -1);
  const taken = takeFlagHeaders(raw);
  return { raw: taken.raw, internalDate: parseFromLineDate(fromLine), flags: taken.flags };
}

/** Streams the messages of an mbox file (mboxrd; plain mboxo/mboxcl files read the same way). */
export async function* readMbox(file: string): AsyncGenerator<MboxMessage> {
  let carry = Buffer.alloc(0);
  let lines: Buffer[] = [];
  let fromLine: string | null = null;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    const buf = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl === -1) break;
      const line = buf.subarray(start, nl + 1);
      start = nl + 1;
      if (line.subarray(0, 5).toString('latin1') === 'From ') {
        if (fromLine !== null) yield finish(lines, fromLine);
        fromLine = line.toString('latin1');
        lines = [];
      } else if (fromLine !== null) lines.push(Buffer.from(unescapeLine(line)));
    }
    carry = Buffer.from(buf.subarray(start));
  }
  if (fromLine !== null) {
    if (carry.length) lines.push(unescapeLine(carry));
    yield finish(lines, fromLine);
  }
}
