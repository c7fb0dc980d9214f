// Group commit: concurrent appends (and sealed-queue enqueues) share one transaction + fsync, and each
// caller still gets its own outcome — distinct UIDs, its own OverQuota, its own dedupe result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { generateSealKeyPair, randomBytes } from '../../server/crypto/index.js';
import { groupCommitStats, MailboxLocked, OverQuota } from '../../server/mailbox/index.js';
import { SealedQueue, type QueuedMessage } from '../../server/queue/index.js';
import { simpleMessage, storeFixture } from '../helpers/mailbox.js';
import { findPlaintext } from '../helpers/privacy.js';

// simpleMessage adds a random Message-ID: build each message once and compare against that.
const MESSAGES = Array.from({ length: 200 }, (_, n) => simpleMessage(`Group commit ${n}`, `Body of message ${n}, some words to index.`));
const message = (n: number): Buffer => MESSAGES[n] ?? simpleMessage(`Group commit ${n}`, `Body of message ${n}.`);

test('200 concurrent appends get distinct consecutive UIDs, their own bytes, in far fewer commits', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    const before = groupCommitStats(mailbox)!;
    const results = await Promise.all(Array.from({ length: 200 }, (_, n) => mailbox.append('INBOX', message(n))));
    const uids = results.map((r) => r.uid);
    assert.equal(new Set(uids).size, 200, 'every caller got its own UID');
    assert.deepEqual(uids, Array.from({ length: 200 }, (_, i) => i + 1), 'in the order of the calls');
    assert.equal(new Set(results.map((r) => r.modseq)).size, 200, 'and its own modseq');
    for (const [n, r] of results.entries()) assert.ok((await mailbox.readMessage('INBOX', r.uid)).equals(message(n)), `message ${n} is under its UID`);
    assert.equal(mailbox.status('INBOX').messages, 200);
    assert.equal(mailbox.search('INBOX', { op: 'text', value: 'message 137,' }).length, 1, 'found, indexed or not yet');
    const stats = groupCommitStats(mailbox)!;
    // The appends, plus the trigram-index catch-ups they started (one per 64 waiting bodies at most).
    const tasks = stats.tasks - before.tasks;
    assert.ok(tasks >= 200 && tasks <= 200 + Math.ceil(200 / 64), `${tasks} commit tasks for 200 appends`);
    assert.ok(stats.batches - before.batches <= 10, `appends shared commits (${stats.batches - before.batches} batches for 200)`);
    assert.ok(stats.largestBatch > 1);
  } finally {
    await fx.cleanup();
  }
});

test('an append over quota inside a batch fails only its own caller', async () => {
  const fx = storeFixture();
  try {
    const small = [message(1), message(2)];
    const quota = small[0]!.length + small[1]!.length + 500;
    // Alone the big one fits (the pre-check before parsing passes); after the first small one it does not.
    const overhead = simpleMessage('Too big after the first', '').length;
    const big = simpleMessage('Too big after the first', 'x'.repeat(quota - 100 - overhead));
    assert.ok(big.length <= quota && big.length + small[0]!.length > quota);
    const { mailbox } = await fx.newMailbox(quota);
    const before = groupCommitStats(mailbox)!;
    const outcomes = await Promise.allSettled([mailbox.append('INBOX', small[0]!), mailbox.append('INBOX', big), mailbox.append('INBOX', small[1]!)]);
    const after = groupCommitStats(mailbox)!;
    assert.equal(after.batches - before.batches, 1, 'the three went into one batch');
    assert.equal(outcomes[0]!.status, 'fulfilled');
    assert.equal(outcomes[2]!.status, 'fulfilled');
    assert.equal(outcomes[1]!.status, 'rejected');
    assert.ok((outcomes[1] as PromiseRejectedResult).reason instanceof OverQuota, 'the big one: OverQuota');
    const stored = mailbox.listMessages('INBOX');
    assert.equal(stored.length, 2, 'nothing of the failed append was kept');
    assert.deepEqual(stored.map((m) => m.uid), [1, 2], 'no UID was burnt by the rolled-back append');
    assert.ok((await mailbox.readMessage('INBOX', 2)).equals(small[1]!));
    assert.equal(mailbox.quota().usedBytes, small[0]!.length + small[1]!.length);
  } finally {
    await fx.cleanup();
  }
});

test('appendOnce with the same key twice in one batch stores one message and answers both alike', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    const raw = message(7);
    const [a, b, c] = await Promise.all([
      mailbox.appendOnce('INBOX', raw, { dedupeKey: 'queue-item-1' }),
      mailbox.appendOnce('INBOX', raw, { dedupeKey: 'queue-item-1' }),
      mailbox.append('INBOX', message(8)),
    ]);
    assert.deepEqual(a, b);
    assert.notEqual(c!.uid, a!.uid);
    assert.equal(mailbox.status('INBOX').messages, 2);
  } finally {
    await fx.cleanup();
  }
});

test('appends still waiting when the mailbox is closed fail with MailboxLocked (never resolve unwritten)', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    const pending = Array.from({ length: 10 }, (_, n) => mailbox.append('INBOX', message(n)));
    await fx.store.close(id); // before the batch runs
    const outcomes = await Promise.allSettled(pending);
    assert.ok(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof MailboxLocked));
    const reopened = await fx.store.open(id, key);
    assert.equal(reopened.status('INBOX').messages, 0);
    assert.equal((await reopened.append('INBOX', message(99))).uid, 1, 'and it works again once reopened');
  } finally {
    await fx.cleanup();
  }
});

test('100 concurrent enqueues to one locked mailbox share commits and drain complete, byte-identical', async () => {
  const dataDir = fs.mkdtempSync(os.tmpdir() + '/sealpost-');
  const q = new SealedQueue(dataDir, randomBytes(32));
  const keys = generateSealKeyPair();
  const mailboxId = '4a4c2d1e-0b6f-4f7e-9a55-1e2d3c4b5a69';
  try {
    const ids = await Promise.all(Array.from({ length: 100 }, (_, n) => q.enqueue(mailboxId, keys.publicKey, message(n), { receivedAt: new Date(n) })));
    assert.equal(new Set(ids).size, 100);
    const stats = q.commitStats(mailboxId)!;
    assert.equal(stats.tasks, 100);
    assert.ok(stats.batches <= 10, `enqueues shared commits (${stats.batches} batches for 100)`);
    assert.equal(q.count(mailboxId), 100);
    const delivered: QueuedMessage[] = [];
    assert.equal(await q.drain(mailboxId, keys.privateKey, async (m) => void delivered.push(m)), 100);
    const byId = new Map(delivered.map((m) => [m.id, m]));
    ids.forEach((id, n) => assert.ok(byId.get(id)?.raw.equals(message(n)), `item ${n}`));
    // Privacy: the queue file holds no message text.
    assert.deepEqual(findPlaintext(`${dataDir}/queue`, ['Group commit']), []);
  } finally {
    q.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('appends commit in call order: a 2 MiB message called first gets the lower UID, though a small one after it is ready sooner', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    // ≥ 1 MiB parses on a worker thread and compresses on the thread pool; the small one would be ready at once.
    const big = simpleMessage('Called first', 'line of a large message\r\n'.repeat(90_000));
    assert.ok(big.length > 2 * 1024 * 1024);
    const small = [message(3), message(4), message(5)];
    const missing = mailbox.append('No such folder', message(6));
    const results = await Promise.all([mailbox.append('INBOX', big), ...small.map((m) => mailbox.append('INBOX', m))]);
    await assert.rejects(missing, 'an append that fails in its turn does not hold up the next ones');
    assert.deepEqual(results.map((r) => r.uid), [1, 2, 3, 4], 'UIDs follow the order of the calls');
    assert.ok((await mailbox.readMessage('INBOX', 1)).equals(big));
    for (const [i, m] of small.entries()) assert.ok((await mailbox.readMessage('INBOX', i + 2)).equals(m));
  } finally {
    await fx.cleanup();
  }
});
