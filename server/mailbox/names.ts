// Folder paths and IMAP flags as the store keeps them.
import { InvalidRequest } from './errors.js';
import type { SpecialUse } from './types.js';

export const SEPARATOR = '/';
const MAX_PATH = 1024;

/** Paths already normalized (every store call normalizes its folder: most name the same few). Bounded. */
const normalized = new Map<string, string>();
const NORMALIZED_MAX = 512;

/** Canonical folder path: 'INBOX' in any case becomes 'INBOX'; rejects empty segments and control characters. */
export function normalizePath(path: string): string {
  const known = typeof path === 'string' ? normalized.get(path) : undefined;
  if (known !== undefined) return known;
  const result = canonicalPath(path);
  if (normalized.size >= NORMALIZED_MAX) normalized.clear();
  normalized.set(path, result);
  return result;
}

function canonicalPath(path: string): string {
  if (typeof path !== 'string' || path.length === 0 || path.length > MAX_PATH) throw new InvalidRequest('bad folder name');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(path)) throw new InvalidRequest('bad folder name');
  const segments = path.split(SEPARATOR);
  if (segments.some((s) => s.length === 0)) throw new InvalidRequest('bad folder name');
  if (segments[0]!.toUpperCase() === 'INBOX') segments[0] = 'INBOX';
  return segments.join(SEPARATOR);
}

/** Ancestors of a path, outermost first ('a/b/c' → ['a', 'a/b']). */
export function parentsOf(path: string): string[] {
  const segments = path.split(SEPARATOR);
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) out.push(segments.slice(0, i).join(SEPARATOR));
  return out;
}

const SPECIAL_USES: readonly SpecialUse[] = ['\\Drafts', '\\Sent', '\\Junk', '\\Trash', '\\Archive', '\\All', '\\Flagged'];

export function checkSpecialUse(value: string | null | undefined): SpecialUse | null {
  if (value === null || value === undefined) return null;
  const found = SPECIAL_USES.find((s) => s.toLowerCase() === value.toLowerCase());
  if (!found) throw new InvalidRequest('unknown special-use attribute');
  return found;
}

/** System flags and their bit in messages.sysflags. */
export const SYSTEM_FLAGS: readonly (readonly [string, number])[] = [
  ['\\Seen', 1],
  ['\\Answered', 2],
  ['\\Flagged', 4],
  ['\\Deleted', 8],
  ['\\Draft', 16],
];
export const SEEN = 1;
export const DELETED = 8;

export interface FlagSet {
  readonly bits: number;
  /** Keywords in the case first given, de-duplicated case-insensitively. */
  readonly keywords: readonly string[];
}

// RFC 3501 atom characters minus the ones that make a flag ambiguous.
// eslint-disable-next-line no-control-regex
const KEYWORD = /^[^\x00-\x20\x7f-\uffff(){%*"\\\]]{1,128}$/;

/** Parses IMAP flags; `\Recent` is session state and is ignored; unknown `\X` flags are refused. */
export function parseFlags(flags: readonly string[]): FlagSet {
  let bits = 0;
  const keywords: string[] = [];
  for (const flag of flags) {
    if (typeof flag !== 'string') throw new InvalidRequest('bad flag');
    if (flag.startsWith('\\')) {
      if (flag.toLowerCase() === '\\recent') continue;
      const system = SYSTEM_FLAGS.find(([name]) => name.toLowerCase() === flag.toLowerCase());
      if (!system) throw new InvalidRequest(`unknown system flag ${flag}`);
      bits |= system[1];
    } else {
      if (!KEYWORD.test(flag)) throw new InvalidRequest('bad keyword');
      if (!keywords.some((k) => k.toLowerCase() === flag.toLowerCase())) keywords.push(flag);
    }
  }
  return { bits, keywords };
}

/** Stored form of keywords: ' a b ' (surrounding spaces make `instr(lower(keywords), ' kw ')` exact). */
export function encodeKeywords(keywords: readonly string[]): string {
  return keywords.length ? ` ${keywords.join(' ')} ` : '';
}

export function decodeKeywords(stored: string): string[] {
  return stored.split(' ').filter((k) => k.length > 0);
}

export function flagList(bits: number, keywords: string): string[] {
  const out: string[] = [];
  for (const [name, bit] of SYSTEM_FLAGS) if (bits & bit) out.push(name);
  return out.concat(decodeKeywords(keywords));
}

/**
 * flagList() remembered per combination, each list frozen and shared: the messages of a folder have a handful of
 * combinations between them, so a listing builds a handful of lists, not one per message.
 */
export function sharedFlagLists(): (bits: number, keywords: string) => readonly string[] {
  const lists = new Map<string, readonly string[]>();
  return (bits, keywords) => {
    const key = keywords === '' ? String(bits) : `${bits} ${keywords}`;
    let list = lists.get(key);
    if (!list) lists.set(key, (list = Object.freeze(flagList(bits, keywords))));
    return list;
  };
}

/** Applies a STORE mode to one message's flags. */
export function applyFlags(bits: number, keywords: readonly string[], mode: 'add' | 'remove' | 'replace', change: FlagSet): FlagSet {
  if (mode === 'replace') return change;
  if (mode === 'add') {
    const merged = [...keywords];
    for (const k of change.keywords) if (!merged.some((m) => m.toLowerCase() === k.toLowerCase())) merged.push(k);
    return { bits: bits | change.bits, keywords: merged };
  }
  const removed = new Set(change.keywords.map((k) => k.toLowerCase()));
  return { bits: bits & ~change.bits, keywords: keywords.filter((k) => !removed.has(k.toLowerCase())) };
}
