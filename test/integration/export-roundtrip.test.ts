// Export → import round trips (mbox, eml zip, sqlite), equal message for message, with de-duplication
// on a second import; the sqlite export opens with the alias password and holds no plaintext.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3-multiple-ciphers';
import { exportMbox, exportEml, exportSqlite, importArchive } from '../../server/backup/index.js';
import type { MailboxId } from '../../server/mailbox/types.js';
import { mailboxFixture, folderBytes, needlesOf, type MailboxFixture } from './backup-fixture.js';
import { findPlaintext } from '../helpers/privacy.js';

async function freshTarget(fx: MailboxFixture) {
  const id = randomUUID() as MailboxId;
  const key = randomBytes(32);
  await fx.store.create(id, key);
  return fx.store.open(id, key);
}

async function assertSameMail(fx: MailboxFixture, target: Awaited<ReturnType<typeof freshTarget>>, withFlags: boolean): Promise<void> {
  for (const folder of ['INBOX', 'Archive/2024']) {
    assert.deepEqual(await folderBytes(target, folder), await folderBytes(fx.mailbox, folder), `${folder}: same messages, same bytes, same order`);
    const dates = (mb: typeof target): number[] => mb.listMessages(folder).map((m) => Math.floor(m.internalDate.getTime() / 1000));
    assert.deepEqual(dates(target), dates(fx.mailbox), `${folder}: internal dates kept`);
    if (withFlags) {
      const flags = (mb: typeof target): string[][] => mb.listMessages(folder).map((m) => [...m.flags].sort());
      assert.deepEqual(flags(target), flags(fx.mailbox), `${folder}: flags kept`);
    }
  }
}

test('mbox export (one mboxrd file per folder, flags in Status/X-Status/X-Keywords) imports back message for message with flags, then de-duplicates', async () => {
  const fx = await mailboxFixture({ inbox: 10, archive: 5 });
  try {
    // A body line that mboxrd must escape and unescape; every system flag and two keywords.
    const quoting = Buffer.from('From: a@example.com\r\nSubject: quoting\r\nMessage-ID: <q@x>\r\n\r\nFrom here on\r\n>From there\r\n');
    await fx.mailbox.append('INBOX', quoting, {
      internalDate: new Date('2024-05-01T10:00:00Z'),
      flags: ['\\Seen', '\\Answered', '\\Flagged', '\\Draft', '\\Deleted', '$Forwarded', 'Work'],
    });
    const out = path.join(fx.dir, 'export-mbox');
    const result = await exportMbox(fx.mailbox, out);
    assert.equal(result.messages, 16);
    assert.ok(fs.existsSync(path.join(out, 'INBOX.mbox')) && fs.existsSync(path.join(out, 'Archive', '2024.mbox')));
    // What a mail program reading the file sees: the flags as headers, the message otherwise unchanged.
    const inboxText = fs.readFileSync(path.join(out, 'INBOX.mbox'), 'latin1');
    assert.ok(
      inboxText.includes('Status: RO\r\nX-Status: AFTD\r\nX-Keywords: $Forwarded Work\r\nFrom: a@example.com\r\nSubject: quoting\r\n'),
      'flag headers on top of the quoting message',
    );
    assert.ok(inboxText.includes('\r\n>From here on\r\n>>From there\r\n'), 'mboxrd quoting');
    const archiveText = fs.readFileSync(path.join(out, 'Archive', '2024.mbox'), 'latin1');
    assert.equal(archiveText.split('Status: RO\r\nX-Status:\r\nX-Keywords: $Important\r\n').length - 1, 5);
    const target = await freshTarget(fx);
    const first = await importArchive({ dataDir: fx.dir, target, path: out });
    assert.deepEqual({ imported: first.imported, skipped: first.skipped, kind: first.kind }, { imported: 16, skipped: 0, kind: 'mbox-dir' });
    await assertSameMail(fx, target, true);
    const second = await importArchive({ dataDir: fx.dir, target, path: out });
    assert.deepEqual({ imported: second.imported, skipped: second.skipped }, { imported: 0, skipped: 16 });
    // One file into a named folder.
    const one = await importArchive({ dataDir: fx.dir, target, path: path.join(out, 'Archive', '2024.mbox'), folder: 'Imported' });
    assert.equal(one.imported, 5);
    assert.deepEqual(await folderBytes(target, 'Imported'), await folderBytes(fx.mailbox, 'Archive/2024'));
    assert.deepEqual(target.listMessages('Imported').map((m) => [...m.flags].sort()), Array(5).fill(['$Important', '\\Seen']));

    // A foreign mbox (mutt/Thunderbird style: Status headers inside the header block) keeps its bytes; its flags are read.
    const foreignMessage = 'From: c@example.com\nSubject: foreign\nMessage-ID: <f@x>\nStatus: RO\nX-Status: F\n\nhello\n';
    const foreign = path.join(fx.dir, 'foreign.mbox');
    fs.writeFileSync(foreign, `From c@example.com Wed May  1 10:00:00 2024\n${foreignMessage}\n`);
    await importArchive({ dataDir: fx.dir, target, path: foreign, folder: 'Foreign' });
    const [imported] = target.listMessages('Foreign');
    assert.deepEqual([...(imported?.flags ?? [])].sort(), ['\\Flagged', '\\Seen']);
    assert.equal((await target.readMessage('Foreign', imported!.uid)).toString('latin1'), foreignMessage.replace(/\n/g, '\r\n'));
  } finally {
    await fx.cleanup();
  }
});

test('eml export (zip of folders of .eml) imports back with flags, then de-duplicates', async () => {
  const fx = await mailboxFixture({ inbox: 9, archive: 4 });
  try {
    const out = path.join(fx.dir, 'export.zip');
    const progress: number[] = [];
    const result = await exportEml(fx.mailbox, out, (p) => progress.push(p.done));
    assert.equal(result.messages, 13);
    assert.equal(progress.at(-1), 13);
    const target = await freshTarget(fx);
    const first = await importArchive({ dataDir: fx.dir, target, path: out });
    assert.deepEqual({ imported: first.imported, skipped: first.skipped, kind: first.kind }, { imported: 13, skipped: 0, kind: 'eml-zip' });
    await assertSameMail(fx, target, true);
    const second = await importArchive({ dataDir: fx.dir, target, path: out });
    assert.equal(second.skipped, 13);
  } finally {
    await fx.cleanup();
  }
});

test('sqlite export opens with the alias password (PRAGMA key), holds no plaintext, and imports back', async () => {
  const fx = await mailboxFixture({ inbox: 8, archive: 3 });
  try {
    const password = "correct horse 'battery' staple";
    const out = path.join(fx.dir, 'export.sqlite');
    await exportSqlite({ dataDir: fx.dir, mailboxId: fx.id, key: fx.key, password, out });
    assert.deepEqual(findPlaintext(fx.dir, needlesOf(fx.corpus), { exclude: (file) => file.startsWith('mailboxes') }), []);
    assert.deepEqual(findPlaintext(path.dirname(out), needlesOf(fx.corpus), { exclude: (file) => !file.startsWith('export') }), []);

    // What a user does in DB Browser for SQLite (SQLCipher/sqlite3mc build) or SQLiteStudio: cipher chacha20, key = password.
    const db = new Database(out, { readonly: true, fileMustExist: true });
    db.pragma("cipher='chacha20'");
    db.pragma(`key='${password.replace(/'/g, "''")}'`);
    const count = (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
    assert.equal(count, 11);
    db.close();
    const wrong = new Database(out, { readonly: true, fileMustExist: true });
    wrong.pragma(`key='not the password'`);
    assert.throws(() => wrong.prepare('SELECT count(*) FROM sqlite_master').get(), /not a database/);
    wrong.close();

    const target = await freshTarget(fx);
    await assert.rejects(importArchive({ dataDir: fx.dir, target, path: out, password: 'nope' }), /does not open this sqlite export/);
    const back = await importArchive({ dataDir: fx.dir, target, path: out, password });
    assert.deepEqual({ imported: back.imported, skipped: back.skipped, kind: back.kind }, { imported: 11, skipped: 0, kind: 'sqlite' });
    await assertSameMail(fx, target, true);
    assert.deepEqual(fs.readdirSync(path.join(fx.dir, 'tmp')), [], 'no scratch files left behind');
  } finally {
    await fx.cleanup();
  }
});
