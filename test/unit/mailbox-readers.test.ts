// Reader threads (server/mailbox/readers.ts): Mailbox.readMany reads message bytes in a thread over its own
// read-only connection to the mailbox file. Its bytes must be readRange's, byte for byte; the thread's
// connection must be gone before a re-key swaps the file or a removal deletes it; a file replaced underneath is
// never read by a thread; and a thread that stops only sends reads back to the event loop. Real encrypted
// files, real SQLite connections, real worker threads.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { MailboxLocked } from '../../server/mailbox/errors.js';
import { readerStats } from '../../server/mailbox/index.js';
import { MailboxReaders } from '../../server/mailbox/readers.js';
import { mailboxReadersFromEnv } from '../../server/mailbox/settings.js';
import type { Mailbox } from '../../server/mailbox/types.js';
import { ConfigError } from '../../server/config/errors.js';
import { generateCorpus } from '../helpers/corpus.js';
import { newMailboxId, simpleMessage, storeFixture, type StoreFixture } from '../helpers/mailbox.js';

const fixtures: StoreFixture[] = [];
after(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

function fixture(readerThreads = 1): StoreFixture {
  const fx = storeFixture({ readerThreads });
  fixtures.push(fx);
  return fx;
}

/** A message with a 300 KiB base64 attachment: stored as attachment chunks of 64 KiB, not inline. */
function withAttachment(): Buffer {
  const data = randomBytes(300 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'From: a@example.com',
      'To: b@example.org',
      'Subject: attachment',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'see attached',
      '--b1',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      data,
      '--b1--',
      '',
    ].join('\r\n'),
  );
}

async function filled(fx: StoreFixture): Promise<{ mailbox: Mailbox; raws: Buffer[]; id: Awaited<ReturnType<StoreFixture['newMailbox']>>['id']; key: Buffer }> {
  const { id, key, mailbox } = await fx.newMailbox();
  const raws = [...generateCorpus(30, 3).map((m) => m.raw), withAttachment(), simpleMessage('last', 'the last one')];
  for (const raw of raws) await mailbox.append('INBOX', raw);
  return { id, key, mailbox, raws };
}

/** A filled mailbox file, closed in its store, and what MailboxReaders.register needs of it. */
async function closedFile(): Promise<{ file: string; key: Buffer; raws: Buffer[]; dev: number; ino: number }> {
  const fx = fixture(0);
  const { id, key, raws } = await filled(fx);
  await fx.store.close(id);
  const file = path.join(fx.dataDir, 'mailboxes', `${id}.sqlite`);
  const st = fs.statSync(file);
  return { file, key, raws, dev: st.dev, ino: st.ino };
}

/** The first byte of every message, 20,000 reads in all: a read that keeps a thread busy for about a second. */
const longRead = (raws: readonly Buffer[]): { uid: number; start: number; end: number }[] =>
  Array.from({ length: 20_000 }, (_, i) => ({ uid: (i % raws.length) + 1, start: 0, end: 1 }));

describe('mailbox reader threads', () => {
  test('readMany gives readRange’s bytes: whole messages, ranges across attachment chunks, clamped ends, missing messages and folders', async () => {
    const fx = fixture();
    const { mailbox, raws } = await filled(fx);
    const before = readerStats(fx.store)!;
    const big = raws.length - 1; // UID of the attachment message
    const ranges = [
      ...raws.map((raw, i) => ({ uid: i + 1, start: 0, end: raw.length })),
      { uid: 2, start: 7, end: raws[1]!.length - 3 },
      { uid: big, start: 65_530, end: 65_540 + 70_000 },
      { uid: big, start: raws[big - 1]!.length - 1, end: raws[big - 1]!.length + 100 },
      { uid: 1, start: raws[0]!.length + 5, end: raws[0]!.length + 10 },
      { uid: 9999, start: 0, end: 10 },
    ];
    const got = await mailbox.readMany('INBOX', ranges);
    assert.equal(got.length, ranges.length);
    for (const [i, r] of ranges.entries()) {
      if (r.uid === 9999) {
        assert.equal(got[i], null, 'a UID the folder does not hold reads as null');
        continue;
      }
      const expected = await mailbox.readRange('INBOX', r.uid, r.start, r.end);
      assert.ok(got[i], `range ${i} read`);
      assert.ok(got[i]!.equals(expected), `range ${i} (uid ${r.uid}, ${r.start}–${r.end}) differs from readRange`);
    }
    for (const [i, raw] of raws.entries()) assert.ok(got[i]!.equals(raw), `message ${i + 1} comes back as appended`);
    assert.deepEqual(await mailbox.readMany('No such folder', [{ uid: 1, start: 0, end: 10 }]), [null]);
    const stats = readerStats(fx.store)!;
    assert.ok(stats.read >= before.read + 2, 'a reader thread answered');
    assert.equal(stats.failed, before.failed);
  });

  test('readMany with no reader threads reads the same bytes on the event loop', async () => {
    const fx = fixture(0);
    const { mailbox, raws } = await filled(fx);
    const got = await mailbox.readMany('INBOX', raws.map((raw, i) => ({ uid: i + 1, start: 0, end: raw.length })));
    for (const [i, raw] of raws.entries()) assert.ok(got[i]!.equals(raw));
    assert.deepEqual(readerStats(fx.store), { read: 0, failed: 0 });
  });

  test('a re-key while a reader thread holds the file open succeeds, and later reads come from the re-keyed file', async () => {
    const fx = fixture();
    const { id, key, mailbox, raws } = await filled(fx);
    await mailbox.readMany('INBOX', [{ uid: 1, start: 0, end: raws[0]!.length }]); // the thread opens the file
    const newKey = randomBytes(32);
    // The thread is busy with a long read when the re-key starts, so its connection would still be open at the
    // swap unless the re-key waits for it: the swap refuses while any connection keeps the -wal.
    const busy = mailbox.readMany('INBOX', longRead(raws));
    await fx.store.rekey(id, key, newKey);
    assert.equal((await busy).length, longRead(raws).length, 'the read in flight finished');
    await assert.rejects(mailbox.readMany('INBOX', [{ uid: 1, start: 0, end: 10 }]), MailboxLocked);
    const reopened = await fx.store.open(id, newKey);
    const got = await reopened.readMany('INBOX', raws.map((raw, i) => ({ uid: i + 1, start: 0, end: raw.length })));
    for (const [i, raw] of raws.entries()) assert.ok(got[i]!.equals(raw), `message ${i + 1} after the re-key`);
    assert.equal(readerStats(fx.store)!.failed, 0);
  });

  test('removing a mailbox closes the reader thread’s connection: no descriptor of the process points at its files', async (t) => {
    if (!fs.existsSync('/proc/self/fd')) return t.skip('needs /proc');
    const fx = fixture();
    const { id, mailbox, raws } = await filled(fx);
    await mailbox.readMany('INBOX', [{ uid: 1, start: 0, end: raws[0]!.length }]);
    const file = path.join(fx.dataDir, 'mailboxes', `${id}.sqlite`);
    const open = (): string[] =>
      fs.readdirSync('/proc/self/fd').flatMap((fd) => {
        try {
          const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
          return target.startsWith(file) ? [target] : [];
        } catch {
          return [];
        }
      });
    assert.ok(open().length >= 2, 'the event loop and the thread both have the file open');
    const busy = mailbox.readMany('INBOX', longRead(raws)); // the thread is still reading when the removal starts
    await fx.store.remove(id);
    assert.deepEqual(open(), []);
    await busy;
  });

  test('a file replaced underneath (same key, other mail) is never read by a reader thread', async () => {
    const fx = fixture();
    const { id, key, mailbox, raws } = await filled(fx);
    // Another mailbox under the same key with other mail, copied over the live name as another process would.
    const otherId = newMailboxId();
    await fx.store.create(otherId, key);
    const other = await fx.store.open(otherId, key);
    const foreign = simpleMessage('someone else', 'mail that is not in this mailbox');
    await other.append('INBOX', foreign);
    await fx.store.close(otherId);
    const file = path.join(fx.dataDir, 'mailboxes', `${id}.sqlite`);
    for (const s of ['-wal', '-shm']) fs.rmSync(`${file}${s}`, { force: true });
    fs.copyFileSync(path.join(fx.dataDir, 'mailboxes', `${otherId}.sqlite`), `${file}.swap`);
    fs.renameSync(`${file}.swap`, file);
    try {
      const got = await mailbox.readMany('INBOX', [{ uid: 1, start: 0, end: 1 << 20 }]);
      // If the event loop still reads its own (unlinked) file, that is this mailbox's own first message.
      assert.ok(got[0] === null || got[0].equals(raws[0]!), 'the replaced file’s mail was read');
    } catch (error) {
      assert.ok(error instanceof MailboxLocked, String(error));
    }
  });

  test('MailboxReaders: a file that is no longer the one the event loop opened is refused in the thread', async () => {
    const { file, key, dev, ino } = await closedFile();
    // Same bytes, same key, another inode: what a restore leaves under the live name.
    fs.copyFileSync(file, `${file}.swap`);
    fs.renameSync(`${file}.swap`, file);
    const readers = new MailboxReaders(1);
    try {
      const handle = readers.register({ file, key, dev, ino })!;
      await assert.rejects(handle.read('INBOX', [{ uid: 1, start: 0, end: 10 }]), /replaced/);
      assert.equal(readers.stats.failed, 1);
      const now = fs.statSync(file);
      const fresh = readers.register({ file, key, dev: now.dev, ino: now.ino })!;
      assert.equal((await fresh.read('INBOX', [{ uid: 1, start: 0, end: 10 }]))[0]!.length, 10, 'the file as it is now opens');
    } finally {
      await readers.close();
    }
  });

  test('MailboxReaders: a read in flight when the threads stop is answered first; reads after that reject at once', async () => {
    const target = await closedFile();
    const raws = target.raws;
    const readers = new MailboxReaders(1);
    const handle = readers.register(target)!;
    const ranges = raws.map((raw, i) => ({ uid: i + 1, start: 0, end: raw.length }));
    const first = await handle.read('INBOX', ranges);
    for (const [i, raw] of raws.entries()) assert.ok(first[i]!.equals(raw));
    // The close of the handle and the stop race the read in the thread's queue: all three settle, in order.
    const inFlight = handle.read('INBOX', ranges);
    const released = handle.release();
    await readers.close();
    await released;
    for (const [i, raw] of raws.entries()) assert.ok((await inFlight)[i]!.equals(raw), `message ${i + 1}`);
    await assert.rejects(handle.read('INBOX', ranges));
  });

  test('MailboxReaders: a thread that dies under a read rejects it (Mailbox.readMany then reads on the event loop), and so do reads after', async () => {
    const target = await closedFile();
    const raws = target.raws;
    const dying = new MailboxReaders(1);
    const handle = dying.register(target)!;
    await handle.read('INBOX', [{ uid: 1, start: 0, end: 10 }]);
    const inFlight = handle.read('INBOX', longRead(raws)); // about a second of work: still running at kill()
    await dying.kill();
    await assert.rejects(inFlight);
    await assert.rejects(handle.read('INBOX', [{ uid: 1, start: 0, end: 10 }]));
  });

  test('MailboxReaders.start runs every thread before the first read; reads then use them; after close() nothing starts', async () => {
    const target = await closedFile();
    const readers = new MailboxReaders(2);
    try {
      assert.equal(readers.running, 0, 'nothing runs before start() or a read');
      readers.start();
      assert.equal(readers.running, 2);
      const handle = readers.register(target)!;
      const [bytes] = await handle.read('INBOX', [{ uid: 1, start: 0, end: target.raws[0]!.length }]);
      assert.ok(bytes!.equals(target.raws[0]!));
      assert.equal(readers.stats.read, 1);
      assert.equal(readers.running, 2);
    } finally {
      await readers.close();
    }
    assert.equal(readers.running, 0);
    readers.start(); // after close: nothing starts
    assert.equal(readers.running, 0);
  });

  test('MailboxReaders: a wrong key is refused in the thread, and the read rejects', async () => {
    const target = await closedFile();
    const readers = new MailboxReaders(1);
    try {
      const handle = readers.register({ ...target, key: randomBytes(32) })!;
      await assert.rejects(handle.read('INBOX', [{ uid: 1, start: 0, end: 10 }]), /WrongKey/);
      assert.equal(readers.stats.failed, 1);
    } finally {
      await readers.close();
    }
  });
});

describe('SEALPOST_MAILBOX_READERS', () => {
  test('default 1; 0 to 8 taken; anything else is one sentence naming the setting', () => {
    assert.equal(mailboxReadersFromEnv({}), 1);
    assert.equal(mailboxReadersFromEnv({ SEALPOST_MAILBOX_READERS: ' ' }), 1);
    assert.equal(mailboxReadersFromEnv({ SEALPOST_MAILBOX_READERS: '0' }), 0);
    assert.equal(mailboxReadersFromEnv({ SEALPOST_MAILBOX_READERS: '8' }), 8);
    for (const bad of ['9', '-1', '1.5', 'two', '1e3']) {
      assert.throws(
        () => mailboxReadersFromEnv({ SEALPOST_MAILBOX_READERS: bad }),
        (error: unknown) => error instanceof ConfigError && /^SEALPOST_MAILBOX_READERS must be a whole number from 0 to 8/.test(error.message),
      );
    }
  });
});
