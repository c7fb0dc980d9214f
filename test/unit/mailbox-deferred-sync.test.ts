// Deferred sync: a session's writes commit without an fsync on the event loop and its durable() resolves only
// after an fdatasync that began after them; everyone else's writes stay synchronous=FULL. And a run of appends
// (expectAppends, a queue drain) shares commits even when its messages arrive one event-loop turn apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deferredSyncStats, groupCommitStats } from '../../server/mailbox/index.js';
import { simpleMessage, storeFixture } from '../helpers/mailbox.js';

test('a STORE through a deferred-sync view commits without fsync and is durable once durable() resolves', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('one', 'first'));
    const view = mailbox.deferredSync();
    const before = deferredSyncStats(mailbox)!;
    const result = view.store('INBOX', [[1, 1]], 'add', ['\\Seen']);
    assert.deepEqual(result.updated.map((u) => u.uid), [1]);
    const written = deferredSyncStats(mailbox)!;
    assert.equal(written.relaxedCommits, before.relaxedCommits + 1, 'the view committed without an fsync');
    assert.ok(written.syncedCommits < written.relaxedCommits, 'and nothing has synced it yet');
    await view.durable();
    const synced = deferredSyncStats(mailbox)!;
    assert.ok(synced.syncedCommits >= written.relaxedCommits, 'durable() waited for an fdatasync covering the commit');
    // The change is in the file: a fresh connection sees it.
    await fx.store.closeAll();
    const again = await fx.store.open(id, key);
    assert.deepEqual(again.listFlags('INBOX')[0]!.flags, ['\\Seen']);
  } finally {
    await fx.cleanup();
  }
});

test('writes outside a view stay synchronous (FULL): they add no owed sync', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('one', 'first'));
    const view = mailbox.deferredSync();
    const before = deferredSyncStats(mailbox)!;
    mailbox.store('INBOX', [[1, 1]], 'add', ['\\Flagged']);
    mailbox.createFolder('Projects');
    assert.deepEqual(deferredSyncStats(mailbox), before, 'no relaxed commit outside the view');
    await view.durable(); // nothing written through the view: resolves without a sync
    assert.deepEqual(deferredSyncStats(mailbox), before);
  } finally {
    await fx.cleanup();
  }
});

test('a view’s durable() is not satisfied by an fdatasync that began before its commit', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('one', 'first'));
    await mailbox.append('INBOX', simpleMessage('two', 'second'));
    const a = mailbox.deferredSync();
    const b = mailbox.deferredSync();
    a.store('INBOX', [[1, 1]], 'add', ['\\Seen']);
    const first = a.durable(); // its fdatasync starts now, covering A's commit only
    b.store('INBOX', [[2, 2]], 'add', ['\\Seen']);
    const markB = deferredSyncStats(mailbox)!.relaxedCommits;
    await b.durable();
    assert.ok(deferredSyncStats(mailbox)!.syncedCommits >= markB, 'B waited for a sync that covers its own commit');
    await first;
  } finally {
    await fx.cleanup();
  }
});

test('a view that wrote nothing does not wait for another view’s unsynced writes', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('one', 'first'));
    const writer = mailbox.deferredSync();
    const reader = mailbox.deferredSync();
    writer.store('INBOX', [[1, 1]], 'add', ['\\Seen']);
    const owed = deferredSyncStats(mailbox)!;
    assert.equal(reader.listFlags('INBOX').length, 1);
    await reader.durable();
    assert.equal(deferredSyncStats(mailbox)!.syncedCommits, owed.syncedCommits, 'the reader started no sync');
    await writer.durable();
  } finally {
    await fx.cleanup();
  }
});

test('a run of appends (expectAppends) shares commits even when its messages arrive a few ms apart', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    const messages = Array.from({ length: 48 }, (_, n) => simpleMessage(`run ${n}`, `message ${n} of a drained run`));
    // Like a drain: each message starts a little after the last (here 3 ms, no CPU), so each would commit alone.
    const appendSpaced = async (batch: readonly Buffer[]): Promise<{ uids: number[]; batches: number }> => {
      const before = groupCommitStats(mailbox)!.batches;
      const pending: Promise<{ uid: number }>[] = [];
      for (const raw of batch) {
        pending.push(mailbox.append('INBOX', raw));
        await new Promise<void>((resolve) => setTimeout(resolve, 3));
      }
      const uids = (await Promise.all(pending)).map((r) => r.uid);
      return { uids, batches: groupCommitStats(mailbox)!.batches - before };
    };
    const alone = await appendSpaced(messages.slice(0, 24));
    const end = mailbox.expectAppends();
    const run = await appendSpaced(messages.slice(24));
    end();
    assert.deepEqual([...alone.uids, ...run.uids], Array.from({ length: 48 }, (_, i) => i + 1), 'UIDs in call order');
    assert.ok(run.batches <= 12, `the run shared commits (${run.batches} batches for 24)`);
    assert.ok(run.batches < alone.batches, `fewer than without the run (${run.batches} vs ${alone.batches})`);
    for (const [n, uid] of [...alone.uids, ...run.uids].entries()) assert.ok((await mailbox.readMessage('INBOX', uid)).equals(messages[n]!));
  } finally {
    await fx.cleanup();
  }
});

test('RFC 3501 §2.3.2: re-selecting a folder with nothing new to claim as \\Recent commits nothing (no fdatasync to wait for)', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('one', 'first'));
    const view = mailbox.deferredSync();
    assert.deepEqual(view.claimRecent('INBOX'), { from: 1, to: 2 }, 'the first SELECT claims the new message');
    const claimed = deferredSyncStats(mailbox)!;
    assert.deepEqual(view.claimRecent('INBOX'), { from: 2, to: 2 }, 'the next one gets nothing');
    assert.deepEqual(deferredSyncStats(mailbox), claimed, 'and wrote nothing');
    await mailbox.append('INBOX', simpleMessage('two', 'second'));
    assert.deepEqual(view.claimRecent('INBOX'), { from: 2, to: 3 }, 'a message that arrived since is claimed');
    assert.equal(deferredSyncStats(mailbox)!.relaxedCommits, claimed.relaxedCommits + 1);
    await view.durable();
  } finally {
    await fx.cleanup();
  }
});
