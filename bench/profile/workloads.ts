// The workloads `npm run bench -- profile` can run against one Sealpost `serve`: each seeds what it needs
// (not measured), then calls window.begin(), does the measured work, calls window.end(), and returns its
// throughput. Clients: the lean IMAP/POP3 clients of bench/compare and nodemailer for SMTP.
import nodemailer from 'nodemailer';
import { ImapClient, Pop3Client } from '../compare/clients.js';

export const WORKLOADS = ['delivery', 'delivery-locked', 'append', 'fetch', 'mixed', 'pop3', 'drain', 'select'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface Target {
  readonly smtpPort: number;
  readonly imapPort: number;
  readonly pop3Port: number;
  readonly domain: string;
  /** user → password of the aliases the workload may use (user1…userN). */
  readonly passwords: ReadonlyMap<string, string>;
  /** The corpus (raw RFC 5322 messages), cycled when a workload needs more. */
  readonly corpus: readonly Buffer[];
}

export interface Window {
  begin(): Promise<void>;
  end(): void;
}

export interface Throughput {
  /** What was measured, in words. */
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  readonly secs: number;
  readonly errors: number;
  /** Further figures (per-round times and the like). */
  readonly details: Record<string, number | number[]>;
}

export interface WorkloadOptions {
  readonly count: number;
  readonly secs: number;
}

/** Aliases each workload needs (user1…userN). */
export function usersFor(name: WorkloadName): number {
  return name === 'mixed' ? 8 : name === 'pop3' ? 4 : 1;
}

/** Messages of the corpus each workload needs (it cycles through them when it needs more). */
export function corpusFor(name: WorkloadName, options: WorkloadOptions): number {
  if (name === 'mixed' || name === 'pop3') return 100;
  return Math.min(options.count, 2000);
}

export function defaultCount(name: WorkloadName): number {
  return name === 'select' ? 10_000 : 1000;
}

const at = (corpus: readonly Buffer[], i: number): Buffer => corpus[i % corpus.length]!;

async function pool<T>(items: readonly T[], workers: number, fn: (item: T, worker: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (next < items.length) await fn(items[next++] as T, w);
    }),
  );
}

async function login(t: Target, user: string): Promise<ImapClient> {
  const client = await ImapClient.connect(t.imapPort);
  const r = await client.command(`LOGIN "${user}@${t.domain}" "${t.passwords.get(user)!}"`);
  if (r.status !== 'OK') {
    client.close();
    throw new Error(`LOGIN ${user}: ${r.tagged}`);
  }
  return client;
}

/** SMTP delivery of `count` messages over `connections` pooled connections; resolves with the error count. */
async function deliver(t: Target, user: string, count: number, connections: number): Promise<number> {
  const transports = Array.from({ length: connections }, () =>
    nodemailer.createTransport({ host: '127.0.0.1', port: t.smtpPort, secure: false, ignoreTLS: true, pool: true, maxConnections: 1, maxMessages: Infinity, name: 'bench.client.test', socketTimeout: 120_000 }),
  );
  let errors = 0;
  try {
    await pool(Array.from({ length: count }, (_, i) => i), connections, async (i, w) => {
      try {
        await transports[w]!.sendMail({ envelope: { from: 'sender@bench-sender.test', to: [`${user}@${t.domain}`] }, raw: at(t.corpus, i) });
      } catch {
        errors++;
      }
    });
  } finally {
    for (const transport of transports) transport.close();
  }
  return errors;
}

/** APPEND of `count` messages over `connections` sessions; resolves with the error count. */
async function appendMany(t: Target, user: string, count: number, connections: number, offset = 0): Promise<number> {
  const clients = await Promise.all(Array.from({ length: connections }, () => login(t, user)));
  let errors = 0;
  try {
    await pool(Array.from({ length: count }, (_, i) => i), connections, async (i, w) => {
      const r = await clients[w]!.append('INBOX', at(t.corpus, offset + i));
      if (r.status !== 'OK') errors++;
    });
  } finally {
    for (const c of clients) c.close();
  }
  return errors;
}

async function seed(t: Target, users: readonly string[], each: number): Promise<void> {
  await pool(users, 4, async (user) => {
    const errors = await appendMany(t, user, each, 1);
    if (errors) throw new Error(`seeding ${user}: ${errors} appends failed`);
  });
}

function rate(label: string, n: number, secs: number, unit: string, errors: number, details: Record<string, number | number[]> = {}): Throughput {
  return { label, value: n / secs, unit, secs, errors, details };
}

export async function runWorkload(name: WorkloadName, t: Target, o: WorkloadOptions, window: Window): Promise<Throughput> {
  switch (name) {
    case 'delivery':
    case 'delivery-locked': {
      // An open session keeps the mailbox unlocked: the message is parsed and stored at once. Without one it is sealed into the queue.
      const session = name === 'delivery' ? await login(t, 'user1') : null;
      try {
        await window.begin();
        const t0 = performance.now();
        const errors = await deliver(t, 'user1', o.count, 4);
        const secs = (performance.now() - t0) / 1000;
        window.end();
        return rate(`SMTP delivery of ${o.count} messages over 4 connections, mailbox ${session ? 'open' : 'locked'}`, o.count - errors, secs, 'msg/s', errors);
      } finally {
        session?.close();
      }
    }
    case 'append': {
      await window.begin();
      const t0 = performance.now();
      const errors = await appendMany(t, 'user1', o.count, 4);
      const secs = (performance.now() - t0) / 1000;
      window.end();
      return rate(`IMAP APPEND of ${o.count} messages over 4 connections`, o.count - errors, secs, 'msg/s', errors);
    }
    case 'fetch': {
      await seed(t, ['user1'], o.count);
      const client = await login(t, 'user1');
      try {
        await client.command('SELECT INBOX');
        await window.begin();
        const rounds: number[] = [];
        let bytes = 0;
        for (let i = 0; i < 2; i++) {
          const t0 = performance.now();
          const r = await client.command(`FETCH 1:${o.count} (BODY.PEEK[])`);
          rounds.push(performance.now() - t0);
          if (r.status !== 'OK' || r.literals !== o.count) throw new Error(`FETCH returned ${r.literals} bodies: ${r.tagged}`);
          bytes = r.literalBytes;
        }
        window.end();
        const secs = rounds.reduce((a, b) => a + b, 0) / 1000;
        return rate(`FETCH BODY.PEEK[] of ${o.count} messages, 2 rounds on one session`, 2 * o.count, secs, 'msg/s', 0, { roundMs: rounds.map(Math.round), mbPerSec: (2 * bytes) / secs / 1e6 });
      } finally {
        client.close();
      }
    }
    case 'select': {
      await pool(Array.from({ length: Math.ceil(o.count / 1000) }, (_, i) => i), 1, async (i) => {
        const n = Math.min(1000, o.count - i * 1000);
        const errors = await appendMany(t, 'user1', n, 4, i * 1000);
        if (errors) throw new Error(`seeding: ${errors} appends failed`);
      });
      const client = await login(t, 'user1');
      try {
        await window.begin();
        const selectMs: number[] = [];
        const fetchMs: number[] = [];
        const t0 = performance.now();
        for (let round = 0; round < 3; round++) {
          let s = performance.now();
          const sel = await client.command('SELECT INBOX');
          selectMs.push(performance.now() - s);
          const exists = Number(/^\* (\d+) EXISTS/m.exec(sel.untagged.join('\n'))?.[1] ?? 0);
          if (sel.status !== 'OK' || exists !== o.count) throw new Error(`SELECT: ${exists} messages, ${sel.tagged}`);
          s = performance.now();
          const f = await client.command('FETCH 1:* (UID FLAGS)');
          fetchMs.push(performance.now() - s);
          if (f.status !== 'OK' || f.untagged.length < o.count) throw new Error(`FETCH 1:* (UID FLAGS): ${f.untagged.length} lines, ${f.tagged}`);
        }
        const secs = (performance.now() - t0) / 1000;
        window.end();
        return rate(`SELECT + FETCH 1:* (UID FLAGS) of ${o.count} messages, 3 rounds on one session`, 3, secs, 'rounds/s', 0, {
          selectMs: selectMs.map(Math.round),
          fetchMs: fetchMs.map(Math.round),
        });
      } finally {
        client.close();
      }
    }
    case 'drain': {
      // The alias stays locked while its queue fills; the measured part is one login until the mailbox holds every message.
      const errors = await deliver(t, 'user1', o.count, 4);
      if (errors) throw new Error(`seeding the queue: ${errors} deliveries failed`);
      await window.begin();
      const t0 = performance.now();
      const client = await login(t, 'user1');
      const loginMs = performance.now() - t0;
      try {
        for (;;) {
          const r = await client.command('STATUS INBOX (MESSAGES)');
          const messages = Number(/MESSAGES (\d+)/.exec(r.untagged.join('\n'))?.[1] ?? 0);
          if (messages >= o.count) break;
          if (performance.now() - t0 > 600_000) throw new Error(`drain: ${messages} of ${o.count} messages after 10 minutes`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const secs = (performance.now() - t0) / 1000;
        window.end();
        return rate(`login of a locked alias until its ${o.count} queued messages are in the mailbox`, o.count, secs, 'msg/s', 0, { loginMs: Math.round(loginMs) });
      } finally {
        client.close();
      }
    }
    case 'mixed':
      return mixed(t, o, window);
    case 'pop3':
      return pop3(t, o, window);
  }
}

/** 8 clients: connect, LOGIN, SELECT, then rounds of FETCH headers, FETCH a body, STORE, APPEND, NOOP, STORE \Deleted, EXPUNGE. */
async function mixed(t: Target, o: WorkloadOptions, window: Window): Promise<Throughput> {
  const users = [...t.passwords.keys()];
  await seed(t, users, 50);
  const small = Buffer.from(`From: a@bench-sender.test\r\nTo: b@${t.domain}\r\nSubject: mixed load\r\nMessage-ID: <mixed@bench>\r\n\r\nA short message appended and expunged again.\r\n`);
  let commands = 0;
  let sessions = 0;
  let errors = 0;
  const ok = (r: { status: string }): boolean => {
    if (r.status === 'OK') commands++;
    else errors++;
    return r.status === 'OK';
  };
  await window.begin();
  const t0 = performance.now();
  const end = t0 + o.secs * 1000;
  await Promise.all(
    users.map(async (user, n) => {
      let i = 0;
      while (performance.now() < end) {
        let client: ImapClient | null = null;
        try {
          client = await ImapClient.connect(t.imapPort);
          if (!ok(await client.command(`LOGIN "${user}@${t.domain}" "${t.passwords.get(user)!}"`))) continue;
          const select = await client.command('SELECT INBOX');
          if (!ok(select)) continue;
          const exists = Math.max(1, Number(/^\* (\d+) EXISTS/m.exec(select.untagged.join('\n'))?.[1] ?? 0));
          for (let round = 0; round < 5 && performance.now() < end; round++) {
            i++;
            ok(await client.command(`FETCH 1:${Math.min(20, exists)} (UID FLAGS RFC822.SIZE ENVELOPE)`));
            ok(await client.command(`FETCH ${1 + ((i * 7 + n) % exists)} (BODY.PEEK[])`));
            ok(await client.command(`STORE ${1 + ((i * 13 + n) % exists)} ${i % 2 ? '+' : '-'}FLAGS (\\Seen)`));
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
  const secs = (performance.now() - t0) / 1000;
  window.end();
  return rate(`mixed IMAP sessions, ${users.length} clients for ${o.secs} s`, commands, secs, 'cmd/s', errors, { sessionsPerSec: sessions / secs });
}

/** 4 sessions: USER, PASS, STAT, UIDL, RETR of every message, QUIT, again until the time is up. */
async function pop3(t: Target, o: WorkloadOptions, window: Window): Promise<Throughput> {
  const users = [...t.passwords.keys()];
  await seed(t, users, 100);
  let retr = 0;
  let bytes = 0;
  let sessions = 0;
  let errors = 0;
  await window.begin();
  const t0 = performance.now();
  const end = t0 + o.secs * 1000;
  await Promise.all(
    users.map(async (user) => {
      while (performance.now() < end) {
        let client: Pop3Client | null = null;
        try {
          client = await Pop3Client.connect(t.pop3Port);
          await client.command(`USER ${user}@${t.domain}`);
          await client.command(`PASS ${t.passwords.get(user)!}`);
          const count = Number((await client.command('STAT')).split(' ')[1]);
          await client.multiline('UIDL');
          for (let i = 1; i <= count && performance.now() < end; i++) {
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
  const secs = (performance.now() - t0) / 1000;
  window.end();
  return rate(`POP3 RETR, ${users.length} sessions for ${o.secs} s`, retr, secs, 'RETR/s', errors, { mbPerSec: bytes / secs / 1e6, sessionsPerSec: sessions / secs });
}
