// Schema v6: mail stored before group display names were indexed gets its FROM/TO/CC/BCC search text rebuilt
// from the stored header at the first open, so SEARCH TO <group name> finds it (RFC 3501 §6.4.4), on a real
// encrypted mailbox file.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compressSync, decompress } from '../../server/mailbox/codec.js';
import { openDb } from '../../server/mailbox/sqlite.js';
import { storeFixture, type StoreFixture } from '../helpers/mailbox.js';

const MESSAGE = Buffer.from(
  'From: Carol <carol@example.com>\r\nTo: Book club: Ann <ann@example.org>, Bob <bob@example.org>;\r\nSubject: Next meeting\r\n\r\nThursday.\r\n',
);

describe('mailbox schema v6: address search text rebuilt', () => {
  let fx: StoreFixture;
  before(() => {
    fx = storeFixture();
  });
  after(() => fx.cleanup());

  test('RFC 3501 §6.4.4: SEARCH TO a group name finds a message indexed before group names were kept, after the migration', async () => {
    const { id, key, mailbox } = await fx.newMailbox();
    const { uid } = await mailbox.append('INBOX', MESSAGE);
    assert.deepEqual(mailbox.search('INBOX', { op: 'to', value: 'Book club' }), [uid], 'indexed today: the group name is searchable');
    await fx.store.close(id);

    // Make the file what an older Sealpost wrote: address text without the group name, schema v5.
    const db = openDb(join(fx.dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true });
    const row = db.prepare('SELECT id, search_head FROM bodies').get() as { id: number; search_head: Buffer };
    const head = JSON.parse(decompress(row.search_head).toString('utf8')) as Record<string, string>;
    head.to = 'ann ann@example.org bob bob@example.org';
    db.prepare('UPDATE bodies SET search_head = ? WHERE id = ?').run(compressSync(Buffer.from(JSON.stringify(head)), 'none'), row.id);
    db.pragma('user_version = 5');
    db.close();

    const reopened = await fx.store.open(id, key);
    assert.deepEqual(reopened.search('INBOX', { op: 'to', value: 'Book club' }), [uid], 'the v6 migration put the group name back');
    assert.deepEqual(reopened.search('INBOX', { op: 'to', value: 'bob@example.org' }), [uid]);
    assert.deepEqual(reopened.search('INBOX', { op: 'from', value: 'Book club' }), []);
  });
});
