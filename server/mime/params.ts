// MIME parameters of Content-Type and Content-Disposition (RFC 2045 §5.1, RFC 2183): split from the field,
// RFC 2231 §3 continuations joined as BODYSTRUCTURE carries them, and the one decoder of a parameter's
// text (RFC 2231 §4 charset'language'%XX, and RFC 2047 encoded words inside quoted values, which is not
// legal but common). Every step is one pass over the field; nothing here throws on any input.
import libmime from 'libmime';
import libcharset from 'libmime/lib/charset.js';
import { bytesToText } from './text.js';
import type { IndexerNode } from './indexer.js';
import { splitHeaderFields } from './sections.js';
import { boundedHeader } from './limits.js';

/** One parameter as written: lower-cased name, value unquoted, as a 'binary' string (one char per byte). */
export interface RawParameter {
  readonly name: string;
  readonly value: string;
}

/** A parameter after RFC 2231 §3 joining: `extended` when the value is charset'language'%XX (name ends in "*"). */
export interface MimeParameter {
  /** Lower-cased name, with the trailing "*" of an extended value. */
  readonly name: string;
  /** As a 'binary' string: extended values still percent-encoded, others as written (unquoted). */
  readonly value: string;
  readonly extended: boolean;
}

// RFC 2045 token characters (no tspecials, no space, no CTLs).
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

/**
 * Splits a Content-Type/Content-Disposition value ('binary' string, folded or not) into its value and its
 * parameters in order. Quoted strings follow RFC 5322 (backslash quotes the next character); an unquoted
 * value runs to the next ";" (lenient: senders put spaces in unquoted file names). Unusable names are dropped.
 */
export function splitParameters(field: string): { value: string; params: RawParameter[] } {
  const len = field.length;
  let i = field.indexOf(';');
  if (i < 0) i = len;
  const value = field.slice(0, i).trim();
  const params: RawParameter[] = [];
  while (i < len) {
    i++; // past ";"
    const eq = nextOf(field, i, '=', ';');
    if (eq >= len || field[eq] === ';') {
      i = eq; // a name without "=": nothing to keep
      continue;
    }
    const name = field.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (i < len && isSpace(field[i])) i++;
    let text: string;
    if (field[i] === '"') {
      const parts: string[] = [];
      let from = ++i;
      while (i < len && field[i] !== '"') {
        if (field[i] === '\\' && i + 1 < len) {
          parts.push(field.slice(from, i));
          from = i + 1;
          i += 2;
        } else {
          i++;
        }
      }
      parts.push(field.slice(from, i));
      text = parts.join('');
      i = nextOf(field, i, ';', ';'); // anything after the closing quote up to ";" is not part of the value
    } else {
      const end = nextOf(field, i, ';', ';');
      text = field.slice(i, end).trim();
      i = end;
    }
    if (TOKEN.test(name)) params.push({ name, value: text });
  }
  return { value, params };
}

/** Index of the first `a` or `b` at or after `from` (field length when neither occurs). */
function nextOf(field: string, from: number, a: string, b: string): number {
  for (let i = from; i < field.length; i++) if (field[i] === a || field[i] === b) return i;
  return field.length;
}

/** RFC 2231 §7: attribute-char, the characters an extended value may carry without a %XX escape. */
const ATTRIBUTE_CHAR = /[!#$&+\-.0-9A-Z^_`a-z{|}~]/;

function percentEncode(binary: string): string {
  let out = '';
  for (const c of binary) out += ATTRIBUTE_CHAR.test(c) ? c : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

interface Section {
  readonly number: string;
  readonly extended: boolean;
  readonly value: string;
  readonly name: string;
}

/** "name*3*" → base "name", section "3", extended; "name*" → extended, no section. Per the RFC 2231 §7 grammar. */
function nameParts(name: string): { base: string; section: string | null; extended: boolean } {
  let end = name.length;
  const extended = name.endsWith('*');
  if (extended) end--;
  let digits = end;
  while (digits > 0 && name.charCodeAt(digits - 1) >= 0x30 && name.charCodeAt(digits - 1) <= 0x39) digits--;
  const number = name.slice(digits, end);
  // section := "*0" / ("*" [1-9] *DIGIT): no leading zeros.
  if (number && digits > 1 && name[digits - 1] === '*' && (number === '0' || number[0] !== '0')) {
    return { base: name.slice(0, digits - 1), section: number, extended };
  }
  return { base: name.slice(0, end), section: null, extended };
}

/**
 * RFC 2231 §3 and §4.1, as Dovecot 2.3 returns them in BODYSTRUCTURE: the sections of a parameter numbered
 * 0, 1, 2… without a gap become one parameter — "name" when none is extended, else "name*" with the first
 * section's charset'language' and every unencoded section %XX-escaped. Sections after a gap (or repeated)
 * stay as written ("name*7"). Other parameters pass through, extended ones still encoded. Linear: the walk
 * stops at the first missing section number whatever the numbers are.
 */
export function joinContinuations(params: readonly RawParameter[]): MimeParameter[] {
  const groups = new Map<string, Map<string, Section>>();
  const leftovers = new Map<string, Section[]>();
  const order: ({ kind: 'plain'; param: MimeParameter } | { kind: 'group'; base: string })[] = [];
  for (const p of params) {
    const { base, section, extended } = nameParts(p.name);
    if (section === null) {
      order.push({ kind: 'plain', param: { name: p.name, value: p.value, extended } });
      continue;
    }
    let sections = groups.get(base);
    if (!sections) {
      sections = new Map();
      groups.set(base, sections);
      leftovers.set(base, []);
      order.push({ kind: 'group', base });
    }
    const s: Section = { number: section, extended, value: p.value, name: p.name };
    if (sections.has(section)) leftovers.get(base)?.push(s);
    else sections.set(section, s);
  }
  const out: MimeParameter[] = [];
  for (const entry of order) {
    if (entry.kind === 'plain') {
      out.push(entry.param);
      continue;
    }
    const sections = groups.get(entry.base) ?? new Map<string, Section>();
    const run: Section[] = [];
    for (let n = 0; sections.has(String(n)); n++) run.push(sections.get(String(n)) as Section);
    const inRun = new Set(run);
    if (run.length) {
      if (run.some((s) => s.extended)) {
        const pieces = run.map((s, k) => (s.extended ? s.value : k === 0 ? `''${percentEncode(s.value)}` : percentEncode(s.value)));
        out.push({ name: `${entry.base}*`, value: pieces.join(''), extended: true });
      } else {
        out.push({ name: entry.base, value: run.map((s) => s.value).join(''), extended: false });
      }
    }
    const rest = [...sections.values()].filter((s) => !inRun.has(s)).concat(leftovers.get(entry.base) ?? []);
    for (const s of rest) out.push({ name: s.name, value: s.value, extended: false });
  }
  return out;
}

/** Parameters of a field value ('binary' string), continuations joined: what BODYSTRUCTURE lists. */
export function parametersOf(field: string): MimeParameter[] {
  return joinContinuations(splitParameters(field).params);
}

/** %XX escapes as bytes; a "%" not followed by two hex digits stays as it is. */
function percentDecode(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(c & 0xff);
    }
  }
  return Buffer.from(bytes);
}

function decodeCharset(bytes: Buffer, charset: string): string {
  const cs = charset.trim().toLowerCase();
  if (!cs || cs === 'utf-8' || cs === 'utf8' || cs === 'us-ascii') return bytesToText(bytes);
  try {
    return libcharset.decode(bytes, cs);
  } catch {
    return bytesToText(bytes); // a charset iconv-lite does not know: read the bytes as we read raw headers
  }
}

/** RFC 2047 encoded words in a value (libmime); an unknown charset keeps the value as sent. */
function decodeEncodedWords(text: string): string {
  if (!text.includes('=?')) return text;
  try {
    return libmime.decodeWords(text);
  } catch {
    return text;
  }
}

/**
 * The text a user should see for a parameter: RFC 2231 §4 values have their charset'language' prefix removed,
 * %XX escapes decoded (bad escapes kept literally) and the bytes read in that charset (unknown: UTF-8 when
 * valid, else Windows-1252); other values are read as raw header text with RFC 2047 encoded words decoded.
 */
export function decodeParameter(param: MimeParameter): string {
  if (param.extended) {
    const first = param.value.indexOf("'");
    const second = first < 0 ? -1 : param.value.indexOf("'", first + 1);
    if (second < 0) return decodeCharset(percentDecode(param.value), '');
    return decodeCharset(percentDecode(param.value.slice(second + 1)), param.value.slice(0, first));
  }
  return decodeEncodedWords(bytesToText(Buffer.from(param.value, 'binary')));
}

/** Decoded value of parameter `name` in a field value; RFC 2231's "name*" wins over a plain "name" (as RFC 6266 §4.3 says). */
export function decodedParameter(field: string, name: string): string | null {
  const wanted = name.toLowerCase();
  const params = parametersOf(field);
  const extended = params.find((p) => p.extended && p.name === `${wanted}*`);
  const plain = params.find((p) => !p.extended && p.name === wanted);
  const chosen = extended ?? plain;
  return chosen ? decodeParameter(chosen) : null;
}

/** The last field `name` of a header block as the indexer keeps it (lines as 'binary' strings), unfolded, without its name. */
export function lastField(node: IndexerNode, name: string): string | null {
  const prefix = new RegExp(`^${name}[ \\t]*:`, 'i');
  for (let k = node.header.length - 1; k >= 0; k--) {
    const line = node.header[k] as string;
    const m = prefix.exec(line);
    if (m) return line.slice(m[0].length).replace(/\r?\n(?=[ \t])/g, '');
  }
  return null;
}

/** The last field `name` of a header block (raw bytes), unfolded, without its name, as a 'binary' string. */
function lastRawField(header: Buffer, name: string): string | null {
  const field = splitHeaderFields(boundedHeader(header))
    .filter((f) => f.name === name)
    .pop();
  if (!field) return null;
  const text = field.bytes.toString('binary');
  return text.slice(text.indexOf(':') + 1).replace(/\r?\n(?=[ \t])/g, '').replace(/[\r\n]+$/, '');
}

/**
 * File name of a part as a user should see it, from the part's header block (BODY[n.MIME] bytes):
 * Content-Disposition's filename, else Content-Type's name (RFC 2183 §2.3, RFC 2231, RFC 2047); null if neither.
 */
export function partFileName(header: Buffer): string | null {
  const disposition = lastRawField(header, 'content-disposition');
  const fromDisposition = disposition === null ? null : decodedParameter(disposition, 'filename');
  if (fromDisposition !== null) return fromDisposition.trim();
  const type = lastRawField(header, 'content-type');
  const fromType = type === null ? null : decodedParameter(type, 'name');
  return fromType === null ? null : fromType.trim();
}
