// RFC 5322 §3.4 address lists (with the obsolete forms of §4.4: source routes, comments anywhere, empty list
// elements) read into the pieces an IMAP ENVELOPE address structure carries (RFC 3501 §7.4.2 / RFC 9051
// §7.5.2): display name, source route, mailbox, host, and group start/end markers. nodemailer's addressparser
// (used for search text) folds comments into names and drops source routes, so ENVELOPE has its own reader.
// Where the RFCs leave a choice open, the answers follow Dovecot 2.3: an addr-spec without angle brackets
// takes its comment as name, comments elsewhere are dropped, a missing local part or domain is reported as
// MISSING_MAILBOX / MISSING_DOMAIN (a NIL host would mean group syntax), quoted strings lose their quotes.

export type EnvelopeAddress =
  | { readonly kind: 'mailbox'; readonly name: string | null; readonly route: string | null; readonly mailbox: string; readonly host: string }
  | { readonly kind: 'group-start'; readonly name: string }
  | { readonly kind: 'group-end' };

export const MISSING_MAILBOX = 'MISSING_MAILBOX';
export const MISSING_DOMAIN = 'MISSING_DOMAIN';

type Token =
  | { readonly type: 'atom'; readonly text: string; readonly spaceBefore: boolean }
  | { readonly type: 'quoted'; readonly text: string; readonly spaceBefore: boolean }
  | { readonly type: 'comment'; readonly text: string; readonly spaceBefore: boolean }
  | { readonly type: 'literal'; readonly text: string; readonly spaceBefore: boolean }
  | { readonly type: 'special'; readonly text: string; readonly spaceBefore: boolean };

const SPECIALS = new Set(['<', '>', ',', ':', ';', '@']);
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

/** Splits an unfolded field value into atoms (dots included), quoted strings, comments, domain literals and specials. */
function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let space = false;
  while (i < value.length) {
    const c = value[i] as string;
    if (isSpace(c)) {
      space = true;
      i++;
      continue;
    }
    if (c === '"') {
      let text = '';
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < value.length) i++;
        text += value[i];
        i++;
      }
      i++; // closing quote (an unterminated string runs to the end)
      tokens.push({ type: 'quoted', text, spaceBefore: space });
    } else if (c === '(') {
      let depth = 1;
      let text = '';
      i++;
      while (i < value.length && depth > 0) {
        const d = value[i] as string;
        if (d === '\\' && i + 1 < value.length) {
          text += value[i + 1];
          i += 2;
          continue;
        }
        if (d === '(') depth++;
        if (d === ')') depth--;
        if (depth > 0) text += d;
        i++;
      }
      tokens.push({ type: 'comment', text: text.replace(/\s+/g, ' ').trim(), spaceBefore: space });
    } else if (c === '[') {
      const end = value.indexOf(']', i);
      const stop = end < 0 ? value.length : end + 1;
      tokens.push({ type: 'literal', text: value.slice(i, stop), spaceBefore: space });
      i = stop;
    } else if (SPECIALS.has(c)) {
      tokens.push({ type: 'special', text: c, spaceBefore: space });
      i++;
    } else {
      let j = i;
      while (j < value.length) {
        const d = value[j] as string;
        if (isSpace(d) || d === '"' || d === '(' || d === '[' || SPECIALS.has(d)) break;
        j++;
      }
      if (j === i) j++; // a stray ')' or ']'
      tokens.push({ type: 'atom', text: value.slice(i, j), spaceBefore: space });
      i = j;
    }
    space = false;
  }
  return tokens;
}

class AddressReader {
  private pos = 0;
  readonly out: EnvelopeAddress[] = [];

  constructor(private readonly tokens: readonly Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private isSpecial(token: Token | undefined, text: string): boolean {
    return token?.type === 'special' && token.text === text;
  }

  read(): EnvelopeAddress[] {
    while (this.pos < this.tokens.length) {
      if (this.isSpecial(this.peek(), ',')) {
        this.pos++;
        continue;
      }
      const before = this.pos;
      if (this.groupAhead()) this.group();
      else this.mailbox(false);
      if (this.pos === before) this.pos++; // a token no production takes (a stray '>' or ';'): skip it
    }
    return this.out;
  }

  /** True when a ':' comes before any '<', ',', '@' or ';' (the display name of a group). */
  private groupAhead(): boolean {
    for (let k = this.pos; k < this.tokens.length; k++) {
      const t = this.tokens[k] as Token;
      if (t.type !== 'special') continue;
      return t.text === ':';
    }
    return false;
  }

  private group(): void {
    const name = this.phraseUntil(':');
    this.pos++; // ':'
    this.out.push({ kind: 'group-start', name });
    while (this.pos < this.tokens.length && !this.isSpecial(this.peek(), ';')) {
      if (this.isSpecial(this.peek(), ',')) {
        this.pos++;
        continue;
      }
      const before = this.pos;
      this.mailbox(true);
      if (this.pos === before) this.pos++;
    }
    if (this.isSpecial(this.peek(), ';')) this.pos++;
    this.out.push({ kind: 'group-end' });
  }

  /** Display-name words up to the given special (exclusive): quoted strings unquoted, comments dropped. */
  private phraseUntil(stop: string): string {
    const words: string[] = [];
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos] as Token;
      if (t.type === 'special' && t.text === stop) break;
      this.pos++;
      if (t.type === 'comment') continue;
      const text = t.text;
      // Words are joined by one space where the source had space (RFC 5322 §3.2.2 folding white space).
      if (words.length && (t.spaceBefore || t.type === 'quoted')) words.push(' ');
      words.push(text);
    }
    return words.join('').trim();
  }

  /** One mailbox: `phrase <[route:]local@domain>` or `local@domain (comment)`. */
  private mailbox(inGroup: boolean): void {
    const start = this.pos;
    let angle = -1;
    let end = this.pos;
    for (; end < this.tokens.length; end++) {
      const t = this.tokens[end] as Token;
      if (t.type !== 'special') continue;
      if (t.text === '<') {
        angle = end;
        break;
      }
      if (t.text === ',' || (inGroup && t.text === ';')) break;
    }
    if (angle >= 0) {
      const name = this.phraseUntil('<');
      this.pos = angle + 1;
      this.angleAddress(name || null);
      // A comment after the angle-addr belongs to it (RFC 5322 §3.4 CFWS), not to a next address.
      while (this.peek()?.type === 'comment') this.pos++;
      return;
    }
    if (end === start) return;
    this.pos = end;
    this.addrSpec(this.tokens.slice(start, end), null);
  }

  private angleAddress(name: string | null): void {
    let close = this.pos;
    while (close < this.tokens.length && !this.isSpecial(this.tokens[close], '>')) close++;
    let inner = this.tokens.slice(this.pos, close).filter((t) => t.type !== 'comment');
    this.pos = Math.min(close + 1, this.tokens.length);
    let route: string | null = null;
    // obs-route (RFC 5322 §4.4): "@a,@b:" before the addr-spec.
    if (this.isSpecial(inner[0], '@')) {
      const colon = inner.findIndex((t) => this.isSpecial(t, ':'));
      if (colon >= 0) {
        route = inner.slice(0, colon).map((t) => t.text).join('');
        inner = inner.slice(colon + 1);
      }
    }
    this.addrSpec(inner, name, route);
  }

  private addrSpec(tokens: readonly Token[], name: string | null, route: string | null = null): void {
    const at = tokens.findIndex((t) => this.isSpecial(t, '@'));
    const local = (at < 0 ? tokens : tokens.slice(0, at)).filter((t) => t.type !== 'comment');
    const domain = at < 0 ? [] : tokens.slice(at + 1).filter((t) => t.type !== 'comment');
    const comment = name === null ? tokens.find((t) => t.type === 'comment' && t.text) : undefined;
    const mailbox = local.map((t) => t.text).join('');
    const host = domain.map((t) => t.text).join('');
    this.out.push({
      kind: 'mailbox',
      name: name ?? comment?.text ?? null,
      route,
      mailbox: mailbox || MISSING_MAILBOX,
      host: host || MISSING_DOMAIN,
    });
  }
}

/** The address structures of one address-list field value (unfolded), in order. */
export function parseAddressList(value: string): EnvelopeAddress[] {
  return new AddressReader(tokenize(value)).read();
}
