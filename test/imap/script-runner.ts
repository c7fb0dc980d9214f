// Replays raw IMAP conversation scripts (test/imap/scripts/*.imap) over real sockets against a server
// ("peer"): Sealpost's fixture or a throw-away Dovecot. The format is described in test/imap/scripts/README.md.
// A script is parsed once into steps (setup, client bytes, expected server lines), then run in order; the
// first mismatch throws a ScriptMismatch naming the script line, what was expected and what the server sent.
import fs from 'node:fs';
import path from 'node:path';
import { RawImap } from '../helpers/imap-raw.js';
import { sharedDir } from '../helpers/shared-dir.js';

export interface ScriptUser {
  /** What LOGIN takes as user name. */
  readonly login: string;
  readonly password: string;
}

export interface DeliverOptions {
  readonly flags?: readonly string[];
  readonly internalDate?: Date;
}

/** A server to replay scripts against. Users are fresh per addUser call, so scripts never share state. */
export interface ScriptPeer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  addUser(local: string): Promise<ScriptUser>;
  /** Puts a message into a folder without the script's sessions doing anything (like a delivery). */
  deliver(user: ScriptUser, folder: string, raw: Buffer, options: DeliverOptions): Promise<void>;
  /** Creates a folder without the script's sessions doing anything (not subscribed). */
  createFolder(user: ScriptUser, folder: string): Promise<void>;
  close(): Promise<void>;
}

export type Step =
  | { readonly kind: 'user'; readonly line: number; readonly name: string }
  | { readonly kind: 'folder'; readonly line: number; readonly user: string; readonly folder: string }
  | {
      readonly kind: 'deliver';
      readonly line: number;
      readonly user: string;
      readonly folder: string;
      readonly flags: readonly string[];
      readonly date: Date | undefined;
      readonly message: { readonly file: string } | { readonly inline: string };
    }
  | { readonly kind: 'session'; readonly line: number; readonly name: string; readonly login: string | null }
  /** Bytes the client sends (already with CRLF where the script line ended). */
  | { readonly kind: 'send'; readonly line: number; readonly session: string; readonly text: string }
  /** One expected server line, or a set of lines in any order. */
  | { readonly kind: 'expect'; readonly line: number; readonly session: string; readonly patterns: readonly ExpectedLine[] }
  | { readonly kind: 'absent'; readonly line: number; readonly session: string; readonly pattern: ExpectedLine };

interface ExpectedLine {
  readonly line: number;
  /** The expected text, literals inlined as CRLF + bytes like RawImap returns them. */
  readonly text: string;
  /** True for a tagged status line: it ends the command (and clears @absent patterns). */
  readonly tagged: boolean;
}

export interface Script {
  readonly file: string;
  /** The first comment line, e.g. "RFC 3501 §7.4.1: no EXPUNGE during FETCH". */
  readonly title: string;
  /** `@known PEER: why` lines: the peer is known to differ from the RFC answer the script expects. */
  readonly known: ReadonlyMap<string, string>;
  /** `@requires CAPABILITY` lines (documentation; the script itself checks CAPABILITY when it matters). */
  readonly requires: readonly string[];
  readonly steps: readonly Step[];
  /** Set when the file could not be parsed: running the script reports it. */
  readonly parseError?: string;
}

export class ScriptError extends Error {}

/** A server answer that differs from the script. */
export class ScriptMismatch extends Error {}

interface ParseSession {
  pending: Set<string>;
  /** A `+` continuation was expected for the pending command: client lines are its data (IDLE's DONE, SASL). */
  continuation: boolean;
  /** Bytes of a synchronising literal the client sends once the `+` arrives. */
  awaitingLiteral: number | null;
}

const LITERAL_AT_END = /~?\{(\d+)(\+|-)?\}$/;

/** Parses a script file's text. Throws ScriptError (with the line number) for a malformed script. */
export function parseScript(text: string, file: string): Script {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const steps: Step[] = [];
  const known = new Map<string, string>();
  const requires: string[] = [];
  const sessions = new Map<string, ParseSession>();
  let title = '';
  let current: string | null = null;
  let i = 0;
  const fail = (lineNo: number, message: string): never => {
    throw new ScriptError(`${path.basename(file)}:${lineNo}: ${message}`);
  };
  const session = (lineNo: number): [string, ParseSession] => {
    if (current === null) return fail(lineNo, 'no @session yet');
    return [current, sessions.get(current)!];
  };

  /** Reads `size` bytes of literal data starting at line index `at`; returns the data, the rest of the last line, next index. */
  const readLiteral = (at: number, size: number, lineNo: number): { data: string; rest: string | null; next: number } => {
    let data = '';
    let index = at;
    while (Buffer.byteLength(data, 'utf8') < size) {
      if (index >= lines.length) fail(lineNo, `literal of ${size} bytes runs past the end of the script`);
      const raw = lines[index]!;
      const need = size - Buffer.byteLength(data, 'utf8');
      const bytes = Buffer.from(raw, 'utf8');
      if (bytes.length >= need) {
        data += bytes.subarray(0, need).toString('utf8');
        // The literal ends inside this line: what follows continues the command or response line.
        return { data, rest: bytes.subarray(need).toString('utf8'), next: index + 1 };
      }
      data += raw;
      index++;
      if (size - Buffer.byteLength(data, 'utf8') === 1) fail(lineNo, `literal of ${size} bytes ends inside a line break`);
      data += '\r\n';
      // The literal ends exactly after a line break: the next script line continues the command.
      if (Buffer.byteLength(data, 'utf8') === size) return { data, rest: null, next: index };
    }
    return { data, rest: null, next: index };
  };

  /** Expected server text starting with `first`, following literals into the next lines. */
  const readServerLine = (first: string, lineNo: number): string => {
    let text = first;
    let tail = first;
    for (;;) {
      const literal = /~?\{(\d+)\}$/.exec(tail);
      if (!literal) return text;
      const { data, rest, next } = readLiteral(i, Number(literal[1]), lineNo);
      i = next;
      let continuation = rest;
      if (continuation === null) {
        if (i >= lines.length) fail(lineNo, 'response line ends after its literal without a closing line');
        continuation = lines[i++]!;
      }
      text += `\r\n${data}${continuation}`;
      tail = continuation;
    }
  };

  const pushClient = (lineNo: number, name: string, state: ParseSession, textIn: string, isData: boolean): void => {
    let text = textIn;
    if (!isData && !state.continuation) {
      const tag = text.split(' ')[0] ?? '';
      if (tag !== '' && tag !== 'DONE') state.pending.add(tag);
    }
    for (;;) {
      const literal = LITERAL_AT_END.exec(text);
      steps.push({ kind: 'send', line: lineNo, session: name, text: `${text}\r\n` });
      if (!literal) return;
      const size = Number(literal[1]);
      if (literal[2] !== '+' && literal[2] !== '-') {
        // Synchronising literal: the data follows the `+` line the script must list next.
        state.awaitingLiteral = size;
        return;
      }
      const { data, rest, next } = readLiteral(i, size, lineNo);
      i = next;
      steps.push({ kind: 'send', line: lineNo, session: name, text: data });
      if (rest === null) {
        if (i >= lines.length) fail(lineNo, 'command ends after its literal without a closing line');
        text = lines[i++]!;
      } else text = rest;
    }
  };

  const expectLine = (lineNo: number, name: string, state: ParseSession, raw: string): ExpectedLine => {
    const text = readServerLine(raw, lineNo);
    const tag = raw.split(' ')[0] ?? '';
    const tagged = tag !== '*' && tag !== '+' && state.pending.has(tag);
    if (tagged) {
      state.pending.delete(tag);
      state.continuation = false;
      state.awaitingLiteral = null;
    }
    return { line: lineNo, text, tagged };
  };

  const isServerLine = (state: ParseSession, line: string): boolean => {
    if (line.startsWith('S: ')) return true;
    if (line.startsWith('C: ')) return false;
    if (line === '*' || line.startsWith('* ') || line === '+' || line.startsWith('+ ')) return true;
    const tag = line.split(' ')[0] ?? '';
    return state.pending.has(tag) && line.length > tag.length;
  };

  while (i < lines.length) {
    const lineNo = i + 1;
    const line = lines[i++]!;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      if (title === '') title = line.replace(/^#+\s*/, '');
      continue;
    }
    if (line.startsWith('@')) {
      const words = tokenize(line.slice(1), lineNo, fail);
      const directive = words[0];
      if (directive === 'user') {
        for (const name of words.slice(1)) steps.push({ kind: 'user', line: lineNo, name });
      } else if (directive === 'folder') {
        if (words.length !== 3) fail(lineNo, '@folder USER FOLDER');
        steps.push({ kind: 'folder', line: lineNo, user: words[1]!, folder: words[2]! });
      } else if (directive === 'deliver') {
        // @deliver USER FOLDER [(FLAGS)] ["DATE"] [< shared/file]   — without a file, the message follows until @end
        if (words.length < 3) fail(lineNo, '@deliver USER FOLDER [(flags)] ["date"] [< file]');
        let flags: string[] = [];
        let date: Date | undefined;
        let file: string | null = null;
        for (let w = 3; w < words.length; w++) {
          const word = words[w]!;
          if (word.startsWith('(')) flags = word.slice(1, -1).split(' ').filter(Boolean);
          else if (word === '<') file = words[++w] ?? fail(lineNo, '< needs a file');
          else {
            date = parseImapDate(word);
            if (!date) fail(lineNo, `not a date-time: ${word}`);
          }
        }
        let message: { file: string } | { inline: string };
        if (file !== null) message = { file };
        else {
          const body: string[] = [];
          for (;;) {
            if (i >= lines.length) fail(lineNo, '@deliver without @end');
            const l = lines[i++]!;
            if (l === '@end') break;
            body.push(l);
          }
          message = { inline: body.map((l) => `${l}\r\n`).join('') };
        }
        steps.push({ kind: 'deliver', line: lineNo, user: words[1]!, folder: words[2]!, flags, date, message });
      } else if (directive === 'session') {
        const name = words[1] ?? fail(lineNo, '@session NAME [login USER]');
        let login: string | null = null;
        if (words[2] === 'login') login = words[3] ?? fail(lineNo, '@session NAME login USER');
        else if (words.length > 2) fail(lineNo, '@session NAME [login USER]');
        if (!sessions.has(name)) sessions.set(name, { pending: new Set(), continuation: false, awaitingLiteral: null });
        else if (login !== null) fail(lineNo, `session ${name} is already open`);
        current = name;
        steps.push({ kind: 'session', line: lineNo, name, login });
      } else if (directive === 'unordered') {
        const [name, state] = session(lineNo);
        const patterns: ExpectedLine[] = [];
        for (;;) {
          if (i >= lines.length) fail(lineNo, '@unordered without @end');
          const l = lines[i++]!;
          if (l === '@end') break;
          if (l.trim() === '' || l.startsWith('#')) continue;
          const expected = expectLine(i, name, state, l.startsWith('S: ') ? l.slice(3) : l);
          if (expected.tagged) fail(i, 'a tagged line cannot be in an @unordered block');
          patterns.push(expected);
        }
        steps.push({ kind: 'expect', line: lineNo, session: name, patterns });
      } else if (directive === 'absent') {
        const [name] = session(lineNo);
        const rest = line.slice('@absent'.length + 1).trim();
        if (rest === '') fail(lineNo, '@absent PATTERN');
        steps.push({ kind: 'absent', line: lineNo, session: name, pattern: { line: lineNo, text: rest, tagged: false } });
      } else if (directive === 'known') {
        const m = /^@known\s+(\S+?):\s*(.*)$/.exec(line);
        if (!m) fail(lineNo, '@known PEER: reason');
        known.set(m![1]!, m![2]!);
      } else if (directive === 'requires') {
        requires.push(...words.slice(1));
      } else fail(lineNo, `unknown directive @${directive}`);
      continue;
    }
    const [name, state] = session(lineNo);
    if (state.awaitingLiteral !== null && state.continuation) {
      // The `+` arrived (listed above): these lines are the literal's bytes and the rest of the command.
      const size = state.awaitingLiteral;
      state.awaitingLiteral = null;
      state.continuation = false;
      i--;
      const { data, rest, next } = readLiteral(i, size, lineNo);
      i = next;
      steps.push({ kind: 'send', line: lineNo, session: name, text: data });
      let continued = rest;
      if (continued === null) {
        if (i >= lines.length) fail(lineNo, 'command ends after its literal without a closing line');
        continued = lines[i++]!;
      }
      pushClient(lineNo, name, state, continued, true);
      continue;
    }
    if (isServerLine(state, line)) {
      const raw = line.startsWith('S: ') ? line.slice(3) : line;
      const expected = expectLine(lineNo, name, state, raw);
      if (raw === '+' || raw.startsWith('+ ')) state.continuation = true;
      steps.push({ kind: 'expect', line: lineNo, session: name, patterns: [expected] });
      continue;
    }
    const client = line.startsWith('C: ') ? line.slice(3) : line;
    pushClient(lineNo, name, state, client, false);
  }
  if (title === '') throw new ScriptError(`${path.basename(file)}: the first comment line must name the RFC section`);
  return { file, title, known, requires, steps };
}

function tokenize(text: string, lineNo: number, fail: (line: number, message: string) => never): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ') {
      i++;
      continue;
    }
    if (c === '"') {
      let end = i + 1;
      let value = '';
      while (end < text.length && text[end] !== '"') {
        if (text[end] === '\\') end++;
        value += text[end];
        end++;
      }
      if (end >= text.length) fail(lineNo, 'unterminated quote');
      words.push(value);
      i = end + 1;
    } else if (c === '(') {
      const end = text.indexOf(')', i);
      if (end < 0) fail(lineNo, 'unterminated (');
      words.push(text.slice(i, end + 1));
      i = end + 1;
    } else {
      let end = text.indexOf(' ', i);
      if (end < 0) end = text.length;
      words.push(text.slice(i, end));
      i = end;
    }
  }
  return words;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** RFC 3501 date-time "17-Jul-1996 02:44:25 -0700". */
export function parseImapDate(text: string): Date | undefined {
  const m = /^\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(text);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return undefined;
  const offset = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === '-' ? -1 : 1);
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  return new Date(utc - offset * 60_000);
}

// ---------------------------------------------------------------------------------------------- matching

interface Compiled {
  readonly regex: RegExp;
  /** Named groups that bind a variable the first time they match. */
  readonly binds: readonly { readonly group: string; readonly name: string }[];
  /** Groups that must hold exactly (set) or at least (has) these space-separated tokens, in any order. */
  readonly sets: readonly { readonly group: string; readonly tokens: readonly string[]; readonly exact: boolean }[];
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Turns an expected line into a regex: {{any}}, {{n}}, {{n:var}}, {{$var}}, {{set:a b}}, {{has:a b}}. */
function compile(text: string, vars: ReadonlyMap<string, string>): Compiled {
  const binds: { group: string; name: string }[] = [];
  const sets: { group: string; tokens: string[]; exact: boolean }[] = [];
  let source = '';
  let last = 0;
  let counter = 0;
  const bound = new Set<string>();
  for (const m of text.matchAll(/\{\{([^{}]*)\}\}/g)) {
    source += escapeRegex(toWire(text.slice(last, m.index)));
    last = m.index! + m[0].length;
    const token = m[1]!;
    const group = `g${counter++}`;
    if (token === 'any') source += '[\\s\\S]*?';
    else if (token === 'n') source += '\\d+';
    else if (token.startsWith('n:')) {
      const name = token.slice(2);
      const value = vars.get(name);
      if (value !== undefined) source += escapeRegex(value);
      else if (bound.has(name)) source += `\\k<v_${name}>`;
      else {
        source += `(?<v_${name}>\\d+)`;
        bound.add(name);
        binds.push({ group: `v_${name}`, name });
      }
    } else if (token.startsWith('$')) {
      const value = vars.get(token.slice(1));
      if (value === undefined) throw new ScriptError(`variable ${token.slice(1)} is not bound yet`);
      source += escapeRegex(value);
    } else if (token.startsWith('set:') || token.startsWith('has:')) {
      source += `(?<${group}>[^()]*?)`;
      sets.push({ group, tokens: token.slice(4).trim().split(/\s+/).filter(Boolean), exact: token.startsWith('set:') });
    } else if (token === 'id' || token.startsWith('id:')) {
      // An RFC 8474 objectid: 1*255(ALPHA / DIGIT / "_" / "-"), optionally remembered.
      const name = token.slice(3);
      const value = name ? vars.get(name) : undefined;
      if (value !== undefined) source += escapeRegex(value);
      else if (name && bound.has(name)) source += `\\k<v_${name}>`;
      else if (name) {
        source += `(?<v_${name}>[A-Za-z0-9_-]{1,255})`;
        bound.add(name);
        binds.push({ group: `v_${name}`, name });
      } else source += '[A-Za-z0-9_-]{1,255}';
    } else if (token.startsWith('q:')) {
      // An astring either way: atom or quoted string (mailbox names in LIST, LSUB, STATUS).
      const value = toWire(token.slice(2));
      source += `(?:${escapeRegex(value)}|"${escapeRegex(value.replace(/(["\\])/g, '\\$1'))}")`;
    } else if (token.startsWith('one:')) {
      source += `(?:${token.slice(4).split('|').map((alt) => escapeRegex(toWire(alt))).join('|')})`;
    } else if (token.startsWith('i:')) {
      // Case-insensitive text (IMAP atoms, MIME types, flag names are case-insensitive).
      source += [...toWire(token.slice(2))]
        .map((c) => (c.toLowerCase() !== c.toUpperCase() ? `[${c.toLowerCase()}${c.toUpperCase()}]` : escapeRegex(c)))
        .join('');
    } else throw new ScriptError(`unknown wildcard {{${token}}}`);
  }
  source += escapeRegex(toWire(text.slice(last)));
  return { regex: new RegExp(`^${source}$`), binds, sets };
}

/** Script text is UTF-8; RawImap hands lines over as one char per byte. */
function toWire(text: string): string {
  return Buffer.from(text, 'utf8').toString('binary');
}

function matches(expected: ExpectedLine, actual: string, vars: Map<string, string>): boolean {
  const compiled = compile(expected.text, vars);
  const m = compiled.regex.exec(actual);
  if (!m) return false;
  for (const set of compiled.sets) {
    const got = (m.groups?.[set.group] ?? '').split(' ').filter(Boolean).map((t) => t.toLowerCase());
    const want = set.tokens.map((t) => t.toLowerCase());
    if (set.exact && [...got].sort().join(' ') !== [...want].sort().join(' ')) return false;
    if (!want.every((t) => got.includes(t))) return false;
  }
  for (const bind of compiled.binds) vars.set(bind.name, m.groups![bind.group]!);
  return true;
}

// ---------------------------------------------------------------------------------------------- running

interface LiveSession {
  readonly client: RawImap;
  /** Lines read but not consumed yet (the greeting at first). */
  readonly backlog: string[];
  absent: ExpectedLine[];
  /** The last lines this session received, for the mismatch report. */
  readonly transcript: string[];
}

export interface RunOptions {
  /** How long to wait for an expected line; the default suits loopback servers. */
  readonly timeoutMs?: number;
}

const show = (text: string): string => JSON.stringify(Buffer.from(text, 'binary').toString('utf8'));

/** Runs one script against a peer; throws ScriptMismatch at the first difference. Closes its sessions. */
export async function runScript(script: Script, peer: ScriptPeer, options: RunOptions = {}): Promise<void> {
  if (script.parseError) throw new ScriptError(script.parseError);
  const timeoutMs = options.timeoutMs ?? 5000;
  const users = new Map<string, ScriptUser>();
  const sessions = new Map<string, LiveSession>();
  const vars = new Map<string, string>();
  const where = (line: number): string => `${path.basename(script.file)}:${line}`;
  const userOf = (name: string, line: number): ScriptUser => {
    const user = users.get(name);
    if (!user) throw new ScriptError(`${where(line)}: no @user ${name}`);
    return user;
  };
  /** Substitutes {{user:x}}, {{pass:x}}, {{lit+:user:x}} / {{lit+:pass:x}} (a non-synchronising literal of it) and {{$var}} in client text. */
  const fill = (text: string, line: number): string =>
    text.replace(/\{\{(lit\+:)?(user|pass):([^}]+)\}\}|\{\{\$([^}]+)\}\}/g, (_all, lit: string | undefined, kind: string | undefined, who: string | undefined, name: string | undefined) => {
      if (kind) {
        const user = userOf(who!, line);
        const value = kind === 'user' ? user.login : user.password;
        return lit ? `{${Buffer.byteLength(value)}+}\r\n${value}` : value;
      }
      const value = vars.get(name!);
      if (value === undefined) throw new ScriptError(`${where(line)}: variable ${name} is not bound yet`);
      return value;
    });
  const next = async (live: LiveSession, line: number, waiting: string): Promise<string> => {
    const queued = live.backlog.shift();
    if (queued !== undefined) return queued;
    let text: string;
    try {
      text = await live.client.readLine(timeoutMs);
    } catch {
      throw new ScriptMismatch(`${where(line)}: expected ${waiting}, the server sent nothing within ${timeoutMs} ms${recent(live)}`);
    }
    if (text === '' && live.client.isClosed) throw new ScriptMismatch(`${where(line)}: expected ${waiting}, the server closed the connection${recent(live)}`);
    live.transcript.push(text);
    if (live.transcript.length > 12) live.transcript.shift();
    return text;
  };
  const recent = (live: LiveSession): string =>
    live.transcript.length ? `\n  last lines received:\n${live.transcript.map((l) => `    ${show(l)}`).join('\n')}` : '';
  try {
    for (const step of script.steps) {
      switch (step.kind) {
        case 'user':
          users.set(step.name, await peer.addUser(step.name));
          break;
        case 'folder':
          await peer.createFolder(userOf(step.user, step.line), step.folder);
          break;
        case 'deliver': {
          const raw =
            'inline' in step.message
              ? Buffer.from(step.message.inline, 'utf8')
              : Buffer.from(fs.readFileSync(path.join(sharedDir(), step.message.file), 'binary').replace(/\r?\n/g, '\r\n'), 'binary');
          await peer.deliver(userOf(step.user, step.line), step.folder, raw, { flags: step.flags, internalDate: step.date });
          break;
        }
        case 'session': {
          if (sessions.has(step.name)) break;
          const client = await RawImap.connect(peer.port, { host: peer.host });
          const live: LiveSession = { client, backlog: [client.greeting], absent: [], transcript: [client.greeting] };
          sessions.set(step.name, live);
          if (step.login !== null) {
            const user = userOf(step.login, step.line);
            client.write(`L0 LOGIN "${user.login}" "${user.password}"\r\n`);
            for (;;) {
              const text = await next(live, step.line, 'the LOGIN reply');
              if (text.startsWith('L0 ')) {
                if (!text.startsWith('L0 OK')) throw new ScriptMismatch(`${where(step.line)}: LOGIN failed: ${show(text)}`);
                break;
              }
            }
          }
          break;
        }
        case 'send': {
          const live = sessions.get(step.session)!;
          live.client.write(Buffer.from(fill(step.text, step.line), 'utf8'));
          break;
        }
        case 'absent':
          sessions.get(step.session)!.absent.push(step.pattern);
          break;
        case 'expect': {
          const live = sessions.get(step.session)!;
          const left = [...step.patterns];
          const describe = (): string => left.map((p) => `${JSON.stringify(p.text)} (line ${p.line})`).join(' and ');
          while (left.length > 0) {
            const actual = await next(live, step.line, describe());
            const index = left.findIndex((p) => matches(p, actual, vars));
            if (index >= 0) {
              const [hit] = left.splice(index, 1);
              if (hit!.tagged) live.absent = [];
              continue;
            }
            // Untagged lines the script does not list are allowed (servers may add some), unless @absent forbids them.
            if (!actual.startsWith('* ')) {
              const at = left.length === 1 ? left[0]!.line : step.line;
              throw new ScriptMismatch(`${where(at)}: expected ${describe()}\n  actual   ${show(actual)}${recent(live)}`);
            }
            for (const absent of live.absent) {
              if (matches(absent, actual, new Map(vars))) {
                throw new ScriptMismatch(`${where(absent.line)}: must not appear: ${JSON.stringify(absent.text)}\n  but the server sent ${show(actual)} (waiting for ${describe()})${recent(live)}`);
              }
            }
          }
          break;
        }
      }
    }
  } finally {
    for (const live of sessions.values()) live.client.close();
  }
}

/** Every *.imap script under dir, sorted by file name; `filter` keeps names or titles containing it. */
export function loadScripts(dir: string, filter?: string): Script[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.imap'))
    .sort();
  const scripts = files.map((f): Script => {
    const file = path.join(dir, f);
    try {
      return parseScript(fs.readFileSync(file, 'utf8'), file);
    } catch (error) {
      if (!(error instanceof ScriptError)) throw error;
      // One broken script fails alone (named by its file), not the whole run.
      return { file, title: `${f} (does not parse)`, known: new Map(), requires: [], steps: [], parseError: error.message };
    }
  });
  if (!filter) return scripts;
  const needle = filter.toLowerCase();
  return scripts.filter((s) => path.basename(s.file).toLowerCase().includes(needle) || s.title.toLowerCase().includes(needle));
}
