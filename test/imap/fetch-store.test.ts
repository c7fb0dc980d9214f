// STORE / UID STORE (RFC 9051 §6.4.6, RFC 3501 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3), and FETCH with
// CHANGEDSINCE / VANISHED (RFC 7162 §3.1.4.1, §3.2.6), on our own engine over real sockets.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crlf, fetchResponses, onlyFetch, plain, startFetchFixture, status, type FetchFixture } from './fetch-helpers.js';

let f: FetchFixture;
before(async () => {
  f = await startFetchFixture();
});
after(() => f.close());

const MESSAGE = crlf('From: a@b.example', 'Subject: s', '', 'body', '');
const code = (tagged: string): string => /^\S+ \S+ \[([^\]]*)\]/.exec(tagged)?.[1] ?? '';

/** The first FETCH response per message (the STORE's own answer; later ones would be update echoes). */
const firstPerMessage = (lines: readonly string[]) => fetchResponses(lines).filter((r, i, all) => all.findIndex((o) => o.seq === r.seq) === i);

describe('STORE (RFC 3501 §6.4.6, RFC 9051 §6.4.6)', () => {
  test('RFC 3501 §6.4.6: FLAGS replaces, +FLAGS adds, -FLAGS removes; each changed message answers FETCH (FLAGS …)', async () => {
    const u = await f.user();
    for (let i = 0; i < 3; i++) await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('SELECT INBOX');
    const add = await u.imap.command('STORE 1:2 +FLAGS (\\Seen Work)');
    assert.deepEqual(
      firstPerMessage(add.lines).map((r) => [r.seq, (plain(r.items.get('FLAGS')) as string[]).sort()]),
      [
        [1, ['ATOM:Work', 'ATOM:\\Recent', 'ATOM:\\Seen']],
        [2, ['ATOM:Work', 'ATOM:\\Recent', 'ATOM:\\Seen']],
      ],
    );
    // Nothing changes for message 1: it gets no FETCH (as Dovecot answers).
    const again = await u.imap.command('STORE 1 +FLAGS \\Seen');
    assert.equal(fetchResponses(again.lines).length, 0);
    const replace = onlyFetch((await u.imap.command('STORE 2 FLAGS (\\Draft)')).lines);
    // \Recent stays: it is the session's, not a stored flag (RFC 3501 §2.3.2).
    assert.deepEqual(plain(replace.items.get('FLAGS')), ['ATOM:\\Draft', 'ATOM:\\Recent']);
    const remove = onlyFetch((await u.imap.command('UID STORE 1 -FLAGS (Work)')).lines);
    assert.deepEqual(remove.order, ['FLAGS', 'UID']);
    assert.deepEqual(
      u.mailbox.listMessages('INBOX').map((m) => m.flags),
      [['\\Seen'], ['\\Draft'], []],
    );
  });

  test(
    'RFC 3501 §6.4.6: a STORE over several messages answers each once (its own change is not echoed as an update)',
    async () => {
      const u = await f.user();
      for (let i = 0; i < 3; i++) await u.mailbox.append('INBOX', MESSAGE);
      await u.imap.command('SELECT INBOX');
      const reply = await u.imap.command('STORE 1:3 +FLAGS (\\Seen)');
      assert.deepEqual(
        fetchResponses(reply.lines).map((r) => r.seq),
        [1, 2, 3],
      );
    },
  );

  test('RFC 3501 §6.4.6: .SILENT suppresses the FETCH responses', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('SELECT INBOX');
    const reply = await u.imap.command('STORE 1 +FLAGS.SILENT (\\Flagged)');
    assert.equal(status(reply.tagged), 'OK');
    assert.equal(fetchResponses(reply.lines).length, 0);
    assert.deepEqual(u.mailbox.listMessages('INBOX')[0]?.flags, ['\\Flagged']);
  });

  test('STORE +FLAGS keeps every keyword it is given: 200 keywords, case kept', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('SELECT INBOX');
    const keywords = Array.from({ length: 200 }, (_, i) => `Kw${i}_${i % 2 ? 'Odd' : 'even'}`);
    const reply = await u.imap.command(`STORE 1 +FLAGS (${keywords.join(' ')})`);
    assert.equal(status(reply.tagged), 'OK', reply.tagged);
    const reported = (plain(onlyFetch(reply.lines).items.get('FLAGS')) as string[]).map((a) => a.slice('ATOM:'.length)).filter((flag) => flag !== '\\Recent');
    assert.deepEqual([...reported].sort(), [...keywords].sort());
    assert.deepEqual([...(u.mailbox.listMessages('INBOX')[0]?.flags ?? [])].sort(), [...keywords].sort());
    const fetched = (plain(onlyFetch((await u.imap.command('FETCH 1 FLAGS')).lines).items.get('FLAGS')) as string[]).length;
    assert.equal(fetched, 200 + 1); // and \Recent
  });

  test('RFC 3501 §2.3.2: \\Recent cannot be stored, nor an unknown system flag: BAD, and nothing changes', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('SELECT INBOX');
    for (const args of ['+FLAGS (\\Recent)', 'FLAGS (\\Seen \\Recent)', '+FLAGS (\\Foo)', '+FLAGS (\\*)', 'FLAGS.LOUD (a)', '+FLAGS', 'FLAGS (a']) {
      assert.equal(status((await u.imap.command(`STORE 1 ${args}`)).tagged), 'BAD', args);
    }
    assert.deepEqual(u.mailbox.listMessages('INBOX')[0]?.flags, []);
  });

  test('RFC 3501 §6.3.2: STORE in a folder opened with EXAMINE is refused with NO', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('EXAMINE INBOX');
    assert.equal(status((await u.imap.command('STORE 1 +FLAGS (\\Seen)')).tagged), 'NO');
    assert.deepEqual(u.mailbox.listMessages('INBOX')[0]?.flags, []);
  });

  test('RFC 7162 §3.1.3: UNCHANGEDSINCE stores where the MODSEQ allows and names the others in [MODIFIED set]', async () => {
    const u = await f.user();
    for (let i = 0; i < 3; i++) await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('SELECT INBOX');
    const before = u.mailbox.listMessages('INBOX');
    const since = Math.max(...before.map((m) => m.modseq));
    // Another session changes message 2 after the client read `since`.
    const other = await u.connect();
    await other.command('SELECT INBOX');
    await other.command('STORE 2 +FLAGS (\\Answered)');
    const reply = await u.imap.command(`STORE 1:3 (UNCHANGEDSINCE ${since}) +FLAGS (\\Flagged)`);
    assert.equal(status(reply.tagged), 'OK', reply.tagged);
    assert.equal(code(reply.tagged), 'MODIFIED 2');
    const after = u.mailbox.listMessages('INBOX');
    assert.deepEqual(
      after.map((m) => m.flags.includes('\\Flagged')),
      [true, false, true],
    );
    // UNCHANGEDSINCE enabled CONDSTORE: the changed messages report their MODSEQ.
    const changed = firstPerMessage(reply.lines).filter((r) => r.items.has('FLAGS') && (plain(r.items.get('FLAGS')) as string[]).includes('ATOM:\\Flagged'));
    assert.deepEqual(
      changed.map((r) => [r.seq, plain(r.items.get('MODSEQ'))]),
      [
        [1, [`ATOM:${after[0]?.modseq}`]],
        [3, [`ATOM:${after[2]?.modseq}`]],
      ],
    );
    // UID STORE names UIDs in MODIFIED.
    const uidReply = await u.imap.command(`UID STORE ${before.map((m) => m.uid).join(',')} (UNCHANGEDSINCE 1) -FLAGS (\\Flagged)`);
    assert.equal(code(uidReply.tagged), `MODIFIED ${before[0]?.uid}:${before[2]?.uid}`);
  });

  test('RFC 7162 §3.1.3: with CONDSTORE on, .SILENT still reports MODSEQ (without FLAGS) for each changed message', async () => {
    const u = await f.user();
    const { uid } = await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('SELECT INBOX');
    const reply = await u.imap.command(`UID STORE ${uid} (UNCHANGEDSINCE 1000000) +FLAGS.SILENT (\\Deleted)`);
    const r = onlyFetch(reply.lines);
    assert.deepEqual(r.order, ['UID', 'MODSEQ']);
    assert.deepEqual(plain(r.items.get('MODSEQ')), [`ATOM:${u.mailbox.listMessages('INBOX')[0]?.modseq}`]);
  });

  test('RFC 3501 §7.4.1: no EXPUNGE while responding to STORE or FETCH; the UID forms and NOOP may carry it', async () => {
    const u = await f.user();
    for (let i = 0; i < 3; i++) await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('SELECT INBOX');
    const other = await u.connect();
    await other.command('SELECT INBOX');
    await other.command('STORE 3 +FLAGS (\\Deleted)');
    await other.command('EXPUNGE');
    const store = await u.imap.command('STORE 1 +FLAGS (\\Seen)');
    assert.ok(!store.lines.some((l) => / EXPUNGE$/.test(l)), store.lines.join(' | '));
    const fetch = await u.imap.command('FETCH 1:3 FLAGS');
    assert.ok(!fetch.lines.some((l) => / EXPUNGE$/.test(l)), fetch.lines.join(' | '));
    const uidFetch = await u.imap.command('UID FETCH 1:* FLAGS');
    assert.ok(uidFetch.lines.includes('* 3 EXPUNGE'), uidFetch.lines.join(' | '));
  });
});

describe('CHANGEDSINCE and VANISHED (RFC 7162 §3.1.4.1, §3.2.6)', () => {
  test('RFC 7162 §3.1.4.1: CHANGEDSINCE answers only messages with a higher MODSEQ, with MODSEQ added', async () => {
    const u = await f.user();
    for (let i = 0; i < 3; i++) await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('SELECT INBOX');
    const since = Math.max(...u.mailbox.listMessages('INBOX').map((m) => m.modseq));
    await u.imap.command('STORE 2 +FLAGS.SILENT (\\Flagged)');
    const reply = await u.imap.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${since})`);
    const all = fetchResponses(reply.lines);
    assert.deepEqual(
      all.map((r) => [r.seq, r.order]),
      [[2, ['FLAGS', 'MODSEQ']]],
    );
  });

  test('RFC 7162 §3.2.6: UID FETCH (CHANGEDSINCE n VANISHED) reports UIDs expunged since n as VANISHED (EARLIER) first', async () => {
    const u = await f.user();
    const uids: number[] = [];
    for (let i = 0; i < 4; i++) uids.push((await u.mailbox.append('INBOX', MESSAGE)).uid);
    const client = await u.connect();
    assert.equal(status((await client.command('ENABLE QRESYNC')).tagged), 'OK');
    await client.command('SELECT INBOX');
    const since = Math.max(...u.mailbox.listMessages('INBOX').map((m) => m.modseq));
    // Another session expunges messages 2 and 3 and flags 4; the client has not been told yet.
    u.mailbox.store('INBOX', [[uids[1] as number, uids[2] as number]], 'add', ['\\Deleted']);
    u.mailbox.expunge('INBOX');
    u.mailbox.store('INBOX', [[uids[3] as number, uids[3] as number]], 'add', ['\\Flagged']);
    await client.command('NOOP');
    const reply = await client.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${since} VANISHED)`);
    assert.equal(reply.lines[0], `* VANISHED (EARLIER) ${uids[1]}:${uids[2]}`);
    const fetched = fetchResponses(reply.lines);
    assert.deepEqual(
      fetched.map((r) => plain(r.items.get('UID'))),
      [`ATOM:${uids[3]}`],
    );
  });

  test('RFC 7162 §3.2.6: VANISHED is BAD without ENABLE QRESYNC, and in a FETCH without UID', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('SELECT INBOX');
    assert.equal(status((await u.imap.command('UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)')).tagged), 'BAD');
    const client = await u.connect();
    await client.command('ENABLE QRESYNC');
    await client.command('SELECT INBOX');
    assert.equal(status((await client.command('FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)')).tagged), 'BAD');
    assert.equal(status((await client.command('UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)')).tagged), 'OK');
  });
});

describe('\\Recent in FLAGS (RFC 3501 §2.3.2)', () => {
  test('RFC 3501 §2.3.2: FETCH FLAGS shows \\Recent to the session that claimed the message, not to another one', async () => {
    const u = await f.user();
    await u.mailbox.append('INBOX', MESSAGE);
    await u.imap.command('SELECT INBOX');
    const second = await u.connect();
    await second.command('SELECT INBOX');
    assert.deepEqual(plain(onlyFetch((await u.imap.command('FETCH 1 FLAGS')).lines).items.get('FLAGS')), ['ATOM:\\Recent']);
    assert.deepEqual(plain(onlyFetch((await second.command('FETCH 1 FLAGS')).lines).items.get('FLAGS')), []);
  });
});
