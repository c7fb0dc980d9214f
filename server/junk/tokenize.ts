// The junk classifier's tokenizer: a message's bytes become a set of features (words of the subject and of the
// text parts, selected header values, URL hosts, MIME part types). One linear pass over at most `maxBytes` of the
// message; a MIME walk with a bounded boundary stack; a bounded number of distinct tokens. Pure: no I/O.

/** Caps on what one message may cost the classifier (docs/security.md). */
export interface TokenizeLimits {
  /** Bytes of the message read (headers and body); the rest is ignored. */
  readonly maxBytes: number;
  /** Distinct tokens kept per message. */
  readonly maxTokens: number;
  /** Longest word kept as itself; a longer one becomes a `skip:` token of its first letter and length bucket. */
  readonly maxTokenLength: number;
}

export const DEFAULT_TOKENIZE_LIMITS: TokenizeLimits = { maxBytes: 256 * 1024, maxTokens: 2000, maxTokenLength: 24 };

/** Nested multipart boundaries followed; deeper parts are read as text of the enclosing part. */
const MAX_MIME_DEPTH = 16;

/** Headers whose values carry words worth learning (others count by their name only). */
const WORD_HEADERS = new Set(['subject', 'from', 'reply-to', 'to', 'cc', 'x-mailer', 'user-agent', 'content-type', 'organization', 'list-id']);
/** Headers our own server adds or that carry a verdict: never learned from (a sender could forge them). */
const IGNORED_HEADERS = new Set(['x-sealpost-junk', 'authentication-results', 'x-sealpost-dnsbl', 'arc-authentication-results', 'x-spam-status', 'x-spam-flag', 'x-spam-level', 'x-spam-checker-version']);

class TokenSet {
  readonly tokens = new Set<string>();
  constructor(private readonly limits: TokenizeLimits) {}
  get full(): boolean {
    return this.tokens.size >= this.limits.maxTokens;
  }
  add(token: string): void {
    if (!this.full) this.tokens.add(token);
  }
  /** Adds the words of free text, each with `prefix`. */
  words(text: string, prefix = ''): void {
    const max = this.limits.maxTokenLength;
    for (const raw of text.split(/[\s\u00a0]+/)) {
      if (this.full) return;
      const word = raw.replace(/^[^\p{L}\p{N}$€£]+|[^\p{L}\p{N}$€£%!]+$/gu, '').toLowerCase();
      if (word.length < 3) continue;
      if (word.length > max) {
        // Long runs (encoded blobs, hashes) say little each; their shape does.
        this.add(`${prefix}skip:${word[0]} ${Math.floor(word.length / 10) * 10}`);
        continue;
      }
      this.add(prefix + word);
    }
  }
}

interface PartHeader {
  readonly type: string;
  readonly encoding: string;
  readonly charset: string;
  readonly boundary: string | null;
}

/** Unfolded header fields of a header block, names lower-cased, in order. */
function headerFields(block: string): { name: string; value: string }[] {
  const fields: { name: string; value: string }[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length) {
      fields[fields.length - 1]!.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

function param(value: string, name: string): string | null {
  const match = new RegExp(`(?:^|;)\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(value);
  return match ? (match[1] ?? match[2] ?? null) : null;
}

function partHeader(fields: readonly { name: string; value: string }[]): PartHeader {
  const ctype = fields.find((f) => f.name === 'content-type')?.value ?? 'text/plain';
  const type = (/^[^;\s]+/.exec(ctype)?.[0] ?? 'text/plain').toLowerCase();
  return {
    type,
    encoding: (fields.find((f) => f.name === 'content-transfer-encoding')?.value ?? '').toLowerCase().trim(),
    charset: (param(ctype, 'charset') ?? 'utf-8').toLowerCase(),
    boundary: type.startsWith('multipart/') ? param(ctype, 'boundary') : null,
  };
}

/** RFC 2047 encoded words decoded (B and Q), so subjects in any charset yield their words. */
function decodeEncodedWords(value: string): string {
  return value.replace(/=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g, (_, charset: string, kind: string, text: string) => {
    const bytes = kind.toLowerCase() === 'b' ? Buffer.from(text, 'base64') : qpBytes(text.replace(/_/g, ' '));
    return decodeText(bytes, charset);
  });
}

function qpBytes(text: string): Buffer {
  const unfolded = text.replace(/=\r?\n/g, '');
  const out: number[] = [];
  for (let i = 0; i < unfolded.length; i++) {
    const c = unfolded.charCodeAt(i);
    if (c === 0x3d && /^[0-9A-Fa-f]{2}$/.test(unfolded.slice(i + 1, i + 3))) {
      out.push(parseInt(unfolded.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(c & 0xff);
  }
  return Buffer.from(out);
}

function decodeText(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset, { fatal: false }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

const HTML_ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Visible text of HTML, plus tokens for what spam uses it for (links, images, hidden tricks). */
function htmlText(html: string, set: TokenSet): string {
  for (const match of html.matchAll(/<(img|a|form|script|iframe|font|table)\b/gi)) set.add(`html:${match[1]!.toLowerCase()}`);
  return html
    .replace(/<(style|script)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<[^>]{0,2000}>/g, ' ')
    .replace(/&(#?)([a-z0-9]{1,8});/gi, (all, hash: string, name: string) => {
      if (hash) {
        const code = /^x/i.test(name) ? parseInt(name.slice(1), 16) : parseInt(name, 10);
        return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
      }
      return HTML_ENTITIES[name.toLowerCase()] ?? all;
    });
}

function urlTokens(text: string, set: TokenSet): void {
  for (const match of text.matchAll(/\b(?:https?|ftp):\/\/([^\s/"'<>?#:]{1,253})/gi)) {
    if (set.full) return;
    const host = match[1]!.toLowerCase();
    set.add(/^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'url:ip-address' : `url:${host.split('.').slice(-2).join('.')}`);
  }
}

function bodyPart(header: PartHeader, body: Buffer, set: TokenSet): void {
  if (!header.type.startsWith('text/')) {
    set.add(`part:${header.type}`);
    return;
  }
  let bytes = body;
  if (header.encoding === 'base64') bytes = Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  else if (header.encoding === 'quoted-printable') bytes = qpBytes(body.toString('latin1'));
  let text = decodeText(bytes, header.charset);
  // Links in attributes (href, src) count as much as those in the text.
  urlTokens(text, set);
  if (header.type === 'text/html') {
    set.add('part:text/html');
    text = htmlText(text, set);
  }
  set.words(text.replace(/\b(?:https?|ftp):\/\/\S+/gi, ' '));
}

function headerTokens(fields: readonly { name: string; value: string }[], set: TokenSet): void {
  for (const { name, value } of fields) {
    if (IGNORED_HEADERS.has(name)) continue;
    set.add(`header:${name.slice(0, 40)}`);
    if (!WORD_HEADERS.has(name)) continue;
    const decoded = decodeEncodedWords(value);
    if (name === 'from' || name === 'reply-to' || name === 'to' || name === 'cc') {
      for (const match of decoded.matchAll(/@([a-z0-9.-]{1,253})/gi)) set.add(`${name}:domain:${match[1]!.toLowerCase()}`);
    }
    set.words(decoded, `${name}:`);
  }
}

/** Where the header block ends: the offset of the blank line and the offset after it (or the end, both). */
function splitHeader(raw: Buffer, from = 0): { end: number; bodyStart: number } {
  const crlf = raw.indexOf('\r\n\r\n', from);
  const lf = raw.indexOf('\n\n', from);
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { end: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { end: lf, bodyStart: lf + 2 };
  return { end: raw.length, bodyStart: raw.length };
}

/**
 * The distinct tokens of a message (at most `limits.maxTokens`), reading at most `limits.maxBytes` of it. `extra`
 * tokens (verdicts our own MX recorded) come first so the cap never drops them.
 */
export function tokenize(message: Buffer, limits: TokenizeLimits = DEFAULT_TOKENIZE_LIMITS, extra: readonly string[] = []): string[] {
  const raw = message.length > limits.maxBytes ? message.subarray(0, limits.maxBytes) : message;
  const set = new TokenSet(limits);
  for (const token of extra) set.add(token);
  // An mbox "From " line before the header (archives, the evaluation corpus) is not part of the message.
  let start = 0;
  if (raw.subarray(0, 5).toString('latin1') === 'From ') start = raw.indexOf('\n') + 1 || raw.length;
  const { end, bodyStart } = splitHeader(raw, start);
  const fields = headerFields(raw.subarray(start, end).toString('latin1'));
  headerTokens(fields, set);
  walkBody(partHeader(fields), raw.subarray(bodyStart), set);
  return [...set.tokens];
}

/** One linear pass over the body: boundary lines open and close parts; each leaf part is tokenized once. */
function walkBody(top: PartHeader, body: Buffer, set: TokenSet): void {
  if (!top.boundary) {
    bodyPart(top, body, set);
    return;
  }
  const boundaries: string[] = [top.boundary];
  let current: PartHeader | null = null; // null: preamble/epilogue or a part header being read
  let partStart = 0;
  let headerStart = -1;
  let offset = 0;
  while (offset < body.length && !set.full) {
    let next = body.indexOf(0x0a, offset);
    if (next < 0) next = body.length;
    const lineEnd = next > offset && body[next - 1] === 0x0d ? next - 1 : next;
    const isDelimiter = body[offset] === 0x2d && body[offset + 1] === 0x2d && lineEnd - offset <= 76;
    const line = isDelimiter ? body.subarray(offset + 2, lineEnd).toString('latin1').trimEnd() : null;
    const level = line === null ? -1 : boundaries.findIndex((b) => line === b || line === `${b}--`);
    if (level >= 0 && line !== null) {
      if (current && headerStart < 0) bodyPart(current, body.subarray(partStart, offset), set);
      current = null;
      boundaries.length = level + 1;
      if (line.endsWith('--') && line === `${boundaries[level]}--`) {
        boundaries.length = level;
        headerStart = -1;
      } else headerStart = next + 1;
    } else if (headerStart >= 0 && lineEnd === offset) {
      // The blank line ending a part header.
      const header = partHeader(headerFields(body.subarray(headerStart, offset).toString('latin1')));
      headerStart = -1;
      if (header.boundary && boundaries.length < MAX_MIME_DEPTH) {
        set.add(`part:${header.type}`);
        boundaries.push(header.boundary);
      } else {
        current = header;
        partStart = next + 1;
      }
    }
    offset = next + 1;
  }
  if (current && headerStart < 0) bodyPart(current, body.subarray(partStart), set);
}
