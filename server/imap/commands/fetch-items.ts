// The arguments of FETCH / UID FETCH (RFC 9051 §6.4.5 and §9 `fetch`, RFC 3501 §6.4.5): the data items and
// macros, and the fetch modifiers CHANGEDSINCE / VANISHED (RFC 7162 §3.1.4.1, §3.2.6). Items keep the name the
// response repeats (RFC 9051 §7.5.2: BODY.PEEK answers as BODY, a partial as its origin octet).
import type { Cursor, Partial, SectionRef } from '../wire/types.js';
import { ParseError } from '../wire/types.js';

export type FetchItem =
  | { readonly kind: 'uid' | 'flags' | 'internaldate' | 'size' | 'envelope' | 'body' | 'bodystructure' | 'modseq' | 'preview' | 'savedate' | 'emailid' | 'threadid' }
  /** BODY[…], BODY.PEEK[…], RFC822, RFC822.HEADER, RFC822.TEXT: raw section bytes. */
  | { readonly kind: 'section'; readonly key: string; readonly section: SectionRef; readonly partial: Partial | null; readonly peek: boolean }
  /** BINARY[…], BINARY.PEEK[…] (RFC 3516): decoded part content. */
  | { readonly kind: 'binary'; readonly key: string; readonly section: SectionRef; readonly partial: Partial | null; readonly peek: boolean }
  /** BINARY.SIZE[…] (RFC 3516). */
  | { readonly kind: 'binary-size'; readonly key: string; readonly section: SectionRef };

export interface FetchArguments {
  readonly items: FetchItem[];
  /** CHANGEDSINCE mod-sequence, or null. */
  readonly changedSince: number | null;
  readonly vanished: boolean;
  /** An item that sets \Seen was named (BODY[…], BINARY[…], RFC822, RFC822.TEXT), even if repeated as .PEEK. */
  readonly setsSeen: boolean;
}

/** The name an item is answered under; items named twice are answered once. */
export const itemKey = (item: FetchItem): string => ('key' in item ? item.key : item.kind);

/** Drops repeated items (a long list of one item is bounded by the command line limit, maxLineBytes, alone). */
function unique(items: readonly FetchItem[]): FetchItem[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = itemKey(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const SIMPLE: Readonly<Record<string, FetchItem>> = {
  UID: { kind: 'uid' },
  FLAGS: { kind: 'flags' },
  INTERNALDATE: { kind: 'internaldate' },
  'RFC822.SIZE': { kind: 'size' },
  ENVELOPE: { kind: 'envelope' },
  BODYSTRUCTURE: { kind: 'bodystructure' },
  MODSEQ: { kind: 'modseq' },
  SAVEDATE: { kind: 'savedate' },
  EMAILID: { kind: 'emailid' },
  THREADID: { kind: 'threadid' },
};

/** RFC 9051 §6.4.5 macros. */
const MACROS: Readonly<Record<string, readonly FetchItem[]>> = {
  ALL: [{ kind: 'flags' }, { kind: 'internaldate' }, { kind: 'size' }, { kind: 'envelope' }],
  FAST: [{ kind: 'flags' }, { kind: 'internaldate' }, { kind: 'size' }],
  FULL: [{ kind: 'flags' }, { kind: 'internaldate' }, { kind: 'size' }, { kind: 'envelope' }, { kind: 'body' }],
};

const ASTRING_ATOM = /^[!#$&'*+\-.0-9:<=>?@A-Z^_`a-z|}~\]]+$/;

/** `[section]` as the response names it: field names as atoms where they can be, else quoted. */
export function sectionText(section: SectionRef): string {
  const parts: string[] = [];
  if (section.path) parts.push(section.path);
  if (section.text) parts.push(section.text);
  let text = parts.join('.');
  if (section.fields) {
    const names = section.fields.map((name) => (ASTRING_ATOM.test(name) ? name : `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`));
    text += ` (${names.join(' ')})`;
  }
  return `[${text}]`;
}

const partialText = (partial: Partial | null): string => (partial ? `<${partial.start}>` : '');

function sectionItem(cursor: Cursor, peek: boolean): FetchItem {
  const section = cursor.section();
  const partial = cursor.partial();
  return { kind: 'section', key: `BODY${sectionText(section)}${partialText(partial)}`, section, partial, peek };
}

function binarySection(cursor: Cursor): SectionRef {
  const section = cursor.section();
  // RFC 3516 §7: section-binary = "[" [section-part] "]": a part number only.
  if (section.text !== '') throw new ParseError('BINARY takes a part number only');
  return section;
}

/** One fetch-att. */
function fetchAtt(cursor: Cursor): FetchItem[] {
  // Longest names first: the cursor matches keywords followed by a delimiter, and `[` counts as one.
  if (cursor.tryKeyword('BODY.PEEK')) return [sectionItem(cursor, true)];
  if (cursor.tryKeyword('BINARY.PEEK')) {
    const section = binarySection(cursor);
    const partial = cursor.partial();
    return [{ kind: 'binary', key: `BINARY${sectionText(section)}${partialText(partial)}`, section, partial, peek: true }];
  }
  if (cursor.tryKeyword('BINARY.SIZE')) {
    const section = binarySection(cursor);
    return [{ kind: 'binary-size', key: `BINARY.SIZE${sectionText(section)}`, section }];
  }
  if (cursor.tryKeyword('BINARY')) {
    const section = binarySection(cursor);
    const partial = cursor.partial();
    return [{ kind: 'binary', key: `BINARY${sectionText(section)}${partialText(partial)}`, section, partial, peek: false }];
  }
  if (cursor.tryKeyword('BODYSTRUCTURE')) return [{ kind: 'bodystructure' }];
  if (cursor.tryKeyword('BODY')) {
    if (cursor.peek() === '[') return [sectionItem(cursor, false)];
    return [{ kind: 'body' }];
  }
  if (cursor.tryKeyword('PREVIEW')) return [{ kind: 'preview' }];
  const name = cursor.atom();
  switch (name) {
    case 'RFC822':
      return [{ kind: 'section', key: 'RFC822', section: { path: '', text: '' }, partial: null, peek: false }];
    case 'RFC822.HEADER':
      // RFC 3501 §6.4.5: "Functionally equivalent to BODY.PEEK[HEADER]".
      return [{ kind: 'section', key: 'RFC822.HEADER', section: { path: '', text: 'HEADER' }, partial: null, peek: true }];
    case 'RFC822.TEXT':
      return [{ kind: 'section', key: 'RFC822.TEXT', section: { path: '', text: 'TEXT' }, partial: null, peek: false }];
  }
  const simple = SIMPLE[name];
  if (!simple) throw new ParseError('Unknown FETCH data item');
  return [simple];
}

/** RFC 8970 §5: "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod = "LAZY" (we always compute). */
function previewModifiers(cursor: Cursor): void {
  cursor.list((c) => {
    if (c.atom() !== 'LAZY') throw new ParseError('Unknown PREVIEW modifier');
    return null;
  });
}

/** `(` fetch-att *(SP fetch-att) `)`, where PREVIEW may carry its own modifier list. */
function itemList(cursor: Cursor): FetchItem[] {
  cursor.expect('(');
  const items: FetchItem[] = [];
  for (;;) {
    const read = fetchAtt(cursor);
    items.push(...read);
    if (cursor.peek() === ')') break;
    cursor.sp();
    if (cursor.peek() === '(' && read[0]?.kind === 'preview') {
      previewModifiers(cursor);
      if (cursor.peek() === ')') break;
      cursor.sp();
    }
  }
  cursor.expect(')');
  return items;
}

type Modifiers = { changedSince: number | null; vanished: boolean };

/** One fetch-modifier (RFC 7162 §3.1.4.1 CHANGEDSINCE, §3.2.6 VANISHED), each at most once. */
function modifier(cursor: Cursor, name: string, into: Modifiers): void {
  if (name === 'CHANGEDSINCE' && into.changedSince === null) {
    cursor.sp();
    into.changedSince = cursor.number64();
  } else if (name === 'VANISHED' && !into.vanished) {
    into.vanished = true;
  } else {
    throw new ParseError('Unknown or repeated FETCH modifier');
  }
}

/**
 * `(` modifier *(SP modifier) `)`. After a lone PREVIEW the first list may instead be PREVIEW's own `(LAZY)`
 * (RFC 8970 §5), followed by the fetch modifiers.
 */
function modifiers(cursor: Cursor, into: Modifiers, previewFirst: boolean): void {
  cursor.expect('(');
  const lazy = previewFirst && cursor.peekAtom() === 'LAZY';
  for (;;) {
    const name = cursor.atom();
    if (lazy) {
      if (name !== 'LAZY') throw new ParseError('Unknown PREVIEW modifier');
    } else {
      modifier(cursor, name, into);
    }
    if (cursor.peek() === ')') break;
    cursor.sp();
  }
  cursor.expect(')');
  if (lazy && cursor.trySp()) modifiers(cursor, into, false);
}

/** Reads `(items | macro | item) [SP modifiers]` up to the end of the arguments. */
export function readFetchArguments(cursor: Cursor): FetchArguments {
  let items: FetchItem[];
  if (cursor.peek() === '(') {
    items = itemList(cursor);
  } else {
    const macro = MACROS[cursor.peekAtom()];
    if (macro) {
      cursor.atom();
      items = [...macro];
    } else {
      items = fetchAtt(cursor);
    }
  }
  const extra: Modifiers = { changedSince: null, vanished: false };
  if (cursor.trySp()) modifiers(cursor, extra, items.length === 1 && items[0]?.kind === 'preview');
  cursor.end();
  if (extra.vanished && extra.changedSince === null) throw new ParseError('VANISHED needs CHANGEDSINCE');
  const setsSeen = items.some((item) => (item.kind === 'section' || item.kind === 'binary') && !item.peek);
  return { items: unique(items), ...extra, setsSeen };
}
