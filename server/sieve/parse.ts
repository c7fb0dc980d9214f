// The Sieve grammar (RFC 5228 §8): tokens, then commands, tests and arguments. Pure, linear in the script size,
// and bounded by SIEVE_LIMITS (size, nesting, list lengths) so a hostile script is refused, never run.
import { SIEVE_LIMITS } from './limits.js';

/** A syntax or semantic error at a line of the script (1-based). */
export class SieveSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'SieveSyntaxError';
  }
}

export type SieveArgument =
  | { readonly kind: 'tag'; readonly value: string; readonly line: number }
  | { readonly kind: 'number'; readonly value: number; readonly line: number }
  | { readonly kind: 'string'; readonly value: string; readonly line: number }
  | { readonly kind: 'list'; readonly value: readonly string[]; readonly line: number };

export interface SieveTestNode {
  readonly name: string;
  readonly line: number;
  readonly args: readonly SieveArgument[];
  readonly tests: readonly SieveTestNode[];
  /** True when the tests came as a parenthesised test-list (allof/anyof). */
  readonly testList: boolean;
}

export interface SieveCommandNode extends SieveTestNode {
  readonly block: readonly SieveCommandNode[] | null;
}

type Token =
  | { t: 'id'; v: string; line: number }
  | { t: 'tag'; v: string; line: number }
  | { t: 'num'; v: number; line: number }
  | { t: 'str'; v: string; line: number }
  | { t: 'p'; v: string; line: number }
  | { t: 'eof'; line: number };

const MULTIPLIERS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  const isIdStart = (c: string): boolean => /[A-Za-z_]/.test(c);
  const isId = (c: string): boolean => /[A-Za-z0-9_]/.test(c);
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const start = line;
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SieveSyntaxError(start, 'Unterminated comment: a "/*" has no closing "*/"');
      for (let k = i; k < end; k++) if (text[k] === '\n') line++;
      i = end + 2;
    } else if ('[](),;{}'.includes(c)) {
      tokens.push({ t: 'p', v: c, line });
      i++;
    } else if (c === ':') {
      let j = i + 1;
      if (j >= n || !isIdStart(text[j]!)) throw new SieveSyntaxError(line, 'A ":" must start a tagged argument such as :is');
      while (j < n && isId(text[j]!)) j++;
      tokens.push({ t: 'tag', v: text.slice(i + 1, j).toLowerCase(), line });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i;
      while (j < n && /[0-9]/.test(text[j]!)) j++;
      let value = Number(text.slice(i, j));
      const unit = text[j]?.toUpperCase();
      if (unit && MULTIPLIERS[unit]) {
        value *= MULTIPLIERS[unit];
        j++;
      }
      if (j < n && isId(text[j]!)) throw new SieveSyntaxError(line, `Bad number "${text.slice(i, j + 1)}": use digits with an optional K, M or G`);
      if (!Number.isSafeInteger(value)) throw new SieveSyntaxError(line, 'Number too large');
      tokens.push({ t: 'num', v: value, line });
      i = j;
    } else if (c === '"') {
      const start = line;
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= n) throw new SieveSyntaxError(start, 'Unterminated string: a quoted string has no closing quote');
        const d = text[j]!;
        if (d === '"') break;
        if (d === '\\' && j + 1 < n) {
          // RFC 5228 §2.4.2: \" and \\ are the escapes; any other backslash is dropped.
          value += text[j + 1]!;
          if (text[j + 1] === '\n') line++;
          j += 2;
          continue;
        }
        if (d === '\n') line++;
        value += d;
        j++;
      }
      tokens.push({ t: 'str', v: value, line: start });
      i = j + 1;
    } else if (isIdStart(c)) {
      let j = i;
      while (j < n && isId(text[j]!)) j++;
      const word = text.slice(i, j);
      if (word.toLowerCase() === 'text' && text[j] === ':') {
        // Multi-line string (RFC 5228 §2.4.2): "text:" [comment] CRLF, lines, CRLF "." CRLF; ".." is a stuffed ".".
        const start = line;
        let k = j + 1;
        while (k < n && (text[k] === ' ' || text[k] === '\t')) k++;
        if (text[k] === '#') while (k < n && text[k] !== '\n') k++;
        if (text[k] === '\r') k++;
        if (text[k] !== '\n') throw new SieveSyntaxError(start, 'After "text:" the string starts on the next line');
        k++;
        line++;
        const lines: string[] = [];
        for (;;) {
          if (k >= n) throw new SieveSyntaxError(start, 'Unterminated multi-line string: end it with a line holding only "."');
          let e = text.indexOf('\n', k);
          if (e < 0) e = n;
          let l = text.slice(k, e);
          if (l.endsWith('\r')) l = l.slice(0, -1);
          k = e + 1;
          line++;
          if (l === '.') break;
          lines.push(l.startsWith('..') ? l.slice(1) : l);
        }
        tokens.push({ t: 'str', v: lines.map((l) => `${l}\r\n`).join(''), line: start });
        i = k;
        if (k > n) line--;
      } else {
        tokens.push({ t: 'id', v: word.toLowerCase(), line });
        i = j;
      }
    } else {
      throw new SieveSyntaxError(line, `Unexpected character "${c}"`);
    }
  }
  tokens.push({ t: 'eof', line });
  return tokens;
}

/** Parses a script into its commands; throws SieveSyntaxError with the line on any grammar error or limit. */
export function parseSieve(text: string, limits = SIEVE_LIMITS): SieveCommandNode[] {
  if (Buffer.byteLength(text) > limits.maxScriptBytes) {
    throw new SieveSyntaxError(1, `Script too large: at most ${limits.maxScriptBytes} bytes`);
  }
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token => tokens[pos]!;
  const next = (): Token => tokens[pos++]!;
  const isP = (tok: Token, v: string): boolean => tok.t === 'p' && tok.v === v;
  const describe = (tok: Token): string => (tok.t === 'eof' ? 'the end of the script' : tok.t === 'str' ? 'a string' : `"${String(tok.v)}"`);

  const nest = (depth: number, line: number): void => {
    if (depth > limits.maxNesting) throw new SieveSyntaxError(line, `Nested too deeply: at most ${limits.maxNesting} levels of blocks and tests`);
  };

  const stringList = (): SieveArgument => {
    const open = next();
    const items: string[] = [];
    for (;;) {
      const tok = next();
      if (tok.t !== 'str') throw new SieveSyntaxError(tok.line, `Expected a string in the list, found ${describe(tok)}`);
      items.push(tok.v);
      if (items.length > limits.maxListItems) throw new SieveSyntaxError(tok.line, `String list too long: at most ${limits.maxListItems} items`);
      const sep = next();
      if (isP(sep, ']')) break;
      if (!isP(sep, ',')) throw new SieveSyntaxError(sep.line, `Expected "," or "]" in the string list, found ${describe(sep)}`);
    }
    return { kind: 'list', value: items, line: open.line };
  };

  const args = (): SieveArgument[] => {
    const out: SieveArgument[] = [];
    for (;;) {
      const tok = peek();
      if (tok.t === 'tag') out.push({ kind: 'tag', value: (next() as { v: string }).v, line: tok.line });
      else if (tok.t === 'num') out.push({ kind: 'number', value: (next() as { v: number }).v, line: tok.line });
      else if (tok.t === 'str') out.push({ kind: 'string', value: (next() as { v: string }).v, line: tok.line });
      else if (isP(tok, '[')) out.push(stringList());
      else return out;
    }
  };

  const test = (depth: number): SieveTestNode => {
    const tok = next();
    if (tok.t !== 'id') throw new SieveSyntaxError(tok.line, `Expected a test, found ${describe(tok)}`);
    nest(depth, tok.line);
    const a = args();
    const { tests, testList } = testsOf(depth);
    return { name: tok.v, line: tok.line, args: a, tests, testList };
  };

  const testsOf = (depth: number): { tests: SieveTestNode[]; testList: boolean } => {
    const tok = peek();
    if (isP(tok, '(')) {
      next();
      const tests: SieveTestNode[] = [];
      for (;;) {
        tests.push(test(depth + 1));
        const sep = next();
        if (isP(sep, ')')) break;
        if (!isP(sep, ',')) throw new SieveSyntaxError(sep.line, `Expected "," or ")" in the test list, found ${describe(sep)}`);
      }
      return { tests, testList: true };
    }
    if (tok.t === 'id') return { tests: [test(depth + 1)], testList: false };
    return { tests: [], testList: false };
  };

  const commands = (depth: number, inBlock: boolean): SieveCommandNode[] => {
    const out: SieveCommandNode[] = [];
    for (;;) {
      const tok = peek();
      if (tok.t === 'eof') {
        if (inBlock) throw new SieveSyntaxError(tok.line, 'Missing "}": a block is not closed');
        return out;
      }
      if (isP(tok, '}')) {
        if (!inBlock) throw new SieveSyntaxError(tok.line, 'Unexpected "}" outside a block');
        return out;
      }
      if (tok.t !== 'id') throw new SieveSyntaxError(tok.line, `Expected a command, found ${describe(tok)}`);
      next();
      nest(depth, tok.line);
      const a = args();
      const { tests, testList } = testsOf(depth);
      const end = next();
      let block: SieveCommandNode[] | null = null;
      if (isP(end, '{')) {
        block = commands(depth + 1, true);
        next();
      } else if (!isP(end, ';')) {
        throw new SieveSyntaxError(end.line, `Expected ";" or "{" after "${tok.v}", found ${describe(end)}`);
      }
      out.push({ name: tok.v, line: tok.line, args: a, tests, testList, block });
    }
  };

  return commands(1, false);
}
