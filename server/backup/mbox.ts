// mboxrd (one file per folder): "From " separator lines, every body line matching /^>*From / gets one
// more ">" on write and loses one on read, and one blank line after each message. Message bytes
// (CRLF or LF) are kept exactly, so export → import is byte-for-byte.
//
// Reading foreign files (RFC 4155 describes the family): mboxo writers quote only "From " as ">From ", so
// an original ">From " comes back as "From " (mboxo cannot tell the two apart; mboxrd can). A file with a
// bare "From " body line was written without any quoting: its ">From " lines are text and stay. scanMbox
// checks a whole file first (see MboxGrammar for what is refused) so that import can refuse it untouched.
//
// Flags travel the way mutt, Dovecot and Thunderbird read them: `Status:` (R seen, O old),
// `X-Status:` (A answered, F flagged, T draft, D deleted) and `X-Keywords:` (space-separated keywords).
// We write exactly these three lines, in this order, at the very top of each message (the only
// difference between the exported and the stored bytes); import takes the flags from that block and
// removes it, so the imported message is byte-identical again. A foreign mbox (no such leading block)
// keeps its bytes; its Status/X-Status/X-Keywords headers, wherever they are, still give the flags.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../config/errors.js';

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

// "From <sender> [Day] Mon DD HH:MM[:SS] [zone] YYYY [zone]": asctime as mutt, Dovecot and Thunderbird write it,
// and the "+0000" before the year that Google Takeout writes.
const FROM_LINE_DATE = /^From \S+ +(?:[A-Z][a-z]{2},? +)?([A-Z][a-z]{2}) +(\d{1,2}) +(\d{1,2}):(\d{2})(?::(\d{2}))? +(?:([+-]\d{4}|[A-Z]{1,5}) +)?(\d{4})(?: +([+-]\d{4}|[A-Z]{1,5}))?\s*$/;

/** The date of a From_ line ("From sender Thu Aug 10 12:34:56 2023"), or null when it has none. */
export function parseFromLineDate(line: string): Date | null {
  const m = FROM_LINE_DATE.exec(line.replace(/\r?\n$/, ''));
  const month = m ? MONTHS[m[1] as string] : undefined;
  if (!m || month === undefined) return null;
  const zone = /^[+-]\d{4}$/.exec(m[6] ?? m[8] ?? '')?.[0];
  const offsetMinutes = zone ? (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3))) : 0;
  const utc = Date.UTC(Number(m[7]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0)) - offsetMinutes * 60_000;
  const date = new Date(utc);
  return Number.isNaN(date.getTime()) || Number(m[2]) > 31 || Number(m[3]) > 23 || Number(m[4]) > 59 ? null : date;
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

/** A file that is not a well-formed mbox: names the line, so the user can look at it. */
export class MboxFormatError extends UserError {
  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
  ) {
    super(`${path.basename(file)} is not a valid mbox file: line ${line} ${problem}.`, 'BAD_MBOX', {
      hint: 'Nothing was imported; repair the file at that line (or export it again) and run the import again.',
    });
  }
}

export interface MboxLimits {
  /** Largest message accepted, in bytes as they are in the file. */
  readonly maxMessageBytes: number;
}

/** What a full pass over a file found: its message count and how body "From " lines were quoted. */
export interface MboxScan {
  readonly messages: number;
  /**
   * True when ">From " lines lose one ">" on read: no body line starts with a bare "From " (mboxrd and
   * mboxo writers quote every one). False when one does: the writer quoted nothing, ">From " is text.
   */
  readonly unquote: boolean;
}

const FROM = Buffer.from('From ');
const startsWithFrom = (line: Buffer): boolean => line.length >= 5 && line.compare(FROM, 0, 5, 0, 5) === 0;
const isBlank = (line: Buffer): boolean => (line.length === 1 && line[0] === 0x0a) || (line.length === 2 && line[0] === 0x0d && line[1] === 0x0a);

/** A separator line holds printable ASCII and tabs only, ending in LF or CRLF. */
function separatorBytesValid(line: Buffer): boolean {
  const end = line[line.length - 1] === 0x0a ? (line[line.length - 2] === 0x0d ? line.length - 2 : line.length - 1) : line.length;
  for (let i = 0; i < end; i++) {
    const b = line[i] as number;
    if (b !== 0x09 && (b < 0x20 || b > 0x7e)) return false;
  }
  return true;
}

/** mboxrd un-quoting of one body line: ^>+From loses one ">". */
function unescapeLine(line: Buffer): Buffer {
  let i = 0;
  while (i < line.length && line[i] === 0x3e) i++;
  if (i > 0 && line.compare(FROM, 0, 5, i, i + 5) === 0) return line.subarray(1);
  return line;
}

function finish(lines: Buffer[], fromLine: string): MboxMessage {
  let raw = Buffer.concat(lines);
  // Drop the one blank line that ends each message in an mbox (LF, or CRLF when the file is CRLF throughout);
  // a last message without one keeps its bytes.
  if (raw.subarray(-4).toString('latin1') === '\r\n\r\n') raw = raw.subarray(0, -2);
  else if (raw.subarray(-2).toString('latin1') === '\n\n') raw = raw.subarray(0, -1);
  const taken = takeFlagHeaders(raw);
  return { raw: taken.raw, internalDate: parseFromLineDate(fromLine), flags: taken.flags };
}

/**
 * The one mbox grammar, fed line by line (each line with its LF; the file's last line may lack it):
 * - an empty file holds no message; otherwise line 1 is a separator: it starts with "From " (else the file is refused);
 * - a later line is a separator when it follows an empty line, starts with "From " and carries a From_ date
 *   (so an unquoted "From here on…" paragraph of an mboxo file stays body text);
 * - a separator holds printable ASCII only (tabs allowed);
 * - every message has an end to its header section (an empty line) and is at most maxMessageBytes long;
 *   a file that stops inside the header section of its last message was cut off.
 * With `keep`, messages are assembled and returned; without, only counted (bounded memory either way).
 */
class MboxGrammar {
  private lineNo = 0;
  private previousBlank = false;
  private message: { fromLine: string; startLine: number; bytes: number; headerEnded: boolean; lines: Buffer[] } | null = null;
  messages = 0;
  bareFromLines = 0;

  constructor(
    private readonly file: string,
    private readonly limits: MboxLimits,
    private readonly keep: boolean,
    private readonly unquote: boolean,
  ) {}

  private fail(line: number, problem: string): never {
    throw new MboxFormatError(this.file, line, problem);
  }

  /** One line; returns the previous message when this line starts a new one (keep mode). */
  line(line: Buffer): MboxMessage | null {
    const n = ++this.lineNo;
    const from = startsWithFrom(line);
    let done: MboxMessage | null = null;
    if (n === 1 && !from) this.fail(1, 'does not start with a "From " separator line');
    const separator = n === 1 || (from && this.previousBlank && parseFromLineDate(line.toString('latin1')) !== null);
    if (separator) {
      if (!separatorBytesValid(line)) this.fail(n, 'is a "From " separator line with bytes that are not printable ASCII');
      done = this.close();
      this.message = { fromLine: line.toString('latin1'), startLine: n, bytes: 0, headerEnded: false, lines: [] };
      this.messages++;
    } else {
      const m = this.message as NonNullable<typeof this.message>;
      if (from) this.bareFromLines++;
      const blank = isBlank(line);
      if (blank) m.headerEnded = true;
      m.bytes += line.length;
      if (m.bytes > this.limits.maxMessageBytes) {
        this.fail(m.startLine, `starts a message larger than the import limit of ${this.limits.maxMessageBytes} bytes (SEALPOST_IMPORT_MAX_MESSAGE_SIZE)`);
      }
      if (this.keep) m.lines.push(Buffer.from(this.unquote ? unescapeLine(line) : line));
    }
    this.previousBlank = isBlank(line);
    return done;
  }

  get maxLineBytes(): number {
    return this.limits.maxMessageBytes;
  }

  /** The line being read has no end within the message limit. */
  lineTooLong(): never {
    if (!this.message) this.fail(this.lineNo + 1, 'does not start with a "From " separator line');
    this.fail(this.message.startLine, `starts a message larger than the import limit of ${this.limits.maxMessageBytes} bytes (SEALPOST_IMPORT_MAX_MESSAGE_SIZE)`);
  }

  private close(): MboxMessage | null {
    const m = this.message;
    if (!m) return null;
    this.message = null;
    return this.keep ? finish(m.lines, m.fromLine) : null;
  }

  /** End of file; `tail` is a last line without LF (may be empty). Returns the last message (keep mode). */
  end(tail: Buffer): MboxMessage | null {
    // A last line without LF is read like any other: fine as body text, a sign of a cut file inside the header.
    // (A tail that is a separator starts a message with no header: refused just below.)
    if (tail.length) this.line(tail);
    if (this.lineNo === 0) return null; // an empty file: a folder with no messages (our export writes these)
    const m = this.message as NonNullable<typeof this.message>;
    if (!m.headerEnded) this.fail(this.lineNo, `ends the file inside the header of the message that starts at line ${m.startLine} (the file looks cut off)`);
    return this.close();
  }
}

/** Feeds a file to the grammar line by line, in 1 MiB chunks, yielding each message it completes. */
async function* walkMbox(file: string, grammar: MboxGrammar): AsyncGenerator<MboxMessage> {
  let carry = Buffer.alloc(0);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    const buf = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      const done = grammar.line(buf.subarray(start, nl + 1));
      start = nl + 1;
      if (done) yield done;
    }
    carry = Buffer.from(buf.subarray(start));
    // A line longer than a whole message may be (no LF for megabytes): refused before it is held in memory.
    if (carry.length > grammar.maxLineBytes) grammar.lineTooLong();
  }
  const last = grammar.end(carry);
  if (last) yield last;
}

export const DEFAULT_MBOX_LIMITS: MboxLimits = { maxMessageBytes: 50 * 1024 * 1024 };

/**
 * Reads a whole file without keeping any message: throws MboxFormatError (with the line) when it is not a
 * well-formed mbox, else says how many messages it holds and whether ">From " lines are quoted ones.
 */
export async function scanMbox(file: string, limits: MboxLimits = DEFAULT_MBOX_LIMITS): Promise<MboxScan> {
  const grammar = new MboxGrammar(file, limits, false, false);
  for await (const _ of walkMbox(file, grammar));
  return { messages: grammar.messages, unquote: grammar.bareFromLines === 0 };
}

/**
 * Streams the messages of an mbox file (mboxrd, mboxo, or unquoted: see scanMbox). The same checks as
 * scanMbox apply, but a problem is only found when reached: scan first to refuse a bad file before storing.
 */
export function readMbox(file: string, options: { unquote?: boolean; limits?: MboxLimits } = {}): AsyncGenerator<MboxMessage> {
  return walkMbox(file, new MboxGrammar(file, options.limits ?? DEFAULT_MBOX_LIMITS, true, options.unquote ?? true));
}
