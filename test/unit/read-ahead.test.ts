// BodyPrefetch (server/mailbox/read-ahead.ts): the messages IMAP FETCH and POP3 RETR send, read a batch ahead
// in the store's reader thread. Whatever order messages are taken in, each take answers that message's own
// stored bytes, and at most 1 + AHEAD batches are held; a message expunged meanwhile answers null. Real
// encrypted mailbox files and a real reader thread.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { readerStats } from '../../server/mailbox/index.js';
import { BodyPrefetch } from '../../server/mailbox/read-ahead.js';
import { generateCorpus } from '../helpers/corpus.js';
import { storeFixture, type StoreFixture } from '../helpers/mailbox.js';

const fixtures: StoreFixture[] = [];
after(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

async function filled(count: number): Promise<{ fx: StoreFixture; mailbox: Awaited<ReturnType<StoreFixture['newMailbox']>>['mailbox']; uids: number[]; sizes: Map<number, number> }> {
  const fx = storeFixture({ readerThreads: 1 });
  fixtures.push(fx);
  const { mailbox } = await fx.newMailbox();
  for (const m of generateCorpus(count, 11)) await mailbox.append('INBOX', m.raw);
  const listed = mailbox.listMessages('INBOX');
  return { fx, mailbox, uids: listed.map((m) => m.uid), sizes: new Map(listed.map((m) => [m.uid, m.size])) };
}

describe('message read-ahead', () => {
  test('in order, in reverse and scattered: every take is that message, and at most 2 batches are held', async () => {
    const { fx, mailbox, uids, sizes } = await filled(60);
    const wanted = uids.map((uid) => ({ uid, start: 0, end: sizes.get(uid)! }));
    const before = readerStats(fx.store)!.read;
    // a scattered order that jumps back and forth across the 15 batches of 4
    const scattered = uids.map((_, i) => uids[(i * 37) % uids.length]!);
    for (const order of [uids, [...uids].reverse(), scattered]) {
      const ahead = new BodyPrefetch(mailbox, 'INBOX', wanted, { batchMessages: 4 });
      for (const uid of order) {
        const taken = ahead.take(uid);
        assert.ok(taken, `uid ${uid} was wanted`);
        assert.ok(ahead.heldBatches <= 2, `at most 1 + AHEAD batches held, not ${ahead.heldBatches}`);
        const bytes = await taken.bytes;
        assert.ok(bytes, `uid ${uid} read`);
        assert.ok(bytes.equals(await mailbox.readMessage('INBOX', uid)), `uid ${uid}: its own bytes`);
      }
      assert.equal(ahead.take(uids[0]!), undefined, 'a message is taken once');
    }
    assert.ok(readerStats(fx.store)!.read > before, 'the reader thread answered');
  });

  test('a message expunged before its batch is read answers null; its neighbours still answer their own bytes', async () => {
    const { mailbox, uids, sizes } = await filled(12);
    const ahead = new BodyPrefetch(mailbox, 'INBOX', uids.map((uid) => ({ uid, start: 0, end: sizes.get(uid)! })), { batchMessages: 4 });
    const gone = uids[9]!; // in the third batch, which the first take does not start
    const first = ahead.take(uids[0]!)!;
    assert.ok((await first.bytes)?.equals(await mailbox.readMessage('INBOX', uids[0]!)));
    mailbox.store('INBOX', [[gone, gone]], 'add', ['\\Deleted']);
    mailbox.expunge('INBOX', [[gone, gone]]);
    for (const uid of uids.slice(1)) {
      const bytes = await ahead.take(uid)!.bytes;
      if (uid === gone) assert.equal(bytes, null);
      else assert.ok(bytes?.equals(await mailbox.readMessage('INBOX', uid)), `uid ${uid}: its own bytes`);
    }
  });
});
