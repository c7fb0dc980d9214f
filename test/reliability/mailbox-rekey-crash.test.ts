// Password change re-keys the mailbox file. A process killed (SIGKILL) at any point of the re-key
// leaves a mailbox that opens with the old key or the new key — never neither — with all its mail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { storeFixture } from '../helpers/mailbox.js';
import { generateCorpus } from '../helpers/corpus.js';
import { WrongKey, type MailboxId, type MailboxStore, type RekeyStep } from '../../server/mailbox/index.js';
import { openDb } from '../../server/mailbox/sqlite.js';

const childScript = fileURLToPath(new URL('../helpers/mailbox-child.ts', import.meta.url));

/** Runs the child; with killAfterMs, SIGKILLs it that long after it reports the re-key started. */
function runChild(job: object, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      if (killAfterMs !== undefined && timer === undefined && chunk.toString().includes('rekey-start')) {
        timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Which of the two keys opens the mailbox now (asserting exactly one does), after checking its content. */
async function keyThatOpens(store: MailboxStore, dataDir: string, id: MailboxId, keys: readonly Buffer[], expect: { messages: number; first: Buffer }): Promise<number> {
  const opened: number[] = [];
  for (const [i, key] of keys.entries()) {
    try {
      const mailbox = await store.open(id, key);
      assert.equal(mailbox.status('INBOX').messages, expect.messages, 'all mail is there');
      assert.ok((await mailbox.readMessage('INBOX', 1)).equals(expect.first), 'bytes intact');
      await store.close(id);
      const db = openDb(join(dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true, readonly: true });
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      db.close();
      opened.push(i);
    } catch (err) {
      if (!(err instanceof WrongKey)) throw err;
    }
  }
  assert.equal(opened.length, 1, `exactly one key opens the mailbox (opened with: ${JSON.stringify(opened)})`);
  return opened[0]!;
}

test('re-key killed at each step (and at random moments) leaves a mailbox that opens with the old or the new key', async () => {
  const fx = storeFixture();
  try {
    const corpus = generateCorpus(120, 13);
    const { id, key, mailbox } = await fx.newMailbox();
    for (const m of corpus) await mailbox.append('INBOX', m.raw);
    await fx.store.close(id);
    const expect = { messages: corpus.length, first: corpus[0]!.raw };
    let current = key;

    const steps: (RekeyStep | null)[] = ['locked', 'copied', 'rekeyed', 'verified', 'swapped', null];
    for (const crashAt of steps) {
      const next = randomBytes(32);
      const job = { action: 'rekey', dataDir: fx.dataDir, id, key: current.toString('hex'), newKey: next.toString('hex'), crashAt };
      const result = await runChild(job);
      if (crashAt) assert.equal(result.signal, 'SIGKILL', `killed at ${crashAt}`);
      else assert.equal(result.code, 0);
      const which = await keyThatOpens(fx.store, fx.dataDir, id, [current, next], expect);
      // Before the atomic rename the old key works; from the rename on, the new one.
      assert.equal(which, crashAt === 'swapped' || crashAt === null ? 1 : 0, `after a kill at ${crashAt ?? 'the end'}`);
      current = which === 1 ? next : current;
    }

    // Kills at arbitrary moments from the start of the re-key (VACUUM INTO, rekey, verification, rename, after).
    for (const delay of [0, 40, 90, 140]) {
      const next = randomBytes(32);
      await runChild({ action: 'rekey', dataDir: fx.dataDir, id, key: current.toString('hex'), newKey: next.toString('hex') }, delay);
      const which = await keyThatOpens(fx.store, fx.dataDir, id, [current, next], expect);
      current = which === 1 ? next : current;
    }

    // After all those crashes a normal re-key still works and leaves no temporary files behind.
    const final = randomBytes(32);
    await fx.store.rekey(id, current, final);
    assert.equal(await keyThatOpens(fx.store, fx.dataDir, id, [current, final], expect), 1);
    await fx.store.close(id);
    const leftovers = readdirSync(join(fx.dataDir, 'mailboxes')).filter((f) => f.includes('.rekey') || f.endsWith('.lock'));
    assert.deepEqual(leftovers, []);
    await assert.rejects(fx.store.rekey(id, randomBytes(32), randomBytes(32)), WrongKey, 'a wrong old key is refused');
    assert.ok(existsSync(join(fx.dataDir, 'mailboxes', `${id}.sqlite`)));
    assert.equal(await keyThatOpens(fx.store, fx.dataDir, id, [final], expect), 0, 'and changed nothing');
  } finally {
    await fx.cleanup();
  }
});

test('a re-key of an open mailbox closes the handle; the new key opens it, the old one no longer does', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', generateCorpus(1, 2)[0]!.raw);
    const next = randomBytes(32);
    await fx.store.rekey(id, key, next);
    assert.equal(fx.store.isOpen(id), false);
    await assert.rejects(fx.store.open(id, key), WrongKey);
    assert.equal((await fx.store.open(id, next)).status('INBOX').messages, 1);
  } finally {
    await fx.cleanup();
  }
});
