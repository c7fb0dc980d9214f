// `npm run bench -- mime [--count=N] [--big=K]`: parse throughput of server/mime over a gen-corpus.py
// corpus (default 2,000 messages), on the main thread and through the worker pool, plus section
// extraction speed. Prints one JSON object, then a one-line summary.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseMessage, parseMessageAsync, closeMimeWorkers, fetchSection, toCrlf, WORKER_THRESHOLD } from '../server/mime/index.js';

function flag(flags: string[], name: string, fallback: number): number {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  const v = f ? Number(f.slice(name.length + 3)) : NaN;
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}

export async function run(flags: string[]): Promise<void> {
  const count = flag(flags, 'count', 2000);
  const big = flag(flags, 'big', 4);
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-bench-'));
  try {
    const out = join(dir, 'corpus');
    execFileSync('python3', ['/work/shared/bench/gen-corpus.py', String(count), out, '--format', 'eml', '--big', String(big)], { stdio: 'ignore' });
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
    };
    console.log(JSON.stringify(result));
    console.log(
      `mime: ${result.parseMsgsPerSec} msg/s, ${result.parseMBps} MB/s on ${result.messages} messages (${result.corpusMB} MB, ${fallbacks} fallbacks); ` +
        `${large.length} large via workers at ${result.largeWorkerMBps ?? '-'} MB/s; ${result.sectionFetchesPerSec} section fetches/s`,
    );
  } finally {
    await closeMimeWorkers();
    rmSync(dir, { recursive: true, force: true });
  }
}
