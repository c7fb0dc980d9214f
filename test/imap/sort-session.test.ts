// SORT and THREAD inside a session (own engine, real sockets): sequence numbers after an expunge, messages the
// session has not been told about, no EXPUNGE while answering, CONDSTORE's MODSEQ, and charsets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Mailbox } from '../../server/mailbox/types.js';
import { RawImap } from '../helpers/imap-raw.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';

let fx: ImapFixture;
let user: { address: string; password: string };
let mailbox: Mailbox;

function message(subject: string, date: string, extra: string[] = []): Buffer {
  return Buffer.from(
    [`From: s@example.test`, `Subject: ${subject}`, `Date: ${date}`, ...extra, 'MIME-Version: 1.0', 'Content-Type: text/plain', '', 'text', ''].join('\r\n'),
  );
}

before(async () => {
  fx = await startImapFixture({ plaintextLoginOnLoopback: true, logLevel: 'warn' });
  user = await fx.addUser('sortsession');
  mailbox = await fx.mailboxOf(user.address, user.password);
});

after(async () => fx.close());

async function open(folder: string): Promise<RawImap> {
  const r = await RawImap.connect(fx.port);
  assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /^t1 OK/);
  assert.match((await r.command(`SELECT ${folder}`)).tagged, /^t2 OK/);
  return r;
}

describe('SORT and THREAD in a session', () => {
  it('RFC 5256 §3: SORT answers sequence numbers, UID SORT UIDs (they differ after an expunge)', async () => {
    mailbox.createFolder('Seq');
    await mailbox.append('Seq', message('c', 'Mon, 1 Jan 2024 10:00:00 +0000'));
    await mailbox.append('Seq', message('gone', 'Mon, 1 Jan 2024 11:00:00 +0000'), { flags: ['\\Deleted'] });
    await mailbox.append('Seq', message('a', 'Mon, 1 Jan 2024 12:00:00 +0000'));
    await mailbox.append('Seq', message('b', 'Mon, 1 Jan 2024 09:00:00 +0000'));
    mailbox.expunge('Seq');
    const r = await open('Seq');
    try {
      assert.deepEqual((await r.command('UID SORT (SUBJECT) UTF-8 ALL')).lines, ['* SORT 3 4 1']);
      assert.deepEqual((await r.command('SORT (SUBJECT) UTF-8 ALL')).lines, ['* SORT 2 3 1']);
      assert.deepEqual((await r.command('SORT (DATE) UTF-8 ALL')).lines, ['* SORT 3 1 2']);
      assert.deepEqual((await r.command('THREAD ORDEREDSUBJECT UTF-8 ALL')).lines, ['* THREAD (3)(1)(2)']);
      assert.deepEqual((await r.command('UID THREAD ORDEREDSUBJECT UTF-8 ALL')).lines, ['* THREAD (4)(1)(3)']);
      assert.deepEqual((await r.command('SORT (DATE) UTF-8 2:3')).lines, ['* SORT 3 2'], 'search keys are sequence sets');
    } finally {
      r.close();
    }
  });

  it('RFC 9051 §7.4.1: SORT and THREAD report only messages the client knows; SORT sends no EXPUNGE, UID SORT may', async () => {
    mailbox.createFolder('Live');
    await mailbox.append('Live', message('one', 'Mon, 1 Jan 2024 10:00:00 +0000'));
    await mailbox.append('Live', message('two', 'Mon, 1 Jan 2024 11:00:00 +0000'));
    const r = await open('Live');
    try {
      // Another party delivers a message and expunges message 1 while this session is idle.
      await mailbox.append('Live', message('three', 'Mon, 1 Jan 2024 12:00:00 +0000'));
      mailbox.store('Live', [[1, 1]], 'add', ['\\Deleted']);
      mailbox.expunge('Live');
      const sorted = await r.command('SORT (DATE) UTF-8 ALL');
      assert.equal(sorted.lines[0], '* SORT 2', 'the new message is not reported before its EXISTS; the expunged one is gone');
      assert.ok(!sorted.lines.some((l) => / EXPUNGE$/.test(l)), 'no EXPUNGE while answering SORT');
      assert.ok(sorted.lines.includes('* 3 EXISTS'), 'EXISTS follows the SORT answer');
      const threads = await r.command('THREAD ORDEREDSUBJECT UTF-8 ALL');
      assert.ok(!threads.lines.some((l) => / EXPUNGE$/.test(l)), 'no EXPUNGE while answering THREAD');
      assert.equal(threads.lines[0], '* THREAD (2)(3)', 'sequence numbers still count the unannounced expunge');
      const byUid = await r.command('UID SORT (DATE) UTF-8 ALL');
      assert.equal(byUid.lines[0], '* SORT 2 3');
      assert.ok(byUid.lines.includes('* 1 EXPUNGE'), 'UID SORT may report the expunge');
      assert.deepEqual((await r.command('SORT (DATE) UTF-8 ALL')).lines, ['* SORT 1 2']);
    } finally {
      r.close();
    }
  });

  it('RFC 7162 §3.1.5: SORT with a MODSEQ key reports the highest mod-sequence of the result', async () => {
    mailbox.createFolder('Mod');
    await mailbox.append('Mod', message('x', 'Mon, 1 Jan 2024 10:00:00 +0000'));
    await mailbox.append('Mod', message('y', 'Mon, 1 Jan 2024 11:00:00 +0000'));
    const changed = mailbox.store('Mod', [[2, 2]], 'add', ['\\Flagged']);
    const modseq = changed.updated[0]!.modseq;
    const r = await open('Mod');
    try {
      assert.deepEqual((await r.command('UID SORT (REVERSE DATE) UTF-8 MODSEQ 1')).lines, [`* SORT 2 1 (MODSEQ ${modseq})`]);
      assert.deepEqual((await r.command(`UID SORT (DATE) UTF-8 MODSEQ ${modseq + 1}`)).lines, ['* SORT']);
      const esort = await r.command('UID SORT RETURN (COUNT) (DATE) UTF-8 MODSEQ 1');
      assert.deepEqual(esort.lines, [`* ESEARCH (TAG "t5") UID COUNT 2 MODSEQ ${modseq}`]);
    } finally {
      r.close();
    }
  });

  it('RFC 5256 §3: US-ASCII and UTF-8 charsets (any case) are accepted, others are NO [BADCHARSET]; before SELECT it is BAD', async () => {
    const r = await open('Mod');
    try {
      assert.match((await r.command('SORT (DATE) utf-8 ALL')).tagged, /^t3 OK/);
      assert.match((await r.command('SORT (DATE) "US-ASCII" ALL')).tagged, /^t4 OK/);
      assert.match((await r.command('THREAD REFERENCES ISO-8859-1 ALL')).tagged, /^t5 NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
    } finally {
      r.close();
    }
    const unselected = await RawImap.connect(fx.port);
    try {
      await unselected.command(`LOGIN "${user.address}" "${user.password}"`);
      assert.match((await unselected.command('SORT (DATE) UTF-8 ALL')).tagged, /^t2 BAD/);
      assert.match((await unselected.command('THREAD REFERENCES UTF-8 ALL')).tagged, /^t3 BAD/);
    } finally {
      unselected.close();
    }
  });
});
