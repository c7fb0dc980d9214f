// The store's subscription list (schema v5): names of their own that outlive their folders (RFC 3501 §6.3.6,
// RFC 9051 §6.3.7), the v4 → v5 migration of the old per-folder marks, and the defaults the old IMAP engine, the
// importer and the restore rely on (created folders subscribed, subscriptions following a renamed folder), on
// real encrypted mailbox files.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { storeFixture, newMailboxId, simpleMessage, type StoreFixture } from '../helpers/mailbox.js';
import { openDb } from '../../server/mailbox/sqlite.js';
import { migrate, SCHEMA_VERSION } from '../../server/mailbox/schema.js';
import { readUidState, type Mailbox } from '../../server/mailbox/index.js';
import { NoSuchFolder } from '../../server/mailbox/errors.js';

const subscribedFolders = (mb: Mailbox): string[] => mb.listFolders().filter((f) => f.subscribed).map((f) => f.path);

describe('mailbox store: subscription list', () => {
  let fx: StoreFixture;
  before(() => {
    fx = storeFixture();
  });
  after(() => fx.cleanup());

  test('a new file subscribes its default folders; createFolder subscribes by default, { subscribe: false } adds nothing', async () => {
    const { mailbox: mb } = await fx.newMailbox();
    assert.deepEqual(mb.listSubscriptions(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    mb.createFolder('Old/Engine');
    assert.deepEqual(mb.listSubscriptions().filter((p) => p.startsWith('Old')), ['Old', 'Old/Engine'], 'the default (old engine, importer) subscribes, parents too');
    const info = mb.createFolder('Imap/Create', null, { subscribe: false });
    assert.equal(info.subscribed, false);
    assert.deepEqual(mb.listSubscriptions().filter((p) => p.startsWith('Imap')), []);
    assert.ok(mb.listFolders().filter((f) => f.path.startsWith('Imap')).every((f) => !f.subscribed));
  });

  test('RFC 3501 §6.3.6: deleteFolder keeps the name in the list; a re-created folder of that name is subscribed', async () => {
    const { mailbox: mb } = await fx.newMailbox();
    mb.createFolder('Gone', null, { subscribe: false });
    mb.subscribe('Gone', true);
    mb.deleteFolder('Gone');
    assert.ok(mb.listSubscriptions().includes('Gone'));
    assert.ok(!mb.listFolders().some((f) => f.path === 'Gone'));
    // Re-adding a listed name is a no-op; a name neither listed nor a folder is NoSuchFolder both ways.
    mb.subscribe('Gone', true);
    assert.throws(() => mb.subscribe('Never', true), NoSuchFolder);
    assert.throws(() => mb.subscribe('Never', false), NoSuchFolder, 'as before v5 for a name that is nowhere');
    const again = mb.createFolder('Gone', null, { subscribe: false });
    assert.equal(again.subscribed, true, 'the name is in the list');
    mb.deleteFolder('Gone');
    mb.subscribe('Gone', false);
    assert.ok(!mb.listSubscriptions().includes('Gone'));
    // INBOX is spelled canonically in the list.
    mb.subscribe('inbox', false);
    assert.ok(!mb.listSubscriptions().includes('INBOX'));
    mb.subscribe('Inbox', true);
    assert.ok(mb.listSubscriptions().includes('INBOX'));
  });

  test('renameFolder: by default subscriptions follow the folders (old engine); keepSubscriptions leaves the list alone (RFC 9051 §6.3.6)', async () => {
    const { mailbox: mb } = await fx.newMailbox();
    mb.createFolder('Tree/Kid');
    mb.createFolder('Tree/Quiet', null, { subscribe: false });
    mb.renameFolder('Tree', 'Moved/Tree');
    const list = mb.listSubscriptions();
    assert.deepEqual(list.filter((p) => p.startsWith('Tree')), []);
    assert.deepEqual(list.filter((p) => p.startsWith('Moved')), ['Moved', 'Moved/Tree', 'Moved/Tree/Kid']);
    assert.deepEqual(subscribedFolders(mb).filter((p) => p.startsWith('Moved')), ['Moved', 'Moved/Tree', 'Moved/Tree/Kid']);

    mb.renameFolder('Moved/Tree', 'Kept/Tree', { keepSubscriptions: true });
    const kept = mb.listSubscriptions();
    assert.deepEqual(kept.filter((p) => p.startsWith('Moved')), ['Moved', 'Moved/Tree', 'Moved/Tree/Kid'], 'old names stay listed');
    assert.deepEqual(kept.filter((p) => p.startsWith('Kept')), [], 'new names and created superiors are not added');
    assert.deepEqual(subscribedFolders(mb).filter((p) => p.startsWith('Kept')), []);
    // Renaming back onto listed names: those folders are subscribed again, since their names are in the list.
    mb.renameFolder('Kept/Tree', 'Moved/Tree', { keepSubscriptions: true });
    assert.deepEqual(subscribedFolders(mb).filter((p) => p.startsWith('Moved')), ['Moved', 'Moved/Tree', 'Moved/Tree/Kid']);
  });

  test('RFC 3501 §6.3.5: renaming INBOX to a name below INBOX moves its messages there and leaves INBOX and its inferiors', async () => {
    const { mailbox: mb } = await fx.newMailbox();
    await mb.append('INBOX', simpleMessage('one', 'a'));
    await mb.append('INBOX', simpleMessage('two', 'b'));
    mb.createFolder('INBOX/Kept');
    const inboxId = mb.status('INBOX').mailboxId;
    mb.renameFolder('INBOX', 'INBOX/old/2026', { keepSubscriptions: true });
    assert.equal(mb.status('INBOX').messages, 0);
    assert.equal(mb.status('INBOX').mailboxId, inboxId);
    assert.equal(mb.status('INBOX/old/2026').messages, 2);
    assert.deepEqual(mb.listFolders().map((f) => f.path).filter((p) => p.startsWith('INBOX')), ['INBOX', 'INBOX/Kept', 'INBOX/old', 'INBOX/old/2026']);
    assert.ok(!mb.status('INBOX/old/2026').subscribed && !mb.status('INBOX/old').subscribed);
    // The default (old engine) subscribes the new folder, as before.
    await mb.append('INBOX', simpleMessage('three', 'c'));
    mb.renameFolder('INBOX', 'INBOX/older');
    assert.ok(mb.status('INBOX/older').subscribed);
    assert.throws(() => mb.renameFolder('INBOX', 'inbox'));
    assert.throws(() => mb.renameFolder('INBOX/Kept', 'INBOX/Kept/Deeper'), 'other folders still cannot move below themselves');
  });

  test('v4 → v5 migration: the per-folder marks become the list, nothing else changes; readUidState agrees', async () => {
    const id = newMailboxId();
    const key = randomBytes(32);
    const file = join(fx.dataDir, 'mailboxes', `${id}.sqlite`);
    const db = openDb(file, key, { encrypted: true, mustExist: false });
    assert.equal(migrate(db, 4), 4);
    db.prepare("INSERT INTO folders (path, uid_validity, highest_modseq, subscribed) VALUES ('Lists', 99, 1, 0), ('Lists/Rust', 100, 1, 1)").run();
    db.prepare("UPDATE folders SET subscribed = 0 WHERE path = 'Junk'").run();
    const before = db.prepare('SELECT path, uid_validity, uid_next, object_id FROM folders ORDER BY path').all();
    db.close();

    const mb = await fx.store.open(id, key);
    assert.deepEqual(mb.listSubscriptions(), ['Archive', 'Drafts', 'INBOX', 'Lists/Rust', 'Sent', 'Trash']);
    assert.deepEqual(subscribedFolders(mb), ['Archive', 'Drafts', 'INBOX', 'Lists/Rust', 'Sent', 'Trash']);
    mb.subscribe('Lists', true);
    mb.subscribe('Sent', false);
    mb.createFolder('Fresh', null, { subscribe: false });
    mb.renameFolder('Lists', 'Groups', { keepSubscriptions: true });
    await fx.store.close(id);

    const check = openDb(file, key, { encrypted: true });
    try {
      assert.equal(Number(check.pragma('user_version', { simple: true })), SCHEMA_VERSION);
      const after = check.prepare("SELECT path, uid_validity, uid_next, object_id FROM folders WHERE path NOT IN ('Fresh', 'Groups', 'Groups/Rust') ORDER BY path").all();
      assert.deepEqual(after, (before as { path: string }[]).filter((f) => !f.path.startsWith('Lists')));
    } finally {
      check.close();
    }
    // The folders table's own mark (what readUidState and restores read) agrees with the list.
    const state = readUidState(file, key);
    assert.deepEqual(state.folders.filter((f) => f.subscribed).map((f) => f.path), ['Archive', 'Drafts', 'INBOX', 'Trash']);
    const reopened = await fx.store.open(id, key);
    assert.deepEqual(reopened.listSubscriptions(), ['Archive', 'Drafts', 'INBOX', 'Lists', 'Lists/Rust', 'Trash']);
  });
});
