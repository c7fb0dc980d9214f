// Two handles on one file: readers see consistent snapshots, and two writer processes never collide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { storeFixture, simpleMessage } from '../helpers/mailbox.js';
import { openMailboxStore } from '../../server/mailbox/index.js';
import { openDb } from '../../server/mailbox/sqlite.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('../helpers/mailbox-child.ts', import.meta.url));

test('a reader inside a transaction keeps its snapshot while another handle appends', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('first', 'one'));
    const reader = openDb(join(fx.dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true, readonly: true });
    try {
      const count = reader.prepare('SELECT message_count AS n FROM folders WHERE path = ?').pluck();
      reader.exec('BEGIN');
      assert.equal(count.get('INBOX'), 1);
      await mailbox.append('INBOX', simpleMessage('second', 'two'));
      assert.equal(count.get('INBOX'), 1, 'snapshot unchanged inside the transaction');
      reader.exec('COMMIT');
      assert.equal(count.get('INBOX'), 2, 'the commit is visible afterwards');
    } finally {
      reader.close();
    }
    // A second store (another handle in this process) sees the same mail.
    const other = openMailboxStore(fx.dataDir);
    try {
      const second = await other.open(id, key);
      assert.deepEqual(second.listMessages('INBOX').map((m) => m.uid), [1, 2]);
      await second.append('INBOX', simpleMessage('third', 'three'));
      assert.equal(mailbox.status('INBOX').messages, 3);
    } finally {
      await other.closeAll();
    }
  } finally {
    await fx.cleanup();
  }
});

test('two processes appending to one mailbox at once: every message stored once with a unique UID', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    const job = JSON.stringify({ action: 'append', dataDir: fx.dataDir, id, key: key.toString('hex'), count: 25, tag: 'child' });
    const childRun = run(process.execPath, ['--import', 'tsx', child, job], { timeout: 60_000 });
    for (let i = 0; i < 25; i++) await mailbox.append('INBOX', simpleMessage(`parent ${i}`, `body parent ${i}`));
    const { stdout } = await childRun;
    assert.equal(stdout.trim(), 'done');
    const messages = mailbox.listMessages('INBOX');
    assert.deepEqual(messages.map((m) => m.uid), Array.from({ length: 50 }, (_, i) => i + 1));
    assert.equal(mailbox.search('INBOX', { op: 'subject', value: 'child' }).length, 25);
    assert.equal(mailbox.search('INBOX', { op: 'subject', value: 'parent' }).length, 25);
    assert.equal(mailbox.status('INBOX').messages, 50);
    assert.equal(mailbox.quota().messages, 50);
  } finally {
    await fx.cleanup();
  }
});
