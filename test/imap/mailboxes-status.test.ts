// STATUS (RFC 3501 §6.3.10, RFC 9051 §6.3.11) with SIZE (RFC 8438), DELETED, RECENT agreeing with SELECT and
// SEARCH, HIGHESTMODSEQ (RFC 7162), APPENDLIMIT (RFC 7889), MAILBOXID (RFC 8474), DELETED-STORAGE (RFC 9208);
// and GETQUOTAROOT / GETQUOTA / SETQUOTA (RFC 9208, RFC 2087), on our own engine over real sockets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { run } from '../helpers/run.js';
import { linesOf, message, result, startMailboxesFixture, type MailboxesFixture } from './mailboxes-fixture.js';

let mf: MailboxesFixture;

before(async () => {
  mf = await startMailboxesFixture({ maxMessageBytes: 2 * 1024 * 1024 });
});
after(async () => mf.close());

describe('STATUS (RFC 3501 §6.3.10, RFC 9051 §6.3.11)', () => {
  it('RFC 9051 §6.3.11 / RFC 8438 / RFC 8474: MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE MAILBOXID APPENDLIMIT in the order asked', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Counted');
    const sizes: number[] = [];
    for (const [i, flags] of [['\\Seen'], [], ['\\Deleted', '\\Seen'], ['\\Deleted']].entries()) {
      const raw = message(`counted ${i}`, `${'x'.repeat(100 * (i + 1))}\r\n`);
      sizes.push(raw.length);
      await mailbox.append('Counted', raw, { flags });
    }
    const info = mailbox.listFolders().find((f) => f.path === 'Counted');
    assert.ok(info);
    const reply = await imap.command('STATUS Counted (SIZE DELETED MESSAGES UNSEEN UIDNEXT UIDVALIDITY MAILBOXID APPENDLIMIT)');
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.deepEqual(reply.lines, [
      `* STATUS "Counted" (SIZE ${total} DELETED 2 MESSAGES 4 UNSEEN 2 UIDNEXT 5 UIDVALIDITY ${info.uidValidity} MAILBOXID (${info.mailboxId}) APPENDLIMIT ${2 * 1024 * 1024})`,
    ]);
    assert.match(info.mailboxId, /^F[0-9a-f]{32}$/);
    assert.equal(result(reply), 'OK STATUS completed');
    // RFC 9208 §4.2.2 DELETED-STORAGE: KiB of the \Deleted messages.
    const deletedKiB = Math.ceil(((sizes[2] as number) + (sizes[3] as number)) / 1024);
    assert.equal((await imap.command('STATUS Counted (DELETED-STORAGE)')).lines[0], `* STATUS "Counted" (DELETED-STORAGE ${deletedKiB})`);
    const caps = (await imap.command('CAPABILITY')).lines[0]?.split(' ') ?? [];
    assert.ok(caps.includes('STATUS=SIZE'));
    assert.ok(caps.includes(`APPENDLIMIT=${2 * 1024 * 1024}`));
  });

  it('RFC 9051 §6.3.11: unknown folders are NO [NONEXISTENT], \\Noselect names NO, bad item lists BAD', async () => {
    const { imap, mailbox } = await mf.user();
    mailbox.createFolder('Held/Child');
    mailbox.deleteFolder('Held');
    assert.match(result(await imap.command('STATUS Nowhere (MESSAGES)')), /^NO \[NONEXISTENT\]/);
    assert.match(result(await imap.command('STATUS Held (MESSAGES)')), /^NO /);
    for (const bad of ['STATUS INBOX ()', 'STATUS INBOX (BOGUS)', 'STATUS INBOX', 'STATUS INBOX MESSAGES', 'STATUS (MESSAGES)', 'STATUS INBOX (MESSAGES) extra']) {
      assert.match(result(await imap.command(bad)), /^BAD /, bad);
    }
  });

  it('RFC 3501 §2.3.2: STATUS RECENT agrees with SELECT\'s RECENT and SEARCH RECENT, in this session and in another', async () => {
    const user = await mf.user();
    user.mailbox.createFolder('Fresh');
    await user.mailbox.append('Fresh', message('fresh one'));
    await user.mailbox.append('Fresh', message('fresh two'));
    const watcher = await user.connect();
    assert.equal((await watcher.command('STATUS Fresh (RECENT MESSAGES)')).lines[0], '* STATUS "Fresh" (RECENT 2 MESSAGES 2)');
    const selected = await user.imap.command('SELECT Fresh');
    assert.ok(selected.lines.includes('* 2 RECENT'), selected.lines.join('\n'));
    // This session holds the \Recent set now; nobody else sees these messages as recent.
    assert.equal((await user.imap.command('STATUS Fresh (RECENT)')).lines[0], '* STATUS "Fresh" (RECENT 2)');
    assert.equal((await watcher.command('STATUS Fresh (RECENT)')).lines[0], '* STATUS "Fresh" (RECENT 0)');
    assert.deepEqual(linesOf(await user.imap.command('SEARCH RECENT'), 'SEARCH'), ['* SEARCH 1 2']);
    // A new message is unclaimed until the selecting session learns of it.
    await user.mailbox.append('Fresh', message('fresh three'));
    assert.equal((await watcher.command('STATUS Fresh (RECENT)')).lines[0], '* STATUS "Fresh" (RECENT 1)');
    const noop = await user.imap.command('NOOP');
    assert.ok(noop.lines.includes('* 3 EXISTS'), noop.lines.join('\n'));
    assert.equal((await watcher.command('STATUS Fresh (RECENT)')).lines[0], '* STATUS "Fresh" (RECENT 0)');
    assert.equal((await user.imap.command('STATUS Fresh (RECENT)')).lines[0], '* STATUS "Fresh" (RECENT 3)');
    assert.deepEqual(linesOf(await user.imap.command('SEARCH RECENT'), 'SEARCH'), ['* SEARCH 1 2 3']);
    // RFC 9051 Appendix E: IMAP4rev2 has no \Recent; STATUS RECENT is not part of its grammar.
    assert.match(result(await watcher.command('ENABLE IMAP4rev2')), /^OK/);
    assert.match(result(await watcher.command('STATUS Fresh (RECENT)')), /^BAD /);
    assert.match(result(await watcher.command('LIST "" Fresh RETURN (STATUS (RECENT))')), /^BAD /);
    assert.equal((await watcher.command('STATUS Fresh (MESSAGES)')).lines[0], '* STATUS "Fresh" (MESSAGES 3)');
  });

  it('RFC 9051 §6.3.11: STATUS of the selected folder leaves the session\'s view intact (EXISTS still arrives, numbering holds)', async () => {
    const user = await mf.user();
    user.mailbox.createFolder('Busy');
    await user.mailbox.append('Busy', message('busy one'));
    assert.match(result(await user.imap.command('SELECT Busy')), /^OK/);
    const other = await user.connect();
    assert.match(result(await other.commandWithLiteral('APPEND Busy', message('busy two'))), /^OK/);
    const status = await user.imap.command('STATUS Busy (MESSAGES UIDNEXT)');
    assert.equal(status.lines[0], '* STATUS "Busy" (MESSAGES 2 UIDNEXT 3)');
    assert.equal(result(status), 'OK [CLIENTBUG] STATUS of the selected folder completed');
    assert.ok(status.lines.includes('* 2 EXISTS'), status.lines.join('\n'));
    const fetched = await user.imap.command('FETCH 1:* (UID)');
    assert.deepEqual(linesOf(fetched, '1').concat(linesOf(fetched, '2')), ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)']);
  });

  it('RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) reports the folder\'s HIGHESTMODSEQ and turns CONDSTORE on', async () => {
    const user = await mf.user();
    user.mailbox.createFolder('Mod');
    await user.mailbox.append('Mod', message('mod one'));
    user.mailbox.store('Mod', [[1, 1]], 'add', ['\\Flagged']);
    const highest = user.mailbox.status('Mod').highestModseq;
    const plain = await user.connect();
    assert.equal((await user.imap.command('STATUS Mod (HIGHESTMODSEQ)')).lines[0], `* STATUS "Mod" (HIGHESTMODSEQ ${highest})`);
    assert.match(result(await user.imap.command('SELECT Mod')), /^OK/);
    assert.match(result(await plain.command('SELECT Mod')), /^OK/);
    // Another session's flag change: with CONDSTORE on, the unsolicited FETCH carries MODSEQ (RFC 7162 §3.1.4.2).
    user.mailbox.store('Mod', [[1, 1]], 'add', ['\\Seen']);
    const withCondstore = linesOf(await user.imap.command('NOOP'), '1');
    const without = linesOf(await plain.command('NOOP'), '1');
    assert.equal(withCondstore.length, 1, withCondstore.join('\n'));
    assert.match(withCondstore[0] ?? '', /MODSEQ \(\d+\)/);
    assert.doesNotMatch(without[0] ?? '', /MODSEQ/);
  });
});

describe('QUOTA (RFC 9208 / RFC 2087)', () => {
  it('RFC 9208 §4.3: GETQUOTAROOT names the root "" with STORAGE in KiB; GETQUOTA "" repeats it; other roots are NONEXISTENT', async () => {
    const { imap, mailbox } = await mf.user(10 * 1024 * 1024);
    await mailbox.append('INBOX', message('weight', `${'w'.repeat(5000)}\r\n`));
    const used = Math.ceil(mailbox.quota().usedBytes / 1024);
    assert.ok(used >= 5);
    const root = await imap.command('GETQUOTAROOT INBOX');
    assert.deepEqual(root.lines, ['* QUOTAROOT "INBOX" ""', `* QUOTA "" (STORAGE ${used} 10240)`]);
    assert.deepEqual((await imap.command('GETQUOTA ""')).lines, [`* QUOTA "" (STORAGE ${used} 10240)`]);
    assert.match(result(await imap.command('GETQUOTA "other"')), /^NO \[NONEXISTENT\]/);
    assert.match(result(await imap.command('GETQUOTAROOT Nowhere')), /^NO \[NONEXISTENT\]/);
    // RFC 9208 §4.1.3: SETQUOTA without QUOTASET is refused; bad syntax is BAD.
    assert.match(result(await imap.command('SETQUOTA "" (STORAGE 1)')), /^NO /);
    assert.match(result(await imap.command('SETQUOTA "" STORAGE')), /^BAD /);
    const caps = (await imap.command('CAPABILITY')).lines[0]?.split(' ') ?? [];
    assert.ok(caps.includes('QUOTA') && caps.includes('QUOTA=RES-STORAGE') && !caps.includes('QUOTASET'));
  });

  it('RFC 9208 §4.3: an unlimited mailbox has no quota root', async () => {
    const { imap } = await mf.user(null);
    assert.deepEqual((await imap.command('GETQUOTAROOT INBOX')).lines, ['* QUOTAROOT "INBOX"']);
    assert.match(result(await imap.command('GETQUOTA ""')), /^NO \[NONEXISTENT\]/);
  });

  it('Python imaplib reads STATUS and GETQUOTAROOT', async () => {
    const { address, password, mailbox } = await mf.user(1024 * 1024);
    mailbox.createFolder('Py');
    await mailbox.append('Py', message('py one'));
    const script = String.raw`
import imaplib, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1])); M.login(sys.argv[2], sys.argv[3])
print(M.status('Py', '(MESSAGES UIDNEXT SIZE)')[1][0].decode())
typ, data = M.getquotaroot('INBOX')
print(data[0][0].decode()); print(data[1][0].decode())
M.logout()
`;
    const py = await run('python3', ['-c', script, String(mf.port), address, password]);
    assert.equal(py.status, 0, py.stderr.toString());
    const [status, root, quota] = py.stdout.toString().trim().split('\n');
    assert.match(status ?? '', /^"Py" \(MESSAGES 1 UIDNEXT 2 SIZE \d+\)$/);
    assert.equal(root, '"INBOX" ""');
    assert.match(quota ?? '', /^"" \(STORAGE \d+ 1024\)$/);
  });
});
