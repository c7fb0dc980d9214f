// REPLACE / UID REPLACE (RFC 8508) on our own engine over real sockets: response order, another target folder,
// CATENATE as the new message, refusals that leave the old message in place.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { code, message, startMessagesFixture, status, type MessagesFixture, type TestUser } from './messages-fixture.js';

let f: MessagesFixture;

before(async () => {
  f = await startMessagesFixture();
});
after(() => f.close());

async function draftsWith(count: number): Promise<TestUser> {
  const u = await f.user();
  for (let i = 1; i <= count; i++) await u.mailbox.append('Drafts', message(`draft ${i}`), { flags: ['\\Draft'] });
  assert.equal(status(await u.imap.command('SELECT Drafts')), 'OK');
  return u;
}

describe('REPLACE (RFC 8508)', () => {
  test('RFC 8508 §4.3, §3.4: * OK [APPENDUID] first, then EXISTS and EXPUNGE, then the tagged OK; the old message is gone', async () => {
    const u = await draftsWith(3);
    const raw = message('draft 2, edited');
    const reply = await u.imap.commandWithLiteral('REPLACE 2 Drafts (\\Seen \\Draft)', raw);
    assert.equal(status(reply), 'OK', reply.tagged);
    const uidValidity = u.mailbox.status('Drafts').uidValidity;
    assert.match(reply.lines[0] ?? '', new RegExp(`^\\* OK \\[APPENDUID ${uidValidity} 4\\] `));
    assert.ok(reply.lines.includes('* 2 EXPUNGE'), reply.lines.join('|'));
    assert.ok(reply.lines.some((l) => /^\* [34] EXISTS$/.test(l)), reply.lines.join('|'));
    // Nothing about the replaced message's \Deleted flag: that change is this session's own.
    assert.ok(!reply.lines.some((l) => l.includes('FETCH')), reply.lines.join('|'));
    assert.deepEqual(u.mailbox.listMessages('Drafts').map((m) => m.uid), [1, 3, 4]);
    assert.deepEqual(await u.mailbox.readMessage('Drafts', 4), raw);
    assert.deepEqual([...(u.mailbox.listMessages('Drafts', [[4, 4]])[0]?.flags ?? [])].sort(), ['\\Draft', '\\Seen']);
  });

  test('RFC 8508 §3.3: UID REPLACE into another folder (Drafts → Sent); QRESYNC reports VANISHED', async () => {
    const u = await f.user();
    await u.mailbox.append('Drafts', message('one'));
    await u.mailbox.append('Drafts', message('two'));
    assert.equal(status(await u.imap.command('ENABLE QRESYNC')), 'OK');
    assert.equal(status(await u.imap.command('SELECT Drafts')), 'OK');
    const reply = await u.imap.commandWithLiteral('UID REPLACE 2 Sent', message('two, sent'));
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.match(reply.lines[0] ?? '', /^\* OK \[APPENDUID \d+ 1\] /);
    assert.equal(reply.lines[1], '* VANISHED 2');
    assert.equal(u.mailbox.status('Sent').messages, 1);
    assert.deepEqual(u.mailbox.listMessages('Drafts').map((m) => m.uid), [1]);
  });

  test('RFC 8508 §4.2 / RFC 4469: the new message may be built with CATENATE', async () => {
    const u = await draftsWith(1);
    const header = Buffer.from('Subject: rebuilt\r\n\r\n');
    const reply = await u.imap.command(`UID REPLACE 1 Drafts CATENATE (TEXT {${header.length}+}\r\n${header.toString()} URL ";UID=1/;SECTION=TEXT")`);
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.equal((await u.mailbox.readMessage('Drafts', 2)).toString(), 'Subject: rebuilt\r\n\r\nHello there.\r\n');
    assert.deepEqual(u.mailbox.listMessages('Drafts').map((m) => m.uid), [2]);
  });

  test('RFC 8508 §3.2: REPLACE carries message data like APPEND: a literal above the command-line cap is accepted', async () => {
    const u = await draftsWith(1);
    const raw = message('long draft', 'w'.repeat(100 * 1024));
    const reply = await u.imap.commandWithLiteral('REPLACE 1 Drafts', raw);
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.deepEqual(await u.mailbox.readMessage('Drafts', 2), raw);
  });

  test('RFC 8508 §3.4: a missing target folder is NO [TRYCREATE]; the old message stays', async () => {
    const u = await draftsWith(1);
    const reply = await u.imap.commandWithLiteral('REPLACE 1 Nowhere', message('lost'));
    assert.equal(status(reply), 'NO', reply.tagged);
    assert.equal(code(reply), 'TRYCREATE');
    assert.deepEqual(u.mailbox.listMessages('Drafts').map((m) => m.uid), [1]);
  });

  test('RFC 8508 §3.4: over quota is NO [OVERQUOTA]; the old message stays', async () => {
    const u = await f.user(600);
    await u.mailbox.append('Drafts', message('small'));
    assert.equal(status(await u.imap.command('SELECT Drafts')), 'OK');
    const reply = await u.imap.commandWithLiteral('REPLACE 1 Drafts', message('large', 'y'.repeat(700)));
    assert.equal(code(reply), 'OVERQUOTA', reply.tagged);
    assert.deepEqual(u.mailbox.listMessages('Drafts').map((m) => m.uid), [1]);
  });

  test('RFC 8508 §3.3: UID REPLACE of a UID that does not exist is NO and stores nothing', async () => {
    const u = await draftsWith(1);
    const reply = await u.imap.commandWithLiteral('UID REPLACE 99 Drafts', message('orphan'));
    assert.equal(status(reply), 'NO', reply.tagged);
    assert.equal(u.mailbox.status('Drafts').messages, 1);
  });

  test('RFC 8508 §5 / RFC 9051 seq-number: REPLACE * replaces the last message', async () => {
    const u = await draftsWith(3);
    const reply = await u.imap.commandWithLiteral('REPLACE * Drafts', message('last, edited'));
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.deepEqual(u.mailbox.listMessages('Drafts').map((m) => m.uid), [1, 2, 4]);
  });

  test('RFC 8508 §3.2: REPLACE with a sequence number beyond the mailbox is BAD', async () => {
    const u = await draftsWith(1);
    const reply = await u.imap.commandWithLiteral('REPLACE 7 Drafts', message('orphan'));
    assert.equal(status(reply), 'BAD', reply.tagged);
    assert.equal(u.mailbox.status('Drafts').messages, 1);
  });

  test('RFC 8508 §3.4, §4.1: REPLACE in a folder opened with EXAMINE is NO; nothing changes', async () => {
    const u = await f.user();
    await u.mailbox.append('Drafts', message('keep'));
    assert.equal(status(await u.imap.command('EXAMINE Drafts')), 'OK');
    const reply = await u.imap.commandWithLiteral('REPLACE 1 Drafts', message('no'));
    assert.equal(status(reply), 'NO', reply.tagged);
    assert.equal(u.mailbox.status('Drafts').messages, 1);
  });

  test('RFC 8508 §3.5: REPLACE needs a selected folder (BAD in the authenticated state)', async () => {
    const u = await f.user();
    const reply = await u.imap.command('REPLACE 1 Drafts {3+}\r\nabc');
    assert.equal(status(reply), 'BAD', reply.tagged);
  });

  test('RFC 8508: REPLACE is advertised', async () => {
    const u = await f.user();
    const reply = await u.imap.command('CAPABILITY');
    const caps = reply.lines.find((l) => l.startsWith('* CAPABILITY ')) ?? '';
    for (const name of ['REPLACE', 'MOVE', 'MULTIAPPEND', 'CATENATE', 'UIDPLUS']) assert.ok(caps.split(' ').includes(name), `${name} missing: ${caps}`);
  });
});
