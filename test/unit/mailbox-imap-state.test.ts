// The store's IMAP extension state (schema v4): \Recent marks, STATUS DELETED/RECENT, SAVEDATE, OBJECTID,
// and SORT / THREAD over stored keys, on real encrypted mailbox files.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { storeFixture, newMailboxId, type StoreFixture } from '../helpers/mailbox.js';
import { openDb } from '../../server/mailbox/sqlite.js';
import { statementCache } from '../../server/sqlite.js';
import { migrate, MIGRATIONS } from '../../server/mailbox/schema.js';
import { SqliteMailbox } from '../../server/mailbox/mailbox.js';
import { registerSearchFunctions } from '../../server/mailbox/search.js';
import type { Mailbox } from '../../server/mailbox/index.js';
import { derivedObjectId, objectIdInverse, objectIdPermutation, objectNumber } from '../../server/mailbox/object-id.js';
import { buildThreads, type ThreadRow } from '../../server/mailbox/thread.js';
import { MAX_REFS, messageKeys } from '../../server/mailbox/sort-keys.js';
import { threadText } from '../../server/imap/commands/thread.js';

function message(headers: Record<string, string>, body = 'body'): Buffer {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return Buffer.from([...lines, 'MIME-Version: 1.0', 'Content-Type: text/plain', '', body, ''].join('\r\n'));
}

describe('mailbox store: \\Recent, STATUS, SAVEDATE, OBJECTID', () => {
  let fx: StoreFixture;
  let mb: Mailbox;
  before(async () => {
    fx = storeFixture();
    mb = (await fx.newMailbox()).mailbox;
  });
  after(() => fx.cleanup());

  test('RFC 3501 §2.3.2: claimRecent hands each new UID to one caller once; STATUS RECENT counts the unclaimed', async () => {
    mb.createFolder('Recent');
    assert.deepEqual(mb.claimRecent('Recent'), { from: 1, to: 1 });
    await mb.append('Recent', message({ Subject: 'a' }));
    await mb.append('Recent', message({ Subject: 'b' }));
    assert.equal(mb.status('Recent').recent, 2);
    assert.equal(mb.recentFrom('Recent'), 1);
    assert.deepEqual(mb.claimRecent('Recent'), { from: 1, to: 3 });
    assert.equal(mb.status('Recent').recent, 0);
    assert.deepEqual(mb.claimRecent('Recent'), { from: 3, to: 3 }, 'a second claim gets nothing');
    await mb.append('Recent', message({ Subject: 'c' }));
    assert.equal(mb.status('Recent').recent, 1);
    assert.deepEqual(mb.claimRecent('Recent'), { from: 3, to: 4 });
    assert.equal(mb.recentFrom('Recent'), 4);
    // A copy is a new message in the target: recent there.
    mb.copy('Recent', [[1, 1]], 'INBOX');
    assert.ok(mb.status('INBOX').recent >= 1);
  });

  test('STATUS DELETED follows \\Deleted through store, copy and expunge', async () => {
    mb.createFolder('Del');
    for (let i = 0; i < 3; i++) await mb.append('Del', message({ Subject: `d${i}` }), i === 0 ? { flags: ['\\Deleted'] } : {});
    assert.equal(mb.status('Del').deleted, 1);
    mb.store('Del', [[2, 3]], 'add', ['\\Deleted']);
    assert.equal(mb.status('Del').deleted, 3);
    mb.store('Del', [[3, 3]], 'remove', ['\\Deleted']);
    assert.equal(mb.status('Del').deleted, 2);
    mb.copy('Del', [[1, 3]], 'Recent');
    assert.equal(mb.status('Recent').deleted, 2);
    mb.expunge('Del');
    assert.equal(mb.status('Del').deleted, 0);
    assert.equal(mb.status('Del').messages, 1);
  });

  test('RFC 8514 SAVEDATE: set at append, new for a copy; RFC 8474: EMAILID kept by COPY/MOVE, THREADID per thread', async () => {
    mb.createFolder('Obj');
    const before = Date.now();
    await mb.append('Obj', message({ Subject: 'root', 'Message-ID': '<r@x>' }), { internalDate: new Date('2020-01-01T00:00:00Z') });
    await mb.append('Obj', message({ Subject: 'Re: root', 'Message-ID': '<c@x>', References: '<r@x>' }));
    await mb.append('Obj', message({ Subject: 'other', 'Message-ID': '<o@x>' }));
    const [a, b, c] = mb.listMessages('Obj', undefined, { thread: true });
    assert.ok(a!.saveDate && a!.saveDate.getTime() >= before - 1000, 'save date is the append time, not the internal date');
    assert.match(a!.emailId, /^M[0-9a-f]{12}$/);
    assert.match(a!.threadObjectId, /^T[0-9a-f]{12}$/);
    assert.equal(new Set([a!.emailId, b!.emailId, c!.emailId]).size, 3);
    assert.equal(a!.threadObjectId, b!.threadObjectId, 'a reply shares the thread id');
    assert.notEqual(a!.threadObjectId, c!.threadObjectId);
    mb.createFolder('Obj2');
    await new Promise((r) => setTimeout(r, 5));
    mb.copy('Obj', [[1, 1]], 'Obj2');
    mb.move('Obj', [[2, 2]], 'Obj2');
    const [copied, moved] = mb.listMessages('Obj2');
    assert.equal(copied!.emailId, a!.emailId);
    assert.equal(moved!.emailId, b!.emailId);
    assert.ok(copied!.saveDate!.getTime() > a!.saveDate!.getTime(), 'a copy is saved anew');
    assert.ok(moved!.saveDate!.getTime() > b!.saveDate!.getTime(), 'so is a moved message');
    assert.equal(mb.fetch('Obj2', [[1, 1]])[0]!.emailId, a!.emailId, 'fetch carries the ids too');
  });

  test('RFC 8474 MAILBOXID: stable across RENAME, new for a re-created name', () => {
    const created = mb.createFolder('Named');
    assert.match(created.mailboxId, /^F[0-9a-f]{32}$/);
    mb.renameFolder('Named', 'Renamed');
    const renamed = mb.listFolders().find((f) => f.path === 'Renamed')!;
    assert.equal(renamed.mailboxId, created.mailboxId);
    assert.equal(mb.status('Renamed').mailboxId, created.mailboxId);
    mb.deleteFolder('Renamed');
    assert.notEqual(mb.createFolder('Renamed').mailboxId, created.mailboxId);
    const ids = mb.listFolders().map((f) => f.mailboxId);
    assert.equal(new Set(ids).size, ids.length, 'every folder has its own');
  });
});

describe('mailbox store: SORT and THREAD over stored keys', () => {
  let fx: StoreFixture;
  let mb: Mailbox;
  before(async () => {
    fx = storeFixture();
    mb = (await fx.newMailbox()).mailbox;
    mb.createFolder('S');
    const add = (h: Record<string, string>, date?: string): Promise<unknown> =>
      mb.append('S', message(h), date ? { internalDate: new Date(date) } : {});
    await add({ From: 'Zed <zed@b.example>', To: 'a@x', Subject: 'Re: banana', Date: 'Mon, 01 Jan 2024 10:00:00 +0000', 'Message-ID': '<1@x>' }, '2024-02-03T00:00:00Z');
    await add({ From: '"Amy" <YAK@a.example>', To: 'c@x', Cc: 'q@x', Subject: 'apple', Date: 'Mon, 01 Jan 2024 09:00:00 -0200', 'Message-ID': '<2@x>' }, '2024-02-01T00:00:00Z');
    await add({ From: 'bob@c.example', To: 'b@x', Subject: '=?utf-8?q?Fwd=3A_Apple?= (fwd)', 'Message-ID': '<3@x>', References: '<2@x>' }, '2024-01-15T00:00:00Z');
    await add({ From: 'mid@d.example', Subject: '[list] Banana', Date: 'garbage', 'Message-ID': '<4@x>', 'In-Reply-To': '<1@x>' }, '2024-02-02T00:00:00Z');
  });
  after(() => fx.cleanup());

  test('RFC 5256 §3: SORT by each key, REVERSE per key, ties in UID order', () => {
    const all = { op: 'all' } as const;
    assert.deepEqual(mb.sort('S', [{ key: 'ARRIVAL', reverse: false }], all), [3, 2, 4, 1]);
    // DATE: 1 = 10:00Z, 2 = 11:00Z (09:00 -0200), 3 = no Date: internal 2024-01-15, 4 = unparseable: internal 2024-02-02.
    assert.deepEqual(mb.sort('S', [{ key: 'DATE', reverse: false }], all), [1, 2, 3, 4]);
    assert.deepEqual(mb.sort('S', [{ key: 'DATE', reverse: true }], all), [4, 3, 2, 1]);
    // FROM is the addr-mailbox (local part), case-folded: BOB, MID, YAK, ZED.
    assert.deepEqual(mb.sort('S', [{ key: 'FROM', reverse: false }], all), [3, 4, 2, 1]);
    // DISPLAYFROM (RFC 5957): display name, else the address: AMY, BOB@C.EXAMPLE, MID@D.EXAMPLE, ZED.
    assert.deepEqual(mb.sort('S', [{ key: 'DISPLAYFROM', reverse: false }], all), [2, 3, 4, 1]);
    // SUBJECT (base subjects APPLE, APPLE, BANANA, BANANA): ties in UID order, then reversed per key only.
    assert.deepEqual(mb.sort('S', [{ key: 'SUBJECT', reverse: false }], all), [2, 3, 1, 4]);
    assert.deepEqual(mb.sort('S', [{ key: 'SUBJECT', reverse: true }], all), [1, 4, 2, 3]);
    assert.deepEqual(mb.sort('S', [{ key: 'SUBJECT', reverse: false }, { key: 'ARRIVAL', reverse: true }], all), [2, 3, 1, 4]);
    // CC: messages without Cc sort first (empty string).
    assert.deepEqual(mb.sort('S', [{ key: 'CC', reverse: false }], all), [1, 3, 4, 2]);
    assert.deepEqual(mb.sort('S', [{ key: 'TO', reverse: false }], all), [4, 1, 3, 2]);
    // Restricted by a search.
    assert.deepEqual(mb.sort('S', [{ key: 'ARRIVAL', reverse: true }], { op: 'uid', uids: [[2, 4]] }), [4, 2, 3]);
  });

  test('RFC 5256 §4: THREAD ORDEREDSUBJECT and REFERENCES', () => {
    const all = { op: 'all' } as const;
    assert.deepEqual(mb.thread('S', 'ORDEREDSUBJECT', all), [
      { uid: 1, children: [{ uid: 4, children: [] }] },
      { uid: 2, children: [{ uid: 3, children: [] }] },
    ]);
    assert.deepEqual(mb.thread('S', 'REFERENCES', all), [
      { uid: 1, children: [{ uid: 4, children: [] }] },
      { uid: 2, children: [{ uid: 3, children: [] }] },
    ]);
    // Without message 1, 4's parent is a dummy; the dummy is pruned (one child) and 4 stands alone.
    assert.deepEqual(mb.thread('S', 'REFERENCES', { op: 'uid', uids: [[2, 4]] }), [
      { uid: 2, children: [{ uid: 3, children: [] }] },
      { uid: 4, children: [] },
    ]);
  });
});

/** Removes what schema v4 added: a file of schema v3 holding mail stored by this code. */
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

test('schema v4 migration computes SORT/THREAD keys of stored mail from its bytes; \\Recent starts empty; SAVEDATE is NIL', async () => {
  const fx = storeFixture();
  try {
    const id = newMailboxId();
    const key = randomBytes(32);
    const file = join(fx.dataDir, 'mailboxes', `${id}.sqlite`);
    const db = openDb(file, key, { encrypted: true, mustExist: false });
    migrate(db, 3);
    MIGRATIONS[3]!(db);
    MIGRATIONS[9]!(db); // today's append records bodies.header_end (v10): added for the verbs, taken out below
    registerSearchFunctions(db);
    const old = new SqliteMailbox({ id, file, db, lastUsed: 0, prepare: statementCache(db) }, { compression: 'deflate', emit: () => {} });
    await old.append('INBOX', message({ From: 'b@x', Subject: 'Re: [x] zebra', 'Message-ID': '<p@x>', Date: 'Tue, 02 Jan 2024 10:00:00 +0000' }), { flags: ['\\Deleted'] });
    await old.append('INBOX', message({ From: 'a@x', Subject: 'Antelope', 'Message-ID': '<q@x>', References: '<p@x>', Date: 'Mon, 01 Jan 2024 10:00:00 +0000' }));
    undoV4(db);
    db.exec('ALTER TABLE bodies DROP COLUMN header_end');
    db.pragma('user_version = 3');
    db.close();

    const mailbox = await fx.store.open(id, key);
    assert.deepEqual(mailbox.sort('INBOX', [{ key: 'SUBJECT', reverse: false }], { op: 'all' }), [2, 1]);
    assert.deepEqual(mailbox.sort('INBOX', [{ key: 'FROM', reverse: false }], { op: 'all' }), [2, 1]);
    assert.deepEqual(mailbox.sort('INBOX', [{ key: 'DATE', reverse: false }], { op: 'all' }), [2, 1]);
    assert.deepEqual(mailbox.thread('INBOX', 'REFERENCES', { op: 'all' }), [{ uid: 1, children: [{ uid: 2, children: [] }] }]);
    const status = mailbox.status('INBOX');
    assert.equal(status.recent, 0, 'mail stored before the upgrade is not \\Recent');
    assert.equal(status.deleted, 1);
    assert.match(status.mailboxId, /^F[0-9a-f]{32}$/);
    const [first] = mailbox.listMessages('INBOX');
    assert.equal(first!.saveDate, null);
    assert.match(first!.emailId, /^M[0-9a-f]{12}$/);
  } finally {
    await fx.cleanup();
  }
});

test('RFC 8474 EMAILID/THREADID: the id permutation is a bijection with an inverse (ids never collide, map back)', () => {
  const keyHex = randomBytes(16).toString('hex');
  const permute = objectIdPermutation(keyHex);
  const inverse = objectIdInverse(keyHex);
  const seen = new Set<number>();
  for (let n = 0; n < 5000; n++) {
    const p = permute(n);
    assert.ok(p >= 0 && p < 2 ** 48);
    assert.equal(inverse(p), n);
    seen.add(p);
  }
  assert.equal(seen.size, 5000);
  for (const n of [2 ** 48 - 1, 2 ** 40 + 17, 123456789]) assert.equal(inverse(permute(n)), n);
  const id = derivedObjectId('M', permute(42));
  assert.equal(objectNumber(keyHex, 'M', id), 42);
  assert.equal(objectNumber(keyHex, 'T', id), null, 'an EMAILID is not a THREADID');
  assert.equal(objectNumber(keyHex, 'M', 'M12'), null);
});

test('RFC 5256 §4: a 50,000-message reply chain threads and renders without recursion limits', () => {
  const rows: ThreadRow[] = [];
  const n = 50_000;
  for (let i = 1; i <= n; i++) {
    // Each reply names only its parent (In-Reply-To style), the deepest shape there is.
    rows.push([i, 'CHAIN', new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(), `<c${i}@x>`, i > 1 ? `<c${i - 1}@x>` : null, i > 1 ? 1 : 0]);
  }
  const threads = buildThreads('REFERENCES', rows);
  assert.equal(threads.length, 1);
  const text = threadText(threads, (u) => u);
  assert.equal(text, `(${Array.from({ length: n }, (_, i) => i + 1).join(' ')})`);
});

test('RFC 5256 §4 step 1: with more References than kept (MAX_REFS), the message still hangs under its parent', () => {
  const ids = Array.from({ length: MAX_REFS + 50 }, (_, i) => `<r${i}@x>`);
  const keys = messageKeys(Buffer.from(`Message-ID: <leaf@x>\r\nReferences: ${ids.join('\r\n ')}\r\n\r\n`));
  const kept = keys.refs.split(' ');
  assert.equal(kept.length, MAX_REFS);
  assert.equal(kept[kept.length - 1], ids[ids.length - 1], 'the nearest ancestors are the ones kept');
  const rows: ThreadRow[] = [
    [1, 'X', '2024-01-01T00:00:00.000Z', ids[ids.length - 1]!, ids.slice(0, -1).slice(-MAX_REFS).join(' '), 0],
    [2, 'X', '2024-01-02T00:00:00.000Z', '<leaf@x>', keys.refs, 1],
  ];
  assert.equal(threadText(buildThreads('REFERENCES', rows), (u) => u), '(1 2)');
});

test('RFC 5256 §3: a criterion repeated many times orders once; the store accepts any number of keys', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    await mailbox.append('INBOX', message({ Subject: 'b' }));
    await mailbox.append('INBOX', message({ Subject: 'a' }));
    const keys = Array.from({ length: 500 }, (_, i) => ({ key: i % 2 ? 'SUBJECT' : 'SIZE', reverse: i % 3 === 0 }) as const);
    assert.deepEqual(mailbox.sort('INBOX', [{ key: 'SUBJECT', reverse: false }, ...keys], { op: 'all' }), [2, 1]);
  } finally {
    await fx.cleanup();
  }
});
