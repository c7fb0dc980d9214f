// `npm run bench -- mime [--count=N] [--big=K] [--parts-only]`: parse throughput of server/mime over a
// gen-corpus.py corpus (default 2,000 messages), on the main thread and through the worker pool, plus section
// extraction speed, and the MIME shape pre-scan (mimeShape against the byte loop it keeps for lone CRs); then the cost curve of 1k/10k/20k-part messages (parse + FETCH BODYSTRUCTURE), with the
// default part cap and uncapped, which must grow linearly. Prints one JSON object, then a one-line summary.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseMessage, parseMessageAsync, closeMimeWorkers, fetchSection, toCrlf, WORKER_THRESHOLD, mimeLimits } from '../server/mime/index.js';
import { parseMessageSync } from '../server/mime/parse.js';
import { mimeShape, mimeShapeByBytes } from '../server/mime/limits.js';
import type { MimePart } from '../server/mime/types.js';
import { genCorpusScript } from './shared.js';

/** The shared generator, or a one-sentence error saying where it was looked for. */
function requireGenCorpus(): string {
  const script = genCorpusScript();
  if (!script) throw new Error('gen-corpus.py not found: put the shared folder beside the repository or set SEALPOST_SHARED_DIR');
  return script;
}
import { bodyStructureValue } from '../server/imap/render/bodystructure.js';
import { encodeValue } from '../server/imap/wire/encode.js';
import { manyPartsMessage } from '../test/helpers/mime-bombs.js';

function flag(flags: string[], name: string, fallback: number): number {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  const v = f ? Number(f.slice(name.length + 3)) : NaN;
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}

interface PartsPoint {
  readonly parts: number;
  readonly bytes: number;
  readonly parseMs: number;
  readonly bodystructureMs: number;
  readonly describedParts: number;
}

function countParts(part: MimePart): number {
  let n = 1;
  for (const child of part.children ?? []) n += countParts(child);
  if (part.message) n += countParts(part.message);
  return n;
}

/** Parse (this thread, best of 5) and BODYSTRUCTURE response time of one N-part message. */
async function partsPoint(parts: number, maxParts: number): Promise<PartsPoint> {
  const raw = manyPartsMessage(parts);
  const limits = { ...mimeLimits(), maxParts };
  let parseMs = Infinity;
  let bodystructureMs = Infinity;
  let described = 0;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    const parsed = parseMessageSync(raw, limits);
    const t1 = performance.now();
    const { structure } = parsed;
    const value = await bodyStructureValue(structure.bodyStructure, structure.root, true, { utf8: false }, async (part) =>
      raw.subarray(part.headerStart, part.headerEnd),
    );
    encodeValue(value, { utf8: false });
    const t2 = performance.now();
    parseMs = Math.min(parseMs, t1 - t0);
    bodystructureMs = Math.min(bodystructureMs, t2 - t1);
    described = countParts(parsed.structure.root);
  }
  return { parts, bytes: raw.length, parseMs: +parseMs.toFixed(1), bodystructureMs: +bodystructureMs.toFixed(1), describedParts: described };
}

/** ms per 1,000 messages (best of 5 rounds) of the shape pre-scan: mimeShape, and the byte loop alone. */
function shapeScan(messages: readonly Buffer[]): { mimeShapeMsPer1k: number; byteLoopMsPer1k: number } {
  const msPer1k = (scan: (raw: Buffer) => unknown): number => {
    let best = Infinity;
    for (let round = 0; round < 5; round++) {
      const t0 = performance.now();
      for (const m of messages) scan(m);
      best = Math.min(best, performance.now() - t0);
    }
    return +((best / Math.max(1, messages.length)) * 1000).toFixed(2);
  };
  return { mimeShapeMsPer1k: msPer1k(mimeShape), byteLoopMsPer1k: msPer1k(mimeShapeByBytes) };
}

async function partsCurve(): Promise<{ capped: PartsPoint[]; uncapped: PartsPoint[]; msPer1kPartsUncapped: number[] }> {
  await partsPoint(1000, 1_000_000); // JIT warm-up
  const sizes = [1000, 10000, 20000];
  const capped: PartsPoint[] = [];
  for (const n of sizes) capped.push(await partsPoint(n, mimeLimits().maxParts));
  const uncapped: PartsPoint[] = [];
  for (const n of sizes) uncapped.push(await partsPoint(n, 1_000_000));
  const msPer1kPartsUncapped = uncapped.map((p) => +(((p.parseMs + p.bodystructureMs) / p.parts) * 1000).toFixed(1));
  return { capped, uncapped, msPer1kPartsUncapped };
}

export async function run(flags: string[]): Promise<void> {
  if (flags.includes('--parts-only')) {
    const curve = await partsCurve();
    console.log(JSON.stringify({ bench: 'mime-parts', maxParts: mimeLimits().maxParts, ...curve }));
    console.log(partsSummary(curve));
    return;
  }
  const count = flag(flags, 'count', 2000);
  const big = flag(flags, 'big', 4);
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-bench-'));
  try {
    const out = join(dir, 'corpus');
    execFileSync('python3', [requireGenCorpus(), String(count), out, '--format', 'eml', '--big', String(big)], { stdio: 'ignore' });
    const files = readdirSync(out).filter((f) => f.endsWith('.eml')).sort();
    const messages = files.map((f) => toCrlf(readFileSync(join(out, f))));
    const small = messages.filter((m) => m.length < WORKER_THRESHOLD);
    const large = messages.filter((m) => m.length >= WORKER_THRESHOLD);
    const bytes = (list: Buffer[]): number => list.reduce((n, m) => n + m.length, 0);

    // Warm up the JIT on a slice so the figures describe steady state.
    for (const m of small.slice(0, 100)) parseMessage(m);

    let fallbacks = 0;
    const t0 = performance.now();
    const parsed = small.map((m) => {
      const p = parseMessage(m);
      if (p.mimeFallback) fallbacks++;
      return p;
    });
    const syncMs = performance.now() - t0;

    let largeMs = 0;
    if (large.length) {
      await parseMessageAsync(large[0] as Buffer); // start the pool
      const t1 = performance.now();
      await Promise.all(large.map((m) => parseMessageAsync(m)));
      largeMs = performance.now() - t1;
    }

    // Section extraction: BODY[1] + HEADER.FIELDS for every message, from memory.
    const t2 = performance.now();
    let sectionBytes = 0;
    for (let i = 0; i < small.length; i++) {
      const raw = small[i] as Buffer;
      const s = (parsed[i] as ReturnType<typeof parseMessage>).structure;
      const read = async (a: number, b: number): Promise<Buffer> => raw.subarray(a, b);
      sectionBytes += (await fetchSection(s, { path: '1', kind: 'full' }, read)).length;
      sectionBytes += (await fetchSection(s, { path: '', kind: 'header.fields', fields: ['from', 'to', 'subject', 'date'] }, read)).length;
    }
    const sectionMs = performance.now() - t2;

    const result = {
      bench: 'mime',
      messages: small.length,
      corpusMB: +(bytes(small) / 1e6).toFixed(2),
      parseMBps: +(bytes(small) / 1e6 / (syncMs / 1000)).toFixed(2),
      parseMsgsPerSec: Math.round(small.length / (syncMs / 1000)),
      mimeFallbacks: fallbacks,
      largeMessages: large.length,
      largeMB: +(bytes(large) / 1e6).toFixed(2),
      largeWorkerMBps: large.length ? +(bytes(large) / 1e6 / (largeMs / 1000)).toFixed(2) : null,
      sectionFetchesPerSec: Math.round((small.length * 2) / (sectionMs / 1000)),
      sectionBytes,
      shapeScan: shapeScan(small),
      parts: await partsCurve(),
    };
    console.log(JSON.stringify(result));
    console.log(
      `mime: ${result.parseMsgsPerSec} msg/s, ${result.parseMBps} MB/s on ${result.messages} messages (${result.corpusMB} MB, ${fallbacks} fallbacks); ` +
        `${large.length} large via workers at ${result.largeWorkerMBps ?? '-'} MB/s; ${result.sectionFetchesPerSec} section fetches/s; ` +
        `shape scan ${result.shapeScan.mimeShapeMsPer1k} ms per 1k messages (byte loop ${result.shapeScan.byteLoopMsPer1k}); ` +
        partsSummary(result.parts),
    );
  } finally {
    await closeMimeWorkers();
    rmSync(dir, { recursive: true, force: true });
  }
}

function partsSummary(curve: Awaited<ReturnType<typeof partsCurve>>): string {
  const fmt = (list: readonly PartsPoint[]): string => list.map((p) => `${p.parts / 1000}k ${Math.round(p.parseMs + p.bodystructureMs)} ms`).join(', ');
  return `parts (parse + BODYSTRUCTURE): capped ${fmt(curve.capped)}; uncapped ${fmt(curve.uncapped)} (${curve.msPer1kPartsUncapped.join('/')} ms per 1k parts)`;
}
