// SORT indexes built on demand (server/mailbox/schema.ts ON_DEMAND_SORT_INDEXES): a mailbox file keeps no index
// of the random sort keys (subject, addresses, size) until a SORT by that key, which builds it once and then scans
// it. The order SORT returns (RFC 5256 §3, RFC 5957) is the same with and without the index. Real encrypted files.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { migrate, ON_DEMAND_SORT_INDEXES, SCHEMA_VERSION } from '../../server/mailbox/schema.js';
import { compileSort } from '../../server/mailbox/sort.js';
import { openDb, type Db } from '../../server/mailbox/sqlite.js';
import type { Mailbox, MailboxId, SortKey, SortKeyName } from '../../server/mailbox/types.js';
import { simpleMessage, storeFixture, type StoreFixture } from '../helpers/mailbox.js';

const fixtures: StoreFixture[] = [];
after(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

/** A second connection to the mailbox's file (read-only), to look at its schema beside the store's own. */
function peek(fx: StoreFixture, id: string, key: Buffer): Db {
  return openDb(join(fx.dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true, readonly: true });
}

const onDemandIn = (db: Db): string[] =>
  (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE 'messages_sort_%' ORDER BY name").pluck().all() as string[]).filter((n) =>
    Object.values(ON_DEMAND_SORT_INDEXES).includes(n),
  );

/** Five messages whose subject, sender, recipients and size orders all differ from their UID order. */
async function filled(): Promise<{ fx: StoreFixture; id: MailboxId; key: Buffer; mailbox: Mailbox }> {
  const fx = storeFixture();
  fixtures.push(fx);
  const { id, key, mailbox } = await fx.newMailbox();
  const rows: [string, string, string, string, number][] = [
    ['Melon', 'dora@d.test', 'zed@z.test', 'cat@c.test', 300],
    ['apple', 'bob@b.test', 'amy@a.test', 'yan@y.test', 50],
    ['Re: Zebra', 'eve@e.test', 'kim@k.test', 'bea@b.test', 900],
    ['kiwi', 'al@a.test', 'pat@p.test', 'ola@o.test', 10],
    ['Fwd: banana', 'cy@c.test', 'bo@b.test', 'max@m.test', 600],
  ];
  for (const [subject, from, to, cc, pad] of rows) {
    await mailbox.append('INBOX', message(subject, from, to, cc, 'x'.repeat(pad)));
  }
  return { fx, id, key, mailbox };
}

/** A CRLF message with these header fields. */
function message(subject: string, from: string, to: string, cc: string, body: string): Buffer {
  return Buffer.from(
    [`From: ${from}`, `To: ${to}`, `Cc: ${cc}`, `Subject: ${subject}`, 'Date: Tue, 02 Jan 2024 10:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain', '', body, ''].join('\r\n'),
  );
}

const by = (key: SortKeyName, reverse = false): SortKey[] => [{ key, reverse }];

describe('SORT indexes on demand', () => {
  test('a new file has none of them; the first SORT by a key builds its index, later ones reuse it; ARRIVAL and DATE need none', async () => {
    const { fx, id, key, mailbox } = await filled();
    const look = peek(fx, id, key);
    try {
      assert.deepEqual(onDemandIn(look), []);
      // RFC 5256 §2.1: the base subject, "Re:" and "Fwd:" removed, compared i;ascii-casemap.
      assert.deepEqual(mailbox.sort('INBOX', by('SUBJECT'), { op: 'all' }), [2, 5, 4, 1, 3]);
      assert.deepEqual(onDemandIn(look), ['messages_sort_subject']);
      assert.deepEqual(mailbox.sort('INBOX', by('SUBJECT', true), { op: 'all' }), [3, 1, 4, 5, 2]);
      assert.deepEqual(mailbox.sort('INBOX', by('ARRIVAL'), { op: 'all' }), [1, 2, 3, 4, 5]);
      assert.deepEqual(mailbox.sort('INBOX', by('DATE'), { op: 'all' }), [1, 2, 3, 4, 5]);
      assert.deepEqual(onDemandIn(look), ['messages_sort_subject'], 'ARRIVAL and DATE build nothing');
      // RFC 5256 §3 FROM: the first From address's mailbox, i;ascii-casemap. SIZE: RFC 822 size.
      assert.deepEqual(mailbox.sort('INBOX', by('FROM'), { op: 'all' }), [4, 2, 5, 1, 3]);
      assert.deepEqual(mailbox.sort('INBOX', by('SIZE'), { op: 'all' }), [4, 2, 1, 5, 3]);
      // A later key only orders ties: no index of its own is built for it.
      assert.deepEqual([...mailbox.sort('INBOX', [{ key: 'DATE', reverse: false }, { key: 'CC', reverse: false }], { op: 'all' })].sort(), [1, 2, 3, 4, 5]);
      assert.deepEqual(onDemandIn(look), ['messages_sort_from', 'messages_sort_size', 'messages_sort_subject']);
      // The index built is the one the statement scans (no temporary B-tree for the ORDER BY).
      const folderId = look.prepare("SELECT id FROM folders WHERE path = 'INBOX'").pluck().get() as number;
      const compiled = compileSort(folderId, by('SUBJECT'), { op: 'all' });
      const plan = (look.prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all(...compiled.params) as { detail: string }[]).map((r) => r.detail).join('; ');
      assert.match(plan, /messages_sort_subject/);
      assert.doesNotMatch(plan, /TEMP B-TREE/);
    } finally {
      look.close();
    }
  });

  test('RFC 5256 §3: every key orders the same with its index as without; new mail after the build is in it', async () => {
    const { fx, id, key, mailbox } = await filled();
    const keys: SortKeyName[] = ['SUBJECT', 'FROM', 'TO', 'CC', 'SIZE', 'DISPLAYFROM', 'DISPLAYTO'];
    const without = keys.map((k) => [k, mailbox.sort('INBOX', by(k, true), { op: 'all' })] as const);
    // The first SORT of each key built its index; the same SORTs now scan them.
    const look = peek(fx, id, key);
    try {
      assert.deepEqual(onDemandIn(look), Object.values(ON_DEMAND_SORT_INDEXES).sort());
    } finally {
      look.close();
    }
    for (const [k, uids] of without) assert.deepEqual(mailbox.sort('INBOX', by(k, true), { op: 'all' }), uids, k);
    await mailbox.append('INBOX', message('aardvark', 'aaron@a.test', 'b@b.test', 'c@c.test', 'y'));
    assert.deepEqual(mailbox.sort('INBOX', by('SUBJECT'), { op: 'all' })[0], 6);
    assert.deepEqual(mailbox.sort('INBOX', by('FROM'), { op: 'all' })[0], 6);
    // A restriction (RFC 5256 §3 search criteria) is applied with the index too.
    assert.deepEqual(mailbox.sort('INBOX', by('SUBJECT'), { op: 'uid', uids: [[2, 4]] }), [2, 4, 3]);
  });

  test('schema v11 drops the indexes a file of v10 kept for every key; SORT then builds them again with the same order', async () => {
    const fx = storeFixture();
    fixtures.push(fx);
    const { id, key, mailbox } = await fx.newMailbox();
    for (const s of ['pear', 'Apple', 'fig']) await mailbox.append('INBOX', simpleMessage(s, 'z'));
    await fx.store.close(id);
    const file = join(fx.dataDir, 'mailboxes', `${id}.sqlite`);
    // The file as v10 left it: every sort index built.
    const db = openDb(file, key, { encrypted: true });
    for (const [column, name] of Object.entries(ON_DEMAND_SORT_INDEXES)) db.exec(`CREATE INDEX ${name} ON messages(folder_id, ${column}, uid)`);
    db.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
    assert.equal(onDemandIn(db).length, 7);
    assert.equal(migrate(db), SCHEMA_VERSION);
    assert.deepEqual(onDemandIn(db), []);
    db.close();
    const reopened = await fx.store.open(id, key);
    assert.deepEqual(reopened.sort('INBOX', by('SUBJECT'), { op: 'all' }), [2, 3, 1]);
  });

  test('hostile: a SORT while another connection holds the write lock still answers (without the index) and builds it at a later SORT', async () => {
    const { fx, id, key, mailbox } = await filled();
    const writer = openDb(join(fx.dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true });
    const look = peek(fx, id, key);
    try {
      writer.pragma('busy_timeout = 0');
      writer.exec('BEGIN IMMEDIATE');
      // The store's busy timeout runs out (5 s), the build is skipped, the read goes on from the WAL snapshot.
      assert.deepEqual(mailbox.sort('INBOX', by('SUBJECT'), { op: 'all' }), [2, 5, 4, 1, 3]);
      assert.deepEqual(onDemandIn(look), []);
      writer.exec('ROLLBACK');
      assert.deepEqual(mailbox.sort('INBOX', by('SUBJECT'), { op: 'all' }), [2, 5, 4, 1, 3]);
      assert.deepEqual(onDemandIn(look), ['messages_sort_subject']);
    } finally {
      if (writer.inTransaction) writer.exec('ROLLBACK');
      writer.close();
      look.close();
    }
  });
});
