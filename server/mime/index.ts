// server/mime: parse messages (WildDuck's indexer behind our interface) and extract RFC 3501
// sections byte for byte from the stored raw bytes.
//
// Input contract: pass the exact bytes you store and serve. IMAP sizes are CRLF sizes, so stores
// should canonicalise line endings first (toCrlf); offsets are always offsets into the given bytes.
import type { ParsedMessage } from './types.js';
import { parseMessageSync, opaqueMessage } from './parse.js';
import { ParsePool } from './pool.js';
import { mimeLimits, mimeShape, structureHeavy, type MimeShape } from './limits.js';
import { stageStart, timeStage } from '../stages.js';

export type { MimePart, MessageStructure, SearchText, ParsedMessage, RangeReader } from './types.js';
export { fetchSection, parseSectionSpec, sectionRange, sectionSize, locatePart, filterHeader } from './sections.js';
export type { SectionSpec, SectionKind, Located } from './sections.js';
export { partFileName, parametersOf, decodeParameter } from './params.js';
export type { MimeParameter } from './params.js';
export { serializeStructure, deserializeStructure, toCrlf } from './bytes.js';
export { DEFAULT_MIME_LIMITS, mimeLimits, mimeLimitsFromEnv } from './limits.js';
export type { MimeLimits } from './limits.js';

/** Messages at least this large are parsed in a worker thread by parseMessageAsync. */
export const WORKER_THRESHOLD = 1024 * 1024;

/** Parses a raw message on the calling thread. Never throws; broken MIME sets `mimeFallback`. */
export function parseMessage(raw: Buffer): ParsedMessage {
  return timeStage(stageStart('mime.parse.sync'), parseMessageSync(raw));
}

let pool: ParsePool | null = null;
const workerTotals = { parsed: 0, failed: 0 };

/** How many messages the worker pool parsed, and how many worker failures fell back to the main thread. */
export function mimeWorkerStats(): { parsed: number; failed: number } {
  return { parsed: workerTotals.parsed + (pool?.stats.parsed ?? 0), failed: workerTotals.failed + (pool?.stats.failed ?? 0) };
}

/**
 * Like parseMessage, but off the event loop for messages ≥ WORKER_THRESHOLD or with many parts or containers.
 * Never rejects: a worker that dies on a message makes it one opaque part (re-parsing it here would stall
 * every session); only small, simple messages are re-parsed on this thread.
 */
export async function parseMessageAsync(raw: Buffer): Promise<ParsedMessage> {
  inProgress++;
  try {
    return await timeStage(stageStart('mime.parse'), parseOffLoop(raw));
  } finally {
    inProgress--;
  }
}

let inProgress = 0;

/** Parses started by parseMessageAsync and not finished yet (seen above 0 only while one runs off the loop). */
export function mimeParsesInProgress(): number {
  return inProgress;
}

async function parseOffLoop(raw: Buffer): Promise<ParsedMessage> {
  const limits = mimeLimits();
  let heavy = raw.length >= WORKER_THRESHOLD;
  // Scanned once here and handed to the parse (on this thread or in the worker), which would scan again.
  let shape: MimeShape | undefined;
  try {
    if (!heavy) {
      shape = mimeShape(raw);
      heavy = structureHeavy(shape);
    }
    if (!heavy) return parseMessageSync(raw, limits, shape);
    pool ??= new ParsePool();
    return await pool.parse(raw, limits, shape);
  } catch {
    return heavy ? opaqueMessage(raw) : parseMessageSync(raw, limits, shape);
  }
}

/** Stops the parse workers (tests, shutdown). A later parseMessageAsync starts new ones. */
export async function closeMimeWorkers(): Promise<void> {
  const p = pool;
  pool = null;
  if (p) {
    workerTotals.parsed += p.stats.parsed;
    workerTotals.failed += p.stats.failed;
  }
  await p?.close();
}

