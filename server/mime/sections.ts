// RFC 3501 section extraction over stored raw bytes: BODY[<path>.<kind>]<start.length>.
// Only the byte ranges a section needs are read through the RangeReader.
import type { MessageStructure, MimePart, RangeReader } from './types.js';

export type SectionKind = 'full' | 'header' | 'text' | 'mime' | 'header.fields' | 'header.fields.not';

export interface SectionSpec {
  /** '' for the whole message, else a dotted part number: '1', '1.2', … */
  readonly path: string;
  readonly kind: SectionKind;
  /** Field names for header.fields / header.fields.not (any case). */
  readonly fields?: readonly string[];
  /** <start.length>: octets from `start`; length omitted = to the end. */
  readonly partial?: { readonly start: number; readonly length?: number };
}

export interface Located {
  node: MimePart;
  /** True when `node` is addressed as a message (root or encapsulated), false as a body part. */
  asMessage: boolean;
}

/** Walks a dotted part number (RFC 3501 6.4.5). Null when the part does not exist. */
export function locatePart(root: MimePart, path: string): Located | null {
  let at: Located = { node: root, asMessage: true };
  if (path === '') return at;
  for (const piece of path.split('.')) {
    if (!/^[1-9][0-9]{0,8}$/.test(piece)) return null;
    const n = Number(piece);
    let { node, asMessage } = at;
    if (!asMessage && node.message) {
      node = node.message;
      asMessage = true;
    }
    if (node.children) {
      const child = node.children[n - 1];
      if (!child) return null;
      at = { node: child, asMessage: false };
    } else if (asMessage && n === 1) {
      // A non-multipart message has exactly one part, "1": its body.
      at = { node, asMessage: false };
    } else {
      return null;
    }
  }
  return at;
}

/** The message whose HEADER/TEXT a spec addresses (the root, or an encapsulated message/rfc822). */
function messageOf(at: Located): MimePart | null {
  if (at.asMessage) return at.node;
  return at.node.message ?? null;
}

/** Contiguous raw range of a section before any partial, or null when it is filtered or absent. */
export function sectionRange(structure: MessageStructure, spec: SectionSpec): { start: number; end: number } | null {
  const at = locatePart(structure.root, spec.path);
  if (!at) return null;
  switch (spec.kind) {
    case 'full':
      return at.asMessage ? { start: 0, end: structure.size } : { start: at.node.bodyStart, end: at.node.bodyEnd };
    case 'mime':
      return spec.path === '' ? null : { start: at.node.headerStart, end: at.node.headerEnd };
    case 'header': {
      const m = messageOf(at);
      return m ? { start: m.headerStart, end: m.headerEnd } : null;
    }
    case 'text': {
      const m = messageOf(at);
      return m ? { start: m.bodyStart, end: m.bodyEnd } : null;
    }
    default:
      return null;
  }
}

/** Applies <start.length> to a section of `size` octets: the sub-range to return. */
export function partialRange(size: number, partial: SectionSpec['partial']): { start: number; end: number } {
  if (!partial) return { start: 0, end: size };
  const start = Math.min(Math.max(0, partial.start), size);
  const end = partial.length === undefined ? size : Math.min(size, start + Math.max(0, partial.length));
  return { start, end };
}

/** Header fields of a header block: each field with its continuation lines, as raw bytes. */
export function splitHeaderFields(header: Buffer): { name: string; bytes: Buffer }[] {
  const fields: { name: string; start: number; end: number }[] = [];
  let pos = 0;
  while (pos < header.length) {
    let next = header.indexOf(0x0a, pos);
    next = next < 0 ? header.length : next + 1;
    const line = header.subarray(pos, next);
    const content = line.toString('binary').replace(/[\r\n]+$/, '');
    if (content === '') break; // the empty line that ends the header
    const last = fields[fields.length - 1];
    if ((line[0] === 0x20 || line[0] === 0x09) && last) {
      last.end = next;
    } else {
      const colon = content.indexOf(':');
      const name = (colon >= 0 ? content.slice(0, colon) : content).trim().toLowerCase();
      fields.push({ name, start: pos, end: next });
    }
    pos = next;
  }
  return fields.map((f) => ({ name: f.name, bytes: header.subarray(f.start, f.end) }));
}

/** HEADER.FIELDS / HEADER.FIELDS.NOT: the matching fields byte for byte, then the empty line. */
export function filterHeader(header: Buffer, fields: readonly string[], not: boolean): Buffer {
  const wanted = new Set(fields.map((f) => f.toLowerCase()));
  const kept: Buffer[] = [];
  for (const f of splitHeaderFields(header)) {
    if (wanted.has(f.name) !== not) {
      const b = f.bytes;
      // A last field without its own line break (header cut by end of message) still needs one.
      kept.push(b[b.length - 1] === 0x0a ? b : Buffer.concat([b, Buffer.from('\r\n')]));
    }
  }
  kept.push(Buffer.from('\r\n'));
  return Buffer.concat(kept);
}

/** HEADER.FIELDS[.NOT] of a header block: the fields kept, then a blank line, with the spec's <partial> applied. */
export function headerFieldsSection(header: Buffer, spec: SectionSpec): Buffer {
  const filtered = filterHeader(header, spec.fields ?? [], spec.kind === 'header.fields.not');
  const r = partialRange(filtered.length, spec.partial);
  return filtered.subarray(r.start, r.end);
}

/** Section bytes exactly as FETCH BODY[...] returns them; empty for a part that does not exist. */
export async function fetchSection(structure: MessageStructure, spec: SectionSpec, read: RangeReader): Promise<Buffer> {
  const at = locatePart(structure.root, spec.path);
  if (!at) return Buffer.alloc(0);
  if (spec.kind === 'header.fields' || spec.kind === 'header.fields.not') {
    const m = messageOf(at);
    if (!m) return Buffer.alloc(0);
    return headerFieldsSection(m.headerEnd > m.headerStart ? await read(m.headerStart, m.headerEnd) : Buffer.alloc(0), spec);
  }
  const range = sectionRange(structure, spec);
  if (!range) return Buffer.alloc(0);
  const r = partialRange(range.end - range.start, spec.partial);
  if (r.end <= r.start) return Buffer.alloc(0);
  return read(range.start + r.start, range.start + r.end);
}

/** Octet count of a section (before partial) without reading filtered headers; null if it must be read. */
export function sectionSize(structure: MessageStructure, spec: SectionSpec): number | null {
  if (spec.kind === 'header.fields' || spec.kind === 'header.fields.not') return null;
  const range = sectionRange(structure, spec);
  return range ? range.end - range.start : 0;
}

/**
 * Parses "BODY[1.2.HEADER.FIELDS (FROM TO)]<0.100>" (also BODY.PEEK[…], BINARY is not handled)
 * or just the bracket content "1.2.MIME". Returns null for a malformed section.
 */
export function parseSectionSpec(text: string): SectionSpec | null {
  const m = /^\s*(?:BODY(?:\.PEEK)?\s*\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?|([^[\]<>]*))\s*$/i.exec(text);
  if (!m) return null;
  const inner = (m[1] ?? m[4] ?? '').trim();
  const partial = m[2] !== undefined ? { start: Number(m[2]), ...(m[3] !== undefined ? { length: Number(m[3]) } : {}) } : undefined;
  const spec = /^((?:[1-9][0-9]*)(?:\.[1-9][0-9]*)*)?(?:^|\.)?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?\s*(?:\(([^)]*)\))?$/i.exec(inner);
  if (!spec) return null;
  const path = spec[1] ?? '';
  const word = (spec[2] ?? '').toLowerCase();
  if (inner !== '' && !path && !word) return null;
  if (path && word && !inner.startsWith(`${path}.`)) return null;
  if (inner.endsWith('.')) return null;
  const kind: SectionKind = word === '' ? 'full' : (word as SectionKind);
  if (kind === 'mime' && path === '') return null;
  const isFields = kind === 'header.fields' || kind === 'header.fields.not';
  if (isFields !== (spec[3] !== undefined)) return null;
  const fields = isFields ? (spec[3] ?? '').trim().split(/\s+/).filter(Boolean).map((f) => f.replace(/^"|"$/g, '')) : undefined;
  if (isFields && !fields?.length) return null;
  return { path, kind, ...(fields ? { fields } : {}), ...(partial ? { partial } : {}) };
}
