// LIST and LSUB on our own engine over real sockets: RFC 3501 §6.3.8/§6.3.9 wildcards and references, the
// hierarchy delimiter query, LIST-EXTENDED (RFC 5258) selection and return options, CHILDINFO, SPECIAL-USE
// (RFC 6154), CHILDREN (RFC 3348), LIST-STATUS (RFC 5819), modified UTF-7 and UTF-8 names, patterns sent as
// literals, and a tree of 2,000 folders.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { compilePattern, matches } from '../../server/imap/commands/list.js';
import { attributesOf, linesOf, namesOf, result, startMailboxesFixture, type MailboxesFixture } from './mailboxes-fixture.js';

let mf: MailboxesFixture;

before(async () => {
  mf = await startMailboxesFixture();
});
after(async () => mf.close());

const DEFAULTS = ['INBOX', 'Archive', 'Drafts', 'Junk', 'Sent', 'Trash'];

describe('LIST basics (RFC 3501 §6.3.8, RFC 9051 §6.3.9)', () => {
  it('RFC 3501 §6.3.8: LIST "" "" returns the hierarchy delimiter and the root as \\Noselect', async () => {
    const { imap } = await mf.user();
    const reply = await imap.command('LIST "" ""');
    assert.deepEqual(reply.lines, ['* LIST (\\Noselect) "/" ""']);
    assert.equal(result(reply), 'OK LIST completed');
    assert.deepEqual((await imap.command('LIST "Work" ""')).lines, ['* LIST (\\Noselect) "/" ""']);
  });

  it('RFC 3501 §6.3.8: * matches across levels, % stops at the delimiter; INBOX first; special-use and child attributes (RFC 6154 §2, RFC 3348)', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Work/Projects/Alpha');
    const all = await imap.command('LIST "" *');
    assert.deepEqual(namesOf(all), ['INBOX', 'Archive', 'Drafts', 'Junk', 'Sent', 'Trash', 'Work', 'Work/Projects', 'Work/Projects/Alpha'].sort((a, b) =>
      a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : 1,
    ));
    assert.deepEqual(attributesOf(all, 'Sent'), ['\\HasNoChildren', '\\Sent']);
    assert.deepEqual(attributesOf(all, 'Work'), ['\\HasChildren']);
    assert.deepEqual(attributesOf(all, 'Work/Projects/Alpha'), ['\\HasNoChildren']);
    const top = await imap.command('LIST "" %');
    assert.deepEqual(namesOf(top), ['INBOX', 'Archive', 'Drafts', 'Junk', 'Sent', 'Trash', 'Work']);
    assert.deepEqual(namesOf(await imap.command('LIST "" Work/%')), ['Work/Projects']);
    assert.deepEqual(namesOf(await imap.command('LIST "" Work/*')), ['Work/Projects', 'Work/Projects/Alpha']);
    assert.deepEqual(namesOf(await imap.command('LIST "" %/%/%')), ['Work/Projects/Alpha']);
    assert.deepEqual(namesOf(await imap.command('LIST "" W%k')), ['Work']);
    assert.deepEqual(namesOf(await imap.command('LIST "" *ph*')), ['Work/Projects/Alpha']);
    assert.deepEqual(namesOf(await imap.command('LIST "" Nothing*')), []);
  });

  it('RFC 3501 §6.3.8: the reference is joined with the pattern', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Work/Projects/Alpha');
    assert.deepEqual(namesOf(await imap.command('LIST Work/ %')), ['Work/Projects']);
    assert.deepEqual(namesOf(await imap.command('LIST "Work/Projects/" "*"')), ['Work/Projects/Alpha']);
    assert.deepEqual(namesOf(await imap.command('LIST Work *')), ['Work', 'Work/Projects', 'Work/Projects/Alpha']);
  });

  it('RFC 9051 §5.1: INBOX is case-insensitive in patterns, also as a prefix', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('INBOX/Receipts');
    assert.deepEqual(namesOf(await imap.command('LIST "" inbox')), ['INBOX']);
    assert.deepEqual(namesOf(await imap.command('LIST "" iNbOx*')), ['INBOX', 'INBOX/Receipts']);
    assert.deepEqual(namesOf(await imap.command('LIST "" inbox/%')), ['INBOX/Receipts']);
    assert.deepEqual(namesOf(await imap.command('LIST "" In%')), ['INBOX']);
  });

  it('RFC 9051 §6.3.9 / RFC 7888: patterns may be literals, with wildcards right next to the literal text', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Work/Projects');
    const sync = await imap.commandWithLiteral('LIST ""', 'Work/%');
    assert.deepEqual(namesOf(sync), ['Work/Projects']);
    imap.write('t90 LIST {0+}\r\n {5+}\r\nWork*\r\n');
    const nonSync = await imap.until('t90');
    assert.deepEqual(namesOf(nonSync), ['Work', 'Work/Projects']);
    assert.equal(result(nonSync), 'OK LIST completed');
  });

  it('RFC 5258 §3: several patterns in one LIST; each name once', async () => {
    const { imap } = await mf.user();
    const reply = await imap.command('LIST "" ("INBOX" "Sent" "S*" "%")');
    assert.deepEqual(namesOf(reply), DEFAULTS);
    assert.deepEqual(namesOf(await imap.command('LIST "" ("INBOX" "Sent")')), ['INBOX', 'Sent']);
  });

  it('RFC 9051 §6.3.9: bad LIST syntax is BAD, never a crash', async () => {
    const { imap } = await mf.user();
    for (const bad of ['LIST', 'LIST ""', 'LIST "" * extra', 'LIST (BOGUS) "" *', 'LIST "" * RETURN (BOGUS)', 'LIST "" * RETURN (STATUS (BOGUS))',
      'LIST "" * RETURN (STATUS ())', 'LIST "" ()', 'LIST (RECURSIVEMATCH) "" *', 'LIST (REMOTE RECURSIVEMATCH) "" *', 'LSUB (SUBSCRIBED) "" *',
      'LSUB "" * RETURN (CHILDREN)', 'LIST "" "&Jjo"']) {
      assert.match(result(await imap.command(bad)), /^BAD /, bad);
    }
    assert.equal(result(await imap.command('NOOP')), 'OK NOOP completed');
  });
});

describe('LIST-EXTENDED (RFC 5258) and SPECIAL-USE (RFC 6154)', () => {
  it('RFC 5258 §3.1: LIST (SUBSCRIBED) lists subscribed names with \\Subscribed; RETURN (SUBSCRIBED) marks them in a full list', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Lists/Alpha');
    mailbox.createFolder('Lists/Beta');
    mailbox.subscribe('Lists', false);
    mailbox.subscribe('Lists/Beta', false);
    mailbox.subscribe('Junk', false);
    const subscribed = await imap.command('LIST (SUBSCRIBED) "" *');
    assert.deepEqual(namesOf(subscribed), ['INBOX', 'Archive', 'Drafts', 'Lists/Alpha', 'Sent', 'Trash']);
    for (const line of linesOf(subscribed, 'LIST')) assert.match(line, /\\Subscribed/);
    const marked = await imap.command('LIST "" * RETURN (SUBSCRIBED)');
    assert.deepEqual(namesOf(marked), ['INBOX', 'Archive', 'Drafts', 'Junk', 'Lists', 'Lists/Alpha', 'Lists/Beta', 'Sent', 'Trash']);
    assert.deepEqual(attributesOf(marked, 'Lists/Alpha'), ['\\HasNoChildren', '\\Subscribed']);
    assert.deepEqual(attributesOf(marked, 'Lists/Beta'), ['\\HasNoChildren']);
    assert.deepEqual(attributesOf(marked, 'Junk'), ['\\HasNoChildren', '\\Junk']);
    // SUBSCRIBED without RECURSIVEMATCH does not add unsubscribed parents (unlike LSUB's % rule).
    assert.deepEqual(namesOf(await imap.command('LIST (SUBSCRIBED) "" Lists')), []);
  });

  it('RFC 5258 §3.5: RECURSIVEMATCH returns a matching parent whose descendant is subscribed, with CHILDINFO ("SUBSCRIBED")', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Lists/Alpha/Deep');
    mailbox.createFolder('Other/Child');
    for (const p of ['Lists', 'Lists/Alpha', 'Other', 'Other/Child']) mailbox.subscribe(p, false);
    const reply = await imap.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" %');
    assert.ok(reply.lines.includes('* LIST (\\HasChildren) "/" "Lists" ("CHILDINFO" ("SUBSCRIBED"))'), reply.lines.join('\n'));
    assert.equal(attributesOf(reply, 'Other'), null);
    assert.deepEqual(attributesOf(reply, 'Sent'), ['\\HasNoChildren', '\\Sent', '\\Subscribed']);
    assert.doesNotMatch(reply.lines.find((l) => l.endsWith('"Sent"')) ?? '', /CHILDINFO/);
    // The subscribed descendant need not match the pattern (RFC 5258 §3.5 note 2): Lists/% still reports Lists/Alpha.
    assert.deepEqual((await imap.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" Lists/%')).lines, [
      '* LIST (\\HasChildren) "/" "Lists/Alpha" ("CHILDINFO" ("SUBSCRIBED"))',
    ]);
    // With SPECIAL-USE, RECURSIVEMATCH is accepted (as Dovecot 2.3 does); CHILDINFO is only defined for SUBSCRIBED.
    const special = await imap.command('LIST (SPECIAL-USE RECURSIVEMATCH) "" %');
    assert.deepEqual(namesOf(special), ['Archive', 'Drafts', 'Junk', 'Sent', 'Trash']);
    assert.ok(special.lines.every((l) => !l.includes('CHILDINFO')));
    // REMOTE is accepted and adds nothing (no remote mailboxes here).
    assert.deepEqual(namesOf(await imap.command('LIST (REMOTE) "" %')), namesOf(await imap.command('LIST "" %')));
  });

  it('RFC 6154 §2/§5.1: LIST (SPECIAL-USE) selects folders with a special use; RETURN (SPECIAL-USE CHILDREN) is accepted', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Old mail', '\\Archive');
    const reply = await imap.command('LIST (SPECIAL-USE) "" *');
    assert.deepEqual(reply.lines, [
      '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Archive) "/" "Old mail"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    ]);
    const returned = await imap.command('LIST "" % RETURN (SPECIAL-USE CHILDREN)');
    assert.deepEqual(attributesOf(returned, 'Trash'), ['\\HasNoChildren', '\\Trash']);
    assert.deepEqual(attributesOf(returned, 'INBOX'), ['\\HasNoChildren']);
    assert.match(result(await imap.command('LIST () "" % RETURN ()')), /^OK/);
  });

  it('RFC 5819 §2: RETURN (STATUS (...)) sends STATUS after each selectable folder, none for \\Noselect', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Box/Child');
    await mailbox.append('Box/Child', Buffer.from('Subject: one\r\n\r\nbody\r\n'), { flags: ['\\Seen'] });
    await mailbox.append('Box/Child', Buffer.from('Subject: two\r\n\r\nbody\r\n'));
    mailbox.createFolder('Gone/Kid');
    mailbox.deleteFolder('Gone');
    const reply = await imap.command('LIST "" ("Box*" "Gone*") RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))');
    assert.deepEqual(reply.lines, [
      '* LIST (\\HasChildren) "/" "Box"',
      '* STATUS "Box" (MESSAGES 0 UNSEEN 0 UIDNEXT 1)',
      '* LIST (\\HasNoChildren) "/" "Box/Child"',
      '* STATUS "Box/Child" (MESSAGES 2 UNSEEN 1 UIDNEXT 3)',
      '* LIST (\\Noselect \\HasChildren) "/" "Gone"',
      '* LIST (\\HasNoChildren) "/" "Gone/Kid"',
      '* STATUS "Gone/Kid" (MESSAGES 0 UNSEEN 0 UIDNEXT 1)',
    ]);
  });

  it('capabilities: LIST-EXTENDED, LIST-STATUS, CHILDREN and SPECIAL-USE are advertised after login', async () => {
    const { imap } = await mf.user();
    const caps = (await imap.command('CAPABILITY')).lines[0]?.split(' ') ?? [];
    for (const name of ['LIST-EXTENDED', 'LIST-STATUS', 'CHILDREN', 'SPECIAL-USE']) assert.ok(caps.includes(name), name);
  });
});

describe('LSUB (RFC 3501 §6.3.9)', () => {
  it('RFC 3501 §6.3.9: % returns a parent whose child is subscribed as \\Noselect; * returns the child itself', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Foo/Bar');
    mailbox.subscribe('Foo', false);
    const top = await imap.command('LSUB "" %');
    assert.ok(top.lines.includes('* LSUB (\\Noselect) "/" "Foo"'), top.lines.join('\n'));
    assert.ok(top.lines.includes('* LSUB () "/" "INBOX"'));
    assert.equal(attributesOf(top, 'Foo/Bar'), null);
    const all = await imap.command('LSUB "" *');
    assert.ok(all.lines.includes('* LSUB () "/" "Foo/Bar"'), all.lines.join('\n'));
    assert.equal(attributesOf(all, 'Foo'), null);
    // A subscribed parent is listed as itself, not as a \Noselect placeholder.
    mailbox.subscribe('Foo', true);
    assert.ok((await imap.command('LSUB "" %')).lines.includes('* LSUB () "/" "Foo"'));
  });

  it('RFC 3501 §6.3.9: only subscribed names; LSUB "" "" gives the delimiter', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.subscribe('Junk', false);
    assert.deepEqual(namesOf(await imap.command('LSUB "" *')), ['INBOX', 'Archive', 'Drafts', 'Sent', 'Trash']);
    assert.deepEqual((await imap.command('LSUB "" ""')).lines, ['* LSUB (\\Noselect) "/" ""']);
  });
});

describe('mailbox names on the wire (RFC 3501 §5.1.3, RFC 6855 §3)', () => {
  it('RFC 3501 §5.1.3: names are modified UTF-7 both ways (the RFC example ~peter/mail/台北/日本語)', async () => {
    const { imap, mailbox } = await mf.user();
    const created = await imap.command('CREATE "~peter/mail/&U,BTFw-/&ZeVnLIqe-"');
    assert.match(result(created), /^OK /);
    assert.ok(mailbox.listFolders().some((f) => f.path === '~peter/mail/台北/日本語'));
    mailbox.createFolder('Grüße & Co');
    const reply = await imap.command('LIST "" *');
    assert.ok(reply.lines.includes('* LIST (\\HasNoChildren) "/" "~peter/mail/&U,BTFw-/&ZeVnLIqe-"'), reply.lines.join('\n'));
    assert.ok(reply.lines.includes('* LIST (\\HasNoChildren) "/" "Gr&APwA3w-e &- Co"'), reply.lines.join('\n'));
    assert.deepEqual(namesOf(await imap.command('LIST "~peter/mail/" "&U,BTFw-/%"')), ['~peter/mail/&U,BTFw-/&ZeVnLIqe-']);
    assert.deepEqual(namesOf(await imap.command('LIST "" "Gr&APwA3w-e*"')), ['Gr&APwA3w-e &- Co']);
  });

  it('RFC 6855 §3: after ENABLE UTF8=ACCEPT names are UTF-8 both ways', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Grüße/東京');
    assert.match(result(await imap.command('ENABLE UTF8=ACCEPT')), /^OK/);
    imap.write(Buffer.from('t50 LIST "" "Grüße/*"\r\n', 'utf8'));
    const reply = await imap.until('t50');
    assert.deepEqual(Buffer.from(reply.lines.join('\n'), 'binary').toString('utf8'), '* LIST (\\HasNoChildren) "/" "Grüße/東京"');
  });

  it('imapflow lists, creates and reads status of UTF-8 names (its own modified UTF-7 encoder)', async () => {
    const { address, password, mailbox } = await mf.user();
    const client = new ImapFlow({ host: '127.0.0.1', port: mf.port, secure: false, doSTARTTLS: false, auth: { user: address, pass: password }, logger: false });
    await client.connect();
    try {
      await client.mailboxCreate(['Reisen', 'Köln']);
      assert.ok(mailbox.listFolders().some((f) => f.path === 'Reisen/Köln'));
      const listed = await client.list({ statusQuery: { messages: true } });
      const folder = listed.find((f) => f.path === 'Reisen/Köln');
      assert.ok(folder, listed.map((f) => f.path).join(','));
      assert.equal(folder.status?.messages, 0);
      assert.equal(listed.find((f) => f.path === 'Sent')?.specialUse, '\\Sent');
    } finally {
      await client.logout();
    }
  });
});

describe('bounded work', () => {
  it('LIST "" * over 2,000 folders answers every one, and hostile patterns finish', async () => {
    const { imap, mailbox } = await mf.user();
    for (let i = 0; i < 40; i++) for (let j = 0; j < 50; j++) mailbox.createFolder(`Tree${i}/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa${j}`);
    const all = await imap.command('LIST "" *', 120_000);
    assert.equal(linesOf(all, 'LIST').length, 2000 + 40 + DEFAULTS.length);
    const star = await imap.command(`LIST "" "${'*a'.repeat(60)}*b"`, 120_000);
    assert.deepEqual(namesOf(star), []);
    const percent = await imap.command(`LIST "" "${'%a'.repeat(60)}%"`, 120_000);
    assert.deepEqual(namesOf(percent), []);
    const status = await imap.command('LIST "" Tree1/% RETURN (STATUS (MESSAGES))', 120_000);
    assert.equal(linesOf(status, 'STATUS').length, 50);
  });

  it('the matcher: %, *, collapsed wildcards, INBOX prefix, and no match when the literal text is longer than the name', () => {
    const m = (pattern: string, name: string): boolean => matches(compilePattern(pattern), name);
    assert.ok(m('*', 'a/b/c'));
    assert.ok(!m('%', 'a/b'));
    assert.ok(m('%/%', 'a/b'));
    assert.ok(m('a%*%%b', 'a/x/b'));
    assert.ok(!m('a%%b', 'a/b'));
    assert.ok(m('*b%c', 'b/bc'), 'the last b, not the first, leads to a match');
    assert.ok(m('inBOX/%', 'INBOX/x'));
    assert.ok(!m('inbox/%', 'Inbox/x'));
    assert.ok(!m('abcdef*', 'abc'));
    assert.deepEqual(compilePattern('%%**%').tokens, [{ kind: '*' }]);
  });
});
