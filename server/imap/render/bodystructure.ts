// BODYSTRUCTURE and BODY (RFC 3501 §7.4.2, RFC 9051 §7.5.2) from the structure stored at delivery (the
// indexer's BODYSTRUCTURE shape with our RFC 2231 parameter lists, server/mime/structure-params.ts), walked in
// step with our part tree. BODY is "a form of BODYSTRUCTURE without extension data": a multipart is its parts
// and subtype only (its parameter list is extension data, body-ext-mpart), a single part its basic fields plus
// the line count (text) or envelope, body and line count (message/rfc822). The envelope of an encapsulated
// message is computed from its header bytes like the top-level ENVELOPE (render/envelope.ts).
import type { MimePart } from '../../mime/types.js';
import { bytesToText } from '../../mime/text.js';
import type { Value } from '../wire/types.js';
import { displayText, envelopeFromHeader, type RenderOptions } from './envelope.js';
import { adjacentItems } from './lists.js';

/** Reads the header bytes of an encapsulated message's root part. */
export type HeaderReader = (part: MimePart) => Promise<Buffer>;

/** Deepest nesting walked; the MIME indexer caps depth far below this (SEALPOST_MIME_MAX_DEPTH). */
const MAX_DEPTH = 4096;

const isBufferLike = (value: unknown): value is { buffer: Buffer } =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Buffer.isBuffer((value as { buffer?: unknown }).buffer);

/** A stored scalar or list as a response value (strings kept as stored; 8-bit text 7-bit for non-UTF-8 clients). */
export function storedValue(value: unknown, options: RenderOptions, depth = 0): Value {
  if (value === null || value === undefined || value === false) return null;
  if (typeof value === 'number') return { atom: String(Math.max(0, Math.floor(value))) };
  if (Array.isArray(value)) {
    if (depth > MAX_DEPTH) throw new Error('stored BODYSTRUCTURE nested too deeply');
    return value.map((item: unknown) => storedValue(item, options, depth + 1));
  }
  if (Buffer.isBuffer(value) || isBufferLike(value)) {
    const bytes = Buffer.isBuffer(value) ? value : value.buffer;
    return options.utf8 ? { string: bytes } : { string: displayText(bytesToText(bytes), { utf8: false }) };
  }
  if (typeof value === 'string') {
    // The indexer keeps header text as 'binary' strings (one char per byte); other strings are already text.
    // eslint-disable-next-line no-control-regex
    if (!/[^\x00-\x7f]/.test(value)) return { string: value };
    // eslint-disable-next-line no-control-regex
    const text = /[^\x00-\xff]/.test(value) ? value : bytesToText(Buffer.from(value, 'binary'));
    return options.utf8 ? { string: text } : { string: displayText(text, { utf8: false }) };
  }
  return { string: String(value) };
}

const lower = (value: unknown): string => (typeof value === 'string' ? value.toLowerCase() : Buffer.isBuffer(value) ? value.toString('latin1').toLowerCase() : '');

interface Walk {
  readonly extensions: boolean;
  readonly options: RenderOptions;
  readonly readHeader: HeaderReader;
}

async function render(bs: unknown, part: MimePart | undefined, walk: Walk, depth: number): Promise<Value> {
  if (!Array.isArray(bs) || depth > MAX_DEPTH) throw new Error('stored BODYSTRUCTURE has an unexpected shape');
  if (Array.isArray(bs[0])) {
    // multipart: 1*body SP media-subtype [SP body-ext-mpart]
    let count = 0;
    while (count < bs.length && Array.isArray(bs[count])) count++;
    const children: Value[] = [];
    for (let k = 0; k < count; k++) children.push(await render(bs[k], part?.children?.[k], walk, depth + 1));
    const rest = bs.slice(count);
    // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]: the parts side by side, no SP between.
    const parts = adjacentItems(children, walk.options.utf8);
    if (!walk.extensions) return [...parts, storedValue(rest[0], walk.options)];
    return [...parts, ...rest.map((item: unknown) => storedValue(item, walk.options))];
  }
  const basic = bs.slice(0, 7).map((item: unknown) => storedValue(item, walk.options));
  const type = lower(bs[0]);
  const subtype = lower(bs[1]);
  let fixed: Value[];
  let extension: unknown[];
  if (type === 'text') {
    fixed = [...basic, storedValue(bs[7], walk.options)];
    extension = bs.slice(8);
  } else if (type === 'message' && subtype === 'rfc822' && Array.isArray(bs[7]) && Array.isArray(bs[8])) {
    const inner = part?.message;
    const envelope = inner ? envelopeFromHeader(await walk.readHeader(inner), walk.options) : storedValue(bs[7], walk.options);
    fixed = [...basic, envelope, await render(bs[8], inner, walk, depth + 1), storedValue(bs[9], walk.options)];
    extension = bs.slice(10);
  } else {
    fixed = basic;
    extension = bs.slice(7);
  }
  if (!walk.extensions) return fixed;
  return [...fixed, ...extension.map((item: unknown) => storedValue(item, walk.options))];
}

/**
 * BODYSTRUCTURE (`extensions` true) or BODY (false) of a message from its stored structure value and part tree.
 * `readHeader` is called for each encapsulated message/rfc822 whose envelope the answer carries.
 */
export function bodyStructureValue(stored: unknown, root: MimePart, extensions: boolean, options: RenderOptions, readHeader: HeaderReader): Promise<Value> {
  return render(stored, root, { extensions, options, readHeader }, 0);
}
