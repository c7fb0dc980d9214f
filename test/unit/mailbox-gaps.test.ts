// Store-level RFC 3501 details: SENTBEFORE/SENTON/SENTSINCE use the calendar date written in the Date:
// header (its own time zone), and deleting a folder that has children keeps it as \Noselect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FolderExists, InvalidRequest, NoSuchFolder, type Mailbox } from '../../server/mailbox/index.js';
import { sentDayOf } from '../../server/mailbox/search.js';
import { simpleMessage, storeFixture } from '../helpers/mailbox.js';
import { findPlaintext } from '../helpers/privacy.js';

function dated(date: string, subject: string): Buffer {
  return Buffer.from(`From: a@example.com\r\nTo: b@example.org\r\nSubject: ${subject}\r\nDate: ${date}\r\nMessage-ID: <${subject}@example.com>\r\n\r\nbody\r\n`);
}

const sentUids = (mb: Mailbox, op: 'sentbefore' | 'senton' | 'sentsince', date: string): number[] => mb.search('INBOX', { op, date });

test('SENT* compare the Date: header day in its own zone, not the UTC day', async () => {
  const fx = storeFixture();
  try {
    const { mailbox } = await fx.newMailbox();
    // 23:30 in California on the 7th is the 8th in UTC; 01:00 in Kiribati (+14) on the 9th is the 8th in UTC.
    const west = (await mailbox.append('INBOX', dated('Tue, 07 Jan 2025 23:30:00 -0800', 'west'))).uid;
    const east = (await mailbox.append('INBOX', dated('Thu, 9 Jan 2025 01:00:00 +1400', 'east'))).uid;
    const utc = (await mailbox.append('INBOX', dated('8 Jan 2025 12:00:00 GMT', 'utc'))).uid; // no weekday
    const old = (await mailbox.append('INBOX', dated('Mon, 01 Jan 90 10:00:00 +0000', 'obsolete-year'))).uid; // 2-digit year
    const noDate = Buffer.from('From: a@example.com\r\nSubject: nodate\r\n\r\nx\r\n'); // falls back to the internal date
    const none = (await mailbox.append('INBOX', noDate, { internalDate: new Date('2025-01-08T05:00:00Z') })).uid;

    assert.deepEqual(sentUids(mailbox, 'senton', '2025-01-07'), [west]);
    assert.deepEqual(sentUids(mailbox, 'senton', '2025-01-08'), [utc, none]);
    assert.deepEqual(sentUids(mailbox, 'senton', '2025-01-09'), [east]);
    assert.deepEqual(sentUids(mailbox, 'sentbefore', '2025-01-08'), [west, old]);
    assert.deepEqual(sentUids(mailbox, 'sentsince', '2025-01-08'), [east, utc, none]);
    assert.deepEqual(sentUids(mailbox, 'senton', '1990-01-01'), [old]);
    // NOT SENTON is the complement.
    assert.deepEqual(mailbox.search('INBOX', { op: 'not', of: { op: 'senton', date: '2025-01-07' } }), [east, utc, old, none]);
  } finally {
    await fx.cleanup();
  }
});

test('sentDayOf reads the written date, ignoring time and zone', () => {
  assert.equal(sentDayOf('Tue, 07 Jan 2025 23:30:00 -0800'), '2025-01-07');
  assert.equal(sentDayOf(' 1 feb 2024 00:00 +0100'), '2024-02-01');
  assert.equal(sentDayOf('Sat, 31 Dec 49 10:00 +0000'), '2049-12-31');
  assert.equal(sentDayOf('Fri, 31 Dec 099 10:00 +0000'), '1999-12-31');
  assert.equal(sentDayOf('yesterday'), null);
});

test('DELETE of a folder with children removes its messages and keeps it as \\Noselect', async () => {
  const fx = storeFixture();
  try {
    const { id, key, mailbox } = await fx.newMailbox();
    mailbox.createFolder('Projects/2024');
    const u1 = (await mailbox.append('Projects', simpleMessage('parent mail one', 'secret-parent-body'))).uid;
    await mailbox.append('Projects', simpleMessage('parent mail two', 'secret-parent-body'));
    await mailbox.append('Projects/2024', simpleMessage('child mail', 'kept'));
    const before = mailbox.status('Projects');
    const usedBefore = mailbox.quota().usedBytes;

    mailbox.deleteFolder('Projects');

    const listed = mailbox.listFolders();
    const parent = listed.find((f) => f.path === 'Projects');
    assert.ok(parent, 'the name stays for its child');
    assert.equal(parent.noselect, true);
    assert.equal(listed.find((f) => f.path === 'Projects/2024')?.noselect, undefined, 'children stay selectable');
    assert.equal(listed.find((f) => f.path === 'INBOX')?.noselect, undefined);
    assert.equal(mailbox.status('Projects').messages, 0, 'its messages are gone');
    assert.equal(mailbox.status('Projects/2024').messages, 1, 'the child keeps its mail');
    assert.ok(mailbox.quota().usedBytes < usedBefore, 'quota usage drops');
    // A session that had it selected sees the expunges in the journal.
    assert.deepEqual(
      mailbox.changesSince('Projects', before.highestModseq).filter((c) => c.kind === 'expunge').map((c) => c.uid)[0],
      u1,
    );

    // Nothing can be put into a \Noselect folder.
    await assert.rejects(mailbox.append('Projects', simpleMessage('nope', 'nope')), NoSuchFolder);
    const inboxUid = (await mailbox.append('INBOX', simpleMessage('to copy', 'x'))).uid;
    assert.throws(() => mailbox.copy('INBOX', [[inboxUid, inboxUid]], 'Projects'), NoSuchFolder);
    assert.throws(() => mailbox.move('INBOX', [[inboxUid, inboxUid]], 'Projects'), NoSuchFolder);
    assert.equal(mailbox.status('INBOX').messages, 1, 'a refused move leaves the source alone');

    // Deleting it again while it still has children is an error (RFC 3501).
    assert.throws(() => mailbox.deleteFolder('Projects'), InvalidRequest);
    // CREATE makes the name a real folder again; CREATE of a real folder still fails.
    const revived = mailbox.createFolder('Projects');
    assert.equal(revived.noselect, undefined);
    assert.ok(revived.uidValidity > before.uidValidity, 'a new UIDVALIDITY');
    await mailbox.append('Projects', simpleMessage('back again', 'x'));
    assert.throws(() => mailbox.createFolder('Projects'), FolderExists);

    // Delete again (→ \Noselect), then the child, then the childless \Noselect name goes for good.
    mailbox.deleteFolder('Projects');
    mailbox.deleteFolder('Projects/2024');
    mailbox.deleteFolder('Projects');
    assert.equal(mailbox.listFolders().some((f) => f.path.startsWith('Projects')), false);

    // The \Noselect mark is stored in the file: it survives close and re-open.
    mailbox.createFolder('Keep/Child');
    mailbox.deleteFolder('Keep');
    await fx.store.close(id);
    const reopened = await fx.store.open(id, key);
    assert.equal(reopened.listFolders().find((f) => f.path === 'Keep')?.noselect, true);
    // The deleted bodies are not readable in the file (secure_delete + encryption).
    await fx.store.close(id);
    assert.deepEqual(findPlaintext(fx.dataDir, ['secret-parent-body']), []);
  } finally {
    await fx.cleanup();
  }
});
