// Files made by every earlier schema version open, migrate in place, and keep their mail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { storeFixture, newMailboxId, simpleMessage } from '../helpers/mailbox.js';
import { randomBytes } from 'node:crypto';
import { openDb } from '../../server/mailbox/sqlite.js';
import { statementCache } from '../../server/sqlite.js';
import { migrate, MIGRATIONS, SCHEMA_VERSION } from '../../server/mailbox/schema.js';
import { SqliteMailbox } from '../../server/mailbox/mailbox.js';
import { registerSearchFunctions, storedIndexedText } from '../../server/mailbox/search.js';
import { InvalidRequest, type MailboxId } from '../../server/mailbox/index.js';

/** Removes what schema v4 added (the test's way to hold mail in a file of an earlier version). */
function undoV4(db: ReturnType<typeof openDb>): void {
  db.exec(`
    DROP TRIGGER folders_ai_object_id; DROP TRIGGER bodies_ad_thread_keys;
    DROP TRIGGER messages_ai_deleted; DROP TRIGGER messages_ad_deleted; DROP TRIGGER messages_au_deleted;
    DROP INDEX messages_sort_arrival; DROP INDEX messages_sort_size; DROP INDEX bodies_thread;
    DROP INDEX messages_sort_subject; DROP INDEX messages_sort_date; DROP INDEX messages_sort_from; DROP INDEX messages_sort_to;
    DROP INDEX messages_sort_cc; DROP INDEX messages_sort_dfrom; DROP INDEX messages_sort_dto;
    DROP TABLE thread_keys;
    ALTER TABLE folders DROP COLUMN recent_from; ALTER TABLE folders DROP COLUMN deleted_count; ALTER TABLE folders DROP COLUMN object_id;
    ALTER TABLE mailbox_state DROP COLUMN object_key;
    ALTER TABLE messages DROP COLUMN save_date; ALTER TABLE messages DROP COLUMN sort_subject; ALTER TABLE messages DROP COLUMN sort_date;
    ALTER TABLE messages DROP COLUMN sort_from; ALTER TABLE messages DROP COLUMN sort_to; ALTER TABLE messages DROP COLUMN sort_cc;
    ALTER TABLE messages DROP COLUMN sort_dfrom; ALTER TABLE messages DROP COLUMN sort_dto;
  `);
}

test('a file made at each earlier schema version opens with its mail and is migrated to the current one', async () => {
  assert.ok(SCHEMA_VERSION >= 2, 'there is at least one migration after v1 to exercise');
  for (let version = 1; version < SCHEMA_VERSION; version++) {
    const fx = storeFixture();
    try {
      const id = newMailboxId();
      const key = randomBytes(32);
      const file = join(fx.dataDir, 'mailboxes', `${id}.sqlite`);
      // Fixture: run only the first `version` migrations, then append mail with the v1-era verbs. Since v4 the
      // append writes columns older files lack: v4 is applied for the verbs and taken back out afterwards.
      const db = openDb(file, key, { encrypted: true, mustExist: false });
      assert.equal(migrate(db, version), version);
      if (version < 4) MIGRATIONS[3]!(db);
      if (version < 10) MIGRATIONS[9]!(db);
      registerSearchFunctions(db);
      const old = new SqliteMailbox({ id, file, db, lastUsed: 0, prepare: statementCache(db) }, { compression: 'deflate', emit: () => {} });
      const raw = simpleMessage('made long ago', 'migrated body text');
      await old.append('INBOX', raw, { flags: ['\\Seen'] });
      old.createFolder('Old/Child');
      // Before v9 an append indexed its body inside its own commit; today's verbs leave that to a catch-up.
      if (version < 9) {
        const rows = db.prepare('SELECT id, search_head, search_body FROM bodies').all() as { id: number; search_head: Buffer; search_body: Buffer }[];
        for (const row of rows) db.prepare('INSERT INTO search_index (rowid, text) VALUES (?, ?)').run(row.id, storedIndexedText(row.search_head, row.search_body));
      }
      if (version < 4) undoV4(db);
      if (version < 10) db.exec('ALTER TABLE bodies DROP COLUMN header_end');
      db.close();

      const mailbox = await fx.store.open(id, key);
      const check = openDb(file, key, { encrypted: true, readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      check.close();
      assert.ok((await mailbox.readMessage('INBOX', 1)).equals(raw));
      assert.deepEqual(mailbox.search('INBOX', { op: 'body', value: 'MIGRATED body' }), [1]);
      assert.ok(mailbox.listFolders().some((f) => f.path === 'Old/Child'));
      // What the later migrations added works on the old file.
      const once = await mailbox.appendOnce('INBOX', simpleMessage('new', 'n'), { dedupeKey: 'k1' });
      assert.deepEqual(await mailbox.appendOnce('INBOX', simpleMessage('new', 'n'), { dedupeKey: 'k1' }), once);
      assert.equal(once.uid, 2);
      // A body stored before v10 has no recorded header end (FETCH loads its structure); a new one has it.
      const headers = mailbox.listHeaders('INBOX', [[1, 2]]);
      assert.equal(headers[0]!.headerEnd, version < 10 ? null : raw.indexOf('\r\n\r\n') + 4);
      assert.equal(typeof headers[1]!.headerEnd, 'number');
    } finally {
      await fx.cleanup();
    }
  }
  assert.equal(MIGRATIONS.length, SCHEMA_VERSION);
});

test('a file from a newer Sealpost is refused', async () => {
  const fx = storeFixture();
  try {
    const { id, key } = await fx.newMailbox();
    await fx.store.close(id);
    const file = join(fx.dataDir, 'mailboxes', `${id}.sqlite`);
    const db = openDb(file, key, { encrypted: true });
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await assert.rejects(fx.store.open(id as MailboxId, key), InvalidRequest);
  } finally {
    await fx.cleanup();
  }
});
