// Attachments are stored once per mailbox (SHA-256), shared by copies, and freed with their last reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { storeFixture } from '../helpers/mailbox.js';
import { generateCorpus } from '../helpers/corpus.js';
import { openDb } from '../../server/mailbox/sqlite.js';

test('a shared attachment is stored once; copy shares it, expunge decrements, the last expunge frees it', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    const corpus = generateCorpus(64, 9);
    const shared = corpus.filter((m) => m.kind === 'shared-attachment');
    const name = shared[0]!.attachments[0]!;
    const same = shared.filter((m) => m.attachments[0] === name).slice(0, 3);
    assert.equal(same.length, 3, 'corpus has three messages with the same attachment');
    for (const m of same) await mailbox.append('INBOX', m.raw);

    // A second, read-only connection (readers see committed snapshots) inspects the tables.
    const inspect = (): { attachments: { refcount: number; size: number }[]; bodies: number; chunks: number; parts: number } => {
      const db = openDb(join(fx.dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true, readonly: true });
      try {
        return {
          attachments: db.prepare('SELECT refcount, size FROM attachments ORDER BY size DESC').all() as { refcount: number; size: number }[],
          bodies: (db.prepare('SELECT count(*) AS n FROM bodies').get() as { n: number }).n,
          chunks: (db.prepare('SELECT count(*) AS n FROM attachment_chunks').get() as { n: number }).n,
          parts: (db.prepare('SELECT count(*) AS n FROM body_parts').get() as { n: number }).n,
        };
      } finally {
        db.close();
      }
    };

    let state = inspect();
    assert.equal(state.attachments.length, 1, 'one stored copy of the attachment');
    assert.equal(state.attachments[0]!.refcount, 3);
    assert.ok(state.attachments[0]!.size > 30_000);
    const report = mailbox.storageReport();
    assert.ok(report.dedupeSavedBytes >= 2 * state.attachments[0]!.size, 'two copies saved');

    const copied = mailbox.copy('INBOX', [[1, 2]], 'Archive');
    assert.equal(copied.mapping.length, 2);
    state = inspect();
    assert.equal(state.attachments[0]!.refcount, 3, 'copies share the stored message, not a new reference');
    assert.equal(state.bodies, 3);

    mailbox.store('INBOX', [[1, 3]], 'add', ['\\Deleted']);
    assert.deepEqual(mailbox.expunge('INBOX', [[1, 1]]), [1]);
    state = inspect();
    assert.equal(state.attachments[0]!.refcount, 3, 'message 1 still lives in Archive');
    assert.deepEqual(mailbox.expunge('INBOX'), [2, 3]);
    state = inspect();
    assert.equal(state.attachments[0]!.refcount, 2, 'message 3 was the only holder of its body');
    assert.equal(state.bodies, 2);
    for (const [i, m] of same.slice(0, 2).entries()) assert.ok((await mailbox.readMessage('Archive', i + 1)).equals(m.raw));

    mailbox.store('Archive', [[1, 2]], 'add', ['\\Deleted']);
    mailbox.expunge('Archive');
    state = inspect();
    assert.deepEqual(state.attachments, [], 'zero references: the attachment row is deleted');
    assert.equal(state.chunks, 0);
    assert.equal(state.bodies, 0);
    assert.equal(state.parts, 0);
    assert.equal(mailbox.quota().usedBytes, 0);
    assert.equal(mailbox.search('INBOX', { op: 'body', value: same[0]!.token }).length, 0);
  } finally {
    await fx.cleanup();
  }
});

test('deleting a folder releases the attachments of its messages', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    const corpus = generateCorpus(24, 4).filter((m) => m.attachments.length > 0);
    mailbox.createFolder('Scans');
    for (const m of corpus) await mailbox.append('Scans', m.raw);
    assert.ok(mailbox.storageReport().compressionSavedBytes > 0);
    mailbox.deleteFolder('Scans');
    const report = mailbox.storageReport();
    assert.equal(report.logicalBytes, 0);
    assert.equal(report.dedupeSavedBytes, 0);
    assert.equal(report.compressionSavedBytes, 0);
  } finally {
    await fx.cleanup();
  }
});

test('a partial read touches only the chunks covering the range (a damaged far chunk does not matter)', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    const body = Array.from({ length: 4000 }, (_, i) => `line ${i} ${'abcdefghij'.repeat(5)}`).join('\r\n');
    const raw = Buffer.from(`Subject: long\r\nFrom: a@example.com\r\n\r\n${body}\r\n`);
    assert.ok(raw.length > 3 * 65536);
    const { uid } = await mailbox.append('INBOX', raw);
    await fx.store.close(id);
    // Damage the last inline chunk directly in the file.
    const db = openDb(join(fx.dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true });
    const last = db.prepare('SELECT max(raw_start) AS s FROM body_parts').get() as { s: number };
    db.prepare('UPDATE body_parts SET data = ? WHERE raw_start = ?').run(Buffer.from([1, 0xff, 0xff, 0xff]), last.s);
    db.close();
    const reopened = await fx.store.open(id, key);
    assert.ok((await reopened.readRange('INBOX', uid, 100, 70_000)).equals(raw.subarray(100, 70_000)));
    await assert.rejects(reopened.readMessage('INBOX', uid), 'the whole message does need the damaged chunk');
  } finally {
    await fx.cleanup();
  }
});
