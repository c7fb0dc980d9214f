// NOTIFY (RFC 5465) on our own engine over real sockets: it is advertised, its grammar and refusals, and the
// delivery of changes made by other sessions (Session.watchFolders / publishFolderChange).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { message, result, startMailboxesFixture, type MailboxesFixture } from './mailboxes-fixture.js';

let mf: MailboxesFixture;

before(async () => {
  mf = await startMailboxesFixture();
});
after(async () => mf.close());

async function advertised(): Promise<boolean> {
  const { imap } = await mf.user();
  return ((await imap.command('CAPABILITY')).lines[0] ?? '').split(' ').includes('NOTIFY');
}

describe('NOTIFY (RFC 5465)', () => {
  it('RFC 5465 §8 grammar: bad forms are BAD, unsupported events NO [BADEVENT], valid ones OK', async () => {
    assert.ok(await advertised(), 'NOTIFY is in CAPABILITY after login');
    const { imap } = await mf.user();
    for (const bad of [
      'NOTIFY', 'NOTIFY SET', 'NOTIFY BOGUS', 'NOTIFY NONE extra', 'NOTIFY SET (personal)', 'NOTIFY SET (nowhere (MessageNew MessageExpunge))',
      'NOTIFY SET (personal (MessageNew))', 'NOTIFY SET (personal (MessageExpunge))', 'NOTIFY SET (personal (FlagChange))',
      'NOTIFY SET (personal (Bogus))', 'NOTIFY SET (personal ())', 'NOTIFY SET (personal (MessageNew (UID) MessageExpunge))',
      'NOTIFY SET (subtree (MailboxName))', 'NOTIFY SET (selected (MessageNew MessageExpunge)) extra',
      'NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))', 'NOTIFY SET (selected (MailboxName))',
    ]) {
      assert.match(result(await imap.command(bad)), /^BAD /, bad);
    }
    assert.match(
      result(await imap.command('NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))')),
      /^NO \[BADEVENT \(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange\)\] /,
    );
    for (const valid of [
      'NOTIFY NONE',
      'NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge MailboxName))',
      'NOTIFY SET STATUS (inboxes (MessageNew MessageExpunge))',
      'NOTIFY SET (subtree (Work "Play") (MailboxName SubscriptionChange)) (mailboxes Work NONE)',
      'NOTIFY SET (selected-delayed (MessageExpunge MessageNew (UID)))',
    ]) {
      assert.match(result(await imap.command(valid)), /^OK /, valid);
    }
    assert.equal(result(await imap.command('NOOP')), 'OK NOOP completed');
  });

  it('RFC 5465 §5: another session\'s CREATE is a LIST, new mail elsewhere a STATUS, new mail in the selected mailbox EXISTS + FETCH', async () => {
    const user = await mf.user();
    user.mailbox.createFolder('Other');
    const a = user.imap;
    assert.match(result(await a.command('SELECT INBOX')), /^OK/);
    assert.match(result(await a.command('NOTIFY SET (selected (MessageNew (UID) MessageExpunge)) (personal (MessageNew MessageExpunge MailboxName))')), /^OK/);
    a.write('t90 IDLE\r\n');
    assert.match(await a.readLine(), /^\+ /);
    const b = await user.connect();
    assert.match(result(await b.command('CREATE Fresh')), /^OK/);
    assert.equal(await a.readLine(), '* LIST () "/" "Fresh"');
    await user.mailbox.append('Other', message('elsewhere'));
    assert.match(await a.readLine(), /^\* STATUS "Other" \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)$/);
    await user.mailbox.append('INBOX', message('here'));
    assert.equal(await a.readLine(), '* 1 EXISTS');
    const next = await a.readLine();
    assert.ok(next === '* 1 RECENT' ? (await a.readLine()) === '* 1 FETCH (UID 1)' : next === '* 1 FETCH (UID 1)', next);
    a.write('DONE\r\n');
    assert.match(result(await a.until('t90')), /^OK/);
  });

  it('RFC 5465 §5.4–§5.5: RENAME is a LIST with OLDNAME, DELETE a LIST with \\NonExistent, (UN)SUBSCRIBE a LIST with or without \\Subscribed; changes arrive between commands too', async () => {
    const user = await mf.user();
    const a = user.imap;
    const b = await user.connect();
    assert.match(result(await a.command('NOTIFY SET (personal (MailboxName SubscriptionChange))')), /^OK/);
    assert.match(result(await b.command('CREATE Old')), /^OK/);
    assert.equal(await a.readLine(), '* LIST () "/" "Old"');
    assert.match(result(await b.command('RENAME Old New')), /^OK/);
    assert.equal(await a.readLine(), '* LIST () "/" "New" ("OLDNAME" ("Old"))');
    assert.match(result(await b.command('SUBSCRIBE New')), /^OK/);
    assert.equal(await a.readLine(), '* LIST (\\Subscribed) "/" "New"');
    assert.match(result(await b.command('UNSUBSCRIBE New')), /^OK/);
    assert.equal(await a.readLine(), '* LIST () "/" "New"');
    assert.match(result(await b.command('DELETE New')), /^OK/);
    assert.equal(await a.readLine(), '* LIST (\\NonExistent) "/" "New"');
    // NOTIFY NONE: nothing more.
    assert.match(result(await a.command('NOTIFY NONE')), /^OK/);
    assert.match(result(await b.command('CREATE Quiet')), /^OK/);
    const after = await a.command('NOOP');
    assert.deepEqual(after.lines, []);
  });

  it('RFC 5465 §5.1: NOTIFY SET STATUS reports the watched mailboxes at once; §6: a matching group with NONE silences a mailbox, one without the event lets later groups decide', async () => {
    const user = await mf.user();
    user.mailbox.createFolder('Work/Reports');
    await user.mailbox.append('Work/Reports', message('report'));
    const a = user.imap;
    const set = await a.command('NOTIFY SET STATUS (mailboxes Work/Reports NONE) (subtree Work (MessageNew MessageExpunge))');
    assert.match(result(set), /^OK/);
    assert.deepEqual(set.lines.map((l) => l.replace(/UIDVALIDITY \d+/, 'UIDVALIDITY n')), ['* STATUS "Work" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY n UNSEEN 0)']);
    // Work/Reports is taken by the first group (NONE): its new mail is not reported; Work's is.
    await user.mailbox.append('Work/Reports', message('report two'));
    await user.mailbox.append('Work', message('work'));
    assert.match(await a.readLine(), /^\* STATUS "Work" \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)$/);
    assert.deepEqual((await a.command('NOOP')).lines, []);
    // A group that takes the mailbox but not the event passes it on to the next group.
    assert.match(result(await a.command('NOTIFY SET (subtree Work (MailboxName)) (personal (MessageNew MessageExpunge))')), /^OK/);
    await user.mailbox.append('Work/Reports', message('report three'));
    assert.match(await a.readLine(), /^\* STATUS "Work\/Reports" \(MESSAGES 3 UIDNEXT 4 UIDVALIDITY \d+ UNSEEN 3\)$/);
  });
});
