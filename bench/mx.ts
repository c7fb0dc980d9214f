// Inbound MX throughput: the 2,000-message corpus sent over 4 SMTP connections to an unlocked alias
// (parse + append to the encrypted mailbox) and to a locked alias (sealed into the queue), then the
// drain of the locked alias's queue after its first login (until the queue is empty). Server and clients share this process (2 cores).
// SPF/DKIM/DMARC run against a loopback DNS server (every sender domain answers NXDOMAIN).
// Flags: --messages=N (default 2000), --connections=N (default 4), --no-auth (skip mailauth).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import nodemailer from 'nodemailer';
import { startApp } from '../server/app.js';
import { groupCommitStats } from '../server/mailbox/index.js';
import { LISTENER_NAMES, PORT_SOURCES } from '../server/config/index.js';
import { silentLogger } from '../server/log.js';
import { generateCorpus } from '../test/helpers/corpus.js';
import { startDnsServer } from '../test/helpers/dns-server.js';
import { freePorts } from '../test/helpers/ports.js';
import { genCorpusScript } from './shared.js';

const flag = (flags: string[], name: string, fallback: number): number => {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  return f ? Number(f.split('=')[1]) : fallback;
};

const PASSWORD = 'tidy-Orbit-9-walrus-Lantern';
const GEN = genCorpusScript();

/** The shared corpus generator's messages when available, else our own test generator. */
function corpus(n: number, dir: string): { source: string; messages: Buffer[] } {
  if (GEN) {
    const out = path.join(dir, 'corpus');
    const r = spawnSync('python3', [GEN, String(n), out, '--format', 'eml'], { encoding: 'utf8' });
    if (r.status === 0) {
      const files = fs.readdirSync(out).filter((f) => f.endsWith('.eml')).sort();
      return { source: 'gen-corpus.py', messages: files.map((f) => fs.readFileSync(path.join(out, f))) };
    }
  }
  return { source: 'test/helpers/corpus.ts', messages: generateCorpus(n, 7).map((m) => m.raw) };
}

/** CPU seconds (user + system) of this process since `from` — the machine is shared, so wall time alone misleads. */
const cpuSince = (from: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
};

async function sendAll(port: number, to: string, messages: readonly Buffer[], connections: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, w) => {
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: 1, maxMessages: Infinity });
      try {
        for (let i = w; i < messages.length; i += connections) {
          await transport.sendMail({ envelope: { from: 'bench@sender.example', to: [to] }, raw: messages[i] as Buffer });
        }
      } finally {
        transport.close();
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}

export async function run(flags: string[]): Promise<void> {
  const count = flag(flags, 'messages', 2000);
  const connections = flag(flags, 'connections', 4);
  const auth = !flags.includes('--no-auth');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-bench-'));
  const dns = await startDnsServer({});
  const [smtpPort] = await freePorts(1);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    SEALPOST_DATA: dir,
    SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex'),
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_HOST: '127.0.0.1',
    SEALPOST_HOSTNAME: 'mx.bench.test',
    SEALPOST_DNS_SERVERS: dns.address,
    SEALPOST_SMTP_AUTH_CHECKS: auth ? 'on' : 'off',
    SEALPOST_SMTP_MAX_CONNECTIONS_PER_IP: String(connections + 2),
  };
  for (const name of LISTENER_NAMES) env[PORT_SOURCES[name].env] = '0';
  env.SEALPOST_SMTP_PORT = String(smtpPort);
  const { source, messages } = corpus(count, dir);
  const bytes = messages.reduce((n, m) => n + m.length, 0);
  const app = await startApp({ env }, { logger: silentLogger(), kdf: { algorithm: 'argon2id', memoryKiB: 1024, iterations: 1, parallelism: 1 } });
  try {
    const ctx = app.ctx;
    ctx.directory.addDomain('bench.test');
    await ctx.accounts.createAlias('open@bench.test', PASSWORD);
    await ctx.accounts.createAlias('locked@bench.test', PASSWORD);
    await ctx.accounts.unlock('open@bench.test', PASSWORD);

    let cpu0 = process.cpuUsage();
    const unlockedSecs = await sendAll(smtpPort, 'open@bench.test', messages, connections);
    const unlockedCpu = cpuSince(cpu0);
    cpu0 = process.cpuUsage();
    const lockedSecs = await sendAll(smtpPort, 'locked@bench.test', messages, connections);
    const lockedCpu = cpuSince(cpu0);
    const locked = ctx.directory.requireAlias('locked@bench.test');
    const queued = ctx.accounts.queuedCount(locked);
    // Group commit: how many transactions (= WAL fsyncs) the deliveries took.
    const open = ctx.directory.requireAlias('open@bench.test');
    const material = ctx.keyRing.get(open.id);
    const appendCommits = material ? groupCommitStats(await ctx.mailboxes.open(open.mailboxId, material.mailboxKey)) : null;
    const queueCommits = (ctx.queue as { commitStats?: (id: string) => unknown }).commitStats?.(locked.mailboxId) ?? null;

    const t0 = performance.now();
    cpu0 = process.cpuUsage();
    const session = await ctx.accounts.authenticate('locked@bench.test', PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });
    await ctx.accounts.whenDrained(locked.id); // the login answers at once; the queue drains behind it
    const drainSecs = (performance.now() - t0) / 1000;
    const drainCpu = cpuSince(cpu0);
    const drained = session.mailbox.status('INBOX').messages;
    session.release();

    const round = (x: number): number => Math.round(x * 10) / 10;
    const result = {
      bench: 'mx',
      corpus: source,
      messages: count,
      megabytes: round(bytes / 1e6),
      connections,
      authChecks: auth,
      unlockedPerSec: round(count / unlockedSecs),
      lockedPerSec: round(count / lockedSecs),
      drainPerSec: round(drained / drainSecs),
      unlockedSecs: round(unlockedSecs),
      lockedSecs: round(lockedSecs),
      drainSecs: round(drainSecs),
      // CPU time of this process (server + nodemailer clients) per phase, and messages per CPU second.
      unlockedCpuSecs: round(unlockedCpu),
      lockedCpuSecs: round(lockedCpu),
      drainCpuSecs: round(drainCpu),
      unlockedPerCpuSec: round(count / unlockedCpu),
      lockedPerCpuSec: round(count / lockedCpu),
      loadAverage: os.loadavg().map((x) => round(x)),
      appendCommits,
      queueCommits,
      queued,
      drained,
    };
    console.log(JSON.stringify(result));
    console.log(
      `mx: ${count} msgs (${result.megabytes} MB) over ${connections} connections — unlocked ${result.unlockedPerSec} msg/s, locked (sealed) ${result.lockedPerSec} msg/s, drain ${result.drainPerSec} msg/s${auth ? '' : ' (no SPF/DKIM/DMARC)'}`,
    );
  } finally {
    await app.stop();
    await dns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
