// server/mime: parse messages (WildDuck's indexer behind our interface) and extract RFC 3501
// sections byte for byte from the stored raw bytes.
//
// Input contract: pass the exact bytes you store and serve. IMAP sizes are CRLF sizes, so stores
// should canonicalise line endings first (toCrlf); offsets are always offsets into the given bytes.
import { serialize, deserialize } from 'node:v8';
import type { MessageStructure, ParsedMessage } from './types.js';
import { parseMessageSync } from './parse.js';
import { ParsePool } from './pool.js';

export type { MimePart, MessageStructure, SearchText, ParsedMessage, RangeReader } from './types.js';
export { fetchSection, parseSectionSpec, sectionRange, sectionSize, locatePart, filterHeader } from './sections.js';
export type { SectionSpec, SectionKind, Located } from './sections.js';

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

/** Bytes for storing a structure; Buffers inside envelope/bodystructure survive (JSON would not). */
export function serializeStructure(structure: MessageStructure): Buffer {
  return serialize(structure);
}

/** A fresh copy each call, so imap-core's getQueryResponse may mutate it freely. */
export function deserializeStructure(bytes: Buffer | Uint8Array): MessageStructure {
  return deserialize(bytes) as MessageStructure;
}

/** Line endings as CRLF (bare LF and lone CR converted); returns the same Buffer when already canonical. */
export function toCrlf(raw: Buffer): Buffer {
  let bare = false;
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
    if (i === 0 || raw[i - 1] !== 0x0d) {
      bare = true;
      break;
    }
  }
  if (!bare) {
    for (let i = raw.indexOf(0x0d); i >= 0; i = raw.indexOf(0x0d, i + 1)) {
      if (raw[i + 1] !== 0x0a) {
        bare = true;
        break;
      }
    }
  }
  if (!bare) return raw;
  return Buffer.from(raw.toString('binary').replace(/\r\n|\r|\n/g, '\r\n'), 'binary');
}
