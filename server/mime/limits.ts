// MIME structure limits (SEALPOST_MIME_* environment variables, read here only) and a linear pre-scan
// that tells which messages may exceed them, before any parser builds a tree.
import { wholeNumbersFromEnv, type NumericSetting } from '../config/env-values.js';

export interface MimeLimits {
  /** Containers (multipart/*, message/rfc822) nested deeper than this are served as one opaque part. */
  readonly maxDepth: number;
  /** Parts described in BODYSTRUCTURE; the rest of the message is served as one opaque part. */
  readonly maxParts: number;
}

/** Postfix stops at 100 levels (mime_nesting_limit), Dovecot at 100 levels and 10,000 parts. */
export const DEFAULT_MIME_LIMITS: MimeLimits = { maxDepth: 50, maxParts: 3000 };

type Env = Readonly<Record<string, string | undefined>>;

const MIME_ENV: readonly NumericSetting<keyof MimeLimits>[] = [
  { env: 'SEALPOST_MIME_MAX_DEPTH', key: 'maxDepth', min: 2, max: 1000 },
  { env: 'SEALPOST_MIME_MAX_PARTS', key: 'maxParts', min: 2, max: 1_000_000 },
];

/** The limits the environment sets; throws ConfigError naming a bad variable (for start-up checks). */
export function mimeLimitsFromEnv(env: Env): MimeLimits {
  return wholeNumbersFromEnv(env, MIME_ENV, DEFAULT_MIME_LIMITS);
}

/** The limits parsing uses: the environment's, or the defaults when a variable is unusable (parsing never throws). */
export function mimeLimits(env: Env = process.env): MimeLimits {
  try {
    return mimeLimitsFromEnv(env);
  } catch {
    return DEFAULT_MIME_LIMITS;
  }
}

/**
 * Header bytes handed to parsers (ENVELOPE, BODYSTRUCTURE, search): per header block and per field, as Postfix
 * bounds a header (header_size_limit, 100 KiB). Parsing beyond these grows faster than linearly in the
 * libraries (folded lines, repeated fields, long address lists); the stored bytes keep every octet.
 */
export const HEADER_PARSE_BYTES = 64 * 1024;
export const FIELD_PARSE_BYTES = 16 * 1024;

export interface MimeShape {
  /** Lines starting with "--" (every delimiter line is one, so parts ≤ this + 1). */
  readonly dashLines: number;
  /** Header-like lines naming a multipart/* or message/* type (every container has one, digest parts aside). */
  readonly containerTypes: number;
  /** Longest field-like line ("Name:" …) with its continuation lines. */
  readonly longestField: number;
  /** Longest run of non-empty lines that holds a field-like line (a header block is one). */
  readonly longestHeaderRun: number;
  /** Lines (the indexer's per-line cost is what makes dense short lines slow). */
  readonly lines: number;
  /** Longest run of CRs not followed by LF (each is a line to the indexer, which rescans the run per line). */
  readonly longestLoneCrRun: number;
}

const CR = 0x0d;
const LF = 0x0a;
const CONTENT_TYPE = Buffer.from('content-type:');

function isContainerTypeLine(raw: Buffer, p: number): boolean {
  for (let i = 0; i < CONTENT_TYPE.length; i++) {
    const c = raw[p + i];
    if (c === undefined || (c | 0x20) !== CONTENT_TYPE[i]) return false;
  }
  let q = p + CONTENT_TYPE.length;
  while (raw[q] === 0x20 || raw[q] === 0x09) q++;
  const first = (raw[q] ?? 0) | 0x20;
  if (first !== 0x6d) return false; // 'm'
  const word = raw.toString('latin1', q, Math.min(raw.length, q + 10)).toLowerCase();
  return word.startsWith('multipart/') || word.startsWith('message/');
}

const COLON = 0x3a;
/** Bytes a field name and its colon may take at the start of a line. */
const FIELD_NAME_SCAN = 100;

/** A field name and its colon start the line at p ("Name:", printable ASCII without space). */
function isFieldLine(raw: Buffer, p: number): boolean {
  for (let i = p, n = Math.min(raw.length, p + FIELD_NAME_SCAN); i < n; i++) {
    const c = raw[i] as number;
    if (c === COLON) return i > p;
    if (c < 0x21 || c > 0x7e) return false;
  }
  return false;
}

/**
 * The shape of a message in one linear pass: line by line (memchr speed) when every CR ends a CRLF, else byte by
 * byte. Both give the same shape for the same bytes.
 */
export function mimeShape(raw: Buffer): MimeShape {
  return mimeShapeByLines(raw) ?? mimeShapeByBytes(raw);
}

/**
 * The shape found a line at a time (Buffer.indexOf is memchr): the per-line-start work of mimeShapeByBytes once
 * per line, and whole line lengths added to the field and run counters. Null when the bytes hold a lone CR (a CR
 * not followed by LF starts a line of its own to the indexer; mimeShapeByBytes handles those).
 */
export function mimeShapeByLines(raw: Buffer): MimeShape | null {
  let dashLines = 0;
  let containerTypes = 0;
  let longestField = 0;
  let longestHeaderRun = 0;
  let lines = 0;
  let field = -1; // length of the current field, -1 outside one
  let run = 0; // bytes of the current run of non-empty lines (and of the empty line that started it)
  let runHasField = false;
  const n = raw.length;
  let cr = raw.indexOf(CR); // the next CR not yet known to end a CRLF
  let colon = raw.indexOf(COLON); // the next colon at or after a line start (searched again once behind), -1: none left
  for (let p = 0; p < n; ) {
    const lf = raw.indexOf(LF, p);
    const end = lf < 0 ? n : lf + 1;
    if (cr >= 0) {
      if (cr === lf - 1) cr = raw.indexOf(CR, end);
      else if (cr < end) return null; // a CR in this line that does not end it with LF
    }
    lines++;
    const c = raw[p] as number;
    if (c === CR || c === LF) {
      // An empty line ends a run (a header block ends here); its own bytes start the next one.
      field = -1;
      run = 0;
      runHasField = false;
    } else if (c !== 0x20 && c !== 0x09) {
      // Not a continuation line, which would belong to the field before it.
      field = -1;
      if (c === 0x2d && raw[p + 1] === 0x2d) dashLines++;
      else {
        // isFieldLine stops at the line's end and after FIELD_NAME_SCAN bytes: without a colon before both it is
        // false, which skips its byte loop on body lines (base64 has no colon).
        if (colon >= 0 && colon < p) colon = raw.indexOf(COLON, p);
        if (colon >= 0 && colon < end && colon < p + FIELD_NAME_SCAN && isFieldLine(raw, p)) {
          field = 0;
          runHasField = true;
          if ((c === 0x43 || c === 0x63) && isContainerTypeLine(raw, p)) containerTypes++;
        }
      }
    }
    const length = end - p;
    if (field >= 0) {
      field += length;
      if (field > longestField) longestField = field;
    }
    run += length;
    if (runHasField && run > longestHeaderRun) longestHeaderRun = run;
    p = end;
  }
  return { dashLines, containerTypes, longestField, longestHeaderRun, lines, longestLoneCrRun: 0 };
}

/** One pass over the bytes (lone CR, CRLF and LF all start a line, as the indexer reads them). */
export function mimeShapeByBytes(raw: Buffer): MimeShape {
  let dashLines = 0;
  let containerTypes = 0;
  let longestField = 0;
  let longestHeaderRun = 0;
  let longestLoneCrRun = 0;
  let crRun = 0;
  let lines = 0;
  let field = -1; // length of the current field, -1 outside one
  let run = 0; // bytes of the current run of non-empty lines
  let runHasField = false;
  let lineStart = true;
  for (let p = 0, n = raw.length; p < n; p++) {
    const c = raw[p];
    if (lineStart) {
      lines++;
      if (c === CR || c === LF) {
        // An empty line ends a run (a header block ends here).
        field = -1;
        run = 0;
        runHasField = false;
      } else if (c === 0x20 || c === 0x09) {
        // A continuation line belongs to the field before it.
      } else {
        field = -1;
        if (c === 0x2d && raw[p + 1] === 0x2d) dashLines++;
        else if (isFieldLine(raw, p)) {
          field = 0;
          runHasField = true;
          if ((c === 0x43 || c === 0x63) && isContainerTypeLine(raw, p)) containerTypes++;
        }
      }
    }
    if (field >= 0 && ++field > longestField) longestField = field;
    if (++run > longestHeaderRun && runHasField) longestHeaderRun = run;
    lineStart = c === LF || (c === CR && raw[p + 1] !== LF);
    if (c === CR) crRun++;
    else {
      if (c !== LF && crRun > longestLoneCrRun) longestLoneCrRun = crRun;
      crRun = 0;
    }
  }
  if (crRun > longestLoneCrRun) longestLoneCrRun = crRun;
  return { dashLines, containerTypes, longestField, longestHeaderRun, lines, longestLoneCrRun };
}

/**
 * The header bytes parsers see: fields cut at FIELD_PARSE_BYTES, the block at HEADER_PARSE_BYTES, whole lines
 * ending in CRLF (the same Buffer when already within both).
 */
export function boundedHeader(header: Buffer): Buffer {
  if (header.length <= FIELD_PARSE_BYTES) return header;
  const kept: Buffer[] = [];
  let total = 0;
  let field = 0;
  for (let pos = 0; pos < header.length && total < HEADER_PARSE_BYTES; ) {
    let next = header.indexOf(LF, pos);
    next = next < 0 ? header.length : next + 1;
    const continuation = header[pos] === 0x20 || header[pos] === 0x09;
    if (!continuation) field = 0;
    const room = Math.min(FIELD_PARSE_BYTES - field, HEADER_PARSE_BYTES - total);
    if (room > 0) {
      const line = header.subarray(pos, Math.min(next, pos + room));
      kept.push(line);
      if (line[line.length - 1] !== LF) kept.push(CRLF);
      field += line.length;
      total += line.length;
    }
    pos = next;
  }
  return Buffer.concat(kept);
}

const CRLF = Buffer.from('\r\n');

/**
 * Messages whose structure the indexer's whole-message parse must not see: past the caps, or with enough
 * containers that its per-level re-parsing (message/rfc822 inside message/rfc822) could grow with depth × size.
 */
export const INDEXER_MAX_CONTAINERS = 16;
/** Lone CRs in a row the indexer may see (its line reader is quadratic in such runs). */
export const LONE_CR_RUN = 256;

export function needsCappedParse(shape: MimeShape, limits: MimeLimits): boolean {
  return (
    shape.dashLines + 1 > limits.maxParts ||
    shape.containerTypes > Math.min(limits.maxDepth, INDEXER_MAX_CONTAINERS) ||
    shape.longestField > FIELD_PARSE_BYTES ||
    shape.longestHeaderRun > HEADER_PARSE_BYTES ||
    shape.longestLoneCrRun > LONE_CR_RUN
  );
}

/** Messages worth a worker thread even when small: many parts, containers or lines (> ~15 ms to parse here). */
export function structureHeavy(shape: MimeShape): boolean {
  return (
    shape.dashLines > 256 ||
    shape.containerTypes > INDEXER_MAX_CONTAINERS ||
    shape.longestField > FIELD_PARSE_BYTES ||
    shape.lines > 20_000 ||
    shape.longestLoneCrRun > LONE_CR_RUN
  );
}
