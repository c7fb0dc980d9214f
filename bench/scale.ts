// `npm run bench -- scale [--sizes=10000,100000] [--runs=3]`: how Sealpost's IMAP commands grow with the
// mailbox. For each size, one INBOX filled with that many corpus messages (bench/compare/fill.ts: straight into
// the encrypted store while `serve` is stopped; a third of them unseen), then over IMAP against `bin/sealpost
// serve`: SELECT, FETCH 1:* (UID FLAGS), SEARCH FROM <a sender's address>, SEARCH TEXT <a token in one message>,
// SEARCH UNSEEN, SORT (DATE), SORT (SUBJECT) — ms, median of --runs; the session's first SORT (SUBJECT) on its own
// (at the smallest size it builds that key's index) — and the serve process's peak resident
// memory (VmHWM, reset before each) during a full FETCH 1:* (UID FLAGS) and a full FETCH 1:* BODY.PEEK[].
// Prints one JSON object and a one-line summary with the sizes side by side.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImapClient } from './compare/clients.js';
import { fillSealpost, generateScaleCorpus, seen, type ScaleCorpus } from './compare/fill.js';
import { startSealpost, type SealpostInstance } from './compare/sealpost.js';
import { memoryOf, resetPeak } from '../test/helpers/imap-fetch-memory.js';
import { freePorts } from '../test/helpers/ports.js';

const DOMAIN = 'scale.sealpost.test';
const USER = 'scale';
const T0 = performance.now();

const log = (line: string): void => {
  process.stderr.write(`[scale ${((performance.now() - T0) / 1000).toFixed(0)}s] ${line}\n`);
};

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};
const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

interface Figures {
  messages: number;
  fillSecs: number;
  ms: Record<string, number>;
  hits: Record<string, number>;
  peakRssMiB: { fetchUidFlags: number; fetchBodies: number; beforeMiB: number };
  bodiesMBps: number;
}

/** Runs `command` up to `runs` times (once more only while a run stays under 10 s); median ms and the last response. */
async function timed(client: ImapClient, command: string, runs: number): Promise<{ ms: number; untagged: string[]; status: string; tagged: string }> {
  const ms: number[] = [];
  let last = { untagged: [] as string[], status: '', tagged: '' };
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = await client.command(command, 1_800_000);
    ms.push(performance.now() - t);
    last = r;
    if (r.status !== 'OK') throw new Error(`scale: ${command.split(' ')[0]}: ${r.tagged}`);
    if (ms[ms.length - 1]! > 10_000) break;
  }
  return { ms: median(ms), ...last };
}

const hitsOf = (untagged: readonly string[], keyword: string): number => (untagged.find((l) => l.startsWith(`* ${keyword}`)) ?? '').split(' ').slice(2).filter(Boolean).length;

async function measure(port: number, pid: number, password: string, size: number, corpus: ScaleCorpus, runs: number): Promise<Omit<Figures, 'fillSecs'>> {
  const index = JSON.parse(fs.readFileSync(path.join(corpus.dir, 'index.json'), 'utf8')) as { from: string; token: string }[];
  const fromAddress = /<([^>]+)>/.exec(index[0]!.from)?.[1] ?? index[0]!.from;
  const token = index[Math.floor(size / 2)]!.token;
  const client = await ImapClient.connect(port);
  try {
    const login = await client.command(`LOGIN "${USER}@${DOMAIN}" "${password}"`);
    if (login.status !== 'OK') throw new Error(`scale: LOGIN: ${login.tagged}`);
    const warm = await client.counted('SELECT INBOX', 30);
    const exists = Number(/^\* (\d+) EXISTS/m.exec(warm.kept.join('\n'))?.[1] ?? -1);
    if (exists !== size) throw new Error(`scale: INBOX holds ${exists} messages, not ${size}`);
    const ms: Record<string, number> = {};
    const hits: Record<string, number> = {};
    const select: number[] = [];
    const uidFlags: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t = performance.now();
      await client.counted('SELECT INBOX', 30);
      select.push(performance.now() - t);
      t = performance.now();
      const r = await client.counted('FETCH 1:* (UID FLAGS)');
      uidFlags.push(performance.now() - t);
      if (r.status !== 'OK' || r.untagged < size) throw new Error(`scale: FETCH 1:* (UID FLAGS) gave ${r.untagged} lines`);
    }
    ms.select = median(select);
    ms.fetchUidFlags = median(uidFlags);
    // The first SORT by SUBJECT in the mailbox builds that key's index (built on demand, docs/mailbox-store.md):
    // timed on its own, the runs below then scan the index. The sizes share one growing mailbox, so only the
    // smallest size builds it; at the larger ones the appends have kept it, as in a mailbox that grew.
    ms.sortSubjectFirst = (await timed(client, 'SORT (SUBJECT) UTF-8 ALL', 1)).ms;
    // Search terms are never printed: only which kind of term and how many messages matched.
    for (const [name, command, keyword] of [
      ['searchFrom', `SEARCH FROM "${fromAddress}"`, 'SEARCH'],
      ['searchText', `SEARCH TEXT ${token}`, 'SEARCH'],
      ['searchUnseen', 'SEARCH UNSEEN', 'SEARCH'],
      ['sortDate', 'SORT (DATE) UTF-8 ALL', 'SORT'],
      ['sortSubject', 'SORT (SUBJECT) UTF-8 ALL', 'SORT'],
    ] as const) {
      const r = await timed(client, command, runs);
      ms[name] = r.ms;
      hits[name] = hitsOf(r.untagged, keyword);
    }
    const expectedUnseen = Array.from({ length: size }, (_, i) => i + 1).filter((k) => !seen(k)).length;
    if (hits.searchText !== 1 || hits.searchUnseen !== expectedUnseen || hits.sortDate !== size) {
      throw new Error(`scale: wrong results (TEXT ${hits.searchText} of 1, UNSEEN ${hits.searchUnseen} of ${expectedUnseen}, SORT ${hits.sortDate} of ${size})`);
    }
    // Peak memory of the server process over one full FETCH each.
    const before = memoryOf(pid).rss;
    resetPeak(pid);
    await client.counted('FETCH 1:* (UID FLAGS)');
    const peakFlags = memoryOf(pid).peak;
    resetPeak(pid);
    const t = performance.now();
    const bodies = await client.command('FETCH 1:* BODY.PEEK[]', 1_800_000);
    const bodySecs = (performance.now() - t) / 1000;
    const peakBodies = memoryOf(pid).peak;
    if (bodies.status !== 'OK' || bodies.literals !== size) throw new Error(`scale: FETCH 1:* BODY.PEEK[] returned ${bodies.literals} bodies: ${bodies.tagged}`);
    ms.fetchBodies = bodySecs * 1000;
    return {
      messages: size,
      ms,
      hits,
      peakRssMiB: { fetchUidFlags: peakFlags / 2 ** 20, fetchBodies: peakBodies / 2 ** 20, beforeMiB: before / 2 ** 20 },
      bodiesMBps: bodies.literalBytes / bodySecs / 1e6,
    };
  } finally {
    client.close();
  }
}

export async function run(flags: string[]): Promise<void> {
  const sizesFlag = flags.find((f) => f.startsWith('--sizes='));
  const runsFlag = flags.find((f) => f.startsWith('--runs='));
  const sizes = (sizesFlag ? sizesFlag.slice(8).split(',').map(Number) : flags.includes('--quick') ? [10_000] : [10_000, 100_000]).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b);
  const runs = runsFlag ? Math.max(1, Number(runsFlag.slice(7))) : 3;
  if (!sizes.length) throw new Error('scale: --sizes=N[,N…] with N > 0');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-scale-'));
  const password = `Pw-${crypto.randomBytes(12).toString('base64url')}`;
  let sealpost: SealpostInstance | null = null;
  const onSignal = (): void => {
    log('interrupted: stopping');
    void (sealpost?.stop() ?? Promise.resolve()).finally(() => {
      fs.rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const largest = sizes[sizes.length - 1]!;
    log(`generating ${largest} messages`);
    const corpus = await generateScaleCorpus(largest, path.join(work, 'corpus'));
    const fill = { wanted: sizes[0]!, secs: 0 };
    const [smtp, imap, pop3] = await freePorts(3);
    const results: Figures[] = [];
    for (const size of sizes) {
      fill.wanted = size;
      const t = performance.now();
      const hook = async (ctx: Parameters<typeof fillSealpost>[0]): Promise<void> => {
        await fillSealpost(ctx, `${USER}@${DOMAIN}`, password, corpus, fill.wanted);
      };
      if (sealpost) await sealpost.restart();
      else sealpost = await startSealpost({ dir: path.join(work, 'sealpost'), domain: DOMAIN, ports: { smtp: smtp!, imap: imap!, pop3: pop3! }, users: new Map([[USER, password]]), beforeServe: hook });
      const fillSecs = (performance.now() - t) / 1000;
      log(`${size} messages: filled and serving in ${fillSecs.toFixed(1)}s; measuring`);
      results.push({ ...(await measure(imap!, sealpost.pid, password, size, corpus, runs)), fillSecs });
    }
    const json = {
      bench: 'scale',
      corpus: corpus.source,
      runs,
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
      sizes: results.map((r) => ({
        messages: r.messages,
        fillSecs: round(r.fillSecs),
        ms: Object.fromEntries(Object.entries(r.ms).map(([k, v]) => [k, round(v)])),
        hits: r.hits,
        fetchBodiesMBps: round(r.bodiesMBps),
        peakRssMiB: { rssBefore: round(r.peakRssMiB.beforeMiB), fetchUidFlags: round(r.peakRssMiB.fetchUidFlags), fetchBodies: round(r.peakRssMiB.fetchBodies) },
      })),
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
    const side = (pick: (r: Figures) => number, digits = 0): string => results.map((r) => round(pick(r), digits)).join(' / ');
    const labels = results.map((r) => (r.messages >= 1000 ? `${r.messages / 1000}k` : String(r.messages))).join(' / ');
    process.stdout.write(
      `scale (${labels} msgs, ms): SELECT ${side((r) => r.ms.select!)}, FETCH 1:* (UID FLAGS) ${side((r) => r.ms.fetchUidFlags!)}, ` +
        `SEARCH FROM ${side((r) => r.ms.searchFrom!)}, TEXT ${side((r) => r.ms.searchText!)}, UNSEEN ${side((r) => r.ms.searchUnseen!)}, ` +
        `SORT DATE ${side((r) => r.ms.sortDate!)}, SUBJECT ${side((r) => r.ms.sortSubject!)} (first of the session: ${side((r) => r.ms.sortSubjectFirst!)}; the smallest size builds its index); FETCH 1:* BODY.PEEK[] ${side((r) => r.ms.fetchBodies!)} ms (${side((r) => r.bodiesMBps, 1)} MB/s); ` +
        `RSS MiB before ${side((r) => r.peakRssMiB.beforeMiB)}, peak during FETCH (UID FLAGS) ${side((r) => r.peakRssMiB.fetchUidFlags)}, FETCH BODY.PEEK[] ${side((r) => r.peakRssMiB.fetchBodies)}\n`,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await sealpost?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
