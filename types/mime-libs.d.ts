// Minimal declarations for the mail-decoding libraries server/mime uses (transitive deps of
// wildduck/mailparser). Only what we call.
declare module 'libmime' {
  interface Libmime {
    /** Decodes RFC 2047 encoded words in a header value. Throws on unknown charsets. */
    decodeWords(value: string): string;
    /** Undoes format=flowed soft line breaks. */
    decodeFlowed(text: string, delSp?: boolean): string;
  }
  const libmime: Libmime;
  export default libmime;
}

declare module 'libmime/lib/charset.js' {
  /** Decodes bytes in a named charset (iconv-lite behind it). */
  export function decode(data: Buffer, charset: string): string;
  /** Maps aliases (e.g. "latin1", "win-1252") to the canonical charset name. */
  export function normalizeCharset(charset: string): string;
}

declare module 'libqp' {
  /** Decodes quoted-printable text into bytes. */
  export function decode(text: string): Buffer;
}

declare module 'html-to-text' {
  export function convert(html: string, options?: Record<string, unknown>): string;
}
