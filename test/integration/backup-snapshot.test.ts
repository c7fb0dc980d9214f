// Snapshots: unlocked (VACUUM INTO, verified with the key) under concurrent appends, locked (copy
// without the password), de-duplication, retention, and no plaintext anywhere in backups/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { snapshotMailbox, listGenerations, pruneGenerations, verifyGeneration, withReadonlyCopy } from '../../server/backup/index.js';
import { backupPaths } from '../../server/backup/paths.js';
import { generateCorpus } from '../helpers/corpus.js';
import { mailboxFixture, needlesOf, folderBytes } from './backup-fixture.js';
import { findPlaintext } from '../helpers/privacy.js';

test('a snapshot taken while messages are being appended is consistent and no append is lost', async () => {
  const fx = await mailboxFixture({ inbox: 10, archive: 0 });
  try {
    const extra = generateCorpus(60, 99);
    let appended = 0;
    const appending = (async () => {
      for (const m of extra) {
        await fx.mailbox.append('INBOX', m.raw, { internalDate: m.date });
        appended++;
      }
    })();
    const snapshots: { id: string; appendedBefore: number; appendedAfter: number }[] = [];
    while (appended < extra.length) {
      const before = appended;
      const { generation, created } = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
      if (created) snapshots.push({ id: generation.id, appendedBefore: before, appendedAfter: appended });
    }
    await appending;
    assert.ok(snapshots.length >= 1, 'at least one snapshot during the appends');
    const all = [...fx.corpus, ...extra].map((m) => m.raw);
    for (const s of snapshots) {
      const file = backupPaths(fx.dir).generation(fx.id, s.id);
      const inSnapshot = await withReadonlyCopy(fx.dir, file, fx.key, (mb) => folderBytes(mb, 'INBOX'));
      // A consistent snapshot holds exactly the first k messages, k between what was appended before and after it.
      assert.ok(inSnapshot.length >= 10 + s.appendedBefore && inSnapshot.length <= 10 + s.appendedAfter, `snapshot ${s.id} has ${inSnapshot.length} messages`);
      inSnapshot.forEach((raw, i) => assert.ok(raw.equals(all[i] as Buffer), `message ${i} of snapshot ${s.id} is intact`));
    }
    const live = await folderBytes(fx.mailbox, 'INBOX');
    assert.equal(live.length, 70, 'every append is in the live mailbox');
    const gens = listGenerations(fx.dir, fx.id);
    assert.ok(gens.every((g) => g.verifiedWithKey && g.sourceSchemaVersion !== null));
    assert.deepEqual(findPlaintext(backupPaths(fx.dir).layout.backupsDir, needlesOf([...fx.corpus, ...extra])), []);
  } finally {
    await fx.cleanup();
  }
});

test('a locked mailbox is backed up without its password, still encrypted, and de-duplicated', async () => {
  const fx = await mailboxFixture();
  try {
    await fx.store.close(fx.id); // locked: the key is gone from this process
    const first = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id });
    assert.equal(first.created, true);
    assert.equal(first.generation.verifiedWithKey, false);
    assert.equal(first.generation.sourceSchemaVersion, null);
    const again = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id });
    assert.equal(again.created, false, 'an identical copy keeps no new generation');
    assert.equal(listGenerations(fx.dir, fx.id).length, 1);

    const file = backupPaths(fx.dir).generation(fx.id, first.generation.id);
    assert.notEqual(fs.readFileSync(file).subarray(0, 15).toString('latin1'), 'SQLite format 3', 'no readable SQLite header');
    assert.deepEqual(findPlaintext(backupPaths(fx.dir).layout.backupsDir, needlesOf(fx.corpus)), []);
    // The owner's password (key) still opens it, with every message.
    const inbox = await withReadonlyCopy(fx.dir, file, fx.key, (mb) => folderBytes(mb, 'INBOX'));
    assert.equal(inbox.length, 12);
    const report = await verifyGeneration(fx.dir, fx.id, first.generation.id, fx.key);
    assert.deepEqual({ intact: report.intact, decrypts: report.decrypts }, { intact: true, decrypts: true });
  } finally {
    await fx.cleanup();
  }
});

test('unlocked snapshots of unchanged content are de-duplicated; a change makes a new generation', async () => {
  const fx = await mailboxFixture({ inbox: 4, archive: 0 });
  try {
    const a = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
    const b = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
    assert.equal(a.created, true);
    assert.equal(b.created, false);
    assert.equal(b.generation.id, a.generation.id);
    fx.mailbox.store('INBOX', [[1, 1]], 'add', ['\\Flagged']);
    const c = await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true });
    assert.equal(c.created, true, 'a flag change is a new generation');
    assert.equal(listGenerations(fx.dir, fx.id).length, 2);
    await assert.rejects(snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, openHere: true }), /key is not available/);
  } finally {
    await fx.cleanup();
  }
});

test('retention keeps the newest per day/week/month and deletes the other generation files', async () => {
  const fx = await mailboxFixture({ inbox: 1, archive: 0 });
  try {
    const extra = generateCorpus(10, 5);
    // Ten generations; two on 03-05 and two on 03-06 (10:00 and 11:00).
    const times = ['01-01T10', '01-15T10', '02-10T10', '03-03T10', '03-04T10', '03-05T10', '03-05T11', '03-06T10', '03-06T11', '03-07T11'];
    for (let i = 0; i < times.length; i++) {
      await fx.mailbox.append('INBOX', (extra[i] as { raw: Buffer }).raw);
      await snapshotMailbox({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, openHere: true, now: new Date(`2025-${times[i]}:00:00Z`) });
    }
    assert.equal(listGenerations(fx.dir, fx.id).length, 10);
    const pruned = await pruneGenerations(fx.dir, fx.id, { daily: 3, weekly: 1, monthly: 3, preRestoreDays: 30 }, new Date('2025-03-08T00:00:00Z'));
    const kept = listGenerations(fx.dir, fx.id).map((g) => g.time.slice(0, 13));
    // daily: 03-07, 03-06 11:00, 03-05 11:00; weekly: 03-07 again; monthly: Mar, Feb 10, Jan 15 (newest of January).
    assert.deepEqual(kept, ['2025-01-15T10', '2025-02-10T10', '2025-03-05T11', '2025-03-06T11', '2025-03-07T11']);
    assert.equal(pruned.length, 5);
    const files = fs.readdirSync(backupPaths(fx.dir).dir(fx.id)).filter((f) => f.endsWith('.sqlite'));
    assert.equal(files.length, 5, 'pruned generation files are deleted');
  } finally {
    await fx.cleanup();
  }
});
