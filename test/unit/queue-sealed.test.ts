// The sealed inbound queue: mail for a locked alias waits sealed, then drains into the mailbox in order, exactly once.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3-multiple-ciphers';
import { generateSealKeyPair, randomBytes } from '../../server/crypto/index.js';
import { SealedQueue, queueFileKey, QueueFileUnreadable, type QueuedMessage } from '../../server/queue/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dataDir: string;
let appKey: Buffer;
const alice = generateSealKeyPair();
const bob = generateSealKeyPair();
const ALICE = '6f1c1a52-6c1e-4c0e-9f55-3f1d8f0a0a01';
const BOB = '0b9e8e0e-2f44-4d67-b1a2-7d3c1e2f0b02';

function message(n: number, subject = `Quarterly numbers ${n}`): Buffer {
  return Buffer.from(
    `From: Carol Sender <carol@sender.example>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${n}@sender.example>\r\n\r\nHello Alice, this is message number ${n}.\r\n`,
  );
}

/** A mailbox stand-in that records what it was given and which queue ids it already holds. */
function inbox(): { delivered: QueuedMessage[]; deliver: (m: QueuedMessage) => Promise<void> } {
  const delivered: QueuedMessage[] = [];
  return { delivered, deliver: async (m) => { delivered.push(m); } };
}

beforeEach(() => {
  dataDir = fs.mkdtempSync(os.tmpdir() + '/sealpost-');
  appKey = randomBytes(32);
});
afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

test('queued messages drain in arrival order, byte-identical, with their original dates, folders and flags', async () => {
  const q = new SealedQueue(dataDir, appKey);
  const dates = [new Date('2024-03-01T10:00:00Z'), new Date('2024-03-01T10:00:01.250Z'), new Date('2024-03-02T08:00:00Z')];
  const ids = [
    await q.enqueue(ALICE, alice.publicKey, message(1), { receivedAt: dates[0]! }),
    await q.enqueue(ALICE, alice.publicKey, message(2), { receivedAt: dates[1]!, folder: 'Junk', flags: ['\\Seen'] }),
    await q.enqueue(ALICE, alice.publicKey, Buffer.alloc(0), { receivedAt: dates[2]!, flags: [] }),
  ];
  await q.enqueue(BOB, bob.publicKey, message(9), { receivedAt: dates[0]! });
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(new Set(ids).size, 3);
  assert.equal(q.count(ALICE), 3);
  assert.equal(q.count('ffffffff-ffff-4fff-8fff-ffffffffffff'), 0, 'no file, no count, nothing created');
  assert.deepEqual(q.totalCounts(), [{ mailboxId: BOB, count: 1 }, { mailboxId: ALICE, count: 3 }].sort((a, b) => a.mailboxId.localeCompare(b.mailboxId)));

  const box = inbox();
  const report = await q.drainWithReport(ALICE, alice.privateKey, box.deliver);
  assert.deepEqual(report, { delivered: 3, undecryptable: [], remaining: 0, openedOn: 'inline' });
  assert.deepEqual(box.delivered.map((m) => m.id), ids);
  assert.deepEqual(box.delivered[0]!.raw, message(1));
  assert.deepEqual(box.delivered[1]!.raw, message(2));
  assert.equal(box.delivered[2]!.raw.length, 0);
  assert.deepEqual(box.delivered.map((m) => m.meta.receivedAt.toISOString()), dates.map((d) => d.toISOString()));
  assert.deepEqual(box.delivered[1]!.meta, { receivedAt: dates[1], folder: 'Junk', flags: ['\\Seen'] });
  assert.deepEqual(box.delivered[0]!.meta, { receivedAt: dates[0] });
  assert.equal(q.count(ALICE), 0);
  assert.equal(q.count(BOB), 1, 'other aliases untouched');
  assert.equal(await q.drain(ALICE, alice.privateKey, box.deliver), 0);
  q.close();
});

test('a locked mailbox\'s queue shows no subject, body, address or SQLite header in any file, before and after drain', async () => {
  const q = new SealedQueue(dataDir, appKey, { idleCloseMs: 60_000 });
  const secretSubject = 'Zebra-Invoice-7731';
  const body = message(1, secretSubject);
  await q.enqueue(ALICE, alice.publicKey, body, { receivedAt: new Date(), folder: 'Receipts-Folder-Name' });
  const needles = [secretSubject, 'carol@sender.example', 'alice@example.test', 'message number', 'Receipts-Folder-Name', 'SQLite format 3'];
  const scan = (when: string): void => {
    const files = fs.readdirSync(path.join(dataDir, 'queue'));
    assert.ok(files.some((f) => f.endsWith('.sqlite')));
    for (const f of files) {
      assert.ok(!f.includes('alice'), `file name ${f} names the alias`);
      const p = path.join(dataDir, 'queue', f);
      const bytes = fs.readFileSync(p);
      for (const n of needles) assert.equal(bytes.indexOf(n), -1, `${when}: "${n}" readable in ${f}`);
      if (f.endsWith('.sqlite')) assert.equal(fs.statSync(p).mode & 0o077, 0, `${f} is private`);
    }
  };
  scan('while open (WAL present)');
  await q.drain(ALICE, alice.privateKey, async () => {});
  scan('after drain');
  q.close();
  scan('after close');
  // The file does not open without the right key.
  const stranger = new SealedQueue(dataDir, randomBytes(32));
  assert.throws(() => stranger.count(ALICE), QueueFileUnreadable);
  stranger.close();
});

test('a tampered row is kept and reported, never delivered or lost; the others still drain', async () => {
  const q = new SealedQueue(dataDir, appKey);
  await q.enqueue(ALICE, alice.publicKey, message(1), { receivedAt: new Date(1) });
  await q.enqueue(ALICE, alice.publicKey, message(2), { receivedAt: new Date(2) });
  await q.enqueue(ALICE, alice.publicKey, message(3), { receivedAt: new Date(3) });
  q.close();
  // Flip one byte of the second row's sealed blob, through the file's own key (an attacker with the app key).
  const db = new Database(path.join(dataDir, 'queue', `${ALICE}.sqlite`));
  db.pragma("cipher='chacha20'");
  db.pragma(`key="x'${queueFileKey(appKey).toString('hex')}'"`);
  const rows = db.prepare('SELECT seq, sealed FROM item ORDER BY seq').all() as Array<{ seq: number; sealed: Buffer }>;
  const victim = rows[1]!;
  victim.sealed[victim.sealed.length - 40]! ^= 0x10;
  db.prepare('UPDATE item SET sealed = ? WHERE seq = ?').run(victim.sealed, victim.seq);
  db.close();

  const again = new SealedQueue(dataDir, appKey);
  const box = inbox();
  const report = await again.drainWithReport(ALICE, alice.privateKey, box.deliver);
  assert.deepEqual(report, { delivered: 2, undecryptable: [victim.seq], remaining: 1, openedOn: 'inline' });
  assert.deepEqual(box.delivered.map((m) => m.raw.toString()), [message(1).toString(), message(3).toString()]);
  assert.equal(again.count(ALICE), 1, 'the tampered row is still there for inspection');
  const second = await again.drainWithReport(ALICE, alice.privateKey, box.deliver);
  assert.deepEqual(second, { delivered: 0, undecryptable: [victim.seq], remaining: 1, openedOn: 'inline' });
  again.close();
});

test('draining with another alias\'s private key delivers nothing and keeps everything', async () => {
  const warnings: object[] = [];
  const q = new SealedQueue(dataDir, appKey, { logger: { info: () => {}, warn: (o) => warnings.push(o) } });
  await q.enqueue(ALICE, alice.publicKey, message(1), { receivedAt: new Date() });
  await q.enqueue(ALICE, alice.publicKey, message(2), { receivedAt: new Date() });
  const box = inbox();
  const wrong = await q.drainWithReport(ALICE, bob.privateKey, box.deliver);
  assert.equal(wrong.delivered, 0);
  assert.equal(wrong.undecryptable.length, 2);
  assert.equal(wrong.remaining, 2);
  assert.equal(box.delivered.length, 0);
  assert.equal(warnings.length, 2);
  assert.ok(!JSON.stringify(warnings).includes('alice'), 'warnings carry ids, not addresses');
  assert.equal(await q.drain(ALICE, alice.privateKey, box.deliver), 2);
  q.close();
});

test('a delivery that fails stops the drain; the retry hands over the same queue id so the mailbox can skip a duplicate', async () => {
  const q = new SealedQueue(dataDir, appKey);
  await q.enqueue(ALICE, alice.publicKey, message(1), { receivedAt: new Date(1) });
  await q.enqueue(ALICE, alice.publicKey, message(2), { receivedAt: new Date(2) });
  // The mailbox commits message 1, then "crashes" before the queue deletes the row.
  const stored = new Map<string, Buffer>();
  await assert.rejects(
    q.drain(ALICE, alice.privateKey, async (m) => {
      stored.set(m.id, m.raw);
      throw new Error('crash after the mailbox commit');
    }),
    /crash after the mailbox commit/,
  );
  assert.equal(q.count(ALICE), 2, 'nothing deleted');
  // Idempotent mailbox: skips ids it already holds.
  let skipped = 0;
  const delivered = await q.drain(ALICE, alice.privateKey, async (m) => {
    if (stored.has(m.id)) { skipped++; return; }
    stored.set(m.id, m.raw);
  });
  assert.equal(delivered, 2);
  assert.equal(skipped, 1);
  assert.equal(stored.size, 2, 'each message stored exactly once');
  assert.equal(q.count(ALICE), 0);
  q.close();
});

test('mail arriving during a drain (same or another connection) is delivered too, in order; concurrent drains deliver once', async () => {
  const q = new SealedQueue(dataDir, appKey);
  const mx = new SealedQueue(dataDir, appKey); // another connection to the same file, like a second process
  for (let i = 1; i <= 3; i++) await q.enqueue(ALICE, alice.publicKey, message(i), { receivedAt: new Date(i) });
  const seen: string[] = [];
  let arrivals = 0;
  const deliver = async (m: QueuedMessage): Promise<void> => {
    seen.push(m.raw.toString().match(/number (\d+)/)![1]!);
    if (arrivals < 2) {
      arrivals++;
      await (arrivals === 1 ? q : mx).enqueue(ALICE, alice.publicKey, message(3 + arrivals), { receivedAt: new Date() });
    }
    await new Promise((r) => setImmediate(r));
  };
  const [a, b] = await Promise.all([q.drain(ALICE, alice.privateKey, deliver), q.drain(ALICE, alice.privateKey, deliver)]);
  assert.equal(a + b, 5);
  assert.deepEqual(seen, ['1', '2', '3', '4', '5']);
  assert.equal(q.count(ALICE), 0);
  assert.equal(mx.count(ALICE), 0);
  mx.close();
  q.close();
});

test('several recipients are enqueued all-or-nothing', async () => {
  const q = new SealedQueue(dataDir, appKey);
  const ids = await q.enqueueMany([
    { mailboxId: ALICE, publicKey: alice.publicKey, raw: message(1), meta: { receivedAt: new Date() } },
    { mailboxId: BOB, publicKey: bob.publicKey, raw: message(1), meta: { receivedAt: new Date() } },
    { mailboxId: ALICE, publicKey: alice.publicKey, raw: message(2), meta: { receivedAt: new Date() } },
  ]);
  assert.equal(ids.length, 3);
  assert.equal(q.count(ALICE), 2);
  assert.equal(q.count(BOB), 1);
  // A bad key for the last recipient: nothing at all is written.
  await assert.rejects(q.enqueueMany([
    { mailboxId: ALICE, publicKey: alice.publicKey, raw: message(3), meta: { receivedAt: new Date() } },
    { mailboxId: BOB, publicKey: bob.publicKey.subarray(1), raw: message(3), meta: { receivedAt: new Date() } },
  ]));
  assert.equal(q.count(ALICE), 2);
  // A queue file that cannot be opened for the second mailbox: the first one's rows are taken back.
  const CAROL = '9d5a4c7e-0000-4000-8000-000000000003';
  fs.writeFileSync(path.join(dataDir, 'queue', `${CAROL}.sqlite`), randomBytes(8192), { mode: 0o600 });
  await assert.rejects(q.enqueueMany([
    { mailboxId: ALICE, publicKey: alice.publicKey, raw: message(4), meta: { receivedAt: new Date() } },
    { mailboxId: CAROL, publicKey: bob.publicKey, raw: message(4), meta: { receivedAt: new Date() } },
  ]), QueueFileUnreadable);
  assert.equal(q.count(ALICE), 2);
  assert.equal(q.count(BOB), 1);
  q.close();
});

test('bad mailbox ids are refused; remove deletes the queue file', async () => {
  const q = new SealedQueue(dataDir, appKey);
  for (const bad of ['../sealpost', 'a/b', '', '.hidden']) {
    await assert.rejects(q.enqueue(bad, alice.publicKey, message(1), { receivedAt: new Date() }), /Invalid mailbox id/);
  }
  await assert.rejects(q.enqueue(ALICE, alice.publicKey, message(1), { receivedAt: new Date('nope') }), /valid Date/);
  await q.enqueue(ALICE, alice.publicKey, message(1), { receivedAt: new Date() });
  await q.remove(ALICE);
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'queue')), []);
  assert.equal(q.count(ALICE), 0);
  q.close();
  await assert.rejects(q.enqueue(ALICE, alice.publicKey, message(1), { receivedAt: new Date() }), /closed/);
});

test('a message whose enqueue resolved survives the process being killed at once (SIGKILL)', () => {
  const script = path.join(dataDir, 'kill.mts');
  fs.writeFileSync(script, `
import { SealedQueue } from ${JSON.stringify(pathToFileURL(path.join(repo, 'server/queue/index.ts')).href)};
const [dir, keyHex, pubHex] = process.argv.slice(2);
const q = new SealedQueue(dir, Buffer.from(keyHex, 'hex'));
for (let i = 0; i < 5; i++) await q.enqueue('${ALICE}', Buffer.from(pubHex, 'hex'), Buffer.from('durable message ' + i), { receivedAt: new Date() });
process.stdout.write('acked\\n', () => process.kill(process.pid, 'SIGKILL'));
`);
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, dataDir, appKey.toString('hex'), Buffer.from(alice.publicKey).toString('hex')], { cwd: repo, encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL');
  assert.equal(child.stdout.trim(), 'acked');
  const q = new SealedQueue(dataDir, appKey);
  assert.equal(q.count(ALICE), 5);
  const got: string[] = [];
  return q.drain(ALICE, alice.privateKey, async (m) => { got.push(m.raw.toString()); }).then((n) => {
    assert.equal(n, 5);
    assert.deepEqual(got, [0, 1, 2, 3, 4].map((i) => `durable message ${i}`));
    q.close();
  });
});
