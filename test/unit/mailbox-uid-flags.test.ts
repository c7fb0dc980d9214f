// SELECT's listing (listUidFlags) reads a folder in one row of concatenated text; it must say exactly what the
// row-per-message listing (listFlags) says, for every flag combination, keywords, gaps in UIDs and empty folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleMessage, storeFixture } from '../helpers/mailbox.js';

test('listUidFlags gives the UIDs and flags of listFlags, keywords and every system-flag combination included', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    const system = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'];
    for (let n = 0; n < 40; n++) {
      const flags = system.filter((_, bit) => n & (1 << bit));
      if (n % 7 === 0) flags.push('$Label1');
      if (n % 11 === 0) flags.push('Work', '$Forwarded');
      await mailbox.append('INBOX', simpleMessage(`m${n}`, `body ${n}`), { flags });
    }
    for (let n = 0; n < 3; n++) await mailbox.append('INBOX', simpleMessage(`seen${n}`, 'seen'), { flags: ['\\Seen'] });
    // Gaps: UIDs are not 1..n once messages go.
    mailbox.store('INBOX', [[5, 9], [30, 30]], 'add', ['\\Deleted']);
    mailbox.expunge('INBOX');
    const rows = mailbox.listFlags('INBOX');
    const listing = mailbox.listUidFlags('INBOX');
    assert.deepEqual(listing.uids, rows.map((r) => r.uid));
    assert.deepEqual(listing.flags, rows.map((r) => r.flags));
    assert.ok(listing.uids.length > 10 && !listing.uids.includes(5) && !listing.uids.includes(30));
    assert.ok(listing.flags.some((f) => f.includes('Work') && f.includes('$Forwarded')), 'keywords come through');
    // One frozen list per combination, shared.
    const seenOnly = listing.flags.filter((f) => f.length === 1 && f[0] === '\\Seen');
    assert.ok(seenOnly.length >= 3 && seenOnly.every((f) => f === seenOnly[0] && Object.isFrozen(f)));
  } finally {
    await fx.cleanup();
  }
});

test('listUidFlags of an empty folder and of a folder with one message', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    assert.deepEqual(mailbox.listUidFlags('Drafts'), { uids: [], flags: [] });
    await mailbox.append('Drafts', simpleMessage('d', 'draft'), { flags: ['\\Draft', 'Later'] });
    assert.deepEqual(mailbox.listUidFlags('Drafts'), { uids: [1], flags: [['\\Draft', 'Later']] });
  } finally {
    await fx.cleanup();
  }
});
