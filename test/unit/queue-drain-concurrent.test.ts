// The sealed queue drained with several appends in flight into a real encrypted mailbox: UIDs still follow
// arrival order (also with large messages the store prepares off the event loop), no more than the asked
// number run at once, rows go only after their append resolved, and a failure stops the drain keeping the
// failed row and everything not started, so a second drain completes it with each message stored once.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSealKeyPair, randomBytes } from '../../server/crypto/index.js';
import { openMailboxStore, type MailboxId } from '../../server/mailbox/index.js';
import { closeMimeWorkers } from '../../server/mime/index.js';
import Database from 'better-sqlite3-multiple-ciphers';
import { LARGE_MESSAGE_BYTES, SealedQueue, deliversOutOfTurn, queueFileKey } from '../../server/queue/index.js';

const MAILBOX = '3c0d8f3e-6a51-4f0c-8d7e-2b6b0f1a9c11' as MailboxId;
const keys = generateSealKeyPair();
let dataDir: string;

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
});
afterEach(async () => {
  await closeMimeWorkers();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function message(n: number, kind: 'plain' | 'attachment' | 'large'): Buffer {
  const head = `From: <a@sender.test>\r\nTo: <owner@example.test>\r\nSubject: n${n}\r\nMessage-ID: <n${n}@sender.test>\r\nX-Seq: ${n}\r\nMIME-Version: 1.0\r\n`;
  if (kind === 'plain') return Buffer.from(`${head}Content-Type: text/plain\r\n\r\nbody ${n}\r\n`);
  const size = kind === 'large' ? LARGE_MESSAGE_BYTES + 10_000 : 30_000;
  const b64 = randomBytes(Math.floor((size * 3) / 4)).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `${head}Content-Type: multipart/mixed; boundary="b${n}"\r\n\r\n--b${n}\r\nContent-Type: text/plain\r\n\r\nsee attached ${n}\r\n` +
      `--b${n}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="f${n}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--b${n}--\r\n`,
  );
}

async function setup(messages: readonly Buffer[], appKey = randomBytes(32)) {
  const queue = new SealedQueue(dataDir, appKey);
  for (const raw of messages) await queue.enqueue(MAILBOX, keys.publicKey, raw, { receivedAt: new Date() });
  const store = openMailboxStore(dataDir);
  const key = randomBytes(32);
  await store.create(MAILBOX, key);
  const mailbox = await store.open(MAILBOX, key);
  return { queue, store, mailbox };
}

const seqOf = (raw: Buffer): number => Number(/X-Seq: (\d+)/.exec(raw.toString('latin1'))?.[1]);

test('32 appends in flight keep arrival order in UIDs, with attachments and a large message among them', async () => {
  const kinds = Array.from({ length: 160 }, (_, i): 'plain' | 'attachment' | 'large' => (i === 70 ? 'large' : i % 7 === 3 ? 'attachment' : 'plain'));
  const raws = kinds.map((kind, i) => message(i, kind));
  assert.equal(deliversOutOfTurn(raws[70]!), true, 'the large one is delivered alone');
  const { queue, store, mailbox } = await setup(raws);
  let inFlight = 0;
  let most = 0;
  const report = await queue.drainWithReport(
    MAILBOX,
    keys.privateKey,
    async (m) => {
      most = Math.max(most, ++inFlight);
      try {
        await mailbox.appendOnce('INBOX', m.raw, { dedupeKey: `queue:${m.id}` });
      } finally {
        inFlight--;
      }
    },
    { concurrency: 32 },
  );
  assert.equal(report.delivered, raws.length);
  assert.equal(report.openedOn, 'worker', 'a large concurrent drain opens its rows on a worker thread');
  assert.equal(queue.count(MAILBOX), 0, 'every row deleted after its append');
  assert.ok(most > 1 && most <= 32, `appends in flight: at most ${most}`);
  const order: number[] = [];
  for (const meta of mailbox.listMessages('INBOX')) order.push(seqOf(await mailbox.readMessage('INBOX', meta.uid)));
  assert.deepEqual(order, raws.map((_, i) => i), 'UID order is arrival order');
  queue.close();
  await store.closeAll();
});

test('a failing append stops a concurrent drain: finished rows go, the failed one and later ones stay; the retry stores each once', async () => {
  const raws = Array.from({ length: 60 }, (_, i) => message(i, 'plain'));
  const { queue, store, mailbox } = await setup(raws);
  await assert.rejects(
    queue.drain(
      MAILBOX,
      keys.privateKey,
      async (m) => {
        if (seqOf(m.raw) === 25) throw new Error('disk trouble');
        await mailbox.appendOnce('INBOX', m.raw, { dedupeKey: `queue:${m.id}` });
      },
      { concurrency: 8 },
    ),
    /disk trouble/,
  );
  const stored = mailbox.status('INBOX').messages;
  assert.ok(stored >= 25 && stored < 60, `the ones before (and in flight with) the failure are stored: ${stored}`);
  assert.equal(queue.count(MAILBOX), 60 - stored, 'exactly the stored rows were deleted');
  // Retry: the remaining rows drain; nothing is stored twice.
  assert.equal(await queue.drain(MAILBOX, keys.privateKey, async (m) => void (await mailbox.appendOnce('INBOX', m.raw, { dedupeKey: `queue:${m.id}` })), { concurrency: 8 }), 60 - stored);
  const seqs: number[] = [];
  for (const meta of mailbox.listMessages('INBOX')) seqs.push(seqOf(await mailbox.readMessage('INBOX', meta.uid)));
  assert.deepEqual([...seqs].sort((a, b) => a - b), raws.map((_, i) => i), 'all 60, once each');
  queue.close();
  await store.closeAll();
});

test('on the worker thread too, a tampered row is kept and reported, the others delivered in order', async () => {
  const appKey = randomBytes(32);
  const raws = Array.from({ length: 100 }, (_, i) => message(i, 'plain'));
  const { queue, store, mailbox } = await setup(raws, appKey);
  queue.close();
  const db = new Database(path.join(dataDir, 'queue', `${MAILBOX}.sqlite`));
  db.pragma("cipher='chacha20'");
  db.pragma(`key="x'${queueFileKey(appKey).toString('hex')}'"`);
  const victim = (db.prepare('SELECT seq, sealed FROM item ORDER BY seq').all() as Array<{ seq: number; sealed: Buffer }>)[40]!;
  victim.sealed[victim.sealed.length - 40]! ^= 0x10;
  db.prepare('UPDATE item SET sealed = ? WHERE seq = ?').run(victim.sealed, victim.seq);
  db.close();
  const again = new SealedQueue(dataDir, appKey);
  const report = await again.drainWithReport(MAILBOX, keys.privateKey, async (m) => void (await mailbox.appendOnce('INBOX', m.raw, { dedupeKey: `queue:${m.id}` })), { concurrency: 16 });
  assert.deepEqual(report, { delivered: 99, undecryptable: [victim.seq], remaining: 1, openedOn: 'worker' });
  const order: number[] = [];
  for (const meta of mailbox.listMessages('INBOX')) order.push(seqOf(await mailbox.readMessage('INBOX', meta.uid)));
  assert.deepEqual(order, raws.map((_, i) => i).filter((i) => i !== 40));
  again.close();
  await store.closeAll();
});
