// `npm run bench -- drain [--count=N] [--concurrency=C]`: the sealed-queue drain into an encrypted mailbox.
// Seals N small messages twice (two queue files), drains one with a single append in flight (how the drain
// ran before) and one with C in flight (Accounts' DRAIN_CONCURRENCY), each append idempotent by queue id as
// in Accounts. Also times unsealing alone (the floor no drain can beat on this CPU) and the whole path a
// login takes (Accounts over a real data dir: usage bookkeeping, the directory, the mailbox), from the
// login until the queue is empty. Prints one JSON object and a one-line summary last.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { DRAIN_CONCURRENCY } from '../server/accounts/index.js';
import { closeContext, openContext } from '../server/app.js';
import { silentLogger } from '../server/log.js';
import { generateSealKeyPair, seal, unseal } from '../server/crypto/index.js';
import { openMailboxStore, type MailboxId } from '../server/mailbox/index.js';
import { closeMimeWorkers } from '../server/mime/index.js';
import { SealedQueue } from '../server/queue/index.js';

function flagValue(flags: string[], name: string, fallback: number): number {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  return f ? Number(f.split('=')[1]) : fallback;
}

const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

function smallMessage(i: number): Buffer {
  return Buffer.from(
    `From: Sender <sender@bench.test>\r\nTo: <owner@bench.test>\r\nSubject: drain bench ${i}\r\nMessage-ID: <b${i}.${randomUUID()}@bench.test>\r\n` +
      `Date: Tue, 07 Jan 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nBench message ${i}, a few words of body text.\r\n`,
  );
}

/** Seals the messages for a locked alias of a real data dir, then times one login until its queue is empty. */
async function loginPath(dir: string, messages: readonly Buffer[]): Promise<number> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, SEALPOST_DATA: join(dir, 'data'), SEALPOST_KEYCHAIN: 'off', SEALPOST_APP_KEY: randomBytes(32).toString('hex'), SEALPOST_LOG_LEVEL: 'silent' };
  const ctx = await openContext({ env }, { logger: silentLogger(), kdf: { algorithm: 'argon2id', memoryKiB: 256, iterations: 1, parallelism: 1 } });
  try {
    ctx.directory.addDomain('bench.test');
    const password = 'copper Meadow 31 lantern quiet';
    const { alias } = await ctx.accounts.createAlias('owner@bench.test', password);
    await ctx.accounts.lock(alias.id);
    const enqueueMany = ctx.queue.enqueueMany?.bind(ctx.queue);
    if (!enqueueMany) throw new Error('drain bench: the queue cannot enqueue in batches');
    for (let i = 0; i < messages.length; i += 500) {
      await enqueueMany(messages.slice(i, i + 500).map((raw) => ({ mailboxId: alias.mailboxId, publicKey: alias.publicKey, raw, meta: { receivedAt: new Date() } })));
    }
    const start = performance.now();
    const session = await ctx.accounts.authenticate('owner@bench.test', password, { ip: '127.0.0.1', protocol: 'imap' });
    // Builds where the login drains before it answers have no whenDrained.
    const waitable = ctx.accounts as { whenDrained?: (id: string) => Promise<boolean> };
    if (waitable.whenDrained) await waitable.whenDrained(alias.id);
    const ms = performance.now() - start;
    if (ctx.accounts.queuedCount(alias) !== 0 || session.mailbox.status('INBOX').messages !== messages.length) throw new Error('drain bench: the login path did not drain every message');
    session.release();
    return (messages.length * 1000) / ms;
  } finally {
    await closeContext(ctx);
  }
}

export async function run(flags: string[]): Promise<void> {
  const count = flagValue(flags, 'count', flags.includes('--quick') ? 500 : 2000);
  const concurrency = flagValue(flags, 'concurrency', DRAIN_CONCURRENCY);
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-bench-drain-'));
  const queue = new SealedQueue(dir, randomBytes(32), { idleCloseMs: 60_000 });
  const store = openMailboxStore(join(dir, 'mailboxes'));
  const pair = generateSealKeyPair();
  try {
    const messages = Array.from({ length: count }, (_, i) => smallMessage(i));
    const queues = { serial: randomUUID(), concurrent: randomUUID() };
    let t = performance.now();
    for (const mailboxId of Object.values(queues)) {
      for (let i = 0; i < count; i += 500) {
        await queue.enqueueMany(messages.slice(i, i + 500).map((raw) => ({ mailboxId, publicKey: pair.publicKey, raw, meta: { receivedAt: new Date() } })));
      }
    }
    const sealPerS = (2 * count * 1000) / (performance.now() - t);

    // Unsealing alone (same box size as a queue row: 4 KiB envelope), for the CPU floor.
    const boxes = messages.slice(0, Math.min(200, count)).map(() => seal(pair.publicKey, Buffer.alloc(4096), new Uint8Array(0)));
    t = performance.now();
    for (const box of boxes) unseal(pair.privateKey, box);
    const unsealPerS = (boxes.length * 1000) / (performance.now() - t);

    const drainOnce = async (mailboxId: string, inFlight: number): Promise<number> => {
      const key = randomBytes(32);
      await store.create(mailboxId as MailboxId, key);
      const mailbox = await store.open(mailboxId as MailboxId, key);
      const start = performance.now();
      const delivered = await queue.drain(mailboxId, pair.privateKey, async (m) => {
        await mailbox.appendOnce('INBOX', m.raw, { internalDate: m.meta.receivedAt, dedupeKey: `queue:${m.id}` });
      }, { concurrency: inFlight });
      const ms = performance.now() - start;
      if (delivered !== count || mailbox.status('INBOX').messages !== count || queue.count(mailboxId) !== 0) throw new Error('drain bench: not every message was drained once');
      return (count * 1000) / ms;
    };
    const serialPerS = await drainOnce(queues.serial, 1);
    const concurrentPerS = await drainOnce(queues.concurrent, concurrency);
    const loginPerS = await loginPath(dir, messages);
    const result = {
      bench: 'drain',
      messages: count,
      concurrency,
      sealPerS: round(sealPerS),
      unsealOnlyPerS: round(unsealPerS),
      drainSerialPerS: round(serialPerS),
      drainConcurrentPerS: round(concurrentPerS),
      speedup: round(concurrentPerS / serialPerS, 2),
      loginToEmptyPerS: round(loginPerS),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.stdout.write(
      `drain: ${count} sealed messages, ${result.drainSerialPerS} msg/s one append at a time → ${result.drainConcurrentPerS} msg/s with ${concurrency} in flight (×${result.speedup}); login to empty queue through Accounts ${result.loginToEmptyPerS} msg/s; unsealing alone caps it at ${result.unsealOnlyPerS} msg/s\n`,
    );
  } finally {
    queue.close();
    await store.closeAll();
    await closeMimeWorkers();
    rmSync(dir, { recursive: true, force: true });
  }
}
