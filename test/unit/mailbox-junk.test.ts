// The junk classifier's counts inside a real encrypted mailbox file: training is counted once per message, a
// re-classification moves its counts, MOVE/COPY into and out of \Junk queue training (not into Trash), the token
// cap prunes, and nothing trained is readable in the file.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DEFAULT_JUNK_STORE_LIMITS } from '../../server/junk/index.js';
import { findPlaintext } from '../helpers/privacy.js';
import { simpleMessage, storeFixture } from '../helpers/mailbox.js';

const fixture = storeFixture({ junkLimits: { ...DEFAULT_JUNK_STORE_LIMITS, maxStoredTokens: 150 } });
after(() => fixture.cleanup());

test('training a folder counts each message once; training it as the other class moves its counts', async () => {
  const { mailbox } = await fixture.newMailbox();
  await mailbox.append('INBOX', simpleMessage('zqquasar offer', 'zqquasar cheap pills now'));
  await mailbox.append('INBOX', simpleMessage('zqquasar offer two', 'zqquasar cheap pills again'));
  assert.equal(await mailbox.junkTrain('INBOX', [[1, Infinity]], true), 2);
  assert.equal(await mailbox.junkTrain('INBOX', [[1, Infinity]], true), 0, 'not counted twice');
  let counts = mailbox.junkCounts(['zqquasar', 'pills', 'never-seen']);
  assert.deepEqual([counts.spamMessages, counts.hamMessages], [2, 0]);
  assert.deepEqual(counts.tokens.get('zqquasar'), { spam: 2, ham: 0 });
  assert.equal(counts.tokens.has('never-seen'), false);
  assert.equal(await mailbox.junkTrain('INBOX', [[1, 1]], false), 1);
  counts = mailbox.junkCounts(['zqquasar']);
  assert.deepEqual([counts.spamMessages, counts.hamMessages], [1, 1]);
  assert.deepEqual(counts.tokens.get('zqquasar'), { spam: 1, ham: 1 });
});

test('MOVE into Junk queues spam, out of Junk queues ham, into Trash nothing; the queue trains once', async () => {
  const { mailbox } = await fixture.newMailbox();
  await mailbox.append('INBOX', simpleMessage('zqnebula', 'zqnebula words here'));
  mailbox.move('INBOX', [[1, 1]], 'Junk');
  await mailbox.trainQueuedJunk();
  assert.deepEqual([mailbox.junkStatus().spamMessages, mailbox.junkStatus().hamMessages, mailbox.junkStatus().pending], [1, 0, 0]);
  mailbox.copy('Junk', [[1, 1]], 'Trash');
  await mailbox.trainQueuedJunk();
  assert.deepEqual([mailbox.junkStatus().spamMessages, mailbox.junkStatus().hamMessages], [1, 0], 'Trash is not a verdict');
  mailbox.move('Junk', [[1, 1]], 'Archive');
  await mailbox.trainQueuedJunk();
  assert.deepEqual([mailbox.junkStatus().spamMessages, mailbox.junkStatus().hamMessages], [0, 1]);
});

test('the stored tokens stay under the cap (rarely seen ones pruned first)', async () => {
  const { mailbox } = await fixture.newMailbox();
  for (let n = 0; n < 10; n++) {
    const words = Array.from({ length: 40 }, (_, i) => `word${n}x${i}`).join(' ');
    await mailbox.append('INBOX', simpleMessage(`batch ${n}`, `common shared ${words}`));
  }
  await mailbox.junkTrain('INBOX', [[1, Infinity]], true);
  const status = mailbox.junkStatus();
  assert.ok(status.tokens <= 150, `tokens: ${status.tokens}`);
  assert.ok(mailbox.junkCounts(['common']).tokens.get('common'), 'a token seen in every message survives pruning');
});

test('privacy: trained words are not readable in the mailbox file or its WAL', () => {
  assert.deepEqual(findPlaintext(fixture.dataDir, ['zqquasar', 'zqnebula', 'word3x7']), []);
});
