// Reads a command's argument bytes (FramedCommand.args) left to right against the RFC 9051 §9 / RFC 3501 §9
// formal syntax. Each method consumes exactly its production or throws ParseError; error messages name the
// production, never the client's bytes. Parenthesised nesting is capped (MAX_DEPTH) so hostile input cannot
// exhaust the stack of a recursive command parser built on list()/expect('(').
import { decodeMutf7 } from './mutf7.js';
import { isAtomChar } from './chars.js';
import { ParseError, STAR, type Cursor, type CursorOptions, type Partial, type SectionRef, type SequenceSet } from './types.js';

/** Deepest nesting of parentheses one command may use (SEARCH keys, QRESYNC parameters); Dovecot 2.3 takes 200. */
export const MAX_DEPTH = 256;

const MAX_NUMBER = 4294967295;
const MAX_NUMBER64 = 9223372036854775807n;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LPAREN = 0x28;
const RPAREN = 0x29;
const RBRACKET = 0x5d;

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
/** ASTRING-CHAR = ATOM-CHAR / resp-specials. */
const isAstringChar = (c: number): boolean => isAtomChar(c) || c === RBRACKET;
/** list-char = ATOM-CHAR / list-wildcards / resp-specials. */
const isListChar = (c: number): boolean => isAstringChar(c) || c === 0x25 || c === 0x2a;
/** A byte that continues a keyword (so `BODY` does not match `BODYSTRUCTURE` or `BODY.PEEK`). */
const continuesWord = (c: number | undefined): boolean => c !== undefined && isAtomChar(c) && c !== 0x5b && c !== 0x3c;
const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

const SYSTEM_FLAGS = new Map(['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '\\Recent'].map((f) => [f.toUpperCase(), f]));

const daysIn = (year: number, month: number): number => new Date(Date.UTC(year, month + 1, 0)).getUTCDate();

/** Is `bytes` well-formed UTF-8 (no overlongs, no surrogates)? */
function isUtf8(bytes: Buffer): boolean {
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) [need, min, cp] = [1, 0x80, c & 0x1f];
    else if (c >= 0xe0 && c <= 0xef) [need, min, cp] = [2, 0x800, c & 0x0f];
    else if (c >= 0xf0 && c <= 0xf4) [need, min, cp] = [3, 0x10000, c & 0x07];
    else return false;
    for (let k = 1; k <= need; k++) {
      const d = bytes[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

class ArgsCursor implements Cursor {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly buf: Buffer,
    readonly options: CursorOptions,
  ) {}

  private fail(message: string): never {
    throw new ParseError(message);
  }

  private byte(offset = 0): number | undefined {
    return this.buf[this.pos + offset];
  }

  atEnd(): boolean {
    return this.pos >= this.buf.length;
  }

  end(): void {
    if (!this.atEnd()) this.fail('Unexpected extra arguments');
  }

  peek(): string {
    const c = this.byte();
    return c === undefined ? '' : String.fromCharCode(c);
  }

  peekAtom(): string {
    let i = this.pos;
    while (i < this.buf.length && isAtomChar(this.buf[i] as number)) i++;
    return this.buf.toString('latin1', this.pos, i).toUpperCase();
  }

  sp(): void {
    if (this.byte() !== SP) this.fail(this.atEnd() ? 'Missing arguments' : 'Expected a space');
    this.pos++;
  }

  trySp(): boolean {
    if (this.byte() !== SP) return false;
    this.pos++;
    return true;
  }

  private matches(text: string): boolean {
    if (this.pos + text.length > this.buf.length) return false;
    for (let i = 0; i < text.length; i++) {
      let c = this.buf[this.pos + i] as number;
      let t = text.charCodeAt(i);
      if (c >= 0x61 && c <= 0x7a) c -= 0x20;
      if (t >= 0x61 && t <= 0x7a) t -= 0x20;
      if (c !== t) return false;
    }
    return true;
  }

  /** Counts parentheses consumed through expect/tryKeyword/list to cap the nesting. */
  private track(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === LPAREN && ++this.depth > MAX_DEPTH) this.fail('Too deeply nested');
      else if (c === RPAREN && this.depth > 0) this.depth--;
    }
  }

  expect(text: string): void {
    if (!this.matches(text)) this.fail(this.atEnd() ? 'Missing arguments' : `Expected ${text}`);
    this.track(text);
    this.pos += text.length;
  }

  tryKeyword(text: string): boolean {
    if (!this.matches(text)) return false;
    if (text.length > 0 && isAlnum(text.charCodeAt(text.length - 1)) && continuesWord(this.buf[this.pos + text.length])) return false;
    this.track(text);
    this.pos += text.length;
    return true;
  }

  atom(keepCase = false): string {
    const start = this.pos;
    while (this.pos < this.buf.length && isAtomChar(this.buf[this.pos] as number)) this.pos++;
    if (this.pos === start) this.fail(this.atEnd() ? 'Missing arguments' : 'Expected an atom');
    const text = this.buf.toString('latin1', start, this.pos);
    return keepCase ? text : text.toUpperCase();
  }

  /** 1*DIGIT as a decimal string (at most `maxDigits` significant digits, else ParseError). */
  private digits(what: string): string {
    const start = this.pos;
    while (isDigit(this.byte())) this.pos++;
    if (this.pos === start) this.fail(this.atEnd() ? 'Missing arguments' : `Expected ${what}`);
    if (this.pos - start > 40) this.fail(`${what} out of range`);
    return this.buf.toString('latin1', start, this.pos);
  }

  number(): number {
    const value = Number(this.digits('a number'));
    if (value > MAX_NUMBER) this.fail('Number out of range');
    return value;
  }

  nzNumber(): number {
    if (this.byte() === 0x30) this.fail('Expected a non-zero number');
    const value = Number(this.digits('a non-zero number'));
    if (value > MAX_NUMBER) this.fail('Number out of range');
    return value;
  }

  number64(): number {
    const text = this.digits('a number');
    if (BigInt(text) > MAX_NUMBER64) this.fail('Number out of range');
    return Number(text);
  }

  private quoted(): Buffer {
    // Caller saw DQUOTE. QUOTED-CHAR = TEXT-CHAR except quoted-specials / "\" quoted-specials / UTF8-2..4.
    this.pos++;
    let start = this.pos;
    const pieces: Buffer[] = [];
    for (;;) {
      const c = this.byte();
      if (c === undefined) this.fail('Unterminated quoted string');
      if (c === DQUOTE) break;
      if (c === 0x00 || c === 0x0a || c === 0x0d) this.fail('Invalid character in quoted string');
      if (c === BACKSLASH) {
        const next = this.byte(1);
        if (next !== DQUOTE && next !== BACKSLASH) this.fail('Invalid escape in quoted string');
        pieces.push(this.buf.subarray(start, this.pos));
        this.pos++;
        start = this.pos;
      }
      this.pos++;
    }
    pieces.push(this.buf.subarray(start, this.pos));
    this.pos++;
    const value = pieces.length === 1 ? Buffer.from(pieces[0] as Buffer) : Buffer.concat(pieces);
    // 8-bit data in a quoted string must be UTF-8 (RFC 9051 §9 QUOTED-CHAR, RFC 6855 §3).
    for (const b of value) {
      if (b >= 0x80) {
        if (!isUtf8(value)) this.fail('Invalid UTF-8 in quoted string');
        break;
      }
    }
    return value;
  }

  literal(allow8 = false): { readonly data: Buffer; readonly binary: boolean } {
    let binary = false;
    if (this.byte() === 0x7e) {
      if (!allow8) this.fail('literal8 not allowed here');
      binary = true;
      this.pos++;
    }
    if (this.byte() !== 0x7b) this.fail(this.atEnd() ? 'Missing arguments' : 'Expected a literal');
    this.pos++;
    const text = this.digits('a literal size');
    if (BigInt(text) > MAX_NUMBER64) this.fail('Literal size out of range');
    const size = Number(text);
    if (this.byte() === 0x2b) this.pos++;
    if (this.byte() !== 0x7d) this.fail('Invalid literal');
    this.pos++;
    if (this.byte() === 0x0d) this.pos++;
    if (this.byte() !== 0x0a) this.fail('Invalid literal');
    this.pos++;
    if (this.pos + size > this.buf.length) this.fail('Truncated literal');
    const data = this.buf.subarray(this.pos, this.pos + size);
    this.pos += size;
    return { data, binary };
  }

  string(): Buffer {
    const c = this.byte();
    if (c === DQUOTE) return this.quoted();
    if (c === 0x7b) return Buffer.from(this.literal(false).data);
    this.fail(c === undefined ? 'Missing arguments' : 'Expected a string');
  }

  astring(): Buffer {
    const c = this.byte();
    if (c === DQUOTE || c === 0x7b) return this.string();
    const start = this.pos;
    while (this.pos < this.buf.length && isAstringChar(this.buf[this.pos] as number)) this.pos++;
    if (this.pos === start) this.fail(c === undefined ? 'Missing arguments' : 'Expected a string');
    return Buffer.from(this.buf.subarray(start, this.pos));
  }

  nstring(): Buffer | null {
    if (this.matches('NIL') && !isAstringChar(this.buf[this.pos + 3] ?? SP)) {
      this.pos += 3;
      return null;
    }
    return this.string();
  }

  /** A mailbox name's bytes → the store's path (INBOX canonical, modified UTF-7 decoded unless UTF-8). */
  private mailboxName(raw: Buffer): string {
    let name: string;
    if (this.options.utf8) {
      if (!isUtf8(raw)) this.fail('Mailbox name is not valid UTF-8');
      name = raw.toString('utf8');
    } else {
      const decoded = decodeMutf7(raw.toString('latin1'));
      if (decoded === null) this.fail('Mailbox name is not valid modified UTF-7');
      name = decoded;
    }
    return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
  }

  mailbox(): string {
    return this.mailboxName(this.astring());
  }

  listMailbox(): string {
    const c = this.byte();
    if (c === DQUOTE || c === 0x7b) return this.mailboxName(this.string());
    const start = this.pos;
    while (this.pos < this.buf.length && isListChar(this.buf[this.pos] as number)) this.pos++;
    if (this.pos === start) this.fail(c === undefined ? 'Missing arguments' : 'Expected a mailbox pattern');
    return this.mailboxName(this.buf.subarray(start, this.pos));
  }

  private seqNumber(): number {
    if (this.byte() === 0x2a) {
      this.pos++;
      return STAR;
    }
    if (!isDigit(this.byte())) this.fail(this.atEnd() ? 'Missing arguments' : 'Invalid sequence set');
    return this.nzNumber();
  }

  sequenceSet(): SequenceSet {
    if (this.byte() === 0x24 && this.options.searchRes) {
      this.pos++;
      return { kind: 'saved' };
    }
    const ranges: (readonly [number, number])[] = [];
    for (;;) {
      const first = this.seqNumber();
      let last = first;
      if (this.byte() === 0x3a) {
        this.pos++;
        last = this.seqNumber();
      }
      ranges.push([first, last]);
      if (this.byte() !== 0x2c) break;
      this.pos++;
    }
    return { kind: 'set', ranges };
  }

  flag(allowStar = false): string {
    if (this.byte() === BACKSLASH) {
      if (this.byte(1) === 0x2a) {
        if (!allowStar) this.fail('Invalid flag');
        this.pos += 2;
        return '\\*';
      }
      this.pos++;
      const name = `\\${this.atom(true)}`;
      return SYSTEM_FLAGS.get(name.toUpperCase()) ?? name;
    }
    return this.atom(true);
  }

  flagList(): string[] {
    return this.list((cursor) => cursor.flag(), true);
  }

  /** date-day-fixed "-" date-month "-" date-year → [year, monthIndex, day]. */
  private dateText(fixed: boolean): [number, number, number] {
    let day: number;
    if (fixed && this.byte() === SP) {
      this.pos++;
      if (!isDigit(this.byte())) this.fail('Invalid date');
      day = (this.byte() as number) - 0x30;
      this.pos++;
    } else {
      const start = this.pos;
      while (isDigit(this.byte()) && this.pos - start < 2) this.pos++;
      if (this.pos === start) this.fail('Invalid date');
      day = Number(this.buf.toString('latin1', start, this.pos));
    }
    if (this.byte() !== 0x2d) this.fail('Invalid date');
    this.pos++;
    const month = MONTHS.indexOf(this.buf.toString('latin1', this.pos, this.pos + 3).toUpperCase());
    if (month < 0) this.fail('Invalid date');
    this.pos += 3;
    if (this.byte() !== 0x2d) this.fail('Invalid date');
    this.pos++;
    const start = this.pos;
    while (isDigit(this.byte()) && this.pos - start < 4) this.pos++;
    if (this.pos - start !== 4) this.fail('Invalid date');
    const year = Number(this.buf.toString('latin1', start, this.pos));
    if (day < 1 || day > daysIn(year, month)) this.fail('Invalid date');
    return [year, month, day];
  }

  private twoDigits(max: number): number {
    const a = this.byte();
    const b = this.byte(1);
    if (!isDigit(a) || !isDigit(b)) this.fail('Invalid time');
    const value = ((a as number) - 0x30) * 10 + ((b as number) - 0x30);
    if (value > max) this.fail('Invalid time');
    this.pos += 2;
    return value;
  }

  dateTime(): Date {
    if (this.byte() !== DQUOTE) this.fail(this.atEnd() ? 'Missing arguments' : 'Expected a date-time');
    this.pos++;
    const [year, month, day] = this.dateText(true);
    if (this.byte() !== SP) this.fail('Invalid date-time');
    this.pos++;
    const hour = this.twoDigits(23);
    this.expectByte(0x3a, 'Invalid time');
    const minute = this.twoDigits(59);
    this.expectByte(0x3a, 'Invalid time');
    const second = this.twoDigits(60);
    this.expectByte(SP, 'Invalid date-time');
    const sign = this.byte();
    if (sign !== 0x2b && sign !== 0x2d) this.fail('Invalid time zone');
    this.pos++;
    const zh = this.twoDigits(99);
    const zm = this.twoDigits(99);
    if (zm > 59) this.fail('Invalid time zone');
    this.expectByte(DQUOTE, 'Invalid date-time');
    const offset = (sign === 0x2d ? -1 : 1) * (zh * 60 + zm);
    return new Date(Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset * 60_000);
  }

  private expectByte(byte: number, message: string): void {
    if (this.byte() !== byte) this.fail(message);
    this.pos++;
  }

  date(): string {
    const quoted = this.byte() === DQUOTE;
    if (quoted) this.pos++;
    if (!quoted && this.atEnd()) this.fail('Missing arguments');
    const [year, month, day] = this.dateText(false);
    if (quoted) this.expectByte(DQUOTE, 'Invalid date');
    if (continuesWord(this.byte())) this.fail('Invalid date');
    return `${String(year).padStart(4, '0')}-${String(month + 1).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  }

  list<T>(item: (cursor: Cursor) => T, allowEmpty = false): T[] {
    this.expect('(');
    const items: T[] = [];
    if (this.byte() === RPAREN) {
      if (!allowEmpty) this.fail('Empty list');
      this.expect(')');
      return items;
    }
    for (;;) {
      items.push(item(this));
      if (this.byte() === RPAREN) break;
      this.sp();
    }
    this.expect(')');
    return items;
  }

  section(): SectionRef {
    this.expectByte(0x5b, 'Expected a section');
    const parts: number[] = [];
    let text: SectionRef['text'] = '';
    let fields: string[] | undefined;
    while (isDigit(this.byte())) {
      parts.push(this.nzNumber());
      if (this.byte() !== 0x2e) break;
      this.pos++;
      if (!isDigit(this.byte())) break; // section-text follows the part number
    }
    const afterDot = parts.length > 0 && this.buf[this.pos - 1] === 0x2e;
    if (this.byte() !== RBRACKET) {
      if (parts.length > 0 && !afterDot) this.fail('Invalid section');
      if (this.tryKeyword('HEADER.FIELDS.NOT')) text = 'HEADER.FIELDS.NOT';
      else if (this.tryKeyword('HEADER.FIELDS')) text = 'HEADER.FIELDS';
      else if (this.tryKeyword('HEADER')) text = 'HEADER';
      else if (this.tryKeyword('TEXT')) text = 'TEXT';
      else if (parts.length > 0 && this.tryKeyword('MIME')) text = 'MIME';
      else this.fail('Invalid section');
      if (text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT') {
        this.sp();
        fields = this.list((cursor) => cursor.astring().toString('latin1'));
      }
    } else if (afterDot) {
      this.fail('Invalid section');
    }
    this.expectByte(RBRACKET, 'Invalid section');
    const path = parts.join('.');
    return fields ? { path, text, fields } : { path, text };
  }

  partial(): Partial | null {
    if (this.byte() !== 0x3c) return null;
    this.pos++;
    const start = this.number();
    this.expectByte(0x2e, 'Invalid partial');
    const length = this.nzNumber();
    this.expectByte(0x3e, 'Invalid partial');
    return { start, length };
  }
}

/** A cursor over one command's argument bytes. */
export function createCursor(args: Buffer, options: CursorOptions): Cursor {
  return new ArgsCursor(args, options);
}
