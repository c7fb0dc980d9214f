// Group commit keeps "resolved = durable": a child process appends (or enqueues) hundreds of messages
// at once and prints each one the moment its promise resolves; it is SIGKILLed part-way through.
// Every message it reported is then in the file, byte-identical, under the UID it was given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSealKeyPair, randomBytes } from '../../server/crypto/index.js';
import { openDb } from '../../server/mailbox/sqlite.js';
import { SealedQueue, type QueuedMessage } from '../../server/queue/index.js';
import { crashMessage } from '../helpers/group-commit-messages.js';
import { storeFixture } from '../helpers/mailbox.js';

const childScript = fileURLToPath(new URL('../helpers/group-commit-child.ts', import.meta.url));
const COUNT = 600;
const KILL_AFTER = 150;

/** Runs the child, SIGKILLs it once it reported KILL_AFTER messages; returns what it reported (n → uid or id). */
function runAndKill(job: object): Promise<{ reported: Map<number, string>; finished: boolean; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const reported = new Map<number, string>();
    let buffered = '';
    let finished = false;
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^ok (\d+) (\S+)$/.exec(line);
        if (m) reported.set(Number(m[1]), m[2]!);
        if (line === 'done') finished = true;
      }
      if (reported.size >= KILL_AFTER && child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve({ reported, finished, signal }));
  });
}

test('appends reported as done survive a SIGKILL that lands while later batches are in flight', async () => {
  const fx = storeFixture();
  try {
    const { id, key } = await fx.newMailbox();
    await fx.store.close(id);
    const { reported, finished, signal } = await runAndKill({ target: 'mailbox', dataDir: fx.dataDir, id, key: key.toString('hex'), count: COUNT });
    assert.ok(reported.size >= KILL_AFTER, `the child reported ${reported.size} appends`);
    if (finished) console.log('# note: the child finished all appends before the kill arrived');
    else assert.equal(signal, 'SIGKILL');

    const db = openDb(join(fx.dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();
    const mailbox = await fx.store.open(id, key);
    const uids = [...reported.values()].map(Number);
    assert.equal(new Set(uids).size, uids.length, 'distinct UIDs');
    for (const [n, uid] of reported) assert.ok((await mailbox.readMessage('INBOX', Number(uid))).equals(crashMessage(n)), `message ${n} under UID ${uid}`);
    const stored = mailbox.status('INBOX').messages;
    assert.ok(stored >= reported.size && stored <= COUNT, `${stored} stored, ${reported.size} acknowledged`);
    assert.equal((await mailbox.append('INBOX', crashMessage(COUNT))).uid > Math.max(...uids), true, 'UIDs continue after the crash');
  } finally {
    await fx.cleanup();
  }
});

test('enqueues reported as done survive a SIGKILL of the sealed queue writer', async () => {
  const dataDir = fs.mkdtempSync(os.tmpdir() + '/sealpost-');
  const appKey = randomBytes(32);
  const keys = generateSealKeyPair();
  const mailboxId = '7d1e0c2b-3a4f-4b5c-8d6e-9f0a1b2c3d4e';
  try {
    const { reported, finished, signal } = await runAndKill({
      target: 'queue',
      dataDir,
      id: mailboxId,
      appKey: Buffer.from(appKey).toString('hex'),
      publicKey: Buffer.from(keys.publicKey).toString('hex'),
      count: COUNT,
    });
    assert.ok(reported.size >= KILL_AFTER);
    if (!finished) assert.equal(signal, 'SIGKILL');
    const q = new SealedQueue(dataDir, appKey);
    try {
      const delivered = new Map<string, QueuedMessage>();
      await q.drain(mailboxId, keys.privateKey, async (m) => void delivered.set(m.id, m));
      for (const [n, queueId] of reported) assert.ok(delivered.get(queueId)?.raw.equals(crashMessage(n)), `queued message ${n}`);
      assert.ok(delivered.size >= reported.size && delivered.size <= COUNT);
    } finally {
      q.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
