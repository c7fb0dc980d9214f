// A mailbox file written with deflate keeps working after the store's default becomes LZ4: old messages read
// byte for byte, new ones are stored LZ4 (tag 3), search finds both, and an attachment stored under deflate is
// reused (not stored again) by a message appended under LZ4. Real encrypted files, inspected read-only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { storeFixture } from '../helpers/mailbox.js';
import { generateCorpus, type CorpusMessage } from '../helpers/corpus.js';
import { findPlaintext } from '../helpers/privacy.js';
import { openDb } from '../../server/mailbox/sqlite.js';
import { openMailboxStore, type MailboxId } from '../../server/mailbox/index.js';

interface StoredTags {
  /** First byte of every inline body part, by UID. */
  readonly inline: Map<number, number[]>;
  /** First byte of the structure, search head and search body blobs, by UID. */
  readonly blobs: Map<number, number[]>;
  readonly attachments: { sha256: string; refcount: number; chunkTags: number[] }[];
}

function storedTags(dataDir: string, id: MailboxId, key: Buffer): StoredTags {
  const db = openDb(join(dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true, readonly: true });
  try {
    const inline = new Map<number, number[]>();
    const parts = db
      .prepare(
        `SELECT m.uid, p.data FROM messages m JOIN folders f ON f.id = m.folder_id JOIN body_parts p ON p.body_id = m.body_id
         WHERE f.path = 'INBOX' AND p.attachment_id IS NULL ORDER BY m.uid, p.raw_start`,
      )
      .all() as { uid: number; data: Buffer }[];
    for (const r of parts) inline.set(r.uid, [...(inline.get(r.uid) ?? []), r.data[0]!]);
    const blobs = new Map<number, number[]>();
    const bodies = db
      .prepare(
        `SELECT m.uid, b.structure, b.search_head, b.search_body FROM messages m JOIN folders f ON f.id = m.folder_id
         JOIN bodies b ON b.id = m.body_id WHERE f.path = 'INBOX' ORDER BY m.uid`,
      )
      .all() as { uid: number; structure: Buffer; search_head: Buffer; search_body: Buffer }[];
    for (const r of bodies) blobs.set(r.uid, [r.structure[0]!, r.search_head[0]!, r.search_body[0]!]);
    const attachments = (db.prepare('SELECT id, sha256, refcount FROM attachments ORDER BY id').all() as { id: number; sha256: Buffer; refcount: number }[]).map(
      (a) => ({
        sha256: a.sha256.toString('hex'),
        refcount: a.refcount,
        chunkTags: (db.prepare('SELECT data FROM attachment_chunks WHERE attachment_id = ? ORDER BY seq').all(a.id) as { data: Buffer }[]).map((c) => c.data[0]!),
      }),
    );
    return { inline, blobs, attachments };
  } finally {
    db.close();
  }
}

const secretsOf = (messages: readonly CorpusMessage[]): string[] =>
  [...new Set(messages.flatMap((m) => [m.token, m.from, m.to, m.subject]).filter((s) => s.length >= 6))];

test('a deflate-written mailbox reopened with the LZ4 default: old mail reads identical, new mail is LZ4, attachments dedupe across codecs', async () => {
  const corpus = generateCorpus(96, 31);
  const shared = corpus.filter((m) => m.kind === 'shared-attachment');
  const name = shared[0]!.attachments[0]!;
  const sameAttachment = shared.filter((m) => m.attachments[0] === name);
  assert.ok(sameAttachment.length >= 2, 'the corpus has two messages with the same attachment');
  const plain = corpus.filter((m) => m.attachments.length === 0); // so the shared attachment is the only one stored
  const before = [...plain.slice(0, 12), sameAttachment[0]!];
  const after = [...plain.slice(12, 24), sameAttachment[1]!];

  const fx = storeFixture({ compression: 'deflate' });
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    for (const m of before) await mailbox.append('INBOX', m.raw);
    await fx.store.closeAll();

    const old = storedTags(fx.dataDir, id, key);
    assert.ok([...old.inline.values()].flat().some((t) => t === 1), 'deflate wrote tag 1 parts');
    assert.ok([...old.inline.values()].flat().every((t) => t === 0 || t === 1), 'and only raw or deflate parts');
    assert.ok([...old.blobs.values()].every(([structure]) => structure === 0 || structure === 1), 'deflate structures');
    assert.equal(old.attachments.length, 1);
    assert.ok(old.attachments[0]!.chunkTags.includes(1), 'the attachment chunks are deflate');

    const lz4Store = openMailboxStore(fx.dataDir); // the product default
    try {
      const reopened = await lz4Store.open(id, key);
      for (const [i, m] of before.entries()) assert.ok((await reopened.readMessage('INBOX', i + 1)).equals(m.raw), `old message ${i + 1} reads byte for byte`);
      for (const m of after) await reopened.append('INBOX', m.raw);
      const uidOf = (m: CorpusMessage): number => before.length + after.indexOf(m) + 1;
      for (const m of after) assert.ok((await reopened.readMessage('INBOX', uidOf(m))).equals(m.raw), `new message ${uidOf(m)} reads byte for byte`);
      // A partial read inside an LZ4 part, and one that spans the inline text and the shared attachment.
      const big = after[after.length - 1]!;
      assert.ok((await reopened.readRange('INBOX', uidOf(big), 100, 5000)).equals(big.raw.subarray(100, 5000)));
      assert.ok((await reopened.readRange('INBOX', uidOf(big), 200, big.raw.length - 10)).equals(big.raw.subarray(200, big.raw.length - 10)));

      // Search reads deflate-era and LZ4-era search text alike (RFC 3501 §6.4.4 BODY, FROM).
      for (const [i, m] of [...before, ...after].entries()) {
        assert.deepEqual(reopened.search('INBOX', { op: 'body', value: m.token }), [i + 1], `BODY ${m.token}`);
        assert.ok(reopened.search('INBOX', { op: 'from', value: m.from }).includes(i + 1), `FROM ${m.from}`);
      }
      const structures = reopened.fetch('INBOX', [[1, before.length + after.length]]);
      assert.equal(structures.length, before.length + after.length, 'every structure decodes');

      await lz4Store.closeAll();
      const now = storedTags(fx.dataDir, id, key);
      for (const m of before) assert.deepEqual(now.inline.get(before.indexOf(m) + 1), old.inline.get(before.indexOf(m) + 1), 'old parts untouched');
      const newTags = after.flatMap((m) => now.inline.get(uidOf(m)) ?? []);
      assert.ok(newTags.length >= after.length);
      assert.ok(newTags.every((t) => t === 3 || t === 0), 'new inline parts are LZ4 (or raw when tiny or incompressible)');
      assert.ok(newTags.filter((t) => t === 3).length >= after.length - 2, 'almost every new message has an LZ4 part');
      for (const m of after) {
        const [structure, head, body] = now.blobs.get(uidOf(m))!;
        assert.ok(structure === 3 || structure === 0, 'new structure is LZ4 or raw');
        assert.ok(head === 3 || head === 0, 'new search head is LZ4 or raw');
        assert.ok(body === 3 || body === 0, 'new search body is LZ4 or raw');
      }
      assert.ok(after.some((m) => now.blobs.get(uidOf(m))![2] === 3), 'search bodies are LZ4');

      // Dedupe is by SHA-256 of the raw attachment: the LZ4-era message reuses the deflate-era chunks.
      assert.equal(now.attachments.length, 1, 'the attachment is stored once');
      assert.equal(now.attachments[0]!.refcount, 2, 'both messages reference it');
      assert.deepEqual(now.attachments[0], { ...old.attachments[0]!, refcount: 2 }, 'same hash, same deflate-era chunks');

      assert.deepEqual(findPlaintext(fx.dataDir, secretsOf([...before, ...after])), [], 'no plaintext in the data dir');
    } finally {
      await lz4Store.closeAll();
    }
  } finally {
    await fx.cleanup();
  }
});

test('hostile: a damaged LZ4 blob in a real file fails only the read that meets it, with an Error', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    const messages = generateCorpus(3, 5).filter((m) => m.attachments.length === 0).slice(0, 2);
    for (const m of messages) await mailbox.append('INBOX', m.raw);
    await fx.store.closeAll();
    // Message 1's first part now claims 4 GiB; its search body is truncated to the tag and two bytes.
    const db = openDb(join(fx.dataDir, 'mailboxes', `${id}.sqlite`), key, { encrypted: true });
    try {
      const bodyId = (db.prepare("SELECT m.body_id FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.path = 'INBOX' AND m.uid = 1").get() as { body_id: number }).body_id;
      const part = db.prepare('SELECT raw_start, data FROM body_parts WHERE body_id = ? ORDER BY raw_start LIMIT 1').get(bodyId) as { raw_start: number; data: Buffer };
      assert.equal(part.data[0], 3, 'stored LZ4');
      const damaged = Buffer.from(part.data);
      damaged.writeUInt32LE(0xffffffff, 1);
      db.prepare('UPDATE body_parts SET data = ? WHERE body_id = ? AND raw_start = ?').run(damaged, bodyId, part.raw_start);
      db.prepare('UPDATE bodies SET search_body = ? WHERE id = ?').run(Buffer.of(3, 0x10, 0x00), bodyId);
    } finally {
      db.close();
    }
    const reopened = await fx.store.open(id, key);
    await assert.rejects(reopened.readMessage('INBOX', 1), /stored lz4 blob claims 4294967295 bytes, more than the \d+ expected/);
    assert.ok((await reopened.readMessage('INBOX', 2)).equals(messages[1]!.raw), 'the other message still reads');
    assert.throws(() => reopened.search('INBOX', { op: 'body', value: messages[0]!.token }), /stored lz4 blob is truncated/);
    assert.deepEqual(reopened.search('INBOX', { op: 'from', value: messages[1]!.from }), [2], 'searches that do not decode it still work');
  } finally {
    await fx.cleanup();
  }
});
