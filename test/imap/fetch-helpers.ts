// Test helpers for FETCH / STORE: a reader for IMAP response data (RFC 9051 §4: atoms, NIL, quoted strings,
// literals and literal8, parenthesised lists) over the lines RawImap returns, and FETCH pairs by name.
import assert from 'node:assert/strict';
import type { ImapLimits } from '../../server/imap/index.js';
import { startImapUsersFixture, type ImapTestUser, type ImapUsersFixture } from '../helpers/imap-users.js';

export type FetchUser = ImapTestUser;
export type FetchFixture = ImapUsersFixture;

/** The shared IMAP fixture, one fresh alias per test. */
export function startFetchFixture(limits: Partial<ImapLimits> = {}): Promise<FetchFixture> {
  return startImapUsersFixture('fetch', limits);
}

/** A CRLF message from lines. */
export const crlf = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');

/** A parsed response value: atom text, null for NIL, string bytes, or a list. */
export type Parsed = { readonly atom: string } | Buffer | null | Parsed[];

export const isAtom = (v: Parsed | undefined): v is { atom: string } => v !== null && v !== undefined && !Buffer.isBuffer(v) && !Array.isArray(v);

/** Parses response values from `text` (a 'binary' string as RawImap returns lines); literals are inline. */
export function parseValues(text: string): { values: Parsed[]; binaryLiterals: number } {
  const bytes = Buffer.from(text, 'binary');
  let pos = 0;
  let binaryLiterals = 0;
  const value = (): Parsed => {
    const c = bytes[pos];
    if (c === 0x28) {
      pos++;
      const list: Parsed[] = [];
      while (bytes[pos] !== 0x29) {
        if (pos >= bytes.length) throw new Error('unterminated list');
        if (bytes[pos] === 0x20) {
          pos++;
          continue;
        }
        list.push(value());
      }
      pos++;
      return list;
    }
    if (c === 0x22) {
      pos++;
      const out: number[] = [];
      while (bytes[pos] !== 0x22) {
        if (pos >= bytes.length) throw new Error('unterminated string');
        if (bytes[pos] === 0x5c) pos++;
        out.push(bytes[pos] as number);
        pos++;
      }
      pos++;
      return Buffer.from(out);
    }
    if (c === 0x7b || (c === 0x7e && bytes[pos + 1] === 0x7b)) {
      if (c === 0x7e) {
        binaryLiterals++;
        pos++;
      }
      const close = bytes.indexOf('}', pos);
      const size = Number(bytes.toString('latin1', pos + 1, close));
      pos = close + 3; // '}' CRLF
      const data = bytes.subarray(pos, pos + size);
      pos += size;
      return Buffer.from(data);
    }
    const start = pos;
    let depth = 0;
    // An atom, or a section key such as BODY[HEADER.FIELDS (A B)]<0> (brackets may hold spaces and lists).
    while (pos < bytes.length) {
      const d = bytes[pos] as number;
      if (d === 0x5b) depth++;
      if (d === 0x5d) depth--;
      if (depth === 0 && (d === 0x20 || d === 0x29 || d === 0x28)) break;
      pos++;
    }
    const atom = bytes.toString('latin1', start, pos);
    return atom.toUpperCase() === 'NIL' ? null : { atom };
  };
  const values: Parsed[] = [];
  while (pos < bytes.length) {
    if (bytes[pos] === 0x20) {
      pos++;
      continue;
    }
    values.push(value());
  }
  return { values, binaryLiterals };
}

export interface FetchResponse {
  readonly seq: number;
  /** Item name (as the server wrote it) → value. */
  readonly items: Map<string, Parsed>;
  /** Item names in response order. */
  readonly order: string[];
  readonly binaryLiterals: number;
}

/** Every `* n FETCH (…)` line of a reply, parsed. */
export function fetchResponses(lines: readonly string[]): FetchResponse[] {
  const out: FetchResponse[] = [];
  for (const line of lines) {
    const m = /^\* (\d+) FETCH /.exec(line);
    if (!m) continue;
    const { values, binaryLiterals } = parseValues(line.slice(m[0].length));
    const list = values[0];
    assert.ok(Array.isArray(list), `FETCH without a list: ${line}`);
    const items = new Map<string, Parsed>();
    const order: string[] = [];
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i];
      assert.ok(isAtom(name), `FETCH item name expected in ${line}`);
      items.set(name.atom, list[i + 1] ?? null);
      order.push(name.atom);
    }
    out.push({ seq: Number(m[1]), items, order, binaryLiterals });
  }
  return out;
}

/** The single FETCH response of a reply. */
export function onlyFetch(lines: readonly string[]): FetchResponse {
  const all = fetchResponses(lines);
  assert.equal(all.length, 1, `expected one FETCH response, got ${all.length}: ${lines.join(' | ').slice(0, 500)}`);
  return all[0] as FetchResponse;
}

/** A parsed value as plain JSON-able data for deepEqual: atoms as 'ATOM:x', strings as text, NIL as null. */
export function plain(value: Parsed | undefined): unknown {
  if (value === undefined || value === null) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) return value.map(plain);
  return `ATOM:${value.atom}`;
}

export const status = (tagged: string): string => tagged.split(' ')[1] ?? '';

/**
 * Runs FETCH `command` on the user's session while another session of the same alias stores \Deleted on every
 * message and expunges them (RFC 9051 §7.5.1: the FETCH may leave expunged messages out); both tagged replies.
 */
export async function fetchRacingExpungeAll(u: FetchUser, command: string): Promise<{ fetched: { tagged: string; lines: string[] }; expunged: { tagged: string } }> {
  const other = await u.connect();
  await u.imap.command('SELECT INBOX');
  await other.command('SELECT INBOX');
  const [fetched, expunged] = await Promise.all([
    u.imap.command(command, 120_000),
    (async () => {
      await other.command('STORE 1:* +FLAGS.SILENT (\\Deleted)');
      return other.command('EXPUNGE');
    })(),
  ]);
  assert.equal(status(fetched.tagged), 'OK', fetched.tagged);
  assert.equal(status(expunged.tagged), 'OK', expunged.tagged);
  return { fetched, expunged };
}
