// Import is exact and all-or-nothing: an LF mbox imported twice is stored once (duplicates are found by
// Message-ID + SHA-256 of the stored CRLF form, within one run too), and a malformed mbox is refused with
// its line number before anything is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { importArchive } from '../../server/backup/index.js';
import { importLimitsFromEnv } from '../../server/backup/archive.js';
import { UserError } from '../../server/config/errors.js';
import { MboxFormatError } from '../../server/backup/mbox.js';
import type { Mailbox } from '../../server/mailbox/types.js';
import { mailboxFixture } from './backup-fixture.js';

const message = (n: number): string => `From: sender${n}@example.com\nTo: me@example.com\nSubject: note ${n}\nMessage-ID: <m${n}@example.com>\nDate: Thu, 10 Aug 2023 12:34:5${n} +0000\n\nbody ${n}\nFrom the body, unquoted by mboxo? no: quoted below\n`;
const mboxOf = (bodies: readonly string[], eol = '\n'): string =>
  bodies.map((b) => `From sender@example.com Thu Aug 10 12:34:56 2023${eol}${b.replace(/^From /gm, '>From ').replace(/\n/g, eol)}${eol}`).join('');

const count = (mailbox: Mailbox): number => mailbox.listFolders().reduce((n, f) => n + mailbox.status(f.path).messages, 0);

test('an LF mbox imported twice is stored once; a message repeated in the file and the CRLF copy of the file are skipped too', async () => {
  const fx = await mailboxFixture({ inbox: 2, archive: 0 });
  try {
    const file = path.join(fx.dir, 'lf.mbox');
    fs.writeFileSync(file, mboxOf([message(1), message(2), message(1), message(3)]));
    const before = count(fx.mailbox);
    const first = await importArchive({ dataDir: fx.dir, target: fx.mailbox, path: file, folder: 'Imported' });
    assert.deepEqual({ imported: first.imported, skipped: first.skipped }, { imported: 3, skipped: 1 }, 'the repeated message is stored once in the same run');
    const second = await importArchive({ dataDir: fx.dir, target: fx.mailbox, path: file, folder: 'Imported' });
    assert.deepEqual({ imported: second.imported, skipped: second.skipped }, { imported: 0, skipped: 4 });
    const crlf = path.join(fx.dir, 'crlf.mbox');
    fs.writeFileSync(crlf, mboxOf([message(3), message(2)], '\r\n'));
    const third = await importArchive({ dataDir: fx.dir, target: fx.mailbox, path: crlf, folder: 'Imported' });
    assert.deepEqual({ imported: third.imported, skipped: third.skipped }, { imported: 0, skipped: 2 }, 'same messages with CRLF line ends');
    assert.equal(count(fx.mailbox), before + 3);
    // The mboxrd quoting came off, and the store keeps CRLF.
    const stored = fx.mailbox.listMessages('Imported');
    assert.equal((await fx.mailbox.readMessage('Imported', stored[0]!.uid)).toString('latin1'), message(1).replace(/\n/g, '\r\n'));
  } finally {
    await fx.cleanup();
  }
});

test('a truncated mbox is refused with its line number and nothing is stored, also when it is the second file of a directory', async () => {
  const fx = await mailboxFixture({ inbox: 3, archive: 1 });
  try {
    const before = count(fx.mailbox);
    const good = mboxOf([message(1), message(2)]);
    const cut = good + 'From sender@example.com Thu Aug 10 12:34:56 2023\nFrom: x@example.com\nSubj';
    const file = path.join(fx.dir, 'cut.mbox');
    fs.writeFileSync(file, cut);
    const lines = cut.split('\n').length;
    await assert.rejects(importArchive({ dataDir: fx.dir, target: fx.mailbox, path: file }), (e: unknown) => {
      assert.ok(e instanceof MboxFormatError);
      assert.equal(e.message, `cut.mbox is not a valid mbox file: line ${lines} ends the file inside the header of the message that starts at line ${lines - 2} (the file looks cut off).`);
      assert.match(e.hint ?? '', /Nothing was imported/);
      return true;
    });
    assert.equal(count(fx.mailbox), before, 'nothing stored');
    assert.ok(!fx.mailbox.listFolders().some((f) => f.path === 'cut'), 'no folder created');

    const dir = path.join(fx.dir, 'export');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'A.mbox'), good);
    fs.writeFileSync(path.join(dir, 'B.mbox'), good + 'From sender@example.com Thu Aug 10 12:34:56 2023\nSubject: ok\n\n' + 'x'.repeat(3000) + '\n');
    await assert.rejects(importArchive({ dataDir: fx.dir, target: fx.mailbox, path: dir, limits: { maxMessageBytes: 2048 } }), /B\.mbox is not a valid mbox file: line \d+ starts a message larger than the import limit of 2048 bytes/);
    assert.equal(count(fx.mailbox), before, 'A.mbox was not imported either');
  } finally {
    await fx.cleanup();
  }
});

test('an import that stops while storing (mailbox over quota) says how far it got, and the same import run again continues', async () => {
  const fx = await mailboxFixture({ inbox: 0, archive: 0 });
  try {
    const file = path.join(fx.dir, 'four.mbox');
    fs.writeFileSync(file, mboxOf([message(1), message(2), message(3), message(4)]));
    const one = Buffer.byteLength(message(1).replace(/\n/g, '\r\n'));
    await fx.store.setQuota(fx.id, fx.key, Math.floor(one * 2.5));
    await assert.rejects(importArchive({ dataDir: fx.dir, target: fx.mailbox, path: file, folder: 'Imported' }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /^The import stopped after 2 of 4 messages \(2 stored\): .*quota.*\.$/i);
      assert.match(e.hint ?? '', /run the same import again: the messages already imported are skipped/);
      return true;
    });
    assert.equal(count(fx.mailbox), 2);
    await fx.store.setQuota(fx.id, fx.key, null);
    const again = await importArchive({ dataDir: fx.dir, target: fx.mailbox, path: file, folder: 'Imported' });
    assert.deepEqual({ imported: again.imported, skipped: again.skipped }, { imported: 2, skipped: 2 });
    assert.equal(count(fx.mailbox), 4);
  } finally {
    await fx.cleanup();
  }
});

test('SEALPOST_IMPORT_MAX_MESSAGE_SIZE sets the mbox message limit (default 50 MiB); a malformed value is refused', () => {
  assert.deepEqual(importLimitsFromEnv({}), { maxMessageBytes: 50 * 1024 * 1024 });
  assert.deepEqual(importLimitsFromEnv({ SEALPOST_IMPORT_MAX_MESSAGE_SIZE: '2048' }), { maxMessageBytes: 2048 });
  assert.throws(() => importLimitsFromEnv({ SEALPOST_IMPORT_MAX_MESSAGE_SIZE: '10M' }), /SEALPOST_IMPORT_MAX_MESSAGE_SIZE must be a whole number of at least 1024/);
});
