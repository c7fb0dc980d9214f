// `npm run bench -- profile --workload=NAME [--count=N] [--secs=N]` (or `node --import tsx bench/profile.ts NAME …`):
// where Sealpost's time goes under one workload. Starts `bin/sealpost serve` (bench/compare/sealpost.ts) with
// `--cpu-prof` and SEALPOST_PROFILE_STAGES (server/stages.ts), seeds what the workload needs, measures one
// window (the stage totals are cleared at its start with SIGUSR2; CPU samples outside it are ignored), stops
// the server with SIGTERM so the profile is written, and prints:
//   (a) the top functions by self time in the server's main thread (source-mapped to server/*.ts),
//   (b) self time by area (server folder, npm package, node:internal, GC, idle, program),
//   (c) the stage table: wall time per stage (count, total, mean, max): waits included (fsync, DNS, workers),
//   (d) the workload's throughput,
// then one JSON object and a one-line summary. The .cpuprofile files are kept (path printed): open them in
// Chrome DevTools (Performance → Load profile) or VS Code for call trees and flame charts.
// Workloads: delivery, delivery-locked, append, fetch, mixed, pop3, drain, select (see bench/profile/workloads.ts).
// Flags: --count=N (messages; default 1000, select 10000), --secs=N (mixed, pop3; default 10), --top=N (25),
// --interval=µs (sampling interval, default 1000), --out=DIR (where profiles go; default a new temp dir),
// --auth-checks (SPF/DKIM/DMARC on; DNS goes to a closed local port, so every lookup fails fast),
// --sources (run the TypeScript through tsx instead of rebuilding dist/server when stale).
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startSealpost, type SealpostInstance } from './compare/sealpost.js';
import { genCorpusScript } from './shared.js';
import { hrtimeMicros, LONG_GAP_US, ProfileReader, type ThreadProfile } from './profile/cpuprofile.js';
import { corpusFor, defaultCount, runWorkload, usersFor, WORKLOADS, type Throughput, type WorkloadName } from './profile/workloads.js';
import type { StagesFile, StageTotals } from '../server/stages.js';
import { freePorts } from '../test/helpers/ports.js';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DOMAIN = 'bench.sealpost.test';

const log = (line: string): void => {
  process.stderr.write(`[profile] ${line}\n`);
};

function flag(flags: readonly string[], name: string): string | undefined {
  return flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function numberFlag(flags: readonly string[], name: string, fallback: number): number {
  const value = flag(flags, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not ${JSON.stringify(value)}`);
  return n;
}

/** The workload: --workload=NAME, --NAME, or a bare NAME (when this file is run directly). */
function workloadOf(args: readonly string[]): WorkloadName {
  const named = flag(args, 'workload') ?? args.find((a) => (WORKLOADS as readonly string[]).includes(a.replace(/^--/, '')))?.replace(/^--/, '');
  if (!named || !(WORKLOADS as readonly string[]).includes(named)) {
    throw new Error(`name a workload: --workload=NAME with NAME one of ${WORKLOADS.join(', ')}`);
  }
  return named as WorkloadName;
}

async function loadCorpus(count: number, dir: string): Promise<Buffer[]> {
  const script = genCorpusScript();
  if (script) {
    const out = path.join(dir, 'corpus');
    await execFileAsync('python3', [script, String(count), out, '--format', 'eml', '--seed', '1'], { maxBuffer: 64 * 1024 * 1024 });
    const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')) as { n: number }[];
    return index.map((m) => fs.readFileSync(path.join(out, `${String(m.n).padStart(6, '0')}.eml`)));
  }
  const { generateCorpus } = await import('../test/helpers/corpus.js');
  return generateCorpus(count, 1).map((m) => m.raw);
}

function readStages(file: string): StagesFile | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as StagesFile;
  } catch {
    return null;
  }
}

/** Clears the server's stage totals (SIGUSR2) and waits until it has written the cleared file. */
async function clearStages(pid: number, file: string): Promise<void> {
  const before = readStages(file)?.epoch ?? -1;
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 10_000;
  while ((readStages(file)?.epoch ?? -1) <= before) {
    if (Date.now() > deadline) throw new Error('the server did not clear its stage totals (is server/stages.ts loaded?)');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (part: number, whole: number): string => `${whole > 0 ? ((100 * part) / whole).toFixed(1) : '0.0'}%`;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function buildIfStale(): Promise<void> {
  return execFileAsync(process.execPath, [path.join(REPO, 'scripts', 'build-server.mjs'), '--if-stale'], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 }).then(
    () => undefined,
    (error: Error) => log(`dist/server could not be built (${error.message.split('\n')[0]}); serve runs the sources through tsx`),
  );
}

export async function run(flags: string[]): Promise<void> {
  const args = flags;
  const workload = workloadOf(args);
  const count = Math.round(numberFlag(args, 'count', defaultCount(workload)));
  const secs = numberFlag(args, 'secs', 10);
  const top = Math.round(numberFlag(args, 'top', 25));
  const interval = Math.round(numberFlag(args, 'interval', 1000));
  const outDir = path.resolve(flag(args, 'out') ?? fs.mkdtempSync(path.join(os.tmpdir(), `sealpost-profile-${workload}-`)));
  fs.mkdirSync(outDir, { recursive: true });
  const stagesFile = path.join(outDir, 'stages.json');
  const profDir = path.join(outDir, 'cpu');
  fs.mkdirSync(profDir, { recursive: true });

  if (!args.includes('--sources')) await buildIfStale();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-profile-data-'));
  let sealpost: SealpostInstance | null = null;
  const onSignal = (): void => {
    log('interrupted: stopping the server');
    void (sealpost?.stop() ?? Promise.resolve()).finally(() => {
      fs.rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const options = { count, secs };
    log(`${workload}: generating ${corpusFor(workload, options)} corpus messages`);
    const corpus = await loadCorpus(corpusFor(workload, options), work);
    const passwords = new Map<string, string>();
    for (let i = 1; i <= usersFor(workload); i++) passwords.set(`user${i}`, `Pw-${crypto.randomBytes(12).toString('base64url')}`);
    const [smtp, imap, pop3] = await freePorts(3);
    log('starting sealpost serve with --cpu-prof');
    const instance = await startSealpost({
      dir: path.join(work, 'sealpost'),
      domain: DOMAIN,
      ports: { smtp: smtp!, imap: imap!, pop3: pop3! },
      users: passwords,
      execArgv: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-interval=${interval}`],
      extraEnv: { SEALPOST_PROFILE_STAGES: stagesFile, ...(args.includes('--auth-checks') ? { SEALPOST_SMTP_AUTH_CHECKS: 'on' } : {}) },
    });
    sealpost = instance;
    const pid = instance.pid;
    let fromUs = 0;
    let toUs = 0;
    const result: Throughput = await runWorkload(
      workload,
      { smtpPort: smtp!, imapPort: imap!, pop3Port: pop3!, domain: DOMAIN, passwords, corpus },
      options,
      {
        begin: async () => {
          log('seeded; measuring');
          await clearStages(pid, stagesFile);
          fromUs = hrtimeMicros();
        },
        end: () => {
          toUs = hrtimeMicros();
        },
      },
    );
    if (toUs === 0) toUs = hrtimeMicros();
    log('stopping the server (SIGTERM) so it writes its profile');
    await instance.stop();
    sealpost = null;

    const stages = readStages(stagesFile);
    const ofServe = new RegExp(`^CPU\\.\\d+\\.\\d+\\.${pid}\\.\\d+\\.\\d+\\.cpuprofile$`);
    const profiles = fs.readdirSync(profDir).filter((f) => ofServe.test(f));
    if (profiles.length === 0) throw new Error(`no CPU profile of process ${pid} in ${profDir}`);
    const reader = new ProfileReader(REPO);
    const threads: ThreadProfile[] = profiles.map((f) => reader.read(path.join(profDir, f), { fromUs, toUs })).sort((a, b) => a.thread - b.thread);
    report({ workload, count, secs, result, threads, stages, stagesFile, windowMs: (toUs - fromUs) / 1000, top });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await sealpost?.stop().catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

interface Report {
  readonly workload: WorkloadName;
  readonly count: number;
  readonly secs: number;
  readonly result: Throughput;
  readonly threads: readonly ThreadProfile[];
  readonly stages: StagesFile | null;
  readonly stagesFile: string;
  readonly windowMs: number;
  readonly top: number;
}

function report(r: Report): void {
  const main = r.threads.find((t) => t.thread === 0) ?? r.threads[0]!;
  const workers = r.threads.filter((t) => t !== main);
  const out: string[] = [];
  const mapped = main.functions.some((f) => f.where.startsWith('server/')) && !main.functions.some((f) => f.area === 'dist (unmapped)');
  out.push(`profile ${r.workload}: ${r.result.label}`);
  out.push(`window ${(r.windowMs / 1000).toFixed(2)} s; main thread busy ${ms(main.busyMs)} ms (${pct(main.busyMs, main.sampledMs)} of ${ms(main.sampledMs)} ms sampled)`);
  out.push(`cpu profile (main thread): ${main.file}`);
  if (!mapped) out.push('note: the server ran from TypeScript through tsx (dist/server stale or missing): line numbers are approximate');

  out.push('', `(a) top ${r.top} functions by self time, main thread`);
  out.push(
    table(
      ['function', 'where', 'self ms', '%', `in gaps>${LONG_GAP_US / 1000}ms`],
      main.functions.slice(0, r.top).map((f) => [f.name.slice(0, 48), f.where.slice(-60), ms(f.selfMs), pct(f.selfMs, main.sampledMs), f.gapMs > 0 ? ms(f.gapMs) : '']),
    ),
  );
  out.push(`(in gaps: self time from gaps of over ${LONG_GAP_US / 1000} ms between samples: the thread blocked in a system call such as fsync, or was not scheduled)`);
  out.push('', '(b) self time by area, main thread');
  out.push(table(['area', 'self ms', '%'], main.areas.map((a) => [a.area, ms(a.selfMs), pct(a.selfMs, main.sampledMs)])));
  for (const w of workers) {
    const busy = w.functions.filter((f) => f.name !== '(idle)').slice(0, 5);
    out.push('', `worker thread ${w.thread}: busy ${ms(w.busyMs)} ms of ${ms(w.sampledMs)} ms sampled; top: ${busy.map((f) => `${f.name} (${f.where}) ${ms(f.selfMs)} ms`).join('; ')}`);
  }

  const stageRows = Object.entries(r.stages?.stages ?? {}).sort((a, b) => b[1].totalMs - a[1].totalMs);
  out.push('', `(c) stages: wall time per stage (overlapping and nested: they do not add up) from ${r.stagesFile}`);
  out.push(table(['stage', 'count', 'total ms', 'mean ms', 'max ms'], stageRows.map(([name, s]: [string, StageTotals]) => [name, String(s.count), ms(s.totalMs), ms(s.totalMs / s.count), ms(s.maxMs)])));

  out.push('', `(d) throughput: ${ms(r.result.value)} ${r.result.unit} (${r.result.secs.toFixed(2)} s${r.result.errors ? `, ${r.result.errors} errors` : ''})${Object.keys(r.result.details).length ? ` ${JSON.stringify(r.result.details)}` : ''}`);
  process.stdout.write(`${out.join('\n')}\n`);

  const round = (v: number): number => Number(v.toFixed(2));
  const json = {
    bench: 'profile',
    workload: r.workload,
    count: r.count,
    secs: r.secs,
    throughput: { label: r.result.label, value: round(r.result.value), unit: r.result.unit, secs: round(r.result.secs), errors: r.result.errors, ...r.result.details },
    windowMs: Math.round(r.windowMs),
    mainThread: {
      profile: main.file,
      sampledMs: Math.round(main.sampledMs),
      busyMs: Math.round(main.busyMs),
      sourceMapped: mapped,
      top: main.functions.slice(0, r.top).map((f) => ({ name: f.name, where: f.where, area: f.area, selfMs: round(f.selfMs), gapMs: round(f.gapMs) })),
      areas: main.areas.map((a) => ({ area: a.area, selfMs: round(a.selfMs) })),
    },
    workers: workers.map((w) => ({ thread: w.thread, profile: w.file, busyMs: Math.round(w.busyMs), top: w.functions.filter((f) => f.name !== '(idle)').slice(0, 5).map((f) => ({ name: f.name, where: f.where, selfMs: round(f.selfMs) })) })),
    stages: Object.fromEntries(stageRows.map(([name, s]) => [name, { count: s.count, totalMs: round(s.totalMs), meanMs: round(s.totalMs / s.count), maxMs: round(s.maxMs) }])),
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
  const hot = main.functions.find((f) => !f.name.startsWith('('));
  const slowest = stageRows[0];
  process.stdout.write(
    `profile ${r.workload}: ${ms(r.result.value)} ${r.result.unit}; main thread busy ${pct(main.busyMs, main.sampledMs)}; ` +
      `hottest function ${hot ? `${hot.name} (${hot.where}) ${pct(hot.selfMs, main.sampledMs)}` : 'none'}; ` +
      `largest stage ${slowest ? `${slowest[0]} ${ms(slowest[1].totalMs)} ms over ${slowest[1].count}` : 'none'}; profile ${main.file}\n`,
  );
}

// Run directly: `node --import tsx bench/profile.ts delivery --count=1000`.
if (import.meta.url === `file://${process.argv[1]}`) {
  run(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
