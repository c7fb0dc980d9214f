// Character classes of the IMAP formal syntax (RFC 9051 §9), shared by the reader, cursor and encoder.

/** ATOM-CHAR: any CHAR (%x01-7F) except atom-specials `(` `)` `{` SP CTL `%` `*` `"` `\` `]`. */
export function isAtomChar(c: number): boolean {
  if (c <= 0x1f || c >= 0x7f) return false;
  return c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x20 && c !== 0x25 && c !== 0x2a && c !== 0x22 && c !== 0x5c && c !== 0x5d;
}

/** tag = 1*<any ASTRING-CHAR except "+">: ATOM-CHAR or `]`, without `+`. */
export function isTagChar(c: number): boolean {
  return c !== 0x2b && (c === 0x5d || isAtomChar(c));
}
