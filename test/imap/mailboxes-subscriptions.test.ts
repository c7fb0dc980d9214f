// The subscription list over real sockets on our own engine: names outlive their folders (RFC 3501 §6.3.6,
// RFC 9051 §6.3.7), RENAME leaves the list alone (RFC 9051 §6.3.6), LSUB / LIST (SUBSCRIBED) show names whose
// folder is gone (RFC 5258 §3.1, §3.5), and RENAME of INBOX to a name below INBOX (RFC 3501 §6.3.5). Where the RFCs
// leave a choice the answers are Dovecot 2.3's (checked against a throw-away instance).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { run } from '../helpers/run.js';
import { message, namesOf, result, startMailboxesFixture, type MailboxesFixture } from './mailboxes-fixture.js';

let mf: MailboxesFixture;

before(async () => {
  mf = await startMailboxesFixture();
});
after(async () => mf.close());

const mailboxIdOf = (line: string): string => /MAILBOXID \((F[0-9a-f]+)\)/.exec(line)?.[1] ?? '';

describe('subscriptions outlive folders (RFC 3501 §6.3.6, RFC 9051 §6.3.7)', () => {
  it('RFC 3501 §6.3.6: DELETE keeps the name subscribed; LSUB lists it without attributes, LIST (SUBSCRIBED) as \\NonExistent', async () => {
    const { imap } = await mf.user();
    assert.match(result(await imap.command('CREATE Temp')), /^OK/);
    assert.match(result(await imap.command('SUBSCRIBE Temp')), /^OK/);
    assert.match(result(await imap.command('DELETE Temp')), /^OK/);
    assert.deepEqual((await imap.command('LSUB "" Temp')).lines, ['* LSUB () "/" "Temp"']);
    assert.deepEqual((await imap.command('LIST (SUBSCRIBED) "" Temp')).lines, ['* LIST (\\Subscribed \\NonExistent) "/" "Temp"']);
    assert.deepEqual((await imap.command('LIST (SUBSCRIBED) "" Temp RETURN (STATUS (MESSAGES))')).lines, ['* LIST (\\Subscribed \\NonExistent) "/" "Temp"'], 'no STATUS for a name with no folder');
    assert.deepEqual((await imap.command('LIST "" Temp')).lines, [], 'plain LIST lists folders only');
    assert.deepEqual(namesOf(await imap.command('LIST "" * RETURN (SUBSCRIBED)')).filter((n) => n === 'Temp'), []);
    // Another session sees the same list (it is stored, not session state).
    const other = await (await mf.user()).imap.command('LSUB "" Temp');
    assert.deepEqual(other.lines, [], 'another alias has its own list');
  });

  it('RFC 3501 §6.3.6: a folder re-created under a subscribed name is subscribed; UNSUBSCRIBE removes a name whose folder is gone', async () => {
    const { imap, connect } = await mf.user();
    assert.match(result(await imap.command('CREATE Again')), /^OK/);
    assert.match(result(await imap.command('SUBSCRIBE Again')), /^OK/);
    assert.match(result(await imap.command('DELETE Again')), /^OK/);
    assert.match(result(await imap.command('CREATE Again')), /^OK/);
    assert.deepEqual((await imap.command('LIST "" Again RETURN (SUBSCRIBED)')).lines, ['* LIST (\\HasNoChildren \\Subscribed) "/" "Again"']);
    assert.match(result(await imap.command('DELETE Again')), /^OK/);
    const second = await connect();
    assert.deepEqual((await second.command('LSUB "" Again')).lines, ['* LSUB () "/" "Again"']);
    assert.match(result(await second.command('UNSUBSCRIBE Again')), /^OK/);
    assert.deepEqual((await imap.command('LSUB "" Again')).lines, []);
    assert.deepEqual((await imap.command('LIST (SUBSCRIBED) "" Again')).lines, []);
  });

  it('RFC 9051 §6.3.7: SUBSCRIBE of a name that never existed is NO [NONEXISTENT] (validated, as Dovecot 2.3); of a listed name whose folder is gone, OK', async () => {
    const { imap } = await mf.user();
    assert.match(result(await imap.command('SUBSCRIBE Nowhere')), /^NO \[NONEXISTENT\]/);
    assert.match(result(await imap.command('SUBSCRIBE Nowhere/Deeper')), /^NO \[NONEXISTENT\]/);
    assert.deepEqual((await imap.command('LSUB "" *')).lines.filter((l) => l.includes('Nowhere')), []);
    assert.match(result(await imap.command('CREATE Listed')), /^OK/);
    assert.match(result(await imap.command('SUBSCRIBE Listed')), /^OK/);
    assert.match(result(await imap.command('DELETE Listed')), /^OK/);
    // RFC 9051 §6.3.7: OK "if the mailbox is already subscribed".
    assert.match(result(await imap.command('SUBSCRIBE Listed')), /^OK/);
    assert.deepEqual((await imap.command('LSUB "" Listed')).lines, ['* LSUB () "/" "Listed"']);
  });

  it('RFC 9051 §6.3.8: UNSUBSCRIBE of a name that is not subscribed (folder or not) is OK, as Dovecot 2.3', async () => {
    const { imap } = await mf.user();
    assert.match(result(await imap.command('UNSUBSCRIBE Never')), /^OK/);
    assert.match(result(await imap.command('CREATE Plain')), /^OK/);
    assert.match(result(await imap.command('UNSUBSCRIBE Plain')), /^OK/);
    assert.match(result(await imap.command('UNSUBSCRIBE Plain')), /^OK/);
    assert.match(result(await imap.command('UNSUBSCRIBE "a//b"')), /^(NO|BAD) /, 'a name no folder can have is still refused');
  });
});

describe('RENAME and the subscription list (RFC 9051 §6.3.6)', () => {
  it('RFC 9051 §6.3.6: renaming does not update subscriptions: the old names stay subscribed, the new ones are not', async () => {
    const { imap } = await mf.user();
    assert.match(result(await imap.command('CREATE Src/Kid')), /^OK/);
    assert.match(result(await imap.command('SUBSCRIBE Src')), /^OK/);
    assert.match(result(await imap.command('SUBSCRIBE Src/Kid')), /^OK/);
    assert.match(result(await imap.command('RENAME Src Dst')), /^OK/);
    assert.deepEqual((await imap.command('LSUB "" Src*')).lines, ['* LSUB () "/" "Src"', '* LSUB () "/" "Src/Kid"']);
    assert.deepEqual((await imap.command('LSUB "" Dst*')).lines, []);
    assert.deepEqual((await imap.command('LIST (SUBSCRIBED) "" *')).lines.filter((l) => /"(Src|Dst)/.test(l)), [
      '* LIST (\\Subscribed \\NonExistent) "/" "Src"',
      '* LIST (\\Subscribed \\NonExistent) "/" "Src/Kid"',
    ]);
    assert.deepEqual((await imap.command('LIST "" Dst* RETURN (SUBSCRIBED)')).lines, [
      '* LIST (\\HasChildren) "/" "Dst"',
      '* LIST (\\HasNoChildren) "/" "Dst/Kid"',
    ]);
    // The RFC's own recipe keeps the list in step.
    assert.match(result(await imap.command('SUBSCRIBE Dst')), /^OK/);
    assert.match(result(await imap.command('UNSUBSCRIBE Src')), /^OK/);
    assert.deepEqual(namesOf(await imap.command('LSUB "" *')).filter((n) => /^(Src|Dst)/.test(n)), ['Dst', 'Src/Kid']);
    // Renaming back onto listed names: the folders have subscribed names again.
    assert.match(result(await imap.command('RENAME Dst Src')), /^OK/);
    assert.deepEqual((await imap.command('LIST "" Src* RETURN (SUBSCRIBED)')).lines, [
      '* LIST (\\HasChildren) "/" "Src"',
      '* LIST (\\HasNoChildren \\Subscribed) "/" "Src/Kid"',
    ]);
  });

  it('RFC 5258 §3.5 / RFC 3501 §6.3.9: a level above a subscribed name with no folder: LIST (SUBSCRIBED RECURSIVEMATCH) CHILDINFO, LSUB % \\Noselect', async () => {
    const { imap } = await mf.user();
    assert.match(result(await imap.command('CREATE Deep/Er/Est')), /^OK/);
    assert.match(result(await imap.command('SUBSCRIBE Deep/Er/Est')), /^OK/);
    assert.match(result(await imap.command('RENAME Deep Shallow')), /^OK/);
    const recursive = await imap.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" %');
    assert.deepEqual(recursive.lines.filter((l) => l.includes('"Deep')), ['* LIST (\\NonExistent) "/" "Deep" ("CHILDINFO" ("SUBSCRIBED"))']);
    assert.deepEqual((await imap.command('LSUB "" %')).lines.filter((l) => l.includes('"Deep')), ['* LSUB (\\Noselect) "/" "Deep"']);
    assert.deepEqual((await imap.command('LSUB "" Deep/%')).lines, ['* LSUB (\\Noselect) "/" "Deep/Er"']);
    assert.deepEqual((await imap.command('LSUB "" Deep/Er/%')).lines, ['* LSUB () "/" "Deep/Er/Est"']);
    assert.deepEqual((await imap.command('LIST (SUBSCRIBED) "" Deep*')).lines, ['* LIST (\\Subscribed \\NonExistent) "/" "Deep/Er/Est"']);
    assert.deepEqual((await imap.command('LIST (SUBSCRIBED SPECIAL-USE) "" Deep*')).lines, [], 'a name with no folder has no special use');
  });
});

describe('RENAME INBOX (RFC 3501 §6.3.5, RFC 9051 §6.3.6)', () => {
  it('RFC 3501 §6.3.5: RENAME INBOX INBOX/old moves the messages below INBOX, leaves INBOX empty with its inferiors, subscribes nothing', async () => {
    const { imap, mailbox, connect } = await mf.user();
    await mailbox.append('INBOX', message('first'));
    await mailbox.append('INBOX', message('second'));
    assert.match(result(await imap.command('CREATE INBOX/Kept')), /^OK/);
    const inboxId = mailboxIdOf((await imap.command('STATUS INBOX (MAILBOXID)')).lines[0] ?? '');
    const watcher = await connect();
    assert.match(result(await watcher.command('SELECT INBOX')), /^OK/);

    assert.match(result(await imap.command('RENAME INBOX INBOX/old/2026')), /^OK/);
    assert.deepEqual((await imap.command('LIST "" INBOX* RETURN (SUBSCRIBED)')).lines, [
      '* LIST (\\HasChildren \\Subscribed) "/" "INBOX"',
      '* LIST (\\HasNoChildren) "/" "INBOX/Kept"',
      '* LIST (\\HasChildren) "/" "INBOX/old"',
      '* LIST (\\HasNoChildren) "/" "INBOX/old/2026"',
    ]);
    assert.equal((await imap.command('STATUS INBOX/old/2026 (MESSAGES)')).lines[0], '* STATUS "INBOX/old/2026" (MESSAGES 2)');
    assert.equal((await imap.command('STATUS INBOX (MESSAGES MAILBOXID)')).lines[0], `* STATUS "INBOX" (MESSAGES 0 MAILBOXID (${inboxId}))`);
    // The session that had INBOX selected sees the messages leave.
    const noop = await watcher.command('NOOP');
    assert.equal(noop.lines.filter((l) => / EXPUNGE$/.test(l)).length, 2, noop.lines.join('\n'));
    assert.match(result(await imap.command('RENAME INBOX INBOX')), /^NO \[ALREADYEXISTS\]/);
    assert.match(result(await imap.command('RENAME INBOX INBOX/Kept')), /^NO \[ALREADYEXISTS\]/);
    assert.match(result(await imap.command('RENAME INBOX/Kept INBOX/Kept/Sub')), /^NO \[CANNOT\]/, 'other folders still cannot move below themselves');
  });
});

describe('a real client', () => {
  it('Python imaplib: lsub() keeps a deleted subscribed folder until unsubscribe() (RFC 3501 §6.3.6)', async () => {
    const { address, password } = await mf.user();
    const script = `
import imaplib, sys
c = imaplib.IMAP4('127.0.0.1', int(sys.argv[1])); c.login(sys.argv[2], sys.argv[3])
def names(data): return sorted(d.decode().rsplit(' ', 1)[1].strip('"') for d in data if d)
print(c.create('Papers')[0], c.subscribe('Papers')[0], c.delete('Papers')[0])
print(names(c.lsub('""', 'Papers')[1]))
print(c.unsubscribe('Papers')[0], names(c.lsub('""', 'Papers')[1]))
c.logout()
`;
    const py = await run('python3', ['-c', script, String(mf.port), address, password]);
    assert.equal(py.status, 0, py.stderr.toString());
    assert.deepEqual(py.stdout.toString().trim().split('\n'), ['OK OK OK', "['Papers']", 'OK []']);
  });
});
