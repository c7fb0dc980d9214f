// MIME structure limits (SEALPOST_MIME_* environment variables, read here only) and a linear pre-scan
// that tells which messages may exceed them, before any parser builds a tree.
import { ConfigError } from '../config/index.js';

export interface MimeLimits {
  /** Containers (multipart/*, message/rfc822) nested deeper than this are served as one opaque part. */
  readonly maxDepth: number;
  /** Parts described in BODYSTRUCTURE; the rest of the message is served as one opaque part. */
  readonly maxParts: number;
}

/** Postfix stops at 100 levels (mime_nesting_limit), Dovecot at 100 levels and 10,000 parts. */
export const DEFAULT_MIME_LIMITS: MimeLimits = { maxDepth: 50, maxParts: 3000 };

type Env = Readonly<Record<string, string | undefined>>;

const MIME_ENV: readonly { readonly env: string; readonly key: keyof MimeLimits; readonly min: number; readonly max: number }[] = [
  { env: 'SEALPOST_MIME_MAX_DEPTH', key: 'maxDepth', min: 2, max: 1000 },
  { env: 'SEALPOST_MIME_MAX_PARTS', key: 'maxParts', min: 2, max: 1_000_000 },
];

/** The limits the environment sets; throws ConfigError naming a bad variable (for start-up checks). */
export function mimeLimitsFromEnv(env: Env): MimeLimits {
  const out: Record<keyof MimeLimits, number> = { ...DEFAULT_MIME_LIMITS };
  for (const { env: name, key, min, max } of MIME_ENV) {
    const text = env[name]?.trim();
    if (!text) continue;
    if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(env[name])}.`);
    }
    out[key] = Number(text);
  }
  return out;
}

/** The limits parsing uses: the environment's, or the defaults when a variable is unusable (parsing never throws). */
export function mimeLimits(env: Env = process.env): MimeLimits {
  try {
    return mimeLimitsFromEnv(env);
  } catch {
    return DEFAULT_MIME_LIMITS;
  }
}

export interface MimeShape {
  /** Lines starting with "--" (every delimiter line is one, so parts ≤ this + 1). */
  readonly dashLines: number;
  /** Header-like lines naming a multipart/* or message/* type (every container has one, digest parts aside). */
  readonly containerTypes: number;
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

/** One pass over the bytes (lone CR, CRLF and LF all start a line, as the indexer reads them). */
export function mimeShape(raw: Buffer): MimeShape {
  let dashLines = 0;
  let containerTypes = 0;
  let lineStart = true;
  for (let p = 0, n = raw.length; p < n; p++) {
    const c = raw[p];
    if (lineStart) {
      if (c === 0x2d && raw[p + 1] === 0x2d) dashLines++;
      else if ((c === 0x43 || c === 0x63) && isContainerTypeLine(raw, p)) containerTypes++;
    }
    lineStart = c === LF || (c === CR && raw[p + 1] !== LF);
  }
  return { dashLines, containerTypes };
}

/**
 * Messages whose structure the indexer's whole-message parse must not see: past the caps, or with enough
 * containers that its per-level re-parsing (message/rfc822 inside message/rfc822) could grow with depth × size.
 */
export const INDEXER_MAX_CONTAINERS = 16;

export function needsCappedParse(shape: MimeShape, limits: MimeLimits): boolean {
  return shape.dashLines + 1 > limits.maxParts || shape.containerTypes > Math.min(limits.maxDepth, INDEXER_MAX_CONTAINERS);
}

/** Messages worth a worker thread even when small: many parts or containers. */
export function structureHeavy(shape: MimeShape): boolean {
  return shape.dashLines > 256 || shape.containerTypes > INDEXER_MAX_CONTAINERS;
}
