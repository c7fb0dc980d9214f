// Encodes response values (wire/types.ts Value) to bytes per RFC 9051 §4 / §9: strings are quoted when they
// can be (short 7-bit text, or UTF-8 once the client enabled it) and literals otherwise; large bodies stay
// StreamedLiteral pieces that the engine reads and writes with backpressure (writePieces).
import { encodeMutf7 } from './mutf7.js';
import type { StreamedLiteral, Value } from './types.js';

export interface EncodeOptions {
  /** UTF8=ACCEPT / IMAP4rev2: 8-bit UTF-8 may be sent in quoted strings (RFC 6855 §3, RFC 9051 §9). */
  readonly utf8: boolean;
}

/** Encoded output: Buffers to write as they are, and streamed literal bodies (their `{n}` header precedes them). */
export type EncodedPiece = Buffer | StreamedLiteral;

/** Longest string sent as a quoted string; longer ones become literals (Dovecot uses a similar bound). */
export const MAX_QUOTED_BYTES = 1000;

const isStreamed = (value: Value): value is StreamedLiteral =>
  value !== null && !Array.isArray(value) && typeof value === 'object' && 'streamed' in value;

/** Can `bytes` go in a quoted string? TEXT-CHAR without CR/LF/NUL; 8-bit only as valid UTF-8 when `utf8`. */
function quotable(bytes: Buffer, utf8: boolean): boolean {
  if (bytes.length > MAX_QUOTED_BYTES) return false;
  let eightBit = false;
  for (const b of bytes) {
    if (b === 0x00 || b === 0x0a || b === 0x0d) return false;
    if (b >= 0x80) {
      if (!utf8) return false;
      eightBit = true;
    }
  }
  // A round trip through a JS string tells well-formed UTF-8 from arbitrary 8-bit bytes.
  return !eightBit || Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

/** A string as quoted string or literal, whichever the bytes allow (RFC 9051 §4.3). */
export function quotedOrLiteral(data: string | Buffer, utf8: boolean): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (!quotable(bytes, utf8)) return Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`, 'latin1'), bytes]);
  let escapes = 0;
  for (const b of bytes) if (b === 0x22 || b === 0x5c) escapes++;
  const out = Buffer.allocUnsafe(bytes.length + escapes + 2);
  let o = 0;
  out[o++] = 0x22;
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) out[o++] = 0x5c;
    out[o++] = b;
  }
  out[o] = 0x22;
  return out;
}

/** An atom value (flags, keywords, numbers). */
export const atom = (text: string): Value => ({ atom: text });

/** nstring: NIL for null/undefined, else a string. */
export const nstring = (data: string | Buffer | null | undefined): Value => (data === null || data === undefined ? null : { string: data });

/** A mailbox path as sent to the client: modified UTF-7 (RFC 3501 §5.1.3) unless UTF-8 is enabled. */
export const mailboxName = (path: string, utf8: boolean): Value => ({ string: utf8 ? path : encodeMutf7(path) });

const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * INTERNALDATE text `dd-Mon-yyyy hh:mm:ss +zzzz` (RFC 9051 §9 date-time, without its DQUOTEs: send it as
 * `{ string }`), in the zone `offsetMinutes` east of UTC (default +0000).
 */
export function formatInternalDate(date: Date, offsetMinutes = 0): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return (
    `${pad(local.getUTCDate())}-${MONTH_NAMES[local.getUTCMonth()] as string}-${pad(local.getUTCFullYear(), 4)} ` +
    `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/** A compact sequence set for a list of numbers (`1:3,7`); sorted, duplicates dropped; '' when empty. */
export function sequenceSetText(numbers: readonly number[]): string {
  const sorted = [...numbers].sort((a, b) => a - b);
  const out: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const first = sorted[i] as number;
    let last = first;
    i++;
    while (i < sorted.length && (sorted[i] as number) <= last + 1) last = sorted[i++] as number;
    out.push(first === last ? String(first) : `${first}:${last}`);
  }
  return out.join(',');
}

/**
 * Bytes from which a literal's body stays a piece of its own instead of being joined with the text around it:
 * copying a message body into the line costs more than one more buffer in the socket's gathered write.
 */
export const SEPARATE_PIECE_BYTES = 4096;

/** Collects output, joining adjacent text into one Buffer; large literal bodies are kept as they are. */
class Pieces {
  readonly out: EncodedPiece[] = [];
  private pending: Buffer[] = [];

  text(text: string): void {
    this.pending.push(Buffer.from(text, 'utf8'));
  }

  bytes(bytes: Buffer): void {
    if (bytes.length < SEPARATE_PIECE_BYTES) {
      this.pending.push(bytes);
      return;
    }
    this.flush();
    this.out.push(bytes);
  }

  streamed(literal: StreamedLiteral): void {
    this.text(`${literal.binary ? '~' : ''}{${literal.length}}\r\n`);
    this.flush();
    this.out.push(literal);
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.out.push(this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending));
    this.pending = [];
  }
}

function encodeInto(value: Value | string, pieces: Pieces, options: EncodeOptions): void {
  if (typeof value === 'string') return pieces.text(value);
  if (value === null) return pieces.text('NIL');
  if (Array.isArray(value)) {
    pieces.text('(');
    (value as readonly Value[]).forEach((item, i) => {
      if (i > 0) pieces.text(' ');
      encodeInto(item, pieces, options);
    });
    return pieces.text(')');
  }
  if (isStreamed(value as Value)) return pieces.streamed(value as StreamedLiteral);
  const v = value as Exclude<Value, null | StreamedLiteral | readonly Value[]>;
  if ('atom' in v) return pieces.text(v.atom);
  if ('raw' in v) return pieces.text(v.raw);
  if ('string' in v) return pieces.bytes(quotedOrLiteral(v.string, options.utf8));
  pieces.text(`${v.binary ? '~' : ''}{${v.literal.length}}\r\n`);
  pieces.bytes(v.literal);
}

/** Encodes one value (a plain string is inserted verbatim). */
export function encodeValue(value: Value | string, options: EncodeOptions): EncodedPiece[] {
  const pieces = new Pieces();
  encodeInto(value, pieces, options);
  pieces.flush();
  return pieces.out;
}

/** A whole response line: `prefix` then the values joined by SP, then CRLF (e.g. prefix '* 3 FETCH'). */
export function encodeLine(prefix: string, values: readonly (Value | string)[], options: EncodeOptions): EncodedPiece[] {
  const pieces = new Pieces();
  pieces.text(prefix);
  for (const value of values) {
    pieces.text(' ');
    encodeInto(value, pieces, options);
  }
  pieces.text('\r\n');
  pieces.flush();
  return pieces.out;
}

/** Size in bytes of encoded pieces (streamed literals by their length). */
export const piecesLength = (pieces: readonly EncodedPiece[]): number =>
  pieces.reduce((sum, p) => sum + (Buffer.isBuffer(p) ? p.length : p.length), 0);

/**
 * Writes pieces in order through `write`, which resolves when the socket can take more (backpressure);
 * streamed literals are read `chunkBytes` at a time. A short read ends the literal with an error, since the
 * announced length can no longer be met (the engine must then close the connection).
 */
export async function writePieces(
  pieces: readonly EncodedPiece[],
  write: (chunk: Buffer) => Promise<void> | void,
  chunkBytes = 256 * 1024,
): Promise<void> {
  for (const piece of pieces) {
    if (Buffer.isBuffer(piece)) {
      await write(piece);
      continue;
    }
    for (let offset = 0; offset < piece.length; ) {
      const end = Math.min(piece.length, offset + chunkBytes);
      const chunk = await piece.read(offset, end);
      if (chunk.length !== end - offset) throw new Error('streamed literal returned a short read');
      await write(chunk);
      offset = end;
    }
  }
}
