// server/mime: parse messages (WildDuck's indexer behind our interface) and extract RFC 3501
// sections byte for byte from the stored raw bytes.
//
// Input contract: pass the exact bytes you store and serve. IMAP sizes are CRLF sizes, so stores
// should canonicalise line endings first (toCrlf); offsets are always offsets into the given bytes.
import type { ParsedMessage } from './types.js';
import { parseMessageSync } from './parse.js';
import { ParsePool } from './pool.js';

export type { MimePart, MessageStructure, SearchText, ParsedMessage, RangeReader } from './types.js';
export { fetchSection, parseSectionSpec, sectionRange, sectionSize, locatePart, filterHeader } from './sections.js';
export type { SectionSpec, SectionKind, Located } from './sections.js';
export { serializeStructure, deserializeStructure, toCrlf } from './bytes.js';

/** Messages at least this large are parsed in a worker thread by parseMessageAsync. */
export const WORKER_THRESHOLD = 1024 * 1024;

/** Parses a raw message on the calling thread. Never throws; broken MIME sets `mimeFallback`. */
export function parseMessage(raw: Buffer): ParsedMessage {
  return parseMessageSync(raw);
}

let pool: ParsePool | null = null;
const workerTotals = { parsed: 0, failed: 0 };

/** How many messages the worker pool parsed, and how many worker failures fell back to the main thread. */
export function mimeWorkerStats(): { parsed: number; failed: number } {
  return { parsed: workerTotals.parsed + (pool?.stats.parsed ?? 0), failed: workerTotals.failed + (pool?.stats.failed ?? 0) };
}

/** Like parseMessage, but messages ≥ WORKER_THRESHOLD are parsed off the event loop. */
export async function parseMessageAsync(raw: Buffer): Promise<ParsedMessage> {
  if (raw.length < WORKER_THRESHOLD) return parseMessageSync(raw);
  pool ??= new ParsePool();
  try {
    return await pool.parse(raw);
  } catch {
    // A worker that died (or a closed pool) must not lose the message: parse here instead.
    return parseMessageSync(raw);
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

