// The mailbox store's verbs as IMAP/POP3/delivery use them, on real encrypted files.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { storeFixture, simpleMessage, newMailboxId, type StoreFixture } from '../helpers/mailbox.js';
import { generateCorpus } from '../helpers/corpus.js';
import {
  FolderExists, InvalidRequest, MailboxLocked, NoSuchFolder, NoSuchMessage, OverQuota, WrongKey,
  type AppendResult, type Mailbox, type MailboxChangeEvent,
} from '../../server/mailbox/index.js';

describe('mailbox store: opening and keys', () => {
  let fx: StoreFixture;
  before(() => {
    fx = storeFixture();
  });
  after(() => fx.cleanup());

  test('a new mailbox has the default folders with SPECIAL-USE and is a 0600 file under mailboxes/', async () => {
    const { id, mailbox } = await fx.newMailbox();
    const folders = mailbox.listFolders();
    assert.deepEqual(
      folders.map((f) => [f.path, f.specialUse]).sort(),
      [['Archive', '\\Archive'], ['Drafts', '\\Drafts'], ['INBOX', null], ['Junk', '\\Junk'], ['Sent', '\\Sent'], ['Trash', '\\Trash']],
    );
    assert.equal(new Set(folders.map((f) => f.uidValidity)).size, folders.length, 'every folder has its own UIDVALIDITY');
    for (const f of folders) assert.equal(f.uidNext, 1);
    const file = join(fx.dataDir, 'mailboxes', `${id}.sqlite`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    await assert.rejects(fx.store.create(id, randomBytes(32)), InvalidRequest, 'creating twice refuses');
  });

  test('a wrong key fails with WrongKey and leaves the file byte-for-byte unchanged', async () => {
    const { id, key } = await fx.newMailbox();
    const mailbox = await fx.store.open(id, key);
    await mailbox.append('INBOX', simpleMessage('hello', 'secret body'));
    await fx.store.close(id);
    const dir = join(fx.dataDir, 'mailboxes');
    const file = join(dir, `${id}.sqlite`);
    const before = readFileSync(file);
    const mtime = statSync(file).mtimeMs;
    const listing = readdirSync(dir).sort();
    await assert.rejects(fx.store.open(id, randomBytes(32)), WrongKey);
    assert.ok(readFileSync(file).equals(before), 'bytes unchanged');
    assert.equal(statSync(file).mtimeMs, mtime, 'mtime unchanged');
    assert.deepEqual(readdirSync(dir).sort(), listing, 'no -wal/-shm created');
    assert.equal(fx.store.isOpen(id), false);
    // The right key still opens it, and a cached handle refuses a wrong key too.
    const again = await fx.store.open(id, key);
    assert.equal(again.status('INBOX').messages, 1);
    await assert.rejects(fx.store.open(id, randomBytes(32)), WrongKey);
    await assert.rejects(fx.store.open(id, Buffer.from('short')), InvalidRequest);
  });

  test('one handle per file: a second open returns the cached handle; close and LRU/idle eviction', async () => {
    const small = storeFixture({ maxOpen: 2, idleCloseMs: 150 });
    try {
      const a = await small.newMailbox();
      assert.equal(await small.store.open(a.id, a.key), a.mailbox, 'same object: a login is not a re-open');
      const b = await small.newMailbox();
      const c = await small.newMailbox();
      assert.equal(small.store.isOpen(a.id), false, 'least recently used closed beyond maxOpen');
      assert.ok(small.store.isOpen(b.id) && small.store.isOpen(c.id));
      assert.throws(() => a.mailbox.listFolders(), MailboxLocked, 'a closed handle says so');
      const reopened = await small.store.open(a.id, a.key);
      assert.equal(reopened, a.mailbox, 're-opening with the same key revives the Mailbox object sessions hold');
      assert.equal(a.mailbox.listFolders().length, 6);
      await sleep(600);
      assert.equal(small.store.isOpen(a.id), false, 'idle handles are closed');
      assert.equal(existsSync(join(small.dataDir, 'mailboxes', `${a.id}.sqlite-wal`)), false, 'WAL checkpointed on close');
    } finally {
      await small.cleanup();
    }
  });

  test('remove deletes the file; unknown ids and path tricks are refused', async () => {
    const { id } = await fx.newMailbox();
    await fx.store.remove(id);
    assert.equal(existsSync(join(fx.dataDir, 'mailboxes', `${id}.sqlite`)), false);
    await assert.rejects(fx.store.open(id, randomBytes(32)), InvalidRequest);
    await assert.rejects(fx.store.open('../etc' as never, randomBytes(32)), InvalidRequest);
    await assert.rejects(fx.store.open(newMailboxId(), randomBytes(32)), InvalidRequest);
  });

  test('a lock file held by a live process (backup/restore) makes open refuse with MailboxLocked', async () => {
    const { id, key } = await fx.newMailbox();
    await fx.store.close(id);
    const { writeFileSync, rmSync } = await import('node:fs');
    const lock = join(fx.dataDir, 'mailboxes', `${id}.sqlite.lock`);
    writeFileSync(lock, JSON.stringify({ pid: process.pid, purpose: 'restore', since: new Date().toISOString() }));
    await assert.rejects(fx.store.open(id, key), MailboxLocked);
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 12345, purpose: 'restore', since: new Date().toISOString() }));
    assert.ok(await fx.store.open(id, key), 'a lock of a dead process is stale');
    rmSync(lock);
  });
});

describe('mailbox store: folders', () => {
  let fx: StoreFixture;
  let mb: Mailbox;
  before(async () => {
    fx = storeFixture();
    mb = (await fx.newMailbox()).mailbox;
  });
  after(() => fx.cleanup());

  test('create makes missing parents; duplicates and bad names are refused', () => {
    const created = mb.createFolder('Projects/2024/Q1');
    assert.equal(created.path, 'Projects/2024/Q1');
    const paths = mb.listFolders().map((f) => f.path);
    for (const p of ['Projects', 'Projects/2024', 'Projects/2024/Q1']) assert.ok(paths.includes(p), p);
    assert.throws(() => mb.createFolder('Projects'), FolderExists);
    assert.throws(() => mb.createFolder('inbox'), FolderExists, 'INBOX is case-insensitive');
    assert.throws(() => mb.createFolder('a//b'), InvalidRequest);
    assert.throws(() => mb.createFolder(''), InvalidRequest);
    assert.equal(mb.createFolder('Receipts', '\\Archive').specialUse, '\\Archive');
    assert.equal(mb.status('inbox').path, 'INBOX');
  });

  test('rename moves children and keeps messages and UIDVALIDITY', async () => {
    mb.createFolder('Work/Clients');
    await mb.append('Work/Clients', simpleMessage('client', 'b'));
    const validity = mb.status('Work/Clients').uidValidity;
    mb.renameFolder('Work', 'Job');
    const paths = mb.listFolders().map((f) => f.path);
    assert.ok(paths.includes('Job') && paths.includes('Job/Clients'));
    assert.ok(!paths.includes('Work') && !paths.includes('Work/Clients'));
    assert.equal(mb.status('Job/Clients').messages, 1);
    assert.equal(mb.status('Job/Clients').uidValidity, validity);
    assert.throws(() => mb.renameFolder('Job', 'Job/Sub'), InvalidRequest);
    assert.throws(() => mb.renameFolder('Job', 'Sent'), FolderExists);
    assert.throws(() => mb.renameFolder('Nope', 'Other'), NoSuchFolder);
  });

  test('renaming INBOX moves its messages to the new folder and leaves INBOX empty', async () => {
    await mb.append('INBOX', simpleMessage('one', 'x'));
    await mb.append('INBOX', simpleMessage('two', 'y'));
    mb.renameFolder('INBOX', 'Old Inbox');
    assert.equal(mb.status('INBOX').messages, 0);
    assert.deepEqual(mb.listMessages('Old Inbox').map((m) => m.uid), [1, 2]);
  });

  test('delete removes a folder and its messages; INBOX is refused; a folder with children becomes \\Noselect once', async () => {
    mb.createFolder('Tmp');
    await mb.append('Tmp', simpleMessage('tmp', 'z'));
    const used = mb.quota().usedBytes;
    mb.deleteFolder('Tmp');
    assert.throws(() => mb.status('Tmp'), NoSuchFolder);
    assert.ok(mb.quota().usedBytes < used, 'its bytes no longer count');
    assert.throws(() => mb.deleteFolder('INBOX'), InvalidRequest);
    // RFC 3501: a folder with inferior names is emptied and kept as \Noselect; deleting it again is refused.
    mb.deleteFolder('Projects');
    assert.equal(mb.listFolders().find((f) => f.path === 'Projects')?.noselect, true);
    assert.throws(() => mb.deleteFolder('Projects'), InvalidRequest);
    assert.throws(() => mb.deleteFolder('Nope'), NoSuchFolder);
    mb.createFolder('Tmp');
    assert.notEqual(mb.status('Tmp').uidValidity, 0, 'a re-created folder gets a new UIDVALIDITY');
  });

  test('subscribe toggles the mark', () => {
    mb.subscribe('Drafts', false);
    assert.equal(mb.listFolders().find((f) => f.path === 'Drafts')?.subscribed, false);
    mb.subscribe('Drafts', true);
    assert.equal(mb.status('Drafts').subscribed, true);
    assert.throws(() => mb.subscribe('Nope', true), NoSuchFolder);
  });
});

describe('mailbox store: messages', () => {
  let fx: StoreFixture;
  let mb: Mailbox;
  const corpus = generateCorpus(24, 3);
  const events: MailboxChangeEvent[] = [];
  before(async () => {
    fx = storeFixture();
    fx.store.onChange((e) => events.push(e));
    mb = (await fx.newMailbox()).mailbox;
  });
  after(() => fx.cleanup());

  test('append returns increasing UIDs; bytes read back identical; fetch returns metadata and structure', async () => {
    const when = new Date('2024-03-04T05:06:07.000Z');
    const results: AppendResult[] = [];
    for (const [i, m] of corpus.entries()) {
      results.push(await mb.append('INBOX', m.raw, { flags: i % 2 ? ['\\Seen', 'Work'] : [], internalDate: when }));
    }
    assert.deepEqual(results.map((r) => r.uid), corpus.map((_, i) => i + 1));
    assert.ok(results.every((r, i) => i === 0 || r.modseq > results[i - 1]!.modseq), 'modseq increases');
    const status = mb.status('INBOX');
    assert.equal(status.messages, corpus.length);
    assert.equal(status.unseen, corpus.length / 2);
    assert.equal(status.uidNext, corpus.length + 1);
    assert.equal(status.size, corpus.reduce((n, m) => n + m.raw.length, 0));
    for (const [i, m] of corpus.entries()) assert.ok((await mb.readMessage('INBOX', i + 1)).equals(m.raw), `message ${i + 1}`);
    const [rec] = mb.fetch('INBOX', [[2, 2]]);
    assert.ok(rec);
    assert.equal(rec.uid, 2);
    assert.deepEqual(rec.flags, ['\\Seen', 'Work']);
    assert.equal(rec.internalDate.toISOString(), when.toISOString());
    assert.equal(rec.size, corpus[1]!.raw.length);
    assert.equal(rec.messageId, corpus[1]!.messageId);
    const structure = rec.structure as { size: number; envelope: unknown[] };
    assert.equal(structure.size, corpus[1]!.raw.length);
    assert.ok(Array.isArray(structure.envelope), 'envelope survives storage');
    assert.deepEqual(mb.fetch('INBOX', [[20, Infinity]]).map((r) => r.uid), [20, 21, 22, 23, 24]);
    assert.deepEqual(mb.fetch('INBOX', [[100, Infinity]]).map((r) => r.uid), [24], 'n:* with n > max is the last message');
    assert.deepEqual(mb.listMessages('INBOX').map((m) => m.uid), corpus.map((_, i) => i + 1));
    assert.ok(events.some((e) => e.folder === 'INBOX' && e.highestModseq === results.at(-1)!.modseq), 'onChange after commit');
  });

  test('readRange returns exactly the requested bytes, across chunk and attachment boundaries', async () => {
    const big = generateCorpus(64, 11).filter((m) => m.attachments.length > 0).sort((a, b) => b.raw.length - a.raw.length)[0]!;
    // Pad the body so the message spans several 64 KiB chunks.
    const padded = Buffer.concat([big.raw.subarray(0, big.raw.indexOf('\r\n\r\n') + 4), Buffer.from('x'.repeat(150_000) + '\r\n'), big.raw.subarray(big.raw.indexOf('\r\n\r\n') + 4)]);
    const { uid } = await mb.append('INBOX', padded);
    assert.ok((await mb.readMessage('INBOX', uid)).equals(padded));
    for (const [s, e] of [[0, 10], [65_530, 65_550], [131_000, 200_000], [padded.length - 7, padded.length], [5, padded.length + 1000], [300, 300]] as const) {
      assert.ok((await mb.readRange('INBOX', uid, s, e)).equals(padded.subarray(s, Math.min(e, padded.length))), `range ${s}-${e}`);
    }
    await assert.rejects(mb.readMessage('INBOX', 9999), NoSuchMessage);
  });

  test('bare-LF messages are stored with CRLF line endings', async () => {
    const { uid } = await mb.append('Drafts', Buffer.from('Subject: lf\nFrom: a@example.com\n\nline one\nline two\n'));
    assert.equal((await mb.readMessage('Drafts', uid)).toString(), 'Subject: lf\r\nFrom: a@example.com\r\n\r\nline one\r\nline two\r\n');
  });

  test('store adds, removes and replaces flags; UNCHANGEDSINCE refuses newer messages', () => {
    const added = mb.store('INBOX', [[1, 3]], 'add', ['\\Flagged', '$Important']);
    assert.deepEqual(added.updated.map((u) => u.uid), [1, 2, 3]);
    assert.deepEqual(added.updated[1]!.flags, ['\\Seen', '\\Flagged', 'Work', '$Important']);
    const removed = mb.store('INBOX', [[2, 2]], 'remove', ['\\Seen', 'work']);
    assert.deepEqual(removed.updated[0]!.flags, ['\\Flagged', '$Important'], 'keywords compare case-insensitively');
    const replaced = mb.store('INBOX', [[3, 3]], 'replace', ['\\Answered']);
    assert.deepEqual(replaced.updated[0]!.flags, ['\\Answered']);
    const noop = mb.store('INBOX', [[3, 3]], 'add', ['\\Answered']);
    assert.deepEqual(noop.updated, [], 'no change, no new modseq');
    const m1 = mb.fetch('INBOX', [[1, 1]])[0]!.modseq;
    const m4 = mb.fetch('INBOX', [[4, 4]])[0]!.modseq;
    assert.ok(m1 > m4);
    const conditional = mb.store('INBOX', [[1, 1], [4, 4]], 'add', ['\\Draft'], m4);
    assert.deepEqual(conditional.modified, [1]);
    assert.deepEqual(conditional.updated.map((u) => u.uid), [4]);
    assert.throws(() => mb.store('INBOX', [[1, 1]], 'add', ['\\Bogus']), InvalidRequest);
    assert.throws(() => mb.store('INBOX', [[1, 1]], 'add', ['bad flag']), InvalidRequest);
    assert.equal(mb.status('INBOX').highestModseq, conditional.updated[0]!.modseq);
  });

  test('changesSince reports appends, flag changes and expunges in modseq order', async () => {
    mb.createFolder('Journal');
    const a = await mb.append('Journal', simpleMessage('j1', 'a'));
    const b = await mb.append('Journal', simpleMessage('j2', 'b'));
    const since = mb.status('Journal').highestModseq;
    const c = await mb.append('Journal', simpleMessage('j3', 'c'));
    mb.store('Journal', [[a.uid, a.uid]], 'add', ['\\Deleted']);
    mb.store('Journal', [[b.uid, b.uid]], 'add', ['\\Seen']);
    mb.store('Journal', [[b.uid, b.uid]], 'add', ['\\Flagged']);
    assert.deepEqual(mb.expunge('Journal'), [a.uid]);
    const changes = mb.changesSince('Journal', since);
    assert.deepEqual(
      changes.map((ch) => [ch.kind, ch.uid]),
      [['append', c.uid], ['flags', b.uid], ['expunge', a.uid]],
      'older flag entries of a message are superseded by the newest',
    );
    const flags = changes.find((ch) => ch.kind === 'flags');
    assert.ok(flags && flags.kind === 'flags');
    assert.deepEqual(flags.flags, ['\\Seen', '\\Flagged']);
    assert.ok(changes.every((ch, i) => i === 0 || ch.modseq >= changes[i - 1]!.modseq));
    assert.deepEqual(mb.changesSince('Journal', mb.status('Journal').highestModseq), []);
  });

  test('copy shares the message, keeps flags, maps UIDs (COPYUID); move expunges the source', async () => {
    mb.createFolder('Copies');
    mb.createFolder('Moved');
    const target = mb.status('Copies');
    const copied = mb.copy('INBOX', [[1, 3]], 'Copies');
    assert.equal(copied.uidValidity, target.uidValidity);
    assert.deepEqual(copied.mapping, [[1, 1], [2, 2], [3, 3]]);
    assert.deepEqual(mb.fetch('Copies', [[2, 2]])[0]!.flags, mb.fetch('INBOX', [[2, 2]])[0]!.flags);
    assert.ok((await mb.readMessage('Copies', 1)).equals(corpus[0]!.raw));
    const before = mb.status('INBOX').messages;
    const moved = mb.move('INBOX', [[4, 5]], 'Moved');
    assert.deepEqual(moved.mapping, [[4, 1], [5, 2]]);
    assert.equal(mb.status('INBOX').messages, before - 2);
    assert.ok((await mb.readMessage('Moved', 2)).equals(corpus[4]!.raw));
    const expunges = mb.changesSince('INBOX', 0).filter((c) => c.kind === 'expunge').map((c) => c.uid);
    assert.deepEqual(expunges, [4, 5]);
    assert.throws(() => mb.copy('INBOX', [[1, 1]], 'Nope'), NoSuchFolder);
    assert.deepEqual(mb.copy('INBOX', [[9000, 9001]], 'Copies').mapping, []);
  });

  test('expunge removes only \\Deleted messages, optionally limited to a UID set', () => {
    mb.store('INBOX', [[6, 8]], 'add', ['\\Deleted']);
    assert.deepEqual(mb.expunge('INBOX', [[7, 100]]), [7, 8]);
    assert.deepEqual(mb.expunge('INBOX'), [6]);
    assert.deepEqual(mb.expunge('INBOX'), []);
    assert.deepEqual(mb.search('INBOX', { op: 'uid', uids: [[6, 8]] }), []);
  });

  test('appendOnce stores a delivery key once: a re-drain returns the first UID and stores nothing', async () => {
    const raw = simpleMessage('queued', 'sealed then drained');
    const first = await mb.appendOnce('INBOX', raw, { dedupeKey: 'queue-item-1' });
    const count = mb.status('INBOX').messages;
    const again = await mb.appendOnce('INBOX', raw, { dedupeKey: 'queue-item-1' });
    assert.deepEqual(again, first);
    assert.equal(mb.status('INBOX').messages, count);
    const other = await mb.appendOnce('INBOX', raw, { dedupeKey: 'queue-item-2' });
    assert.equal(other.uid, first.uid + 1);
  });

  test('replies share the thread of the message they answer (References / In-Reply-To / Message-ID)', async () => {
    mb.createFolder('Threads');
    const msg = (id: string, extra: string[]): Buffer =>
      Buffer.from(simpleMessage('t', 'b', extra).toString().replace(/Message-ID: <[^>]+>/, `Message-ID: <${id}>`));
    await mb.append('Threads', msg('root@x', []));
    await mb.append('Threads', msg('r1@x', ['In-Reply-To: <root2@x>']));
    await mb.append('Threads', msg('root2@x', []));
    await mb.append('Threads', msg('r2@x', ['References: <root2@x> <r1@x>']));
    await mb.append('Threads', msg('other@x', []));
    const threads = mb.listMessages('Threads', undefined, { thread: true }).map((m) => m.threadId);
    assert.equal(threads[1], threads[2], 'a parent arriving after its reply joins the reply\'s thread');
    assert.equal(threads[2], threads[3]);
    assert.notEqual(threads[3], threads[4]);
    assert.notEqual(threads[0], threads[1]);
  });

  test('append to a missing folder fails with NoSuchFolder; bad input is refused', async () => {
    await assert.rejects(mb.append('Nope', simpleMessage('x', 'y')), NoSuchFolder);
    await assert.rejects(mb.append('INBOX', Buffer.alloc(0)), InvalidRequest);
    await assert.rejects(mb.append('INBOX', simpleMessage('x', 'y'), { flags: ['\\Nope'] }), InvalidRequest);
    await assert.rejects(mb.append('INBOX', simpleMessage('x', 'y'), { internalDate: new Date('nope') }), InvalidRequest);
  });
});

describe('mailbox store: quota and storage report', () => {
  test('an append that would exceed the quota fails with OverQuota and stores nothing', async () => {
    const fx = storeFixture();
    try {
      const msg = simpleMessage('quota', 'q'.repeat(4000));
      const { id, key, mailbox } = await fx.newMailbox(msg.length * 2 + 10);
      await mailbox.append('INBOX', msg);
      await mailbox.append('INBOX', msg);
      await assert.rejects(mailbox.append('INBOX', msg), OverQuota);
      assert.throws(() => mailbox.copy('INBOX', [[1, 1]], 'Archive'), OverQuota);
      assert.deepEqual(mailbox.quota(), { usedBytes: msg.length * 2, limitBytes: msg.length * 2 + 10, messages: 2 });
      assert.equal(mailbox.move('INBOX', [[1, 1]], 'Archive').mapping.length, 1, 'move is allowed when full');
      await fx.store.setQuota(id, key, null);
      await mailbox.append('INBOX', msg);
      assert.equal(mailbox.quota().limitBytes, null);
      assert.equal(mailbox.quota().messages, 3);
    } finally {
      await fx.cleanup();
    }
  });

  test('storage report: logical bytes, file bytes, dedupe and compression savings', async () => {
    const fx = storeFixture();
    try {
      const { mailbox } = await fx.newMailbox();
      const corpus = generateCorpus(16, 5);
      for (const m of corpus) await mailbox.append('INBOX', m.raw);
      mailbox.copy('INBOX', [[1, 4]], 'Archive');
      const report = mailbox.storageReport();
      const logical = corpus.reduce((n, m) => n + m.raw.length, 0) + corpus.slice(0, 4).reduce((n, m) => n + m.raw.length, 0);
      assert.equal(report.logicalBytes, logical);
      assert.ok(report.fileBytes > 0);
      assert.ok(report.dedupeSavedBytes >= corpus.slice(0, 4).reduce((n, m) => n + m.raw.length, 0), 'copies are free');
      assert.ok(report.compressionSavedBytes > 0);
    } finally {
      await fx.cleanup();
    }
  });
});
