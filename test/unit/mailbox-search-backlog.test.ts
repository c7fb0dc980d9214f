// The trigram index catches up after appends, in batches (SqliteMailbox.indexSearchBacklog), not inside each
// append's commit. RFC 3501 §6.4.4 / RFC 9051 §6.4.4: SEARCH answers with every message that matches, so a body the
// index does not hold yet must still be found, and nothing may be lost or left out by the catch-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDb } from '../../server/mailbox/sqlite.js';
import { until } from '../helpers/reliability-harness.js';
import { simpleMessage, storeFixture } from '../helpers/mailbox.js';
import type { MailboxId } from '../../server/mailbox/index.js';

type Fixture = ReturnType<typeof storeFixture>;

/** What the file says, read through a connection of its own: the index's watermark, the newest body, index hits. */
function fileState(fx: Fixture, id: MailboxId, key: Buffer, trigram?: string): { through: number; newest: number; hits: number[] } {
  const db = openDb(join(fx.dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true, readonly: true });
  try {
    const through = (db.prepare('SELECT indexed_through FROM search_progress').get() as { indexed_through: number }).indexed_through;
    const newest = (db.prepare('SELECT coalesce(max(id), 0) AS n FROM bodies').get() as { n: number }).n;
    const hits = trigram === undefined ? [] : (db.prepare('SELECT rowid FROM search_index WHERE search_index MATCH ? ORDER BY rowid').all(`"${trigram}"`) as { rowid: number }[]).map((r) => r.rowid);
    return { through, newest, hits };
  } finally {
    db.close();
  }
}

test('RFC 9051 §6.4.4: SEARCH finds a message appended a moment ago, before the trigram index holds it, and after', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('first', 'plain words'));
    await mailbox.append('INBOX', simpleMessage('second', 'the zebrafish token'));
    await mailbox.append('INBOX', simpleMessage('third', 'more plain words'));
    const before = fileState(fx, id, key, 'zeb');
    assert.equal(before.through, 0, 'nothing indexed yet');
    assert.deepEqual(before.hits, []);
    assert.deepEqual(mailbox.search('INBOX', { op: 'body', value: 'ZEBRAFISH' }), [2]);
    assert.deepEqual(mailbox.search('INBOX', { op: 'subject', value: 'thir' }), [3]);
    assert.deepEqual(mailbox.search('INBOX', { op: 'body', value: 'plain words' }), [1, 3]);

    assert.equal(await mailbox.indexSearchBacklog(), 3);
    const after = fileState(fx, id, key, 'zeb');
    assert.equal(after.through, after.newest);
    assert.deepEqual(after.hits, [2], 'the index now lists the body');
    assert.deepEqual(mailbox.search('INBOX', { op: 'body', value: 'zebrafish' }), [2]);
    assert.deepEqual(mailbox.search('INBOX', { op: 'body', value: 'plain words' }), [1, 3]);
    assert.equal(await mailbox.indexSearchBacklog(), 0, 'nothing left');
  } finally {
    await fx.cleanup();
  }
});

test('the catch-up starts by itself: once 64 bodies wait, and after appends pause', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    for (let n = 0; n < 70; n++) await mailbox.append('INBOX', simpleMessage(`m${n}`, `body number ${n}`));
    await until('64 waiting bodies start a catch-up', () => fileState(fx, id, key).through >= 64, 20_000);
    await until('a pause catches up the rest', () => {
      const s = fileState(fx, id, key);
      return s.through === s.newest;
    }, 20_000);
    assert.deepEqual(mailbox.search('INBOX', { op: 'body', value: 'body number 69' }), [70]);
  } finally {
    await fx.cleanup();
  }
});

test('indexSearchBacklog called while a catch-up runs waits for it: the index is whole when the call resolves', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    for (let n = 0; n < 5; n++) await mailbox.append('INBOX', simpleMessage(`m${n}`, `pelican ${n}`));
    const first = mailbox.indexSearchBacklog(); // its commit runs on a later turn
    const second = mailbox.indexSearchBacklog(); // called while the first is under way
    assert.equal(await second, 0, 'the first one did the work');
    const state = fileState(fx, id, key, 'pel');
    assert.equal(state.through, state.newest, 'every body is in the index once the second call resolves');
    assert.equal(state.hits.length, 5);
    assert.equal(await first, 5);
  } finally {
    await fx.cleanup();
  }
});

test('RFC 9051 §6.4.4 under a race: 150 parallel appends, each searched for as soon as it is answered, while catch-ups run', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    const missed: number[] = [];
    await Promise.all(
      Array.from({ length: 150 }, async (_, n) => {
        const { uid } = await mailbox.append('INBOX', simpleMessage(`race ${n}`, `wombat${n}x here`));
        // Between appends, catch-ups move the watermark: the message must be found on either side of it.
        if (!mailbox.search('INBOX', { op: 'body', value: `wombat${n}x` }).includes(uid)) missed.push(n);
      }),
    );
    assert.deepEqual(missed, [], 'every answered append is found at once');
    await mailbox.indexSearchBacklog();
    for (const n of [0, 63, 64, 127, 149]) assert.equal(mailbox.search('INBOX', { op: 'body', value: `wombat${n}x` }).length, 1);
  } finally {
    await fx.cleanup();
  }
});

test('a body expunged before its turn leaves no gap, and a file closed before the catch-up catches up after reopening', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('gone', 'quokka one'));
    await mailbox.append('INBOX', simpleMessage('kept', 'quokka two'));
    mailbox.store('INBOX', [[1, 1]], 'add', ['\\Deleted']);
    mailbox.expunge('INBOX');
    // Closed with the backlog waiting (as after kill -9 before the pause ran out).
    await fx.store.closeAll();
    const again = await fx.store.open(id, key);
    assert.equal(fileState(fx, id, key).through, 0);
    assert.deepEqual(again.search('INBOX', { op: 'body', value: 'quokka' }), [2], 'still found without the index');
    assert.equal(await again.indexSearchBacklog(), 1, 'only the body that is still there');
    const state = fileState(fx, id, key, 'quo');
    assert.equal(state.through, state.newest);
    assert.deepEqual(state.hits, [state.newest]);
    assert.deepEqual(again.search('INBOX', { op: 'body', value: 'quokka' }), [2]);
  } finally {
    await fx.cleanup();
  }
});
