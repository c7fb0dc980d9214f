// IMAP figures: FETCH of 1,000 full messages (MB/s), SEARCH BODY latency over 10,000 messages, login latency
// (first = argon2id with production parameters + unlock, repeat = cached), and resident memory per idle
// connection with 500 logged-in connections (clients in a separate Python process), and the server's peak
// resident memory while FETCH 1:* BODY[] and FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE) run over 10,000 messages
// (`bin/sealpost serve` in a child process, VmHWM from /proc).
// Also SORT (ARRIVAL, DATE, SUBJECT, FROM) and THREAD (REFERENCES, ORDEREDSUBJECT) over 10,000 and 100,000 messages.
// Flags: --fetch=N (1000), --search=N (10000), --connections=N (500), --queries=N (25),
// --memory=N (10000 messages), --memory-large=K (0: none; K messages of ~8 MB lead the folder),
// --sort=N[,N…] (10000,100000), --only=sort (just the SORT/THREAD workload).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_KDF } from '../server/crypto/index.js';
import type { Mailbox } from '../server/mailbox/types.js';
import { toCrlf } from '../server/mime/index.js';
import { generateCorpus } from '../test/helpers/corpus.js';
import { genCorpusScript } from './shared.js';
import { createBigMailbox, memoryOf, resetPeak, StreamingImap } from '../test/helpers/imap-fetch-memory.js';
import { RawImap } from '../test/helpers/imap-raw.js';
import { startImapFixture } from '../test/helpers/imap-server.js';

const flag = (flags: string[], name: string, fallback: number): number => {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  return f ? Number(f.split('=')[1]) : fallback;
};


const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
};
const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** Messages from the shared gen-corpus.py when present (bench/shared.ts), else our own generator. */
function corpus(count: number, seed: number): { raw: Buffer; token: string }[] {
  const script = genCorpusScript();
  if (script) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-bench-'));
    try {
      const out = path.join(dir, 'eml');
      const result = spawnSyncPython([script, String(count), out, '--format', 'eml', '--seed', String(seed)]);
      if (result === 0) {
        const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')) as { n: number; token: string }[];
        return index.map((m) => ({ raw: fs.readFileSync(path.join(out, `${String(m.n).padStart(6, '0')}.eml`)), token: m.token }));
      }
    } catch {
      // fall through to our generator
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return generateCorpus(count, seed).map((m) => ({ raw: m.raw, token: m.token }));
}

function spawnSyncPython(args: string[]): number {
  // Generation runs before the server has work to do, so a blocking child is fine here.
  return spawnSync('python3', args, { stdio: 'ignore', timeout: 600_000 }).status ?? 1;
}

async function fill(mailbox: Mailbox, folder: string, messages: { raw: Buffer }[]): Promise<void> {
  mailbox.createFolder(folder);
  // Straight into the store, 200 at a time: concurrent appends share one group-commit transaction and fsync.
  for (let i = 0; i < messages.length; i += 200) {
    await Promise.all(messages.slice(i, i + 200).map((m) => mailbox.append(folder, m.raw)));
  }
}

const FETCH = `
import imaplib, json, sys, time
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1])); M.login(sys.argv[2], sys.argv[3]); M.select(sys.argv[4], readonly=True)
for i in range(3):
    t = time.time(); typ, data = M.fetch('1:*', '(BODY.PEEK[])'); el = time.time() - t
    print(json.dumps({"secs": el, "bytes": sum(len(d[1]) for d in data if isinstance(d, tuple))}), flush=True)
for i in range(2):
    t = time.time(); typ, data = M.fetch('1:*', '(UID FLAGS ENVELOPE BODYSTRUCTURE)'); el = time.time() - t
    print(json.dumps({"secs": el, "headers": len(data)}), flush=True)
M.logout()
`;

function runPython(script: string, args: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').filter(Boolean)) : reject(new Error(`python exited with ${code}`))));
  });
}

const HOLD = `
import imaplib, sys
port, user, pw, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
conns = []
for i in range(n):
    c = imaplib.IMAP4('127.0.0.1', port); c.login(user, pw); c.select('INBOX'); conns.append(c)
print('ready', flush=True)
sys.stdin.read()
`;

async function holdConnections(port: number, user: { address: string; password: string }, count: number): Promise<void> {
  const holder = spawn('python3', ['-c', HOLD, String(port), user.address, user.password, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    holder.once('exit', (code) => reject(new Error(`connection holder exited with ${code}`)));
  });
  holder.stdin.end();
  await new Promise((resolve) => holder.once('exit', resolve));
}

const SERVER_CHILD = (helper: string, connections: number): string => `
const { startImapFixture } = await import(${JSON.stringify(helper)});
v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc');
const fx = await startImapFixture({ logLevel: 'warn', limits: { maxConnectionsPerIp: ${connections + 50}, maxConnectionsPerAlias: ${connections + 50} } });
const user = await fx.addUser('idle');
console.log(JSON.stringify({ port: fx.port, address: user.address, password: user.password }));
process.stdin.on('data', async () => {
  for (let i = 0; i < 6; i++) { gc(); await new Promise((r) => setTimeout(r, 500)); }
  const m = process.memoryUsage();
  console.log(JSON.stringify({ rss: m.rss, js: m.heapUsed + m.external, connections: fx.server.connectionCount }));
});
`;

/** Starts a bare IMAP server process, opens `count` logged-in idle connections from Python, reports the RSS growth. */
async function measureIdleConnections(count: number): Promise<{ connections: number; rssBeforeMb: number; rssAfterMb: number; rssKbPerConnection: number; jsHeapAndBuffersKbPerConnection: number }> {
  const helper = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'test', 'helpers', 'imap-server.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SERVER_CHILD(helper, count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
    for (const w of waiters.splice(0)) w();
  });
  const nextLine = async (): Promise<string> => {
    while (!lines.length) await new Promise<void>((resolve) => waiters.push(resolve));
    return lines.shift() as string;
  };
  try {
    const server = JSON.parse(await nextLine()) as { port: number; address: string; password: string };
    await holdConnections(server.port, server, 20); // warm-up: first login (KDF), code paths, allocator arenas
    // Two baselines: the second, after everything transient from start-up has been collected, is used.
    child.stdin.write('measure\n');
    await nextLine();
    child.stdin.write('measure\n');
    const before = JSON.parse(await nextLine()) as { rss: number; js: number; connections: number };
    const holder = spawn('python3', ['-c', HOLD, String(server.port), server.address, server.password, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve();
      });
      holder.once('exit', (code) => reject(new Error(`connection holder exited with ${code}`)));
    });
    child.stdin.write('measure\n');
    const after = JSON.parse(await nextLine()) as { rss: number; js: number; connections: number };
    holder.stdin.end();
    await new Promise((resolve) => holder.once('exit', resolve));
    const n = Math.max(1, after.connections);
    return {
      connections: after.connections,
      rssBeforeMb: round(before.rss / 1e6),
      rssAfterMb: round(after.rss / 1e6),
      rssKbPerConnection: round((after.rss - before.rss) / 1024 / n),
      jsHeapAndBuffersKbPerConnection: round((after.js - before.js) / 1024 / n),
    };
  } finally {
    child.kill();
  }
}

interface FetchMemory {
  messages: number;
  largeMessages: number;
  mailboxMb: number;
  /** Resident size of the idle server right before each FETCH, its high-water mark during it, and the difference. */
  body: { rssBeforeMb: number; peakMb: number; growthMb: number; secs: number };
  headers: { rssBeforeMb: number; peakMb: number; growthMb: number; secs: number };
  /** Growth while a second client sends FETCH 1:* BODY[] and does not read for 5 s. */
  stalledGrowthMb: number;
}

/** The server's memory while FETCH runs over a whole large mailbox: serve in a child process, VmHWM reset before each command. */
export async function measureFetchMemory(count: number, large: number): Promise<FetchMemory> {
  const big = await createBigMailbox({ INBOX: { messages: count, large, largeBytes: 8_000_000 } });
  try {
    const child = await big.instance.start();
    const pid = child.pid as number;
    const port = big.instance.ports.imap;
    const client = await StreamingImap.connect(port);
    await client.command(`LOGIN "${big.address}" "${big.password}"`);
    await client.command('SELECT INBOX');
    await client.command('FETCH 1:50 (FLAGS ENVELOPE BODY.PEEK[])'); // warm-up
    const measure = async (command: string, expectLiteralBytes: number | null): Promise<FetchMemory['body']> => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      resetPeak(pid);
      const before = memoryOf(pid);
      const t0 = performance.now();
      const reply = await client.command(command);
      const secs = (performance.now() - t0) / 1000;
      const after = memoryOf(pid);
      if (reply.untagged !== count || (expectLiteralBytes !== null && reply.literalBytes !== expectLiteralBytes)) {
        throw new Error(`${command}: ${reply.untagged} responses, ${reply.literalBytes} literal bytes (${reply.tagged})`);
      }
      return { rssBeforeMb: round(before.rss / 1e6), peakMb: round(after.peak / 1e6), growthMb: round((after.peak - before.rss) / 1e6), secs: round(secs, 2) };
    };
    const mailboxBytes = big.folders.get('INBOX')?.bytes ?? 0;
    const body = await measure('FETCH 1:* (BODY.PEEK[])', mailboxBytes);
    const headers = await measure('FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)', null);
    const stalled = await StreamingImap.connect(port);
    await stalled.command(`LOGIN "${big.address}" "${big.password}"`);
    await stalled.command('SELECT INBOX');
    resetPeak(pid);
    const before = memoryOf(pid);
    stalled.pause();
    stalled.send('FETCH 1:* (BODY.PEEK[])');
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const stalledGrowthMb = round((memoryOf(pid).peak - before.rss) / 1e6);
    stalled.close();
    client.close();
    return { messages: count, largeMessages: large, mailboxMb: round(mailboxBytes / 1e6), body, headers, stalledGrowthMb };
  } finally {
    await big.instance.cleanup();
  }
}

/** Header fields SORT and THREAD read (RFC 5256 §2-§4, RFC 5957); the sort workload keeps only these. */
const SORT_FIELDS = /^(from|to|cc|subject|date|message-id|in-reply-to|references):/i;

/** A message reduced to its SORT/THREAD header fields and a one-line body. */
function sortHeadersOnly(raw: Buffer, i: number): Buffer {
  const text = toCrlf(raw).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const unfolded = (end < 0 ? text : text.slice(0, end)).replace(/\r\n(?=[ \t])/g, ' ');
  const kept = unfolded.split('\r\n').filter((line) => SORT_FIELDS.test(line));
  return Buffer.from([...kept, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `message ${i}`, ''].join('\r\n'), 'latin1');
}

/**
 * The shared generator's messages reduced to their SORT/THREAD header fields and a one-line body, each reduced as
 * it is read: SORT and THREAD read only stored keys, and 100,000 full messages (~1.4 GB) would take most of the
 * run's time and memory. Falls back to our own generator like corpus().
 */
function sortCorpus(count: number, seed: number): Buffer[] {
  const script = genCorpusScript();
  if (script) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-bench-'));
    try {
      const out = path.join(dir, 'eml');
      if (spawnSyncPython([script, String(count), out, '--format', 'eml', '--seed', String(seed)]) === 0) {
        const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')) as { n: number }[];
        return index.map((m, i) => sortHeadersOnly(fs.readFileSync(path.join(out, `${String(m.n).padStart(6, '0')}.eml`)), i));
      }
    } catch {
      // fall through to our generator
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return generateCorpus(count, seed).map((m, i) => sortHeadersOnly(m.raw, i));
}

export interface SortThreadFigures {
  readonly messages: number;
  readonly fillSecs: number;
  /** Median ms of mailbox.sort / mailbox.thread over the whole folder (the store alone). */
  readonly store: Record<string, number>;
  /** Median ms of `UID SORT (<key>) UTF-8 ALL` / `UID THREAD <alg> UTF-8 ALL` over a socket (own engine); null if not served. */
  readonly imap: Record<string, number> | null;
}

const SORT_BENCH_KEYS = ['ARRIVAL', 'DATE', 'SUBJECT', 'FROM'] as const;
const THREAD_BENCH_ALGORITHMS = ['REFERENCES', 'ORDEREDSUBJECT'] as const;

/** SORT (ARRIVAL, DATE, SUBJECT, FROM) and THREAD (REFERENCES, ORDEREDSUBJECT) over folders of `counts` messages. */
export async function measureSortThread(counts: readonly number[], runs = 5): Promise<SortThreadFigures[]> {
  const fx = await startImapFixture({ logLevel: 'warn', plaintextLoginOnLoopback: true });
  const figures: SortThreadFigures[] = [];
  try {
    const user = await fx.addUser('sorter');
    const mailbox = await fx.mailboxOf(user.address, user.password);
    for (const count of counts) {
      const folder = `Sort${count}`;
      const messages = sortCorpus(count, 13);
      const t0 = performance.now();
      mailbox.createFolder(folder);
      for (let i = 0; i < messages.length; i += 200) {
        await Promise.all(messages.slice(i, i + 200).map((raw, j) => mailbox.append(folder, raw, { internalDate: new Date(Date.UTC(2024, 0, 1) + (i + j) * 61_000) })));
      }
      const fillSecs = (performance.now() - t0) / 1000;
      const timed = (fn: () => unknown): number => {
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
          const s = performance.now();
          fn();
          times.push(performance.now() - s);
        }
        return round(median(times), 2);
      };
      const store: Record<string, number> = {};
      for (const key of SORT_BENCH_KEYS) {
        store[`sort${key}`] = timed(() => {
          if (mailbox.sort(folder, [{ key, reverse: false }], { op: 'all' }).length !== count) throw new Error(`SORT ${key} lost messages`);
        });
      }
      for (const algorithm of THREAD_BENCH_ALGORITHMS) store[`thread${algorithm}`] = timed(() => mailbox.thread(folder, algorithm, { op: 'all' }));
      let imap: Record<string, number> | null = null;
      const r = await RawImap.connect(fx.port);
      try {
        await r.command(`LOGIN "${user.address}" "${user.password}"`);
        const caps = (await r.command('CAPABILITY')).lines.join(' ').split(' ');
        if (caps.includes('SORT') && caps.includes('THREAD=REFERENCES')) {
          await r.command(`SELECT ${folder}`, 120_000);
          imap = {};
          const over = async (command: string, check: (lines: string[]) => boolean): Promise<number> => {
            const times: number[] = [];
            for (let i = 0; i < runs; i++) {
              const s = performance.now();
              const reply = await r.command(command, 300_000);
              times.push(performance.now() - s);
              if (!/ OK /.test(reply.tagged) || !check(reply.lines)) throw new Error(`${command}: ${reply.tagged}`);
            }
            return round(median(times), 1);
          };
          for (const key of SORT_BENCH_KEYS) {
            imap[`sort${key}`] = await over(`UID SORT (${key}) UTF-8 ALL`, (lines) => (lines.find((l) => l.startsWith('* SORT')) ?? '').split(' ').length === count + 2);
          }
          for (const algorithm of THREAD_BENCH_ALGORITHMS) {
            imap[`thread${algorithm}`] = await over(`UID THREAD ${algorithm} UTF-8 ALL`, (lines) => lines.some((l) => l.startsWith('* THREAD (')));
          }
        }
      } finally {
        r.close();
      }
      figures.push({ messages: count, fillSecs: round(fillSecs), store, imap });
    }
  } finally {
    await fx.close();
  }
  return figures;
}

function sortSummary(figures: readonly SortThreadFigures[]): string {
  return figures
    .map((f) => {
      const src = f.imap ?? f.store;
      const where = f.imap ? 'over IMAP' : 'store only';
      return (
        `SORT/THREAD on ${f.messages} msgs (${where}): ` +
        SORT_BENCH_KEYS.map((k) => `${k} ${src[`sort${k}`]} ms`).join(', ') +
        '; ' +
        THREAD_BENCH_ALGORITHMS.map((a) => `${a} ${src[`thread${a}`]} ms`).join(', ')
      );
    })
    .join('; ');
}

export async function run(flags: string[]): Promise<void> {
  // --sort=N[,N…] (10000,100000): folder sizes for SORT/THREAD; --only=sort runs just that workload.
  const sortCounts = (flags.find((x) => x.startsWith('--sort='))?.split('=')[1] ?? '10000,100000').split(',').map(Number).filter((n) => n > 0);
  if (flags.includes('--only=sort')) {
    const sortThread = await measureSortThread(sortCounts);
    console.log(JSON.stringify({ bench: 'imap', sortThread }));
    console.log(`imap: ${sortSummary(sortThread)}`);
    return;
  }
  const fetchCount = flag(flags, 'fetch', 1000);
  const searchCount = flag(flags, 'search', 10000);
  const connections = flag(flags, 'connections', 500);
  const queries = flag(flags, 'queries', 25);
  const memoryCount = flag(flags, 'memory', 10000);
  const memoryLarge = flag(flags, 'memory-large', 0);
  const fx = await startImapFixture({
    kdf: DEFAULT_KDF,
    logLevel: 'warn',
    limits: { maxConnectionsPerIp: connections + 20, maxConnectionsPerAlias: connections + 20 },
  });
  try {
    const user = await fx.addUser('bench');

    // Login latency: the first login derives the key (argon2id) and opens the mailbox; repeats hit the cache.
    const loginOnce = async (): Promise<number> => {
      const r = await RawImap.connect(fx.port);
      const t0 = performance.now();
      const reply = await r.command(`LOGIN "${user.address}" "${user.password}"`, 60_000);
      const ms = performance.now() - t0;
      if (!/OK/.test(reply.tagged)) throw new Error(`login failed: ${reply.tagged}`);
      await r.command('LOGOUT');
      r.close();
      return ms;
    };
    const firstLoginMs = await loginOnce();
    const repeats: number[] = [];
    for (let i = 0; i < 10; i++) repeats.push(await loginOnce());
    // A client usually keeps another connection open (Thunderbird: up to 5): the mailbox handle stays open.
    const keeper = await RawImap.connect(fx.port);
    await keeper.command(`LOGIN "${user.address}" "${user.password}"`);
    const warmRepeats: number[] = [];
    for (let i = 0; i < 10; i++) warmRepeats.push(await loginOnce());
    keeper.close();

    // Resident memory per idle connection, measured in a separate server process (this one holds corpora).
    const idle = await measureIdleConnections(connections);
    const mailbox = await fx.mailboxOf(user.address, user.password);

    // FETCH 1,000 full messages.
    const fetchCorpus = corpus(fetchCount, 5);
    await fill(mailbox, 'Fetch', fetchCorpus);
    // The store keeps CRLF line ends (IMAP's canonical form); gen-corpus.py leaves a few bare LFs in folded headers.
    const fetchBytesExpected = fetchCorpus.reduce((n, m) => n + toCrlf(m.raw).length, 0);
    // The client runs in its own process so its parsing does not share the server's event loop.
    const fetchOut = await runPython(FETCH, [String(fx.port), user.address, user.password, 'Fetch']);
    const fetchLines = fetchOut.map((line) => JSON.parse(line) as { secs: number; bytes?: number; headers?: number });
    const fetchRuns = fetchLines.filter((r): r is { secs: number; bytes: number } => r.bytes !== undefined);
    const headerMs = Math.min(...fetchLines.filter((r) => r.headers !== undefined).map((r) => r.secs * 1000));
    const fetchedBytes = fetchRuns[0]?.bytes ?? 0;
    if (fetchedBytes !== fetchBytesExpected) throw new Error(`FETCH returned ${fetchedBytes} bytes, expected ${fetchBytesExpected}`);
    const fetchMs = Math.min(...fetchRuns.map((r) => r.secs * 1000));

    // SEARCH BODY over 10,000 messages.
    const searchCorpus = corpus(searchCount, 9);
    const tFill = performance.now();
    await fill(mailbox, 'Search', searchCorpus);
    const fillSecs = (performance.now() - tFill) / 1000;
    const searcher = await RawImap.connect(fx.port);
    await searcher.command(`LOGIN "${user.address}" "${user.password}"`);
    await searcher.command('SELECT Search');
    const latencies: number[] = [];
    for (let i = 0; i < queries; i++) {
      const target = searchCorpus[Math.floor((i * searchCorpus.length) / queries)] as { token: string };
      const t0 = performance.now();
      const reply = await searcher.command(`UID SEARCH BODY ${target.token}`, 120_000);
      latencies.push(performance.now() - t0);
      const hits = (reply.lines.find((l) => l.startsWith('* SEARCH')) ?? '').split(' ').length - 2;
      if (hits !== 1) throw new Error(`SEARCH BODY ${target.token} found ${hits} messages`);
    }
    const missT0 = performance.now();
    await searcher.command('UID SEARCH BODY zq000000', 120_000);
    const missMs = performance.now() - missT0;
    // Other shapes clients send: a UID range with a text key (Thunderbird), and every undeleted message.
    const shape = async (command: string): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await searcher.command(command, 120_000);
        times.push(performance.now() - t0);
      }
      return median(times);
    };
    const uidRangeBodyMs = await shape(`UID SEARCH UID 1:* BODY ${(searchCorpus[7] as { token: string }).token}`);
    const notDeletedMs = await shape('SEARCH NOT DELETED');
    searcher.close();

    // Peak memory of a server process while FETCH runs over a whole 10,000-message mailbox.
    const fetchMemory = await measureFetchMemory(memoryCount, memoryLarge);

    // SORT and THREAD over 10,000 and 100,000 messages (a fixture of its own running the own engine).
    const sortThread = await measureSortThread(sortCounts);

    const result = {
      bench: 'imap',
      login: {
        firstMs: round(firstLoginMs),
        repeatMedianMs: round(median(repeats), 2),
        repeatWithOtherSessionOpenMedianMs: round(median(warmRepeats), 2),
        kdf: DEFAULT_KDF,
      },
      fetch: {
        messages: fetchCount,
        bytes: fetchedBytes,
        bestMs: round(fetchMs),
        mbPerSec: round(fetchedBytes / 1e6 / (fetchMs / 1000)),
        messagesPerSec: Math.round(fetchCount / (fetchMs / 1000)),
        headersBestMs: round(headerMs),
        headersMessagesPerSec: Math.round(fetchCount / (headerMs / 1000)),
      },
      search: {
        messages: searchCount,
        queries,
        medianMs: round(median(latencies)),
        p95Ms: round(percentile(latencies, 0.95)),
        missMs: round(missMs),
        uidRangeBodyMedianMs: round(uidRangeBodyMs),
        notDeletedMedianMs: round(notDeletedMs),
        fillSecs: round(fillSecs),
      },
      idleConnections: idle,
      fetchMemory,
      sortThread,
    };
    console.log(JSON.stringify(result));
    console.log(
      `imap: FETCH ${fetchCount} msgs ${result.fetch.mbPerSec} MB/s, envelopes ${result.fetch.headersMessagesPerSec} msgs/s; SEARCH BODY on ${searchCount} msgs median ${result.search.medianMs} ms (p95 ${result.search.p95Ms}); ` +
        `login first ${result.login.firstMs} ms, repeat ${result.login.repeatMedianMs} ms; ${idle.connections} idle connections ≈ ${idle.rssKbPerConnection} KiB RSS each; ` +
        `FETCH 1:* of ${fetchMemory.messages} msgs (${fetchMemory.mailboxMb} MB): server peak RSS ${fetchMemory.body.peakMb} MB (+${fetchMemory.body.growthMb}) BODY[], ` +
        `${fetchMemory.headers.peakMb} MB (+${fetchMemory.headers.growthMb}) ENVELOPE/BODYSTRUCTURE, +${fetchMemory.stalledGrowthMb} MB with a client not reading; ` +
        sortSummary(sortThread),
    );
  } finally {
    await fx.close();
  }
}
