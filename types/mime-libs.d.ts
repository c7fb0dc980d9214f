// Minimal declarations for the mail-decoding libraries server/mime uses (transitive deps of
// wildduck/mailparser). Only what we call.
declare module 'libmime' {
  interface Libmime {
    /** Decodes RFC 2047 encoded words in a header value. Throws on unknown charsets. */
    decodeWords(value: string): string;
    /** Undoes format=flowed soft line breaks. */
    decodeFlowed(text: string, delSp?: boolean): string;
    /** Encodes non-ASCII runs of a header value as RFC 2047 encoded words ('Q' or 'B'), lines of at most maxLength. */
    encodeWords(value: string, mimeWordEncoding?: 'Q' | 'B', maxLength?: number): string;
  }
  const libmime: Libmime;
  export default libmime;
}

// CommonJS objects: import the default export (Node's ESM loader finds no named exports in them).
declare module 'libmime/lib/charset.js' {
  const charset: {
    /** Decodes bytes in a named charset (iconv-lite behind it). */
    decode(data: Buffer, charset: string): string;
  };
  export default charset;
}

declare module 'libqp' {
  const libqp: {
    /** Decodes quoted-printable text into bytes. */
    decode(text: string): Buffer;
  };
  export default libqp;
}

declare module 'he' {
  const he: {
    /** Decodes HTML character references (named, decimal, hex). */
    decode(html: string): string;
  };
  export default he;
}
