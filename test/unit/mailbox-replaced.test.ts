// Defense in depth: when another process swaps a mailbox file underneath an open handle (a restore or re-key
// that did not go through this server), the store notices before the next write (and within a few ms on
// reads), drops the handle and refuses with MailboxLocked — it never writes to the orphaned inode, where
// mail would be lost — and a new open() sees the new file. Real encrypted files, real SQLite connections.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3-multiple-ciphers';
import { MailboxLocked } from '../../server/mailbox/errors.js';
import { simpleMessage, storeFixture, type StoreFixture } from '../helpers/mailbox.js';

const fixtures: StoreFixture[] = [];
after(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

function keyed(file: string, key: Buffer): Database.Database {
  const db = new Database(file, { fileMustExist: true });
  db.pragma("cipher='chacha20'");
  db.pragma(`key="x'${key.toString('hex')}'"`);
  return db;
}

/** What another process's restore does: a verified copy renamed over the live name, its -wal/-shm removed first. */
function replaceUnderneath(file: string, key: Buffer): void {
  const copy = `${file}.other-process`;
  const src = keyed(file, key);
  try {
    src.prepare('VACUUM INTO ?').run(copy);
  } finally {
    src.close();
  }
  for (const s of ['-wal', '-shm']) fs.rmSync(`${file}${s}`, { force: true });
  fs.renameSync(copy, file);
}

function countMessages(file: string, key: Buffer): number {
  const db = keyed(file, key);
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    return (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('mailbox file replaced by another process', () => {
  it('the next write is refused with MailboxLocked, nothing goes to the old inode, and a re-open sees the new file', async () => {
    const fx = storeFixture();
    fixtures.push(fx);
    const { id, key, mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('one', 'first body'));
    await mailbox.append('INBOX', simpleMessage('two', 'second body'));
    const file = path.join(fx.dataDir, 'mailboxes', `${id}.sqlite`);

    replaceUnderneath(file, key);
    await assert.rejects(mailbox.append('INBOX', simpleMessage('three', 'would be lost')), MailboxLocked);
    assert.equal(fx.store.isOpen(id), false, 'the stale handle was dropped');
    assert.equal(countMessages(file, key), 2, 'the file under the live name is whole and unchanged');

    const reopened = await fx.store.open(id, key);
    await reopened.append('INBOX', simpleMessage('three', 'kept this time'));
    assert.equal(reopened.listMessages('INBOX').length, 3);
  });

  it('reads notice within a few milliseconds', async () => {
    const fx = storeFixture();
    fixtures.push(fx);
    const { id, key, mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('one', 'first body'));
    replaceUnderneath(path.join(fx.dataDir, 'mailboxes', `${id}.sqlite`), key);
    await sleep(20);
    assert.throws(() => mailbox.listMessages('INBOX'), MailboxLocked);
  });

  it("dropping the stale handle leaves the new file's own -wal and its committed writes alone", async () => {
    const fx = storeFixture();
    fixtures.push(fx);
    const { id, key, mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', simpleMessage('one', 'first body'));
    const file = path.join(fx.dataDir, 'mailboxes', `${id}.sqlite`);
    replaceUnderneath(file, key);
    // The other process now has the new file open in WAL mode, with a committed but not checkpointed write.
    const other = keyed(file, key);
    try {
      other.pragma('journal_mode = WAL');
      other.pragma('wal_autocheckpoint = 0');
      other.prepare('UPDATE mailbox_state SET quota_bytes = 12345').run();
      const walBefore = fs.statSync(`${file}-wal`);
      await assert.rejects(mailbox.append('INBOX', simpleMessage('two', 'would be lost')), MailboxLocked);
      const walAfter = fs.statSync(`${file}-wal`);
      assert.equal(walAfter.ino, walBefore.ino, "the new file's WAL is still there");
      assert.ok(walAfter.size > 0);
    } finally {
      other.close();
    }
    const db = keyed(file, key);
    try {
      assert.equal((db.prepare('SELECT quota_bytes AS q FROM mailbox_state').get() as { q: number }).q, 12345, "the other process's committed write survived");
    } finally {
      db.close();
    }
  });
});
