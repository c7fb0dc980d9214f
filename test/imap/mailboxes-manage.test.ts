// CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE on our own engine over real sockets (RFC 3501 §6.3.3–§6.3.7,
// RFC 9051 §6.3.4–§6.3.8), CREATE-SPECIAL-USE (RFC 6154 §3), MAILBOXID (RFC 8474 §4), and hostile names.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Rng } from '../helpers/fuzz-inputs.js';
import { attributesOf, message, namesOf, result, startMailboxesFixture, type MailboxesFixture } from './mailboxes-fixture.js';

let mf: MailboxesFixture;

before(async () => {
  mf = await startMailboxesFixture();
});
after(async () => mf.close());

const mailboxIdOf = (line: string): string => /MAILBOXID \((F[0-9a-f]+)\)/.exec(line)?.[1] ?? '';

describe('CREATE (RFC 3501 §6.3.3, RFC 9051 §6.3.4)', () => {
  it('RFC 9051 §6.3.4: CREATE does not subscribe the new folder nor the superior names it creates', async () => {
    const { imap, mailbox } = await mf.user();
    const reply = await imap.command('CREATE Projects/2026/Q1');
    assert.match(result(reply), /^OK \[MAILBOXID \(F[0-9a-f]{32}\)\] CREATE completed$/);
    const listed = await imap.command('LIST "" Projects*');
    assert.deepEqual(namesOf(listed), ['Projects', 'Projects/2026', 'Projects/2026/Q1']);
    assert.deepEqual(namesOf(await imap.command('LSUB "" Projects*')), []);
    assert.deepEqual(namesOf(await imap.command('LIST (SUBSCRIBED) "" Projects*')), []);
    assert.ok(mailbox.listFolders().filter((f) => f.path.startsWith('Projects')).every((f) => !f.subscribed));
    // An existing superior name keeps its subscription.
    assert.match(result(await imap.command('SUBSCRIBE Projects')), /^OK/);
    assert.match(result(await imap.command('CREATE Projects/2026/Q2')), /^OK/);
    assert.deepEqual(namesOf(await imap.command('LSUB "" Projects*')), ['Projects']);
  });

  it('RFC 3501 §6.3.3: a trailing hierarchy separator creates the name itself', async () => {
    const { imap } = await mf.user();
    assert.match(result(await imap.command('CREATE Trail/')), /^OK/);
    assert.deepEqual((await imap.command('LIST "" Trail*')).lines, ['* LIST (\\HasNoChildren) "/" "Trail"']);
  });

  it('RFC 3501 §6.3.3 / RFC 5530: INBOX (any case) and existing names are NO [ALREADYEXISTS]', async () => {
    const { imap } = await mf.user();
    assert.match(result(await imap.command('CREATE INBOX')), /^NO \[ALREADYEXISTS\]/);
    assert.match(result(await imap.command('CREATE inbox')), /^NO \[ALREADYEXISTS\]/);
    assert.match(result(await imap.command('CREATE Sent')), /^NO \[ALREADYEXISTS\]/);
    assert.match(result(await imap.command('CREATE INBOX/Sub')), /^OK/);
    assert.match(result(await imap.command('CREATE inbox/Sub')), /^NO \[ALREADYEXISTS\]/);
  });

  it('RFC 6154 §3: CREATE (USE (\\Archive)) sets the special use; an unsupported one is NO [USEATTR] and creates nothing', async () => {
    const { imap } = await mf.user();
    assert.match(result(await imap.command('CREATE "Old mail" (USE (\\Archive))')), /^OK/);
    assert.deepEqual(attributesOf(await imap.command('LIST "" "Old mail"'), 'Old mail'), ['\\HasNoChildren', '\\Archive']);
    assert.match(result(await imap.command('CREATE Everything (USE (\\All))')), /^NO \[USEATTR\]/);
    assert.match(result(await imap.command('CREATE Two (USE (\\Sent \\Archive))')), /^NO \[USEATTR\]/);
    assert.match(result(await imap.command('CREATE Bogus (USE (\\Bogus))')), /^NO \[USEATTR\]/);
    assert.deepEqual(namesOf(await imap.command('LIST "" ("Everything" "Two" "Bogus")')), []);
    assert.match(result(await imap.command('CREATE Plain (USE ())')), /^OK/);
    assert.deepEqual(attributesOf(await imap.command('LIST "" Plain'), 'Plain'), ['\\HasNoChildren']);
    assert.match(result(await imap.command('CREATE Other (FOO (\\Archive))')), /^BAD/);
    const caps = (await imap.command('CAPABILITY')).lines[0]?.split(' ') ?? [];
    assert.ok(caps.includes('CREATE-SPECIAL-USE'));
  });
});

describe('DELETE (RFC 3501 §6.3.4, RFC 9051 §6.3.5)', () => {
  it('RFC 3501 §6.3.4: a folder with inferiors stays as \\Noselect; INBOX and unknown names are refused', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Parent/Child');
    await mailbox.append('Parent', message('in parent'));
    assert.match(result(await imap.command('DELETE Parent')), /^OK/);
    const listed = await imap.command('LIST "" Parent*');
    assert.deepEqual(listed.lines, ['* LIST (\\Noselect \\HasChildren) "/" "Parent"', '* LIST (\\HasNoChildren) "/" "Parent/Child"']);
    assert.match(result(await imap.command('STATUS Parent (MESSAGES)')), /^NO/);
    assert.match(result(await imap.command('DELETE Parent')), /^NO/, 'a \\Noselect name with inferiors cannot be deleted again');
    // The last inferior gone, the \Noselect name goes with it.
    assert.match(result(await imap.command('DELETE Parent/Child')), /^OK/);
    assert.deepEqual(namesOf(await imap.command('LIST "" Parent*')), []);
    assert.match(result(await imap.command('DELETE INBOX')), /^NO/);
    assert.match(result(await imap.command('DELETE inbox')), /^NO/);
    assert.match(result(await imap.command('DELETE Nowhere')), /^NO \[NONEXISTENT\]/);
  });

  it('RFC 9051 §7.1 CLOSED: deleting the selected folder closes it for this session; other sessions are told BYE', async () => {
    const user = await mf.user();
    user.mailbox.createFolder('Doomed');
    await user.mailbox.append('Doomed', message('doomed'));
    const other = await user.connect();
    assert.match(result(await other.command('SELECT Doomed')), /^OK/);
    assert.match(result(await user.imap.command('SELECT Doomed')), /^OK/);
    const reply = await user.imap.command('DELETE Doomed');
    assert.deepEqual(reply.lines, ['* OK [CLOSED] The selected folder was deleted']);
    assert.match(result(reply), /^OK DELETE completed/);
    assert.match(result(await user.imap.command('FETCH 1 FLAGS')), /^BAD/);
    assert.match(result(await user.imap.command('SELECT INBOX')), /^OK/);
    const dropped = await other.command('NOOP');
    assert.ok(dropped.lines.some((l) => l.startsWith('* BYE')), dropped.lines.join('\n'));
  });
});

describe('RENAME (RFC 3501 §6.3.5, RFC 9051 §6.3.6)', () => {
  it('RFC 3501 §6.3.5: inferiors move with the folder; MAILBOXID stays (RFC 8474 §4.2); subscriptions stay on the old names (RFC 9051 §6.3.6)', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Trip/Photos');
    await mailbox.append('Trip/Photos', message('photo'));
    const before = mailboxIdOf((await imap.command('STATUS Trip/Photos (MAILBOXID)')).lines[0] ?? '');
    assert.ok(before);
    assert.match(result(await imap.command('RENAME Trip Archive/2025/Trip')), /^OK/);
    assert.deepEqual(namesOf(await imap.command('LIST "" Trip*')), []);
    assert.deepEqual(namesOf(await imap.command('LIST "" Archive/*')), ['Archive/2025', 'Archive/2025/Trip', 'Archive/2025/Trip/Photos']);
    const moved = await imap.command('STATUS Archive/2025/Trip/Photos (MESSAGES MAILBOXID)');
    assert.equal(moved.lines[0], `* STATUS "Archive/2025/Trip/Photos" (MESSAGES 1 MAILBOXID (${before}))`);
    assert.ok(!mailbox.listFolders().find((f) => f.path === 'Archive/2025')?.subscribed);
    // RFC 9051 §6.3.6: "renaming a mailbox doesn't update subscription information on the original name".
    assert.ok(!mailbox.listFolders().find((f) => f.path === 'Archive/2025/Trip')?.subscribed, 'the new name is not subscribed');
    assert.deepEqual(namesOf(await imap.command('LSUB "" Trip*')), ['Trip', 'Trip/Photos']);
  });

  it('RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name and leaves INBOX empty, with its inferiors', async () => {
    const { imap, mailbox } = await mf.user();
    await mailbox.append('INBOX', message('first'));
    await mailbox.append('INBOX', message('second'));
    mailbox.createFolder('INBOX/Kept');
    const inboxId = mailboxIdOf((await imap.command('STATUS INBOX (MAILBOXID)')).lines[0] ?? '');
    assert.match(result(await imap.command('RENAME INBOX "Old INBOX"')), /^OK/);
    assert.equal((await imap.command('STATUS "Old INBOX" (MESSAGES)')).lines[0], '* STATUS "Old INBOX" (MESSAGES 2)');
    const inbox = (await imap.command('STATUS INBOX (MESSAGES MAILBOXID)')).lines[0] ?? '';
    assert.equal(inbox, `* STATUS "INBOX" (MESSAGES 0 MAILBOXID (${inboxId}))`);
    assert.deepEqual(namesOf(await imap.command('LIST "" INBOX*')), ['INBOX', 'INBOX/Kept']);
  });

  it('RFC 5530: unknown source NONEXISTENT, existing target (INBOX included) ALREADYEXISTS, into itself CANNOT', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('A/B');
    assert.match(result(await imap.command('RENAME Nowhere Somewhere')), /^NO \[NONEXISTENT\]/);
    assert.match(result(await imap.command('RENAME A Sent')), /^NO \[ALREADYEXISTS\]/);
    assert.match(result(await imap.command('RENAME A inbox')), /^NO \[ALREADYEXISTS\]/);
    assert.match(result(await imap.command('RENAME A A/B/C')), /^NO \[CANNOT\]/);
    assert.match(result(await imap.command('RENAME A')), /^BAD/);
    assert.deepEqual(namesOf(await imap.command('LIST "" A*')), ['A', 'A/B', 'Archive']);
  });

  it('RFC 9051 §7.1 CLOSED: renaming the selected folder (or one above it) closes it for this session', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Top/Sel');
    assert.match(result(await imap.command('SELECT Top/Sel')), /^OK/);
    const reply = await imap.command('RENAME Top Moved');
    assert.deepEqual(reply.lines, ['* OK [CLOSED] The selected folder was renamed']);
    assert.match(result(await imap.command('FETCH 1 FLAGS')), /^BAD/);
    assert.match(result(await imap.command('SELECT Moved/Sel')), /^OK/);
    // Renaming something else keeps the selection.
    assert.deepEqual((await imap.command('RENAME Junk Spam')).lines, []);
    assert.match(result(await imap.command('CLOSE')), /^OK/, 'still selected');
  });
});

describe('SUBSCRIBE / UNSUBSCRIBE (RFC 3501 §6.3.6–§6.3.7)', () => {
  it('RFC 3501 §6.3.6: SUBSCRIBE adds to LSUB, UNSUBSCRIBE removes; a name that does not exist cannot be subscribed (as Dovecot 2.3)', async () => {
    const { imap } = await mf.user();
    assert.match(result(await imap.command('CREATE News')), /^OK/);
    assert.deepEqual(namesOf(await imap.command('LSUB "" News')), []);
    assert.match(result(await imap.command('SUBSCRIBE News')), /^OK SUBSCRIBE completed/);
    assert.deepEqual(namesOf(await imap.command('LSUB "" News')), ['News']);
    assert.match(result(await imap.command('UNSUBSCRIBE News')), /^OK UNSUBSCRIBE completed/);
    assert.deepEqual(namesOf(await imap.command('LSUB "" News')), []);
    assert.match(result(await imap.command('SUBSCRIBE Nowhere')), /^NO \[NONEXISTENT\]/);
  });

  it('RFC 3501 §6.3.7: UNSUBSCRIBE of a folder deleted after it was subscribed succeeds', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Temp');
    assert.match(result(await imap.command('SUBSCRIBE Temp')), /^OK/);
    assert.match(result(await imap.command('DELETE Temp')), /^OK/);
    assert.match(result(await imap.command('UNSUBSCRIBE Temp')), /^OK/);
    assert.deepEqual(namesOf(await imap.command('LSUB "" Temp')), []);
  });
});

describe('hostile names', () => {
  it('../, wildcards, empty levels, control characters, NUL, CR/LF and 10,000-character names get NO or BAD, never a crash', async () => {
    const { imap, mailbox } = await mf.user();
    const before = mailbox.listFolders().length;
    for (const name of ['"../x"', '"a/../b"', '"."', '"a%b"', '"a*b"', '"a//b"', '"/x"', '""', '"~peter/&Jjo"', `"${'x'.repeat(10_000)}"`]) {
      assert.match(result(await imap.command(`CREATE ${name}`)), /^(NO|BAD) /, name.slice(0, 40));
      assert.match(result(await imap.command(`RENAME Junk ${name}`)), /^(NO|BAD) /, name.slice(0, 40));
    }
    // Control characters are not modified UTF-7 (RFC 3501 §5.1.3): BAD; 8-bit bytes neither, until UTF8=ACCEPT.
    for (const raw of ['a\u0000b', 'a\r\nb', 'a\u0007b']) {
      assert.match(result(await imap.commandWithLiteral('CREATE', raw)), /^BAD /, JSON.stringify(raw));
    }
    imap.write(Buffer.from('t900 CREATE "Grüße"\r\n', 'utf8'));
    assert.match(result(await imap.until('t900')), /^BAD /);
    // As UTF-8 (RFC 6855) they reach the store, whose rules refuse them: NO [CANNOT].
    assert.match(result(await imap.command('ENABLE UTF8=ACCEPT')), /^OK/);
    for (const raw of ['a\u0000b', 'a\r\nb', 'a\u0007b']) {
      assert.match(result(await imap.commandWithLiteral('CREATE', raw)), /^NO \[CANNOT\]/, JSON.stringify(raw));
    }
    for (const command of ['DELETE "../x"', 'SUBSCRIBE ""', 'UNSUBSCRIBE "a//b"', 'STATUS "../.." (MESSAGES)', `STATUS "${'y'.repeat(10_000)}" (MESSAGES)`]) {
      assert.match(result(await imap.command(command)), /^(NO|BAD|OK) /, command.slice(0, 40));
    }
    assert.equal(mailbox.listFolders().length, before);
    assert.equal(result(await imap.command('NOOP')), 'OK NOOP completed');
  });

  it('seeded random mailbox commands (names, wildcards, option lists, literals) always get OK, NO or BAD, never an internal error', async () => {
    const { imap } = await mf.user();
    const seed = Number(process.env.SEALPOST_FUZZ_SEED ?? 5465);
    const r = new Rng(seed);
    const names = ['INBOX', '""', '"a/b"', 'Sent', '"../x"', '"%"', '"*"', '"&AOQ-"', '"&Jjo"', '"x/"', '"/"', 'NIL', '"a//b"', '"Grüße"', `"${'z'.repeat(1200)}"`, 'Work/Deep'];
    const options = ['(SUBSCRIBED)', '(RECURSIVEMATCH)', '(SPECIAL-USE RECURSIVEMATCH)', '()', '(REMOTE)', '(BOGUS)', '(', ')', '(USE (\\Archive))', '(USE (\\All \\Sent))', '(USE ())'];
    const returns = ['RETURN (CHILDREN)', 'RETURN (STATUS (MESSAGES SIZE RECENT))', 'RETURN ()', 'RETURN (STATUS ())', 'RETURN', 'RETURN (SUBSCRIBED SPECIAL-USE)'];
    const items = ['(MESSAGES)', '(SIZE DELETED MAILBOXID)', '()', '(BOGUS)', 'MESSAGES', '(HIGHESTMODSEQ APPENDLIMIT DELETED-STORAGE)'];
    const commands = ['LIST', 'LSUB', 'CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE', 'UNSUBSCRIBE', 'STATUS', 'GETQUOTAROOT', 'GETQUOTA', 'SETQUOTA', 'NOTIFY'];
    for (let i = 0; i < 300; i++) {
      const parts = [r.pick(commands)];
      const count = r.int(5);
      for (let j = 0; j < count; j++) parts.push(r.pick([...names, ...options, ...returns, ...items, '("a" "b")', '{3+}\r\nabc']));
      const reply = await imap.command(parts.join(' '));
      assert.match(result(reply), /^(OK|NO|BAD) /, `seed ${seed}: ${parts.join(' ').slice(0, 120)}`);
      assert.doesNotMatch(reply.tagged, /SERVERBUG/, `seed ${seed}: ${parts.join(' ').slice(0, 120)}`);
    }
    assert.equal(result(await imap.command('NOOP')), 'OK NOOP completed');
    assert.ok(!mf.fx.logs.some((l) => l.includes('IMAP command failed')), 'no unexpected error was logged');
  });
});
