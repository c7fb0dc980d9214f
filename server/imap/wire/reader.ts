// Frames the client's byte stream into IMAP commands (RFC 9051 §2.2.1, §4.3): a command is a line, or a line
// ending in a literal announcement (`{n}`, `{n+}` LITERAL+ RFC 7888, `~{n}` literal8 RFC 3516) followed by n
// bytes and the rest of the command. The engine drives it: push() stores bytes, next() frames as far as one
// event (a command, a raw continuation line, a line to write back) and returns null when it needs more input.
// Framing is lazy on purpose: a literal announced after LOGIN is judged with the limits of the state the
// session is in once every command before it has run, and bytes pipelined after STARTTLS are still unframed
// when the engine drops them (discardBuffered, CVE-2011-0411 class).
//
// Driving it: on every socket chunk push(), then call next() until null, unless a command is running (then
// only while it waits for a raw line, after expectLine()). While a command runs, pause the socket when
// pendingBytes is large; resume when the command ends and next() returned null (the reader needs input).
import { isAtomChar, isTagChar } from './chars.js';
import type { FramedCommand } from './types.js';

/** The limits the reader enforces itself (a subset of server/imap/runtime.ts ImapLimits). */
export interface ReaderLimits {
  /** Longest line (literals excluded) before / after login. */
  readonly maxLineBytesPreAuth: number;
  readonly maxLineBytes: number;
  /** Literals in one command. */
  readonly maxLiteralsPerCommand: number;
  /** Largest literal before login. */
  readonly maxLiteralBytesPreAuth: number;
  /** All literals of one command together (MULTIAPPEND, CATENATE); at least one APPENDLIMIT-sized message. */
  readonly maxCommandBytes: number;
  /** Largest literal at all (the advertised APPENDLIMIT, RFC 7889). */
  readonly maxMessageBytes: number;
}

/** What the engine is asked about before a literal is read (after the reader's own limits passed). */
export interface LiteralRequest {
  readonly tag: string;
  /** Upper-cased command name (without UID). */
  readonly name: string;
  readonly uid: boolean;
  readonly size: number;
  /** `{n+}`: the client sends the bytes without waiting for `+`. */
  readonly nonSync: boolean;
  /** `~{n}` (literal8). */
  readonly binary: boolean;
  /** 0 for the command's first literal. */
  readonly literalIndex: number;
  /** The argument bytes so far, up to and including the literal announcement (joined when read). */
  readonly commandSoFar: Buffer;
  /** Length of commandSoFar, without joining it. */
  readonly bytesSoFar: number;
}

export type LiteralDecision = { readonly accept: true } | { readonly accept: false; readonly reply: string };

export interface ReaderOptions {
  readonly limits: ReaderLimits;
  /** Decides on a literal the limits allow (e.g. APPEND quota, command valid in this state). Default: accept. */
  readonly onLiteral?: (request: LiteralRequest) => LiteralDecision;
}

/**
 * What next() produced. Lines in `reply` are complete response lines without CRLF; the engine writes them.
 * - `command`  a framed command to dispatch.
 * - `line`     the raw line asked for with expectLine() (AUTHENTICATE data, IDLE's DONE), CRLF removed;
 *              `tooLong` when it exceeds the line cap (still delivered, so the waiting command can refuse it).
 * - `continue` a synchronizing literal was accepted: write `reply` (`+ Ready`) so the client sends it.
 * - `reject`   a command (or continuation line) was refused and dropped: write `reply`, read on.
 *              `tag` is the refused command's tag, null when untagged (invalid tag, raw line).
 * - `too-long` more than the line cap arrived without a line break: write `reply`, then BYE, and close.
 *              The reader is dead afterwards (next() returns null, push() drops input).
 */
export type ReaderEvent =
  | { readonly kind: 'command'; readonly command: FramedCommand }
  | { readonly kind: 'line'; readonly line: Buffer; readonly tooLong?: boolean }
  | { readonly kind: 'continue'; readonly reply: string }
  | { readonly kind: 'reject'; readonly tag: string | null; readonly reply: string }
  | { readonly kind: 'too-long'; readonly reply: string };

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const CRLF = Buffer.from('\r\n');

interface LiteralMark {
  readonly size: number;
  readonly nonSync: boolean;
  readonly binary: boolean;
  /** Where the announcement (`{` or `~{`) starts in the line. */
  readonly start: number;
}

/** Largest literal size we parse exactly; bigger announcements are simply "too large". */
const MAX_SIZE_DIGITS = 15;

/** A literal announcement at the very end of a line: `{digits}`, `{digits+}`, `~{digits}`, `~{digits+}`. */
function literalAtEnd(line: Buffer): LiteralMark | null {
  let i = line.length - 1;
  if (i < 2 || line[i] !== 0x7d) return null; // '}'
  i--;
  let nonSync = false;
  if (line[i] === 0x2b) {
    nonSync = true;
    i--;
  }
  const digitsEnd = i + 1;
  while (i >= 0 && (line[i] as number) >= 0x30 && (line[i] as number) <= 0x39) i--;
  const digits = digitsEnd - (i + 1);
  if (digits === 0 || i < 0 || line[i] !== 0x7b) return null; // '{'
  let start = i;
  const binary = i > 0 && line[i - 1] === 0x7e; // '~'
  if (binary) start--;
  const text = line.toString('latin1', i + 1, digitsEnd);
  const size = digits > MAX_SIZE_DIGITS ? Number.MAX_SAFE_INTEGER : Number(text);
  return { size, nonSync, binary, start };
}

type Mode =
  /** Between commands: the next line starts a command. */
  | { readonly kind: 'idle' }
  /** Inside a command, after a literal: the next line continues it. */
  | { readonly kind: 'continuation' }
  /** Reading the bytes of an accepted literal into the command. */
  | { readonly kind: 'literal'; remaining: number }
  /** Dropping the bytes of a refused non-synchronizing literal; afterwards the rest of the command. */
  | { readonly kind: 'skip-literal'; remaining: number }
  /** Dropping the lines that continue a refused command. */
  | { readonly kind: 'skip-lines' }
  | { readonly kind: 'dead' };

interface Building {
  readonly tag: string;
  readonly name: string;
  readonly uid: boolean;
  readonly parts: Buffer[];
  size: number;
  literals: number;
}

export class CommandReader {
  /** Received bytes: buf is store[0, used); framing has consumed buf[0, pos). */
  private store: Buffer = Buffer.alloc(0);
  private buf: Buffer = this.store;
  private pos = 0;
  /** Where the search for the next LF resumes (bytes before it, from pos, hold no LF). */
  private scanFrom = 0;
  private mode: Mode = { kind: 'idle' };
  private building: Building | null = null;
  private authenticated = false;
  private wantLine = false;
  private readonly limits: ReaderLimits;
  private readonly onLiteral: (request: LiteralRequest) => LiteralDecision;

  constructor(options: ReaderOptions) {
    this.limits = options.limits;
    this.onLiteral = options.onLiteral ?? ((): LiteralDecision => ({ accept: true }));
  }

  /** Stores bytes from the socket. Nothing is framed until next(). */
  push(chunk: Buffer): void {
    if (this.mode.kind === 'dead' || chunk.length === 0) return;
    const pending = this.buf.length - this.pos;
    if (pending === 0) {
      // Nothing waits: take the chunk as it is (no copy).
      this.store = chunk;
      this.buf = chunk;
      this.pos = 0;
      this.scanFrom = 0;
      return;
    }
    // Append into spare room of our own store; bytes before buf.length may be referenced by slices of the
    // command being framed, so they are never overwritten (growth copies into a new store instead).
    const used = this.buf.length;
    if (used + chunk.length <= this.store.length && this.store !== chunk) {
      chunk.copy(this.store, used);
      this.buf = this.store.subarray(0, used + chunk.length);
      return;
    }
    // Doubling keeps a line sent one byte at a time linear, not quadratic, in copies.
    const next = Buffer.allocUnsafe(Math.max(4096, 2 * (pending + chunk.length)));
    this.buf.copy(next, 0, this.pos);
    chunk.copy(next, pending);
    this.store = next;
    this.buf = next.subarray(0, pending + chunk.length);
    this.scanFrom = Math.max(0, this.scanFrom - this.pos);
    this.pos = 0;
  }

  /** Bytes received but not framed yet: the engine pauses the socket while this is large and it is busy. */
  get pendingBytes(): number {
    return this.buf.length - this.pos;
  }

  /** True while a command is partly framed (its literal or continuation line is still to come). */
  get midCommand(): boolean {
    return this.building !== null || this.mode.kind === 'skip-literal' || this.mode.kind === 'skip-lines';
  }

  /** The line cap now in force (after login the larger one). */
  get lineLimit(): number {
    return this.authenticated ? this.limits.maxLineBytes : this.limits.maxLineBytesPreAuth;
  }

  /** Switches to the authenticated limits (call after a successful LOGIN / AUTHENTICATE). */
  setAuthenticated(authenticated: boolean): void {
    this.authenticated = authenticated;
  }

  /** The next event will be a raw line (`line`), for a continuation request the engine just sent. */
  expectLine(): void {
    this.wantLine = true;
  }

  /** Cancels expectLine() (e.g. the command gave up waiting). */
  cancelLine(): void {
    this.wantLine = false;
  }

  /** Drops every byte received but not framed yet (after STARTTLS's tagged OK, before the TLS handshake). */
  discardBuffered(): void {
    this.store = Buffer.alloc(0);
    this.buf = this.store;
    this.pos = 0;
    this.scanFrom = 0;
    if (this.mode.kind !== 'dead') this.mode = { kind: 'idle' };
    this.building = null;
    this.wantLine = false;
  }

  /** Stops framing for good (connection closing). */
  close(): void {
    this.mode = { kind: 'dead' };
    this.store = Buffer.alloc(0);
    this.buf = this.store;
    this.pos = 0;
    this.scanFrom = 0;
    this.building = null;
    this.wantLine = false;
  }

  /** Frames as far as the next event; null when more input is needed (or the reader is dead). */
  next(): ReaderEvent | null {
    for (;;) {
      const mode = this.mode;
      switch (mode.kind) {
        case 'dead':
          return null;
        case 'literal': {
          const building = this.building as Building;
          const take = Math.min(mode.remaining, this.buf.length - this.pos);
          if (take > 0) {
            building.parts.push(this.buf.subarray(this.pos, this.pos + take));
            building.size += take;
            this.pos += take;
            this.scanFrom = this.pos;
            mode.remaining -= take;
          }
          if (mode.remaining > 0) return null;
          this.mode = { kind: 'continuation' };
          continue;
        }
        case 'skip-literal': {
          const take = Math.min(mode.remaining, this.buf.length - this.pos);
          this.pos += take;
          this.scanFrom = this.pos;
          mode.remaining -= take;
          if (mode.remaining > 0) return null;
          this.mode = { kind: 'skip-lines' };
          continue;
        }
        default:
          break;
      }
      const line = this.takeLine();
      if (line === null) return this.checkUnterminated();
      // A complete line over the cap: the command it belongs to is refused and the connection goes on.
      const event = line === 'too-long' ? this.refuseLongLine() : this.onLine(line);
      if (event) return event;
    }
  }

  /** The next complete line without its line break; null when none is complete; 'too-long' when over the cap. */
  private takeLine(): Buffer | null | 'too-long' {
    const lf = this.buf.indexOf(LF, Math.max(this.scanFrom, this.pos));
    if (lf < 0) {
      this.scanFrom = this.buf.length;
      return null;
    }
    const end = lf > this.pos && this.buf[lf - 1] === CR ? lf - 1 : lf;
    const line = this.buf.subarray(this.pos, end);
    this.pos = lf + 1;
    this.scanFrom = this.pos;
    this.tooLongLine = line.length > this.lineLimit ? line : null;
    return this.tooLongLine ? 'too-long' : line;
  }

  private tooLongLine: Buffer | null = null;

  private checkUnterminated(): ReaderEvent | null {
    if (this.buf.length - this.pos <= this.lineLimit) return null;
    this.close();
    return { kind: 'too-long', reply: '* BAD Line too long' };
  }

  private refuseLongLine(): ReaderEvent | null {
    const line = this.tooLongLine as Buffer;
    this.tooLongLine = null;
    const mark = literalAtEnd(line);
    if (this.wantLine && this.mode.kind === 'idle') {
      // The waiting command still gets its line (it will not parse as valid data), so it can answer and end.
      this.wantLine = false;
      return { kind: 'line', line: Buffer.from(line), tooLong: true };
    }
    if (this.mode.kind === 'skip-lines') {
      this.skipAfter(mark); // the command was refused already
      return null;
    }
    const tag = this.building ? this.building.tag : tagOf(line);
    this.building = null;
    this.skipAfter(mark);
    return { kind: 'reject', tag, reply: `${tag ?? '*'} BAD Line too long` };
  }

  /** After refusing a command whose last line announced `mark`: skip what the client sends anyway. */
  private skipAfter(mark: LiteralMark | null): void {
    if (mark?.nonSync) this.mode = { kind: 'skip-literal', remaining: mark.size };
    else this.mode = { kind: 'idle' };
  }

  private onLine(line: Buffer): ReaderEvent | null {
    const mode = this.mode;
    if (mode.kind === 'skip-lines') {
      // The refused command goes on: skip its further non-synchronizing literals; it ends with a line without
      // one (or with a synchronizing literal, which the client sends only after a `+` that never comes).
      this.skipAfter(literalAtEnd(line));
      return null;
    }
    if (mode.kind === 'continuation') {
      const building = this.building as Building;
      building.parts.push(line);
      building.size += line.length + 2;
      return this.afterLine(literalAtEnd(line));
    }
    if (this.wantLine) {
      this.wantLine = false;
      return { kind: 'line', line: Buffer.from(line) };
    }
    // An empty line is no command (Dovecot 2.3 answers it the same way, untagged).
    if (line.length === 0) return { kind: 'reject', tag: null, reply: '* BAD Empty command line' };
    return this.startCommand(line);
  }

  private startCommand(line: Buffer): ReaderEvent | null {
    const mark = literalAtEnd(line);
    let i = 0;
    while (i < line.length && isTagChar(line[i] as number)) i++;
    if (i === 0 || (i < line.length && line[i] !== SP)) {
      this.skipAfter(mark);
      return { kind: 'reject', tag: null, reply: '* BAD Invalid tag' };
    }
    const tag = line.toString('latin1', 0, i);
    if (i >= line.length) {
      this.skipAfter(mark);
      return { kind: 'reject', tag, reply: `${tag} BAD Missing command` };
    }
    let start = i + 1;
    let name = this.word(line, start);
    let uid = false;
    if (name !== null && name.toUpperCase() === 'UID' && line[start + name.length] === SP) {
      uid = true;
      start += name.length + 1;
      name = this.word(line, start);
    }
    const after = name === null ? -1 : start + name.length;
    if (name === null || (after < line.length && line[after] !== SP) || (mark && mark.start < after)) {
      this.skipAfter(mark);
      return { kind: 'reject', tag, reply: `${tag} BAD Invalid command` };
    }
    const building: Building = {
      tag,
      name: name.toUpperCase(),
      uid,
      parts: [after < line.length ? line.subarray(after + 1) : Buffer.alloc(0)],
      size: line.length + 2,
      literals: 0,
    };
    this.building = building;
    return this.afterLine(mark);
  }

  /** The atom at `start` (command names are atoms), null when there is none. */
  private word(line: Buffer, start: number): string | null {
    let i = start;
    while (i < line.length && isAtomChar(line[i] as number)) i++;
    return i === start ? null : line.toString('latin1', start, i);
  }

  /** A command line was added to `building`: finish the command, or judge its literal. */
  private afterLine(mark: LiteralMark | null): ReaderEvent | null {
    const building = this.building as Building;
    if (!mark) {
      this.building = null;
      this.mode = { kind: 'idle' };
      const args = building.parts.length === 1 ? Buffer.from(building.parts[0] as Buffer) : Buffer.concat(building.parts);
      return { kind: 'command', command: { tag: building.tag, name: building.name, uid: building.uid, args, size: building.size } };
    }
    const refusal = this.judge(building, mark);
    if (refusal !== null) {
      this.building = null;
      this.skipAfter(mark);
      return { kind: 'reject', tag: building.tag, reply: refusal };
    }
    building.literals++;
    building.parts.push(CRLF);
    this.mode = { kind: 'literal', remaining: mark.size };
    if (mark.nonSync) return null;
    return { kind: 'continue', reply: '+ Ready' };
  }

  /** The reader's own limits, then the engine's decision; the reply line when refused. */
  private judge(building: Building, mark: LiteralMark): string | null {
    const tag = building.tag;
    if (building.literals + 1 > this.limits.maxLiteralsPerCommand) return `${tag} BAD Too many literals in one command`;
    if (!this.authenticated && mark.size > this.limits.maxLiteralBytesPreAuth) return `${tag} BAD Literal too large before login`;
    if (mark.size > this.limits.maxMessageBytes) {
      return `${tag} NO [TOOBIG] Message exceeds the APPENDLIMIT of ${this.limits.maxMessageBytes} bytes`;
    }
    const parts = building.parts.slice();
    const bytesSoFar = parts.reduce((sum, part) => sum + part.length, 0);
    // One MULTIAPPEND may carry maxLiteralsPerCommand messages: bound the bytes one command may make us hold.
    if (bytesSoFar + mark.size > Math.max(this.limits.maxCommandBytes, this.limits.maxMessageBytes + this.limits.maxLineBytes)) {
      return `${tag} NO [TOOBIG] The command's literals exceed ${this.limits.maxCommandBytes} bytes together`;
    }
    const decision = this.onLiteral({
      tag,
      name: building.name,
      uid: building.uid,
      size: mark.size,
      nonSync: mark.nonSync,
      binary: mark.binary,
      literalIndex: building.literals,
      bytesSoFar,
      get commandSoFar(): Buffer {
        return Buffer.concat(parts);
      },
    });
    return decision.accept ? null : decision.reply;
  }
}

/** The tag of a line if it has a valid one (for replies to refused lines), else null. */
function tagOf(line: Buffer): string | null {
  let i = 0;
  while (i < line.length && isTagChar(line[i] as number)) i++;
  if (i === 0 || i > 64 || (i < line.length && line[i] !== SP)) return null;
  return line.toString('latin1', 0, i);
}
