// A backup generation is one point in time, WAL included: for the mailbox (VACUUM INTO through the
// mailbox key) and for the sealed queue (VACUUM INTO through the queue's app-key cipher settings), while a
// writer keeps appending. Real encrypted files; a read transaction held open pins the newest commits in
// the WAL (no checkpoint can move them into the main file), so "in the snapshot" proves "WAL included".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3-multiple-ciphers';
import { snapshotMailbox, restoreFolders, restoreReplace, withReadonlyCopy } from '../../server/backup/index.js';
import { backupPaths } from '../../server/backup/paths.js';
import { generateSealKeyPair } from '../../server/crypto/index.js';
import { openSealedQueue, queueFileKey, type QueuedMessage } from '../../server/queue/index.js';
import { snapshotQueueFile } from '../../server/queue/snapshot.js';
import { dataLayout, ensureDataDir } from '../../server/config/index.js';
import { generateCorpus } from '../helpers/corpus.js';
import { integrityCheck } from '../helpers/reliability-harness.js';
import { findPlaintext } from '../helpers/privacy.js';
import { mailboxFixture, folderBytes, needlesOf } from './backup-fixture.js';

/** A read transaction on an encrypted file: while it is open, commits after it stay in the WAL. */
function pinWal(file: string, rawKey: Buffer): () => void {
  const db = new Database(file, { fileMustExist: true });
  db.pragma("cipher='chacha20'");
  db.pragma(`key="x'${rawKey.toString('hex')}'"`);
  db.prepare('BEGIN').run();
  db.prepare('SELECT count(*) FROM sqlite_master').get();
  return () => {
    db.prepare('ROLLBACK').run();
    db.close();
  };
}

/** Rows of `table` in a copy of `file` made WITHOUT its -wal (what the main file alone holds). */
function rowsInMainFileOnly(file: string, rawKey: Buffer, table: string): number {
  const copy = `${file}.main-only-${randomUUID()}`;
  fs.copyFileSync(file, copy);
  const db = new Database(copy, { fileMustExist: true });
  try {
    db.pragma("cipher='chacha20'");
    db.pragma(`key="x'${rawKey.toString('hex')}'"`);
    // A file whose every page is still in the WAL has no table in its main file yet.
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table)) return 0;
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
    for (const f of [copy, `${copy}-wal`, `${copy}-shm`]) fs.rmSync(f, { force: true });
  }
}

test('a mailbox snapshot holds a message committed before it that was only in the WAL, and is whole under concurrent appends', async () => {
  const fx = await mailboxFixture({ inbox: 4, archive: 0 });
  const live = backupPaths(fx.dir).layout.mailboxFile(fx.id);
  try {
    const unpin = pinWal(live, fx.key);
    let pinned = true;
    try {
      const [walOnly, ...more] = generateCorpus(31, 501);
      await fx.mailbox.append('INBOX', walOnly!.raw, { internalDate: walOnly!.date });
      // A bounded writer keeps appending while the snapshot runs.
      let appended = 0;
      const writer = (async () => {
        for (const m of more) {
          await fx.mailbox.append('INBOX', m.raw, { internalDate: m.date });
          appended++;
        }
      })();
      const before = appended;
      const { generation, created } = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
      const after = appended;
      await writer;
      assert.equal(created, true);
      // The main file alone still lacks the WAL-only message: the snapshot could only get it from the WAL.
      assert.ok(rowsInMainFileOnly(live, fx.key, 'messages') <= 4, 'the message was only in the WAL when the snapshot ran');
      unpin();
      pinned = false;

      const file = backupPaths(fx.dir).generation(fx.id, generation.id);
      assert.equal(integrityCheck(file, fx.key), 'ok');
      const inSnapshot = await withReadonlyCopy(fx.dir, file, fx.key, (mb) => folderBytes(mb, 'INBOX'));
      const all = [...fx.corpus.slice(0, 4), walOnly!, ...more].map((m) => m.raw);
      assert.ok(inSnapshot.length >= 5 + before && inSnapshot.length <= 5 + after, `the snapshot has ${inSnapshot.length} messages (${before}..${after} of the concurrent ones)`);
      inSnapshot.forEach((raw, i) => assert.ok(raw.equals(all[i]!), `message ${i} of the snapshot is whole`));
      assert.ok(inSnapshot[4]!.equals(walOnly!.raw), 'the WAL-only message is in the snapshot');
      assert.deepEqual(findPlaintext(backupPaths(fx.dir).layout.backupsDir, needlesOf([...fx.corpus, walOnly!, ...more])), []);
    } finally {
      if (pinned) unpin();
    }
  } finally {
    await fx.cleanup();
  }
});

test('a sealed-queue snapshot taken while the queue is being appended to holds every row committed before it (WAL included), each whole', async () => {
  const fx = await mailboxFixture({ inbox: 2, archive: 0 });
  const appKey = randomBytes(32);
  const keys = generateSealKeyPair();
  const queue = openSealedQueue(fx.dir, appKey, { idleCloseMs: 60_000 });
  const queueFile = dataLayout(fx.dir).queueFile(fx.id);
  const corpus = generateCorpus(46, 733);
  const enqueue = (i: number): Promise<string> => queue.enqueue(fx.id, keys.publicKey, corpus[i]!.raw, { receivedAt: corpus[i]!.date });
  try {
    for (let i = 0; i < 5; i++) await enqueue(i);
    const unpin = pinWal(queueFile, queueFileKey(appKey));
    let pinned = true;
    try {
      await enqueue(5); // committed, and pinned in the WAL
      let enqueued = 6;
      const writer = (async () => {
        for (let i = 6; i < corpus.length; i++) {
          await enqueue(i);
          enqueued++;
        }
      })();
      const before = enqueued;
      const { generation } = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true, appKey });
      const after = enqueued;
      await writer;
      assert.ok(rowsInMainFileOnly(queueFile, queueFileKey(appKey), 'item') <= 5, 'row 6 was only in the WAL when the snapshot ran');
      unpin();
      pinned = false;

      assert.ok(generation.queue, 'the generation saved the queue');
      const sidecar = backupPaths(fx.dir).queueSidecar(fx.id, generation.id);
      assert.equal(integrityCheck(sidecar, queueFileKey(appKey)), 'ok');
      assert.throws(() => integrityCheck(sidecar, randomBytes(32)), { code: 'SQLITE_NOTADB' }, 'the copy stays encrypted under the queue key');

      // Open the copy as a real queue of a fresh data dir and drain it with the alias private key.
      const scratch = fs.mkdtempSync(path.join(fx.dir, 'restored-'));
      ensureDataDir(dataLayout(scratch));
      fs.copyFileSync(sidecar, dataLayout(scratch).queueFile(fx.id));
      const restored = openSealedQueue(scratch, appKey);
      const drained: QueuedMessage[] = [];
      try {
        const report = await restored.drainWithReport(fx.id, keys.privateKey, async (m) => {
          drained.push(m);
        });
        assert.deepEqual(report.undecryptable, [], 'every row of the snapshot is whole and unseals');
      } finally {
        restored.close();
      }
      assert.ok(drained.length >= before && drained.length <= after, `the snapshot has ${drained.length} rows (${before}..${after})`);
      drained.forEach((m, i) => assert.ok(m.raw.equals(corpus[i]!.raw), `row ${i} holds message ${i}, whole`));
      assert.ok(drained.length >= 6 && drained[5]!.raw.equals(corpus[5]!.raw), 'the WAL-only row is in the snapshot');
      assert.deepEqual(findPlaintext(backupPaths(fx.dir).layout.backupsDir, needlesOf(corpus)), []);
    } finally {
      if (pinned) unpin();
    }
  } finally {
    queue.close();
    await fx.cleanup();
  }
});

test('a queue file created after the snapshot started, or still being created, is left out without an error', async () => {
  const fx = await mailboxFixture({ inbox: 1, archive: 0 });
  const appKey = randomBytes(32);
  const keys = generateSealKeyPair();
  const layout = dataLayout(fx.dir);
  try {
    const scratch = backupPaths(fx.dir).scratch();
    fs.mkdirSync(scratch, { recursive: true });
    // No file: nothing to copy.
    assert.equal(snapshotQueueFile(layout.queueFile(randomUUID()), appKey, path.join(scratch, `${randomUUID()}.q`)), null);
    // The empty file the queue creates first (before SQLite writes its first page): nothing to copy yet.
    const empty = layout.queueFile(randomUUID());
    fs.writeFileSync(empty, '', { mode: 0o600 });
    assert.equal(snapshotQueueFile(empty, appKey, path.join(scratch, `${randomUUID()}.q`)), null);
    assert.equal(fs.statSync(empty).size, 0, 'the snapshot created nothing in it');

    // The first enqueue for the alias (which creates its queue file) racing the snapshot: either outcome, never an error.
    const corpus = generateCorpus(3, 911);
    const queue = openSealedQueue(fx.dir, appKey, { idleCloseMs: 60_000 });
    try {
      const [snap] = await Promise.all([
        snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true, appKey }),
        queue.enqueue(fx.id, keys.publicKey, corpus[0]!.raw, { receivedAt: corpus[0]!.date }),
      ]);
      if (snap.generation.queue) assert.equal(integrityCheck(backupPaths(fx.dir).queueSidecar(fx.id, snap.generation.id), queueFileKey(appKey)), 'ok');
      // Once the file exists, the next generation saves it.
      await queue.enqueue(fx.id, keys.publicKey, corpus[1]!.raw, { receivedAt: corpus[1]!.date });
      const next = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true, appKey });
      assert.equal(next.created, true);
      assert.ok(next.generation.queue, 'the queue is in the next generation');
      // Unchanged content is recognised although every VACUUM INTO copy has different bytes.
      const same = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true, appKey });
      assert.equal(same.created, false, 'an unchanged mailbox and queue make no new generation');
      // Without the app key a queue cannot be saved: a clear refusal, not a backup that silently lacks it.
      await assert.rejects(snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true }), /app key is needed to back up the sealed queue/);
    } finally {
      queue.close();
    }
  } finally {
    await fx.cleanup();
  }
});

test('a locked copy taken while commits were still only in the WAL (after a crash) restores with them', async () => {
  const fx = await mailboxFixture({ inbox: 3, archive: 0 });
  const live = backupPaths(fx.dir).layout.mailboxFile(fx.id);
  try {
    const unpin = pinWal(live, fx.key);
    let pinned = true;
    try {
      const [walOnly] = generateCorpus(1, 919);
      await fx.mailbox.append('INBOX', walOnly!.raw, { internalDate: walOnly!.date });
      // The handle closes, but the pinned reader keeps the last commit in the -wal (as a crash would leave it).
      await fx.store.close(fx.id);
      assert.ok(fs.statSync(`${live}-wal`).size > 0);
      const { generation } = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: null });
      assert.equal(generation.verifiedWithKey, false, 'a locked copy, no key');
      assert.ok(generation.wal, 'the WAL was saved beside the copy');
      unpin();
      pinned = false;

      const mailbox = await fx.reopen();
      for (const m of generateCorpus(2, 920)) await mailbox.append('INBOX', m.raw);
      // A folder restore reads the generation with its WAL too: the WAL-only message, expunged here, comes back.
      const walOnlyUid = mailbox.listMessages('INBOX')[3]!.uid;
      mailbox.store('INBOX', [[walOnlyUid, walOnlyUid]], 'add', ['\\Deleted']);
      mailbox.expunge('INBOX');
      const totals = await restoreFolders({ dataDir: fx.dir, mailboxId: fx.id, generationId: generation.id, key: fx.key, folders: ['INBOX'], target: mailbox });
      assert.deepEqual({ imported: totals.imported, skipped: totals.skipped }, { imported: 1, skipped: 3 });
      assert.ok((await folderBytes(mailbox, 'INBOX')).some((raw) => raw.equals(walOnly!.raw)));
      await restoreReplace({ dataDir: fx.dir, mailboxId: fx.id, generationId: generation.id, key: fx.key, store: fx.store });
      const restored = await folderBytes(await fx.reopen(), 'INBOX');
      assert.equal(restored.length, 4, 'the three stored messages and the one that was only in the WAL');
      assert.ok(restored.some((raw) => raw.equals(walOnly!.raw)), 'the WAL-only message came back with the restore');
      assert.equal(integrityCheck(live, fx.key), 'ok');
    } finally {
      if (pinned) unpin();
    }
  } finally {
    await fx.cleanup();
  }
});
