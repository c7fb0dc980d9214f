// `npm run bench -- store [--count=N]`: the encrypted mailbox store on a gen-corpus.py corpus.
// Prints one JSON object (appends/s encrypted and not, their ratio, fetch MB/s, search p50/p99, open
// latency, bytes on disk ÷ raw bytes) and a one-line summary last.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { openMailboxStore, type Mailbox, type MailboxId, type MailboxStore, type SearchQuery } from '../server/mailbox/index.js';
import { closeMimeWorkers } from '../server/mime/index.js';
import { generateCorpus } from '../test/helpers/corpus.js';
import { genCorpusScript } from './shared.js';

interface BenchMessage {
  raw: Buffer;
  token: string;
  fromAddress: string;
}

function flagValue(flags: string[], name: string, fallback: number): number {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  return f ? Number(f.split('=')[1]) : fallback;
}

/** gen-corpus.py output when the shared folder is present (bench/shared.ts), else our own generator. */
function loadCorpus(count: number, workDir: string): { messages: BenchMessage[]; source: string } {
  const script = genCorpusScript();
  if (script) {
    const out = join(workDir, 'corpus');
    execFileSync('python3', [script, String(count), out, '--format', 'eml'], { stdio: 'ignore' });
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { n: number; token: string; from: string }[];
    const messages = index.map((m) => ({
      raw: readFileSync(join(out, `${String(m.n).padStart(6, '0')}.eml`)),
      token: m.token,
      fromAddress: /<([^>]+)>/.exec(m.from)?.[1] ?? m.from,
    }));
    return { messages, source: 'gen-corpus.py' };
  }
  const messages = generateCorpus(count, 42).map((m) => ({ raw: m.raw, token: m.token, fromAddress: m.from }));
  return { messages, source: 'test/helpers/corpus.ts' };
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

function latency(run: () => void, times: number): { p50: number; p99: number } {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    run();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { p50: round(percentile(samples, 50), 3), p99: round(percentile(samples, 99), 3) };
}

interface Target {
  store: MailboxStore;
  id: MailboxId;
  key: Buffer;
  mailbox: Mailbox;
  dir: string;
  appendMs: number;
  appendCpuMs: number;
}

async function target(workDir: string, name: string, encrypted: boolean): Promise<Target> {
  const dir = join(workDir, name);
  const store = openMailboxStore(dir, { unencryptedForBenchmarks: !encrypted });
  const id = randomUUID() as MailboxId;
  const key = randomBytes(32);
  await store.create(id, key);
  return { store, id, key, mailbox: await store.open(id, key), dir, appendMs: 0, appendCpuMs: 0 };
}

export async function run(flags: string[]): Promise<void> {
  const count = flagValue(flags, 'count', flags.includes('--quick') ? 1000 : 10_000);
  const workDir = mkdtempSync(join(tmpdir(), 'sealpost-bench-'));
  try {
    const { messages, source } = loadCorpus(count, workDir);
    const rawBytes = messages.reduce((n, m) => n + m.raw.length, 0);
    const enc = await target(workDir, 'encrypted', true);
    const plain = await target(workDir, 'plain', false);

    // Interleaved small batches: both modes see the same background load (disk, other processes). Wall time
    // includes the fsync of every commit; CPU time (this process, all threads) is the steadier measure of
    // what the cipher itself costs on a busy machine.
    const BATCH = 50;
    for (let start = 0; start < messages.length; start += BATCH) {
      const batch = messages.slice(start, start + BATCH);
      for (const t of start % (2 * BATCH) === 0 ? [enc, plain] : [plain, enc]) {
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        for (const [i, m] of batch.entries()) {
          const n = start + i;
          const flagsFor = [...(n % 10 === 0 ? ['\\Flagged'] : []), ...(n % 3 === 0 ? ['\\Seen'] : [])];
          await t.mailbox.append('INBOX', m.raw, { flags: flagsFor });
        }
        t.appendMs += performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        t.appendCpuMs += (cpu.user + cpu.system) / 1000;
      }
    }
    const appendsPerSec = (messages.length / enc.appendMs) * 1000;
    const plainAppendsPerSec = (messages.length / plain.appendMs) * 1000;

    // Unlock = open of a closed file with its key (what a login pays when the handle is not cached).
    const openSamples: number[] = [];
    for (let i = 0; i < 20; i++) {
      await enc.store.close(enc.id);
      const t0 = performance.now();
      enc.mailbox = await enc.store.open(enc.id, enc.key);
      openSamples.push(performance.now() - t0);
    }
    openSamples.sort((a, b) => a - b);

    const mailboxFile = join(enc.dir, 'mailboxes', `${enc.id}.sqlite`);
    await enc.store.close(enc.id);
    const fileBytes = statSync(mailboxFile).size + (existsSync(`${mailboxFile}-wal`) ? statSync(`${mailboxFile}-wal`).size : 0);
    enc.mailbox = await enc.store.open(enc.id, enc.key);

    const t0 = performance.now();
    let fetched = 0;
    for (let uid = 1; uid <= messages.length; uid++) fetched += (await enc.mailbox.readMessage('INBOX', uid)).length;
    const fetchMBps = fetched / 1e6 / ((performance.now() - t0) / 1000);

    let k = 0;
    const pick = (): BenchMessage => messages[(k++ * 7919) % messages.length]!;
    const searches: Record<string, { p50: number; p99: number }> = {
      bodyToken: latency(() => void enc.mailbox.search('INBOX', { op: 'body', value: pick().token }), 200),
      from: latency(() => void enc.mailbox.search('INBOX', { op: 'from', value: pick().fromAddress }), 200),
      flag: latency(() => void enc.mailbox.search('INBOX', { op: 'flag', flag: '\\Flagged', set: true } satisfies SearchQuery), 50),
    };
    const report = enc.mailbox.storageReport();
    await enc.store.closeAll();
    await plain.store.closeAll();
    await closeMimeWorkers();

    const result = {
      bench: 'store',
      corpus: { source, messages: messages.length, rawBytes },
      appendsPerSec: round(appendsPerSec, 1),
      appendsPerSecUnencrypted: round(plainAppendsPerSec, 1),
      encryptionOverhead: round(plainAppendsPerSec / appendsPerSec, 3),
      encryptionOverheadCpu: round(enc.appendCpuMs / plain.appendCpuMs, 3),
      appendCpuMsPerMessage: { encrypted: round(enc.appendCpuMs / messages.length, 3), unencrypted: round(plain.appendCpuMs / messages.length, 3) },
      fetchFullBodyMBps: round(fetchMBps, 1),
      searchMs: searches,
      openMs: { p50: round(percentile(openSamples, 50), 3), p99: round(percentile(openSamples, 99), 3) },
      diskBytes: fileBytes,
      diskRatio: round(fileBytes / rawBytes, 3),
      storage: report,
    };
    console.log(JSON.stringify(result));
    console.log(
      `store: ${result.appendsPerSec} appends/s encrypted (${result.appendsPerSecUnencrypted} without, ×${result.encryptionOverhead} wall, ×${result.encryptionOverheadCpu} CPU), ` +
        `fetch ${result.fetchFullBodyMBps} MB/s, search p50/p99 body ${searches.bodyToken!.p50}/${searches.bodyToken!.p99} ms, ` +
        `from ${searches.from!.p50}/${searches.from!.p99} ms, flag ${searches.flag!.p50}/${searches.flag!.p99} ms, ` +
        `open ${result.openMs.p50} ms, disk/raw ${result.diskRatio} (${messages.length} msgs, ${source})`,
    );
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
