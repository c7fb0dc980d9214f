// `npm run bench -- compare`: Sealpost side by side with Dovecot 2.3 (plain Maildir, and Maildir with the
// mail_crypt plugin), same machine, same clients, same corpus, workloads run against each in turn:
//   delivery of 2,000 messages over 4 connections (Sealpost MX vs Dovecot LMTP), to an unlocked and to a
//   locked mailbox; IMAP APPEND of 10,000 messages over 4 connections; full-body FETCH of 1,000 messages, and
//   a second session's FETCH 1:20 ENVELOPE latency while one more runs;
//   SEARCH BODY for 50 tokens in 10,000 messages; a mixed session load from 8 clients for a fixed time;
//   POP3 RETR over 4 sessions; resident memory per idle IMAP connection with 500 connections;
//   APPEND one message at a time (per-APPEND latency with the literal and its closing CRLF in two writes and
//   Nagle on, as Python's imaplib sends them, and in one write; and a real imaplib client, 4 connections);
//   LOGIN with literals, split and joined; the sealed-queue drain at login (Sealpost only); SELECT, FETCH 1:*
//   (UID FLAGS) and FETCH 1:* FLAGS on mailboxes of 10,000 / 50,000 / 100,000 messages (filled straight into
//   the store / the Maildir, see bench/compare/fill.ts). Before the first row every server gets the same
//   unmeasured warm-up (300 messages delivered, appended and fetched), so no row measures a cold start.
// Rows may carry a goal (a ratio to one Dovecot, or an absolute figure); the table says whether it is met.
// Prints one JSON object, a table with the Sealpost ÷ Dovecot ratios and goals, and a one-line summary.
// Flags: --quick (smaller corpus and shorter runs, for a smoke test), --secs=N (mixed/POP3 duration),
// --scale=N[,N…] (mailbox sizes for the scale rows; default 10000,50000,100000, --quick 10000; 0 skips them),
// --targets=NAME[,NAME…] (sealpost, dovecot, dovecot-crypt; default all three: one alone reproduces a row's
// conditions in a third of the time, e.g. while finding out why a figure differs from a lone benchmark's).
// Every process it starts is stopped at the end, on error and on SIGINT/SIGTERM.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { ImapClient, Pop3Client } from './compare/clients.js';
import { childPids, ensureDovecot, startDovecot, type DovecotInstance } from './compare/dovecot.js';
import { fillMaildir, fillSealpost, generateScaleCorpus, type ScaleCorpus } from './compare/fill.js';
import { pssBytes, rssBytes, startSealpost, type SealpostInstance } from './compare/sealpost.js';
import { freePorts } from '../test/helpers/ports.js';

const execFileAsync = promisify(execFile);
const DOMAIN = 'bench.sealpost.test';
const SHARED_GENERATOR = fileURLToPath(new URL('../../shared/bench/gen-corpus.py', import.meta.url));

type TargetName = 'sealpost' | 'dovecot' | 'dovecot-crypt';
const SCALE_USER = 'scale';
const TARGETS: readonly TargetName[] = ['sealpost', 'dovecot', 'dovecot-crypt'];

interface Target {
  readonly name: TargetName;
  readonly imapPort: number;
  readonly pop3Port: number;
  readonly deliveryPort: number;
  readonly lmtp: boolean;
  login(user: string): string;
  /** Dovecot: the user's Maildir (the scale rows write messages into it). */
  maildir?(user: string): string;
  rcpt(user: string): string;
  /** Memory attributable to IMAP sessions: {rss, pss} bytes. */
  imapMemory(): { rss: number; pss: number };
  /** Memory of the whole server (every process): {rss, pss} bytes. */
  serverMemory(): { rss: number; pss: number };
  stop(): Promise<void>;
  /** A fresh process before the memory measurement (Sealpost: one heap carries the earlier workloads' garbage). */
  restart(): Promise<void>;
}

interface CorpusMessage {
  readonly raw: Buffer;
  readonly token: string;
}

interface Sizes {
  delivery: number;
  search: number;
  fetch: number;
  searches: number;
  searchCapSecs: number;
  mixedClients: number;
  secs: number;
  idleConnections: number;
  /** APPENDs per client style and server in the one-at-a-time latency rows. */
  sequentialAppends: number;
  /** LOGINs per style and server in the literal LOGIN latency rows. */
  logins: number;
  /** Messages the imaplib client appends (the first N of the corpus). */
  imaplib: number;
  /** Messages sealed for a locked mailbox before the drain row's login. */
  drain: number;
  /** Mailbox sizes of the scale rows, ascending. */
  scale: number[];
  /** Runs per scale measurement (the median is reported). */
  scaleRuns: number;
  /** Messages of the unmeasured warm-up (delivered, appended, fetched) every server gets before the first row. */
  warmUp: number;
}

const FULL: Sizes = { delivery: 2000, search: 10_000, fetch: 1000, searches: 50, searchCapSecs: 60, mixedClients: 8, secs: 20, idleConnections: 500, sequentialAppends: 300, logins: 30, imaplib: 2000, drain: 2000, scale: [10_000, 50_000, 100_000], scaleRuns: 3, warmUp: 300 };
const QUICK: Sizes = { delivery: 300, search: 1000, fetch: 200, searches: 10, searchCapSecs: 10, mixedClients: 4, secs: 4, idleConnections: 100, sequentialAppends: 50, logins: 10, imaplib: 400, drain: 300, scale: [10_000], scaleRuns: 3, warmUp: 50 };

const T0 = performance.now();
const log = (line: string): void => {
  process.stderr.write(`[compare ${((performance.now() - T0) / 1000).toFixed(0)}s] ${line}\n`);
};

/** The corpus: gen-corpus.py from the shared bench folder when present, else our own test generator. */
async function loadCorpus(count: number, dir: string): Promise<{ messages: CorpusMessage[]; source: string }> {
  if (fs.existsSync(SHARED_GENERATOR)) {
    const out = path.join(dir, 'corpus');
    await execFileAsync('python3', [SHARED_GENERATOR, String(count), out, '--format', 'eml', '--seed', '1'], { maxBuffer: 64 * 1024 * 1024 });
    const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')) as { n: number; token: string }[];
    const messages = index.map((m) => ({ raw: fs.readFileSync(path.join(out, `${String(m.n).padStart(6, '0')}.eml`)), token: m.token }));
    return { messages, source: 'gen-corpus.py' };
  }
  const { generateCorpus } = await import('../test/helpers/corpus.js');
  return { messages: generateCorpus(count, 1).map((m) => ({ raw: m.raw, token: m.token })), source: 'test/helpers/corpus.ts' };
}

function users(): Map<string, string> {
  const map = new Map<string, string>();
  // user1–22: the original workloads; user23: one-at-a-time APPEND and LOGIN; user24: imaplib; user25: drain;
  // user26: the warm-up.
  for (let i = 1; i <= 26; i++) map.set(`user${i}`, `Pw-${crypto.randomBytes(12).toString('base64url')}`);
  map.set(SCALE_USER, `Pw-${crypto.randomBytes(12).toString('base64url')}`);
  return map;
}

async function pool<T>(items: readonly T[], workers: number, fn: (item: T, worker: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (next < items.length) await fn(items[next++] as T, w);
    }),
  );
}

async function login(target: Target, user: string, password: string, localAddress?: string): Promise<ImapClient> {
  const client = await ImapClient.connect(target.imapPort, localAddress);
  const r = await client.command(`LOGIN "${target.login(user)}" "${password}"`);
  if (r.status !== 'OK') {
    client.close();
    throw new Error(`${target.name}: LOGIN ${user}: ${r.tagged}`);
  }
  return client;
}

// ── workloads ───────────────────────────────────────────────────────────────────────────────────────

async function deliver(target: Target, user: string, messages: readonly CorpusMessage[], connections: number): Promise<{ secs: number; perSec: number; errors: number }> {
  const transports = Array.from({ length: connections }, () =>
    nodemailer.createTransport({ host: '127.0.0.1', port: target.deliveryPort, secure: false, ignoreTLS: true, lmtp: target.lmtp, pool: true, maxConnections: 1, maxMessages: Infinity, name: 'bench.client.test', socketTimeout: 120_000 }),
  );
  let errors = 0;
  const t0 = performance.now();
  await pool(messages, connections, async (m, w) => {
    try {
      await transports[w]!.sendMail({ envelope: { from: 'sender@bench-sender.test', to: [target.rcpt(user)] }, raw: m.raw });
    } catch {
      errors++;
    }
  });
  const secs = (performance.now() - t0) / 1000;
  for (const t of transports) t.close();
  return { secs, perSec: (messages.length - errors) / secs, errors };
}

async function appendAll(target: Target, user: string, password: string, messages: readonly CorpusMessage[], connections: number): Promise<{ secs: number; perSec: number; errors: number }> {
  const clients = await Promise.all(Array.from({ length: connections }, () => login(target, user, password)));
  let errors = 0;
  const t0 = performance.now();
  await pool(messages, connections, async (m, w) => {
    const r = await clients[w]!.append('INBOX', m.raw);
    if (r.status !== 'OK') errors++;
  });
  const secs = (performance.now() - t0) / 1000;
  for (const c of clients) c.close();
  return { secs, perSec: (messages.length - errors) / secs, errors };
}

async function fetchBodies(target: Target, user: string, password: string, count: number): Promise<{ secs: number; perSec: number; mbPerSec: number; bytes: number }> {
  const client = await login(target, user, password);
  try {
    await client.command('SELECT INBOX');
    let best = Infinity;
    let bytes = 0;
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      const r = await client.command(`FETCH 1:${count} (BODY.PEEK[])`);
      const secs = (performance.now() - t0) / 1000;
      if (r.status !== 'OK' || r.literals !== count) throw new Error(`${target.name}: FETCH returned ${r.literals} bodies: ${r.tagged}`);
      bytes = r.literalBytes;
      best = Math.min(best, secs);
    }
    return { secs: best, perSec: count / best, mbPerSec: bytes / best / 1e6, bytes };
  } finally {
    client.close();
  }
}

/**
 * One more full-body FETCH of `count` messages on one session while a second session of the same user lists
 * `FETCH 1:20 (UID FLAGS RFC822.SIZE ENVELOPE)` over and over: how long another client waits while someone
 * downloads a mailbox (Dovecot serves each session from its own process; Sealpost from one event loop and
 * its reader threads).
 */
async function fetchBesideListing(target: Target, user: string, password: string, count: number): Promise<{ p50: number; listings: number }> {
  const [bulk, lister] = await Promise.all([login(target, user, password), login(target, user, password)]);
  try {
    await bulk.command('SELECT INBOX');
    await lister.command('SELECT INBOX');
    let done = false;
    const waits: number[] = [];
    const listing = (async () => {
      while (!done) {
        const t0 = performance.now();
        const r = await lister.command('FETCH 1:20 (UID FLAGS RFC822.SIZE ENVELOPE)');
        if (r.status !== 'OK') throw new Error(`${target.name}: listing beside FETCH: ${r.tagged}`);
        waits.push(performance.now() - t0);
      }
    })();
    const r = await bulk.command(`FETCH 1:${count} (BODY.PEEK[])`);
    done = true;
    await listing;
    if (r.status !== 'OK' || r.literals !== count) throw new Error(`${target.name}: FETCH returned ${r.literals} bodies: ${r.tagged}`);
    waits.sort((a, b) => a - b);
    return { p50: waits[waits.length >> 1] ?? NaN, listings: waits.length };
  } finally {
    bulk.close();
    lister.close();
  }
}

async function searchBody(target: Target, user: string, password: string, tokens: readonly string[], capSecs: number): Promise<{ done: number; msPerSearch: number; wrong: number }> {
  const client = await login(target, user, password);
  try {
    await client.command('SELECT INBOX');
    let done = 0;
    let wrong = 0;
    const t0 = performance.now();
    for (const token of tokens) {
      const r = await client.command(`SEARCH BODY ${token}`);
      const hits = (r.untagged.find((l) => l.startsWith('* SEARCH')) ?? '* SEARCH').split(' ').slice(2).filter(Boolean);
      if (r.status !== 'OK' || hits.length !== 1) wrong++;
      done++;
      if ((performance.now() - t0) / 1000 > capSecs) break;
    }
    return { done, msPerSearch: (performance.now() - t0) / done, wrong };
  } finally {
    client.close();
  }
}

async function mixedLoad(target: Target, clientUsers: readonly [string, string][], secs: number, small: Buffer): Promise<{ commandsPerSec: number; sessionsPerSec: number; errors: number; commands: number }> {
  const end = performance.now() + secs * 1000;
  let commands = 0;
  let sessions = 0;
  let errors = 0;
  const ok = (r: { status: string }): boolean => {
    if (r.status === 'OK') {
      commands++;
      return true;
    }
    errors++;
    return false;
  };
  const t0 = performance.now();
  await Promise.all(
    clientUsers.map(async ([user, password], n) => {
      let i = 0;
      while (performance.now() < end) {
        let client: ImapClient | null = null;
        try {
          client = await ImapClient.connect(target.imapPort);
          if (!ok(await client.command(`LOGIN "${target.login(user)}" "${password}"`))) continue;
          const select = await client.command('SELECT INBOX');
          if (!ok(select)) continue;
          const exists = Number(/^\* (\d+) EXISTS/m.exec(select.untagged.join('\n'))?.[1] ?? 0);
          // A few rounds of work per session, as a mail client does between connects.
          for (let round = 0; round < 5 && performance.now() < end; round++) {
            i++;
            ok(await client.command(`FETCH 1:${Math.min(20, Math.max(1, exists))} (UID FLAGS RFC822.SIZE ENVELOPE)`));
            ok(await client.command(`FETCH ${1 + ((i * 7 + n) % Math.max(1, exists))} (BODY.PEEK[])`));
            ok(await client.command(`STORE ${1 + ((i * 13 + n) % Math.max(1, exists))} ${i % 2 ? '+' : '-'}FLAGS (\\Seen)`));
            ok(await client.append('INBOX', small));
            ok(await client.command('NOOP'));
            ok(await client.command('STORE * +FLAGS.SILENT (\\Deleted)'));
            ok(await client.command('EXPUNGE'));
          }
          ok(await client.command('LOGOUT'));
          sessions++;
        } catch {
          errors++;
        } finally {
          client?.close();
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  return { commandsPerSec: commands / elapsed, sessionsPerSec: sessions / elapsed, errors, commands };
}

async function pop3Load(target: Target, sessionUsers: readonly [string, string][], secs: number): Promise<{ retrPerSec: number; mbPerSec: number; sessionsPerSec: number; errors: number }> {
  const end = performance.now() + secs * 1000;
  let retr = 0;
  let bytes = 0;
  let sessions = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    sessionUsers.map(async ([user, password]) => {
      while (performance.now() < end) {
        let client: Pop3Client | null = null;
        try {
          client = await Pop3Client.connect(target.pop3Port);
          await client.command(`USER ${target.login(user)}`);
          await client.command(`PASS ${password}`);
          const stat = await client.command('STAT');
          const count = Number(stat.split(' ')[1]);
          await client.multiline('UIDL');
          for (let i = 1; i <= count; i++) {
            const got = await client.multiline(`RETR ${i}`); // awaited first: `bytes += await` reads bytes before the wait and loses the other sessions' counts
            bytes += got;
            retr++;
          }
          await client.command('QUIT');
          sessions++;
        } catch {
          errors++;
        } finally {
          client?.close();
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  return { retrPerSec: retr / elapsed, mbPerSec: bytes / elapsed / 1e6, sessionsPerSec: sessions / elapsed, errors };
}

async function idleMemory(target: Target, idleUsers: readonly [string, string][], connections: number): Promise<{ bytesPerConnection: number; pssPerConnection: number; totalRss: number; totalPss: number; opened: number; errors: number; firstError: string }> {
  let clients: ImapClient[] = [];
  let errors = 0;
  let firstError = '';
  // 10 loopback source addresses: stays under per-IP connection limits (Sealpost: 64 per IP, 32 per alias).
  const open = async (i: number): Promise<void> => {
    try {
      const [user, password] = idleUsers[i % idleUsers.length]!;
      const client = await login(target, user, password, `127.0.0.${1 + (i % 10)}`);
      clients.push(client);
      const r = await client.command('SELECT INBOX');
      if (r.status !== 'OK') throw new Error(`SELECT: ${r.tagged}`);
    } catch (error) {
      errors++;
      firstError ||= (error as Error).message;
    }
  };
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 3000));
  // Sealpost: a warm-up round (all connections, then all closed) lets the garbage-collected heap size
  // itself to the load, so the measured difference is what the connections keep, not start-up garbage.
  // Not for Dovecot: it keeps exited sessions' processes for reuse, which would hide their cost.
  if (target.name === 'sealpost') {
    await pool(Array.from({ length: connections }, (_, i) => i), 20, open);
    for (const c of clients) c.close();
    clients = [];
    errors = 0;
    await settle();
  }
  // Baseline: one session per user (mailbox open, keys unlocked, Dovecot's per-user process up).
  await pool(Array.from({ length: idleUsers.length }, (_, i) => i), 10, open);
  await settle();
  const before = target.imapMemory();
  await pool(Array.from({ length: connections - idleUsers.length }, (_, i) => i + idleUsers.length), 20, open);
  await settle();
  const after = target.imapMemory();
  const total = target.serverMemory();
  const opened = clients.filter((c) => !c.closed).length;
  const added = Math.max(1, opened - idleUsers.length);
  for (const c of clients) c.close();
  return { bytesPerConnection: (after.rss - before.rss) / added, pssPerConnection: (after.pss - before.pss) / added, totalRss: total.rss, totalPss: total.pss, opened, errors, firstError };
}

interface Latency {
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly n: number;
}

function latency(ms: readonly number[]): Latency {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
  return { mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), p50: at(0.5), p95: at(0.95), n: sorted.length };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

/** APPENDs one at a time on one connection with Nagle on (no TCP_NODELAY): ms from the command to its tagged OK. */
async function sequentialAppend(target: Target, user: string, password: string, messages: readonly CorpusMessage[], joined: boolean): Promise<Latency & { errors: number }> {
  const client = await ImapClient.connect(target.imapPort, undefined, { noDelay: false });
  try {
    const r = await client.command(`LOGIN "${target.login(user)}" "${password}"`);
    if (r.status !== 'OK') throw new Error(`${target.name}: LOGIN ${user}: ${r.tagged}`);
    const ms: number[] = [];
    let errors = 0;
    for (const m of messages) {
      const t0 = performance.now();
      const a = await client.append('INBOX', m.raw, '', { joined });
      ms.push(performance.now() - t0);
      if (a.status !== 'OK') errors++;
    }
    return { ...latency(ms), errors };
  } finally {
    client.close();
  }
}

/** LOGIN {n} user {m} password on fresh connections with Nagle on: ms from the command to its tagged OK (one unmeasured first login). */
async function literalLogin(target: Target, user: string, password: string, count: number, joined: boolean): Promise<Latency & { errors: number }> {
  const ms: number[] = [];
  let errors = 0;
  for (let i = 0; i <= count; i++) {
    const client = await ImapClient.connect(target.imapPort, undefined, { noDelay: false });
    try {
      const t0 = performance.now();
      const r = await client.loginLiteral(target.login(user), password, { joined });
      if (i > 0) ms.push(performance.now() - t0);
      if (r.status !== 'OK') errors++;
      await client.command('LOGOUT');
    } finally {
      client.close();
    }
  }
  return { ...latency(ms), errors };
}

// Python's imaplib, as shipped: APPEND sends the literal and the closing CRLF in two socket writes, no TCP_NODELAY.
const IMAPLIB_APPEND = `
import imaplib, json, os, sys, threading, time
port, user, pw, src, n, conns = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
msgs = [open(os.path.join(src, '%06d.eml' % (i + 1)), 'rb').read() for i in range(n)]
clients = []
for c in range(conns):
    M = imaplib.IMAP4('127.0.0.1', port); M.login(user, pw); clients.append(M)
errors = [0]
lat = []
def work(w):
    M = clients[w]
    for i in range(w, n, conns):
        t = time.perf_counter()
        try:
            typ, _ = M.append('INBOX', None, None, msgs[i])
        except Exception:
            typ = 'ERR'
        lat.append(time.perf_counter() - t)
        if typ != 'OK':
            errors[0] += 1
threads = [threading.Thread(target=work, args=(w,)) for w in range(conns)]
t0 = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
secs = time.perf_counter() - t0
for M in clients:
    try: M.logout()
    except Exception: pass
lat.sort()
print(json.dumps({"secs": secs, "errors": errors[0], "p50ms": lat[len(lat) // 2] * 1000, "p95ms": lat[int(len(lat) * 0.95)] * 1000}))
`;

async function imaplibAppend(target: Target, user: string, password: string, srcDir: string, count: number, connections: number): Promise<{ perSec: number; errors: number; p50ms: number; p95ms: number }> {
  const { stdout } = await execFileAsync('python3', ['-c', IMAPLIB_APPEND, String(target.imapPort), target.login(user), password, srcDir, String(count), String(connections)], { maxBuffer: 1024 * 1024, timeout: 30 * 60_000 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { secs: number; errors: number; p50ms: number; p95ms: number };
  return { perSec: (count - r.errors) / r.secs, errors: r.errors, p50ms: r.p50ms, p95ms: r.p95ms };
}

/** Sealpost: messages sealed for a locked mailbox; time from the LOGIN's OK until STATUS INBOX counts them all. */
async function drainAtLogin(target: Target, user: string, password: string, messages: readonly CorpusMessage[]): Promise<{ perSec: number; loginMs: number; perSecFromLogin: number; errors: number; timedOut: boolean }> {
  const delivered = await deliver(target, user, messages, 4);
  const expected = messages.length - delivered.errors;
  const client = await ImapClient.connect(target.imapPort);
  try {
    const t0 = performance.now();
    const r = await client.command(`LOGIN "${target.login(user)}" "${password}"`);
    if (r.status !== 'OK') throw new Error(`${target.name}: LOGIN ${user}: ${r.tagged}`);
    const t1 = performance.now();
    const deadline = t1 + 300_000;
    let timedOut = false;
    for (;;) {
      const status = await client.command('STATUS INBOX (MESSAGES)');
      const count = Number(/MESSAGES (\d+)/.exec(status.untagged.join(' '))?.[1] ?? 0);
      if (count >= expected) break;
      if (performance.now() > deadline) {
        timedOut = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const t2 = performance.now();
    return { perSec: (expected * 1000) / (t2 - t1), loginMs: t1 - t0, perSecFromLogin: (expected * 1000) / (t2 - t0), errors: delivered.errors, timedOut };
  } finally {
    client.close();
  }
}

/**
 * SELECT INBOX, FETCH 1:* (UID FLAGS) and FETCH 1:* FLAGS on one connection, ms, median of `runs` each, after
 * one unmeasured SELECT (Dovecot indexes new Maildir files there; Sealpost opens and caches the folder).
 */
async function scaleCommands(target: Target, user: string, password: string, size: number, runs: number): Promise<{ select: number; fetchUidFlags: number; fetchFlags: number }> {
  const client = await login(target, user, password);
  try {
    const exists = async (): Promise<number> => {
      const r = await client.counted('SELECT INBOX', 30);
      if (r.status !== 'OK') throw new Error(`${target.name}: SELECT: ${r.tagged}`);
      return Number(/^\* (\d+) EXISTS/m.exec(r.kept.join('\n'))?.[1] ?? -1);
    };
    const warm = await exists();
    if (warm !== size) throw new Error(`${target.name}: the scale mailbox holds ${warm} messages, not ${size}`);
    const select: number[] = [];
    const uidFlags: number[] = [];
    const flags: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t = performance.now();
      await exists();
      select.push(performance.now() - t);
      for (const [command, into] of [
        ['FETCH 1:* (UID FLAGS)', uidFlags],
        ['FETCH 1:* FLAGS', flags],
      ] as const) {
        t = performance.now();
        const r = await client.counted(command);
        into.push(performance.now() - t);
        if (r.status !== 'OK' || r.untagged < size) throw new Error(`${target.name}: ${command} gave ${r.untagged} lines: ${r.tagged}`);
      }
    }
    return { select: median(select), fetchUidFlags: median(uidFlags), fetchFlags: median(flags) };
  } finally {
    client.close();
  }
}

// ── driver ──────────────────────────────────────────────────────────────────────────────────────────

/**
 * What Sealpost should reach on a row: `factor` times as good as one Dovecot (↑ rows: value ≥ factor × peer;
 * ↓ rows: value ≤ peer ÷ factor), or an absolute figure (↑: at least, ↓: at most).
 */
type Goal = { readonly peer: Exclude<TargetName, 'sealpost'>; readonly factor: number } | { readonly absolute: number };

interface Row {
  readonly workload: string;
  /** A few characters for the summary line. */
  readonly short: string;
  readonly unit: string;
  /** true: more is better (throughput); false: less is better (time, memory). */
  readonly higherIsBetter: boolean;
  readonly values: Partial<Record<TargetName, number>>;
  readonly notes: Partial<Record<TargetName, string>>;
  /** Latency rows: the mean is the value; the median and 95th percentile ride along. */
  readonly latency: Partial<Record<TargetName, Latency>>;
  readonly goal?: Goal;
}

const PEER_LABEL: Record<Exclude<TargetName, 'sealpost'>, string> = { dovecot: 'Dovecot', 'dovecot-crypt': 'Dovecot+crypt' };

function goalText(row: Row): string {
  const goal = row.goal;
  if (!goal) return '';
  if ('absolute' in goal) return `${row.higherIsBetter ? '≥' : '≤'} ${goal.absolute.toLocaleString('en-US')}`;
  if (row.higherIsBetter) return `≥ ${goal.factor}× ${PEER_LABEL[goal.peer]}`;
  return goal.factor === 1 ? `≤ ${PEER_LABEL[goal.peer]}` : `≤ ${PEER_LABEL[goal.peer]} ÷ ${goal.factor}`;
}

/** true / false when the row has a goal and the figures to judge it, else undefined. */
function goalMet(row: Row): boolean | undefined {
  const goal = row.goal;
  const s = row.values.sealpost;
  if (!goal || s === undefined || !Number.isFinite(s)) return undefined;
  if ('absolute' in goal) return row.higherIsBetter ? s >= goal.absolute : s <= goal.absolute;
  const d = row.values[goal.peer];
  if (d === undefined || !Number.isFinite(d)) return undefined;
  return row.higherIsBetter ? s >= goal.factor * d : s * goal.factor <= d;
}

export async function run(flags: string[]): Promise<void> {
  const quick = flags.includes('--quick');
  const sizes: Sizes = { ...(quick ? QUICK : FULL) };
  const secsFlag = flags.find((f) => f.startsWith('--secs='));
  if (secsFlag) sizes.secs = Number(secsFlag.slice(7));
  const scaleFlag = flags.find((f) => f.startsWith('--scale='));
  if (scaleFlag) {
    sizes.scale = scaleFlag
      .slice(8)
      .split(',')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0)
      .sort((a, b) => a - b);
  }

  const targetsFlag = flags.find((f) => f.startsWith('--targets='));
  const chosen: readonly TargetName[] = targetsFlag ? TARGETS.filter((name) => targetsFlag.slice(10).split(',').includes(name)) : TARGETS;
  if (!chosen.includes('sealpost')) throw new Error('--targets must name sealpost (and may add dovecot, dovecot-crypt)');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-compare-'));
  // Dovecot's auth and mail processes run as other users and must traverse to their dirs (Sealpost's data dir stays 0700).
  fs.chmodSync(work, 0o755);
  const started: { stop(): Promise<void> }[] = [];
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    log('interrupted: stopping everything');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const version = chosen.some((name) => name !== 'sealpost') ? await ensureDovecot(log) : 'not run';
    log(`dovecot ${version}; generating the corpus`);
    const { messages: corpus, source } = await loadCorpus(sizes.search, work);
    const userMap = users();
    const password = (u: string): string => userMap.get(u)!;
    const targets = new Map<TargetName, Target>();

    const [sSmtp, sImap, sPop, dImap, dPop, dLmtp, cImap, cPop, cLmtp] = await freePorts(9);
    // The scale rows grow one mailbox; Sealpost's is filled through the store while `serve` is stopped (restart).
    const scale: { corpus: ScaleCorpus | null; wanted: number } = { corpus: null, wanted: 0 };
    const sealpost: SealpostInstance = await startSealpost({
      dir: path.join(work, 'sealpost'),
      domain: DOMAIN,
      ports: { smtp: sSmtp!, imap: sImap!, pop3: sPop! },
      users: userMap,
      beforeServe: async (ctx) => {
        if (scale.corpus && scale.wanted > 0) await fillSealpost(ctx, `${SCALE_USER}@${DOMAIN}`, password(SCALE_USER), scale.corpus, scale.wanted);
      },
    });
    started.push(sealpost);
    targets.set('sealpost', {
      name: 'sealpost',
      imapPort: sImap!,
      pop3Port: sPop!,
      deliveryPort: sSmtp!,
      lmtp: false,
      login: (u) => `${u}@${DOMAIN}`,
      rcpt: (u) => `${u}@${DOMAIN}`,
      imapMemory: () => ({ rss: rssBytes(sealpost.pid), pss: pssBytes(sealpost.pid) }),
      serverMemory: () => ({ rss: rssBytes(sealpost.pid), pss: pssBytes(sealpost.pid) }),
      stop: () => sealpost.stop(),
      restart: () => sealpost.restart(),
    });
    for (const [name, ports, crypt] of [
      ['dovecot', { imap: dImap!, pop3: dPop!, lmtp: dLmtp! }, false],
      ['dovecot-crypt', { imap: cImap!, pop3: cPop!, lmtp: cLmtp! }, true],
    ] as const) {
      if (!chosen.includes(name)) continue;
      const dir = path.join(work, name);
      fs.mkdirSync(dir);
      const instance: DovecotInstance = await startDovecot({ dir, name: `compare-${name}-${process.pid}`, ports, crypt, users: userMap });
      started.push(instance);
      targets.set(name, {
        name,
        imapPort: ports.imap,
        pop3Port: ports.pop3,
        deliveryPort: ports.lmtp,
        lmtp: true,
        login: (u) => u,
        maildir: (u) => path.join(dir, 'mail', u, 'Maildir'),
        rcpt: (u) => `${u}@${DOMAIN}`,
        imapMemory: () => {
          const pids = childPids(instance.masterPid, 'imap');
          return { rss: pids.reduce((a, p) => a + safe(() => rssBytes(p)), 0), pss: pids.reduce((a, p) => a + pssBytes(p), 0) };
        },
        serverMemory: () => {
          const pids = [instance.masterPid, ...childPids(instance.masterPid, null)];
          return { rss: pids.reduce((a, p) => a + safe(() => rssBytes(p)), 0), pss: pids.reduce((a, p) => a + pssBytes(p), 0) };
        },
        stop: () => instance.stop(),
        restart: async () => undefined,
      });
    }
    log(`all three servers up; corpus ${corpus.length} messages from ${source}`);

    const rows: Row[] = [];
    const add = (workload: string, unit: string, higherIsBetter: boolean, short: string, goal?: Goal): Row => {
      const row: Row = { workload, short, unit, higherIsBetter, values: {}, notes: {}, latency: {}, goal };
      rows.push(row);
      return row;
    };
    const each = async (label: string, fn: (t: Target) => Promise<void>): Promise<void> => {
      for (const name of chosen) {
        log(`${label}: ${name}`);
        await fn(targets.get(name)!);
      }
    };
    const deliveryCorpus = corpus.slice(0, sizes.delivery);

    // 0. Warm-up, not measured: every server delivers, stores and serves some mail before the first row, so
    // the rows measure a running server rather than its first seconds (Sealpost's JIT compiles its hot paths
    // and its allocator grows during the first few hundred messages; Dovecot starts its processes).
    await each('warm-up', async (t) => {
      const warm = corpus.slice(sizes.delivery, sizes.delivery + sizes.warmUp);
      const session = await login(t, 'user26', password('user26'));
      try {
        const delivered = await deliver(t, 'user26', warm, 4);
        const appended = await appendAll(t, 'user26', password('user26'), warm, 4);
        if (delivered.errors || appended.errors) throw new Error(`${t.name}: the warm-up lost ${delivered.errors + appended.errors} messages`);
        await session.command('SELECT INBOX');
        const fetched = await session.command(`FETCH 1:* (BODY.PEEK[])`);
        if (fetched.status !== 'OK' || fetched.literals !== 2 * warm.length) throw new Error(`${t.name}: the warm-up FETCH returned ${fetched.literals} bodies`);
      } finally {
        session.close();
      }
    });

    // 1. Delivery to a mailbox with an open session (Sealpost: unlocked, parsed and stored at once).
    const rowDeliver = add(`delivery ${sizes.delivery} msgs / 4 conns, mailbox open`, 'msg/s', true, 'deliver-open', { peer: 'dovecot-crypt', factor: 2 });
    await each('delivery (open mailbox)', async (t) => {
      const session = await login(t, 'user1', password('user1'));
      const r = await deliver(t, 'user1', deliveryCorpus, 4);
      session.close();
      rowDeliver.values[t.name] = r.perSec;
      if (r.errors) rowDeliver.notes[t.name] = `${r.errors} errors`;
    });
    // 2. Delivery to a mailbox nobody is logged in to (Sealpost: sealed into the queue with the public key).
    const rowLocked = add(`delivery ${sizes.delivery} msgs / 4 conns, mailbox locked`, 'msg/s', true, 'deliver-locked', { peer: 'dovecot-crypt', factor: 2 });
    await each('delivery (locked mailbox)', async (t) => {
      const r = await deliver(t, 'user21', deliveryCorpus, 4);
      rowLocked.values[t.name] = r.perSec;
      if (r.errors) rowLocked.notes[t.name] = `${r.errors} errors`;
    });
    // 3. Fill the search mailbox: APPEND of the whole corpus over 4 connections.
    const rowAppend = add(`IMAP APPEND ${sizes.search} msgs / 4 conns`, 'msg/s', true, 'append-4', { peer: 'dovecot-crypt', factor: 1.5 });
    await each('append', async (t) => {
      const r = await appendAll(t, 'user2', password('user2'), corpus, 4);
      rowAppend.values[t.name] = r.perSec;
      if (r.errors) rowAppend.notes[t.name] = `${r.errors} errors`;
    });
    // Seed the mixed-load and POP3 mailboxes (not measured).
    await each('seeding', async (t) => {
      const seeds: [string, number][] = [];
      for (let i = 3; i <= 10; i++) seeds.push([`user${i}`, 50]);
      for (let i = 11; i <= 14; i++) seeds.push([`user${i}`, 100]);
      await pool(seeds, 4, async ([u, n]) => {
        const r = await appendAll(t, u, password(u), corpus.slice(0, n), 1);
        if (r.errors) throw new Error(`${t.name}: seeding ${u} failed`);
      });
    });
    // 4. Full-body FETCH (best of 2 runs on one connection).
    const rowFetch = add(`FETCH BODY[] of ${sizes.fetch} msgs`, 'msg/s', true, 'fetch-body');
    const rowFetchMb = add(`FETCH BODY[] of ${sizes.fetch} msgs`, 'MB/s', true, 'fetch-MB', { peer: 'dovecot', factor: 0.8 });
    await each('fetch', async (t) => {
      const r = await fetchBodies(t, 'user1', password('user1'), sizes.fetch);
      rowFetch.values[t.name] = r.perSec;
      rowFetchMb.values[t.name] = r.mbPerSec;
    });
    // 4b. Another session's listing while one session downloads the bodies.
    const rowBeside = add(`FETCH 1:20 ENVELOPE beside a FETCH BODY[] of ${sizes.fetch} msgs, median`, 'ms', false, 'list-beside-fetch');
    await each('listing beside fetch', async (t) => {
      const r = await fetchBesideListing(t, 'user1', password('user1'), sizes.fetch);
      rowBeside.values[t.name] = r.p50;
      rowBeside.notes[t.name] = `${r.listings} listings`;
    });
    // 5. SEARCH BODY for tokens spread over the mailbox (each in exactly one message).
    const step = Math.floor(corpus.length / sizes.searches);
    const tokens = Array.from({ length: sizes.searches }, (_, i) => corpus[i * step + 7]!.token);
    const rowSearch = add(`SEARCH BODY, ${sizes.searches} tokens in ${sizes.search} msgs`, 'ms/search', false, 'search-body');
    await each('search', async (t) => {
      const r = await searchBody(t, 'user2', password('user2'), tokens, sizes.searchCapSecs);
      rowSearch.values[t.name] = r.msPerSearch;
      const notes = [r.done < tokens.length ? `${r.done} searches in the ${sizes.searchCapSecs}s cap` : '', r.wrong ? `${r.wrong} wrong results` : ''].filter(Boolean);
      if (notes.length) rowSearch.notes[t.name] = notes.join('; ');
    });
    // 6. Mixed sessions.
    const small = Buffer.from(`From: a@bench-sender.test\r\nTo: b@${DOMAIN}\r\nSubject: mixed load\r\nMessage-ID: <mixed@bench>\r\n\r\nA short message appended and expunged again.\r\n`);
    const mixedUsers = Array.from({ length: sizes.mixedClients }, (_, i) => [`user${3 + i}`, password(`user${3 + i}`)] as [string, string]);
    const rowMixed = add(`mixed IMAP sessions, ${sizes.mixedClients} clients, ${sizes.secs}s`, 'cmd/s', true, 'mixed', { peer: 'dovecot', factor: 1 });
    const rowSessions = add(`mixed IMAP sessions, ${sizes.mixedClients} clients, ${sizes.secs}s`, 'sessions/s', true, 'sessions', { peer: 'dovecot', factor: 1 });
    const rowMixedErr = add('mixed IMAP sessions: errors', 'count', false, 'mixed-err');
    await each('mixed', async (t) => {
      const r = await mixedLoad(t, mixedUsers, sizes.secs, small);
      rowMixed.values[t.name] = r.commandsPerSec;
      rowSessions.values[t.name] = r.sessionsPerSec;
      rowMixedErr.values[t.name] = r.errors;
      rowMixed.notes[t.name] = `${r.sessionsPerSec.toFixed(1)} sessions/s`;
    });
    // 7. POP3.
    const popUsers = [11, 12, 13, 14].map((i) => [`user${i}`, password(`user${i}`)] as [string, string]);
    const rowPop = add(`POP3 RETR, 4 sessions, ${sizes.secs}s`, 'RETR/s', true, 'pop3', { peer: 'dovecot', factor: 0.8 });
    const rowPopMb = add(`POP3 RETR, 4 sessions, ${sizes.secs}s`, 'MB/s', true, 'pop3-MB');
    await each('pop3', async (t) => {
      const r = await pop3Load(t, popUsers, sizes.secs);
      rowPop.values[t.name] = r.retrPerSec;
      rowPopMb.values[t.name] = r.mbPerSec;
      rowPop.notes[t.name] = `${r.sessionsPerSec.toFixed(1)} sessions/s${r.errors ? `, ${r.errors} errors` : ''}`;
    });
    // 8. Memory per idle IMAP connection (logged in, INBOX selected).
    const idleUsers = Array.from({ length: 20 }, (_, i) => [`user${3 + i}`, password(`user${3 + i}`)] as [string, string]);
    const rowMem = add(`RSS per idle IMAP connection (${sizes.idleConnections} conns)`, 'KiB', false, 'rss/conn');
    const rowPss = add(`PSS per idle IMAP connection (${sizes.idleConnections} conns)`, 'KiB', false, 'pss/conn');
    const rowTotal = add(`whole server PSS with ${sizes.idleConnections} idle IMAP conns`, 'MiB', false, 'server-pss');
    await each('idle memory', async (t) => {
      await t.restart();
      const r = await idleMemory(t, idleUsers, sizes.idleConnections);
      rowMem.values[t.name] = r.bytesPerConnection / 1024;
      rowPss.values[t.name] = r.pssPerConnection / 1024;
      rowTotal.values[t.name] = r.totalPss / 2 ** 20;
      if (r.errors || r.opened < sizes.idleConnections) rowMem.notes[t.name] = `${r.opened} open, ${r.errors} errors (first: ${r.firstError})`;
    });
    // 9. APPEND one message at a time, Nagle on: literal and CRLF in two writes (imaplib's way) and in one.
    const seqCorpus = corpus.slice(0, sizes.sequentialAppends);
    const seqGoal: Goal = { peer: 'dovecot-crypt', factor: 1.5 };
    const rowSplit = add(`APPEND one at a time, literal + CRLF in 2 writes, Nagle on (${seqCorpus.length})`, 'ms', false, 'append-split', seqGoal);
    const rowJoined = add(`APPEND one at a time, literal + CRLF in 1 write, Nagle on (${seqCorpus.length})`, 'ms', false, 'append-joined', seqGoal);
    await each('sequential append', async (t) => {
      for (const [row, joined] of [
        [rowSplit, false],
        [rowJoined, true],
      ] as const) {
        const r = await sequentialAppend(t, 'user23', password('user23'), seqCorpus, joined);
        row.values[t.name] = r.mean;
        row.latency[t.name] = r;
        if (r.errors) row.notes[t.name] = `${r.errors} errors`;
      }
    });
    // 10. LOGIN with literals, split and joined, Nagle on.
    const rowLoginSplit = add(`LOGIN {n} literals, each + rest of line in 2 writes, Nagle on (${sizes.logins})`, 'ms', false, 'login-split');
    const rowLoginJoined = add(`LOGIN {n} literals, each + rest of line in 1 write, Nagle on (${sizes.logins})`, 'ms', false, 'login-joined');
    await each('literal login', async (t) => {
      for (const [row, joined] of [
        [rowLoginSplit, false],
        [rowLoginJoined, true],
      ] as const) {
        const r = await literalLogin(t, 'user23', password('user23'), sizes.logins, joined);
        row.values[t.name] = r.mean;
        row.latency[t.name] = r;
        if (r.errors) row.notes[t.name] = `${r.errors} errors`;
      }
    });
    // 11. Python's imaplib: 4 connections, each APPENDing one message at a time.
    const imaplibDir = path.join(work, 'imaplib');
    fs.mkdirSync(imaplibDir, { mode: 0o700 });
    const imaplibCorpus = corpus.slice(0, sizes.imaplib);
    imaplibCorpus.forEach((m, i) => fs.writeFileSync(path.join(imaplibDir, `${String(i + 1).padStart(6, '0')}.eml`), m.raw));
    const rowImaplib = add(`APPEND one at a time, 4 imaplib conns, first ${imaplibCorpus.length}`, 'msg/s', true, 'imaplib', seqGoal);
    await each('imaplib append', async (t) => {
      const r = await imaplibAppend(t, 'user24', password('user24'), imaplibDir, imaplibCorpus.length, 4);
      rowImaplib.values[t.name] = r.perSec;
      rowImaplib.notes[t.name] = `p50 ${fmt(r.p50ms)} ms, p95 ${fmt(r.p95ms)} ms per APPEND${r.errors ? `, ${r.errors} errors` : ''}`;
    });
    fs.rmSync(imaplibDir, { recursive: true, force: true });
    // 12. Sealpost only: the sealed queue drains into the mailbox at login.
    const drainCorpus = corpus.slice(0, sizes.drain);
    const rowDrain = add(`sealed-queue drain at login, ${drainCorpus.length} msgs (Sealpost only)`, 'msg/s', true, 'drain', { absolute: 1000 });
    {
      log('drain at login: sealpost');
      const r = await drainAtLogin(targets.get('sealpost')!, 'user25', password('user25'), drainCorpus);
      rowDrain.values.sealpost = r.perSec;
      rowDrain.notes.sealpost = `from the LOGIN's OK; LOGIN took ${fmt(r.loginMs)} ms (${fmt(r.perSecFromLogin)} msg/s counting it)${r.errors ? `, ${r.errors} delivery errors` : ''}${r.timedOut ? ', TIMED OUT' : ''}`;
    }
    // 13. Large mailboxes: one mailbox grown to each size (fill not measured), then SELECT and FETCH 1:*.
    if (sizes.scale.length) {
      const largest = sizes.scale[sizes.scale.length - 1]!;
      log(`scale: generating ${largest} messages`);
      scale.corpus = await generateScaleCorpus(largest, path.join(work, 'scale-corpus'));
      let filled = 0;
      for (const size of sizes.scale) {
        const label = size >= 1000 ? `${size / 1000}k` : String(size);
        const rowSelect = add(`SELECT INBOX, ${size} msgs (median of ${sizes.scaleRuns})`, 'ms', false, `select-${label}`, size === 50_000 ? { peer: 'dovecot-crypt', factor: 1 } : undefined);
        const rowUidFlags = add(`FETCH 1:* (UID FLAGS), ${size} msgs`, 'ms', false, `uidflags-${label}`, size === 10_000 ? { peer: 'dovecot-crypt', factor: 1 } : undefined);
        const rowFlags = add(`FETCH 1:* FLAGS, ${size} msgs`, 'ms', false, `flags-${label}`, size === 50_000 ? { peer: 'dovecot-crypt', factor: 1 } : undefined);
        await each(`scale ${size}`, async (t) => {
          const fillStart = performance.now();
          if (t.name === 'sealpost') {
            scale.wanted = size;
            await sealpost.restart();
          } else {
            await fillMaildir(t.maildir!(SCALE_USER), scale.corpus!, size, filled);
          }
          log(`  filled to ${size} in ${((performance.now() - fillStart) / 1000).toFixed(1)}s`);
          const r = await scaleCommands(t, SCALE_USER, password(SCALE_USER), size, sizes.scaleRuns);
          rowSelect.values[t.name] = r.select;
          rowUidFlags.values[t.name] = r.fetchUidFlags;
          rowFlags.values[t.name] = r.fetchFlags;
        });
        filled = size;
      }
    }

    report(rows, { dovecot: version, corpus: source, scaleCorpus: scale.corpus?.source ?? null, quick, secs: Math.round((performance.now() - T0) / 1000), machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB` });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

function safe(fn: () => number): number {
  try {
    return fn();
  } catch {
    return 0;
  }
}

const fmt = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function report(rows: readonly Row[], meta: Record<string, unknown>): void {
  const ratio = (row: Row, peer: TargetName): number | undefined => {
    const s = row.values.sealpost;
    const d = row.values[peer];
    return s === undefined || d === undefined || d === 0 ? undefined : s / d;
  };
  const mark = (met: boolean | undefined): string => (met === undefined ? '' : met ? '✓' : '✗');
  const json = {
    benchmark: 'compare',
    ...meta,
    rows: rows.map((r) => ({
      workload: r.workload,
      unit: r.unit,
      better: r.higherIsBetter ? 'higher' : 'lower',
      sealpost: r.values.sealpost ?? null,
      dovecot: r.values.dovecot ?? null,
      dovecotCrypt: r.values['dovecot-crypt'] ?? null,
      ratioVsDovecot: ratio(r, 'dovecot') ?? null,
      ratioVsDovecotCrypt: ratio(r, 'dovecot-crypt') ?? null,
      goal: r.goal ? { ...r.goal, text: goalText(r) } : null,
      goalMet: goalMet(r) ?? null,
      ...(Object.keys(r.latency).length ? { latencyMs: r.latency } : {}),
      notes: r.notes,
    })),
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
  // Latency rows show the mean, then the median and 95th percentile.
  const cell = (r: Row, t: TargetName): string => {
    const l = r.latency[t];
    return l ? `${fmt(r.values[t])} (p50 ${fmt(l.p50)}, p95 ${fmt(l.p95)})` : fmt(r.values[t]);
  };
  const header = ['workload', 'unit', 'Sealpost', 'Dovecot', 'Dovecot+crypt', 'S÷D', 'S÷D+crypt', 'goal', 'met'];
  const lines = rows.map((r) => [
    `${r.workload}${r.higherIsBetter ? ' ↑' : ' ↓'}`,
    r.unit,
    cell(r, 'sealpost'),
    cell(r, 'dovecot'),
    cell(r, 'dovecot-crypt'),
    fmt(ratio(r, 'dovecot')),
    fmt(ratio(r, 'dovecot-crypt')),
    goalText(r),
    mark(goalMet(r)),
  ]);
  process.stdout.write(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n`);
  for (const l of lines) process.stdout.write(`| ${l.join(' | ')} |\n`);
  const notes = rows.flatMap((r) => Object.entries(r.notes).map(([t, n]) => `${r.workload} [${t}]: ${n}`));
  if (notes.length) process.stdout.write(`notes:\n${notes.map((n) => `  - ${n}`).join('\n')}\n`);
  // Summary: every row's ratios (Sealpost ÷ Dovecot | ÷ Dovecot+crypt; the absolute figure for Sealpost-only
  // rows), the goal mark, and how many goals are met.
  const judged = rows.map(goalMet).filter((m): m is boolean => m !== undefined);
  const parts = rows
    .filter((r) => r.unit !== 'count')
    .map((r) => {
      const figures = r.values.dovecot === undefined && r.values['dovecot-crypt'] === undefined ? `${fmt(r.values.sealpost)}${r.unit}` : `${fmt(ratio(r, 'dovecot'))}|${fmt(ratio(r, 'dovecot-crypt'))}`;
      return `${r.short}${r.higherIsBetter ? '↑' : '↓'} ${figures}${mark(goalMet(r))}`;
    });
  process.stdout.write(
    `compare: ${judged.filter(Boolean).length} of ${judged.length} goals met; Sealpost ÷ Dovecot|Dovecot+crypt (↑ more is better, ↓ less): ${parts.join(', ')}\n`,
  );
}
