// ManageSieve framing (RFC 5804 §4): a command line is atoms and strings separated by spaces and ended by CRLF;
// a string is quoted ("a \"b\"", only \" and \\ escaped) or a literal ({n+} or {n}, CRLF, then n octets).
// Pure: bytes in, lines of tokens out. Memory is bounded: a line's non-literal bytes by maxLineBytes, each
// literal by maxLiteralBytes (a larger one is reported when its header arrives and its octets are skipped
// unread), and a line's tokens by MAX_TOKENS.

/** An atom (command name, number, ACTIVE) or a string (quoted or literal) of one command line. */
export type Token = { readonly kind: 'atom'; readonly value: string } | { readonly kind: 'string'; readonly value: Buffer };

/** What the reader found next. */
export type ReadEvent =
  | { readonly type: 'line'; readonly tokens: readonly Token[] }
  /** The line was not valid syntax; it has been (or will be) skipped up to its end. */
  | { readonly type: 'syntax'; readonly message: string }
  /** A literal announced more than maxLiteralBytes: its octets and the rest of its line are skipped. */
  | { readonly type: 'literal-too-big'; readonly size: number }
  /** The line grew past maxLineBytes: the connection cannot be resynchronised. */
  | { readonly type: 'line-too-long' };

/** Tokens on one line: the longest command (PUTSCRIPT, RENAMESCRIPT) has three. */
export const MAX_TOKENS = 8;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;

export class ManageSieveReader {
  private buffer: Buffer = Buffer.alloc(0);
  private tokens: Token[] = [];
  private lineBytes = 0;
  /** Octets of a literal still to come: collected, or skipped when `skip`. */
  private literal: { remaining: number; chunks: Buffer[]; skip: boolean } | null = null;
  /** After a syntax error or an oversized literal: drop input up to the end of the line. */
  private skipToEol = false;
  /** After a line that was too long: nothing more is read (the caller closes the connection). */
  private overflowed = false;

  constructor(private readonly limits: { readonly maxLineBytes: number; readonly maxLiteralBytes: number }) {}

  /** Adds received bytes. */
  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
  }

  /** Forgets everything received and not yet read (STARTTLS: nothing sent in plaintext may run inside TLS). */
  reset(): void {
    this.buffer = Buffer.alloc(0);
    this.tokens = [];
    this.lineBytes = 0;
    this.literal = null;
    this.skipToEol = false;
  }

  /** The next complete event, or null until more bytes arrive. */
  next(): ReadEvent | null {
    const event = this.step();
    if (event?.type === 'line-too-long') {
      this.overflowed = true;
      this.buffer = Buffer.alloc(0);
    }
    return event;
  }

  private step(): ReadEvent | null {
    if (this.overflowed) return null;
    for (;;) {
      if (this.literal) {
        if (!this.takeLiteral()) return null;
        continue;
      }
      if (this.skipToEol) {
        const lf = this.buffer.indexOf(LF);
        if (lf < 0) {
          this.buffer = Buffer.alloc(0);
          return null;
        }
        this.buffer = this.buffer.subarray(lf + 1);
        this.skipToEol = false;
        this.tokens = [];
        this.lineBytes = 0;
        continue;
      }
      // Between tokens: spaces, then the end of the line or the next token.
      let at = 0;
      while (at < this.buffer.length && this.buffer[at] === SP) at += 1;
      if (!this.consume(at)) return { type: 'line-too-long' };
      if (this.buffer.length === 0) return null;
      const first = this.buffer[0]!;
      if (first === CR || first === LF) {
        if (first === CR && this.buffer.length < 2) return null;
        const end = first === CR && this.buffer[1] === LF ? 2 : 1;
        if (first === CR && end === 1) return this.syntax('A bare CR is not allowed');
        this.buffer = this.buffer.subarray(end);
        const tokens = this.tokens;
        this.tokens = [];
        this.lineBytes = 0;
        if (tokens.length === 0) continue; // empty lines are ignored
        return { type: 'line', tokens };
      }
      if (this.tokens.length >= MAX_TOKENS) return this.syntax('Too many arguments');
      const event = first === DQUOTE ? this.quoted() : first === LBRACE ? this.literalHeader() : this.atom();
      if (event === 'more') return this.lineBytes + this.buffer.length > this.limits.maxLineBytes ? { type: 'line-too-long' } : null;
      if (event !== 'ok') return event;
    }
  }

  /** Drops n bytes of the line from the buffer; false when the line is now too long. */
  private consume(n: number): boolean {
    this.buffer = this.buffer.subarray(n);
    this.lineBytes += n;
    return this.lineBytes <= this.limits.maxLineBytes;
  }

  private syntax(message: string): ReadEvent {
    this.skipToEol = true;
    this.tokens = [];
    return { type: 'syntax', message };
  }

  private quoted(): 'ok' | 'more' | ReadEvent {
    const bytes: number[] = [];
    for (let i = 1; i < this.buffer.length; i++) {
      const c = this.buffer[i]!;
      if (c === CR || c === LF || c === 0) return this.syntax('A quoted string cannot hold CR, LF or NUL; send a literal');
      if (c === BACKSLASH) {
        const escaped = this.buffer[i + 1];
        if (escaped === undefined) return 'more';
        if (escaped !== DQUOTE && escaped !== BACKSLASH) return this.syntax('Only \\" and \\\\ may be escaped in a quoted string');
        bytes.push(escaped);
        i += 1;
        continue;
      }
      if (c === DQUOTE) {
        if (!this.consume(i + 1)) return { type: 'line-too-long' };
        this.tokens.push({ kind: 'string', value: Buffer.from(bytes) });
        return 'ok';
      }
      bytes.push(c);
    }
    return 'more';
  }

  private literalHeader(): 'ok' | 'more' | ReadEvent {
    const close = this.buffer.indexOf('}');
    const lineEnd = this.buffer.indexOf(LF);
    if (close < 0 || (lineEnd >= 0 && lineEnd < close)) return lineEnd >= 0 || this.buffer.length > 24 ? this.syntax('Bad literal: {number+} expected') : 'more';
    const match = /^\{(\d{1,15})\+?\}$/.exec(this.buffer.subarray(0, close + 1).toString('latin1'));
    if (!match) return this.syntax('Bad literal: {number+} expected');
    if (this.buffer.length < close + 3) return 'more';
    if (this.buffer[close + 1] !== CR || this.buffer[close + 2] !== LF) return this.syntax('A literal header must end the line');
    const size = Number(match[1]);
    if (!this.consume(close + 3)) return { type: 'line-too-long' };
    if (size > this.limits.maxLiteralBytes) {
      this.literal = { remaining: size, chunks: [], skip: true };
      return { type: 'literal-too-big', size };
    }
    this.literal = { remaining: size, chunks: [], skip: false };
    return 'ok';
  }

  private atom(): 'ok' | 'more' | ReadEvent {
    let end = 0;
    while (end < this.buffer.length) {
      const c = this.buffer[end]!;
      if (c === SP || c === CR || c === LF) break;
      if (c < 0x20 || c === 0x7f || c === DQUOTE || c === LBRACE || c > 0x7e) return this.syntax('Unexpected character in a command');
      end += 1;
    }
    if (end === this.buffer.length) return 'more';
    const value = this.buffer.subarray(0, end).toString('latin1');
    if (!this.consume(end)) return { type: 'line-too-long' };
    this.tokens.push({ kind: 'atom', value });
    return 'ok';
  }

  /** Takes literal octets from the buffer; true when the literal is complete. */
  private takeLiteral(): boolean {
    const literal = this.literal!;
    const n = Math.min(literal.remaining, this.buffer.length);
    if (!literal.skip && n > 0) literal.chunks.push(Buffer.from(this.buffer.subarray(0, n)));
    this.buffer = this.buffer.subarray(n);
    literal.remaining -= n;
    if (literal.remaining > 0) return false;
    this.literal = null;
    if (literal.skip) {
      // the command it belonged to was already refused: drop the rest of its line
      this.skipToEol = true;
      this.tokens = [];
    } else {
      this.tokens.push({ kind: 'string', value: Buffer.concat(literal.chunks) });
    }
    return true;
  }
}

/** A string for a response: quoted when it can be, else a literal (RFC 5804 §4, literal-s2c). */
export function sieveString(text: string): string {
  const bytes = Buffer.byteLength(text);
  if (bytes <= 1024 && !/[\r\n\0]/.test(text)) return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  return `{${bytes}}\r\n${text}`;
}
