// The wire contract of our IMAP protocol engine: how a command's bytes are framed (reader.ts), read
// argument by argument against the RFC 9051 / RFC 3501 grammar (cursor.ts), and how response values are
// encoded (encode.ts). Command modules (server/imap/commands/) see only these types.

/** One complete command as framed by the reader: the tag, the command name, and the argument bytes. */
export interface FramedCommand {
  /** The tag exactly as sent (validated `tag` grammar; a bad tag never reaches a command). */
  readonly tag: string;
  /** Upper-cased command name; `UID FETCH` etc. are two words here: name 'FETCH' with uid true. */
  readonly name: string;
  readonly uid: boolean;
  /**
   * Everything after the name (after its single SP), CRLF of the last line removed; literals are inline
   * exactly as sent: `{5}\r\nhello`, `{5+}\r\nhello`, `~{5}\r\n…` (literal8).
   */
  readonly args: Buffer;
  /** Total bytes of the command (lines + literals), for logs and limits. */
  readonly size: number;
}

/** A syntax error: the command gets `tag BAD <message>` (RFC 9051 §7.1.5). Never contains client bytes. */
export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseError';
  }
}

/** `*` in a sequence set. */
export const STAR = Infinity;

/**
 * A parsed sequence set: inclusive ranges as written, `*` as STAR (Infinity). Ranges are NOT normalised
 * here (`4:2` stays [4, 2]); resolve them against a mailbox with engine/selected.ts. `$` (RFC 5182
 * SEARCHRES) is its own variant.
 */
export type SequenceSet = { readonly kind: 'set'; readonly ranges: readonly (readonly [number, number])[] } | { readonly kind: 'saved' };

/** A FETCH/BINARY section spec, in the shape server/mime's fetchSection takes (path '' is the whole message). */
export interface SectionRef {
  /** Part number path: '', '1', '1.2', … */
  readonly path: string;
  /** '' (whole part), HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME (upper-cased). */
  readonly text: '' | 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  /** Field names for HEADER.FIELDS[.NOT], as sent (case kept). */
  readonly fields?: readonly string[];
}

export interface Partial {
  readonly start: number;
  /** Absent for `<start>` forms that allow it (none in FETCH, kept for BINARY.PEEK ranges). */
  readonly length?: number;
}

/** Options the cursor needs from the session. */
export interface CursorOptions {
  /** UTF8=ACCEPT enabled (RFC 6855) or IMAP4rev2: mailbox names are UTF-8, not modified UTF-7. */
  readonly utf8: boolean;
  /** SEARCHRES advertised: `$` is a legal sequence set. */
  readonly searchRes: boolean;
}

/**
 * Reads one command's arguments left to right. Every method either consumes exactly its production or throws
 * ParseError (consuming nothing useful: the command is answered BAD and the cursor discarded).
 * Strings are returned as Buffers where the grammar allows 8-bit data, as JS strings where it is ASCII.
 */
export interface Cursor {
  readonly options: CursorOptions;
  /** True when every byte was consumed. */
  atEnd(): boolean;
  /** Throws ParseError unless atEnd(). */
  end(): void;
  /** The next byte as a character without consuming it ('' at end). */
  peek(): string;
  /** Upper-cased next atom without consuming it ('' when the next token is not an atom). */
  peekAtom(): string;
  /** Exactly one SP. */
  sp(): void;
  /** Consumes one SP if present. */
  trySp(): boolean;
  /** Consumes `text` case-insensitively (a keyword such as `BODY.PEEK[`, `(`, `)`), else ParseError. */
  expect(text: string): void;
  /** Consumes `text` case-insensitively if it comes next (and is followed by a delimiter when alphanumeric). */
  tryKeyword(text: string): boolean;
  /** atom (ATOM-CHAR+), upper-cased unless `keepCase`. */
  atom(keepCase?: boolean): string;
  /** number (RFC 9051 `number`, ≤ 2^32-1). */
  number(): number;
  /** nz-number. */
  nzNumber(): number;
  /** number64 (mod-sequence values, ≤ 2^63-1; returned as a JS number, exact up to 2^53). */
  number64(): number;
  /** quoted / literal / literal8 (when allowed) → bytes. */
  string(): Buffer;
  /** astring: atom-ish (ASTRING-CHAR+, `]` allowed) or string. */
  astring(): Buffer;
  /** nstring: NIL or string (null for NIL). */
  nstring(): Buffer | null;
  /**
   * A mailbox name (astring): `INBOX` in any case becomes 'INBOX'; modified UTF-7 (RFC 3501 §5.1.3) is decoded
   * unless options.utf8; result is the store's path with '/' as separator. Illegal mUTF-7 → ParseError.
   */
  mailbox(): string;
  /** list-mailbox (RFC 9051): 1*list-char (atom chars plus `%`, `*`, `]`) or string; decoded like mailbox(). */
  listMailbox(): string;
  /** A literal only (`{n}`, `{n+}` or, when `allow8`, `~{n}`); `binary` true for literal8. */
  literal(allow8?: boolean): { readonly data: Buffer; readonly binary: boolean };
  /** sequence-set (and `$` when options.searchRes). Legal: `1,*`, `*:3`, `4:2`, `1:*`; illegal: `0`, `1:`, `,1`. */
  sequenceSet(): SequenceSet;
  /** flag (`\Seen` … or a keyword atom; `\*` only when `allowStar`), case kept for keywords, system flags canonical-cased. */
  flag(allowStar?: boolean): string;
  /** `(` flag *(SP flag) `)` — empty list allowed. */
  flagList(): string[];
  /** date-time `"dd-Mon-yyyy hh:mm:ss +zzzz"`. */
  dateTime(): Date;
  /** date (`d-Mon-yyyy` or quoted) → 'YYYY-MM-DD'. */
  date(): string;
  /** `(` item *(SP item) `)`; `allowEmpty` permits `()`. */
  list<T>(item: (cursor: Cursor) => T, allowEmpty?: boolean): T[];
  /** `[` section-spec `]` after `BODY`/`BODY.PEEK`/`BINARY`… (caller consumed the keyword, cursor is at `[`). */
  section(): SectionRef;
  /** `<` number `.` nz-number `>` if present, else null. */
  partial(): Partial | null;
}

/**
 * A response value (encode.ts turns it into bytes):
 * - `{ atom }`  written as is (flags, numbers, keywords, already-valid atoms)
 * - `{ string }` quoted when it can be, a literal otherwise (8-bit, CR/LF, long); `utf8` allows 8-bit in quoted strings
 * - `{ literal }` always a literal (`~{n}` when `binary`)
 * - `{ streamed }` a literal written piece by piece with backpressure (large BODY[] / BINARY[])
 * - `null` NIL; arrays are parenthesised lists; `{ raw }` is inserted verbatim (section keys like `BODY[1]<0>`).
 */
export type Value =
  | null
  | { readonly atom: string }
  | { readonly string: string | Buffer }
  | { readonly literal: Buffer; readonly binary?: boolean }
  | StreamedLiteral
  | { readonly raw: string }
  | readonly Value[];

export interface StreamedLiteral {
  readonly streamed: true;
  readonly length: number;
  readonly binary?: boolean;
  /** Reads bytes [offset, end) of the literal. */
  readonly read: (offset: number, end: number) => Promise<Buffer>;
}
