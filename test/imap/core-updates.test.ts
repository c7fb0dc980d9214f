// Live updates of the own IMAP engine over real sockets: what one session sees of changes made by another
// (the store, standing in for another client or delivery) — at once during IDLE, by the very NOOP that
// follows them, never an EXPUNGE where RFC 3501 §7.4.1 forbids it — plus \Recent for exactly one session,
// the SELECT/EXAMINE responses, new keywords, QRESYNC's VANISHED, CLOSE/UNSELECT/EXPUNGE.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { Mailbox } from '../../server/mailbox/types.js';
import { RawImap } from '../helpers/imap-raw.js';
import { startEngineFixture, type EngineFixture } from './core-fixture.js';

let ef: EngineFixture;
let user: { address: string; password: string };
let store: Mailbox;
let folderCounter = 0;
let folder = '';
const open: RawImap[] = [];

const message = (n: number): Buffer => Buffer.from(`From: a@example.test\r\nSubject: note ${n}\r\n\r\nline ${n}\r\n`);

before(async () => {
  ef = await startEngineFixture({ limits: { maxConnectionsPerAlias: 20 } });
  user = await ef.fx.addUser('uma');
  store = await ef.fx.mailboxOf(user.address, user.password);
});
after(async () => {
  for (const r of open) r.close();
  await ef.close();
});

// Sessions count against the per-alias cap until the server has seen them close.
afterEach(async () => {
  for (const r of open.splice(0)) r.close();
  for (let i = 0; i < 100 && ef.engine.connectionCount > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
});

// Each test works in a fresh folder, so counts and \Recent marks do not leak between tests.
beforeEach(() => {
  folder = `T${++folderCounter}`;
  store.createFolder(folder);
});

async function session(): Promise<RawImap> {
  const r = await RawImap.connect(ef.port);
  open.push(r);
  assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /^t1 OK/);
  return r;
}

async function selected(command = 'SELECT'): Promise<RawImap> {
  const r = await session();
  assert.match((await r.command(`${command} ${folder}`)).tagged, /OK/);
  return r;
}

async function append(n: number, flags: string[] = []): Promise<number> {
  return (await store.append(folder, message(n), { flags })).uid;
}

describe('reporting changes of other sessions (RFC 9051 §5.2, §7.4)', () => {
  it('RFC 9051 §6.1.2: the NOOP right after another session appended reports EXISTS and RECENT', async () => {
    const r = await selected();
    await append(1);
    const noop = await r.command('NOOP');
    assert.deepEqual(noop.lines, ['* 1 EXISTS', '* 1 RECENT']);
    assert.deepEqual((await r.command('NOOP')).lines, [], 'reported once');
  });

  it('RFC 2177: during IDLE an append by another session is reported at once, without any client command', async () => {
    const r = await selected();
    r.write('i1 IDLE\r\n');
    assert.equal(await r.readLine(), '+ idling');
    await append(1);
    assert.equal(await r.readLine(), '* 1 EXISTS');
    assert.equal(await r.readLine(), '* 1 RECENT');
    await append(2);
    assert.equal(await r.readLine(), '* 2 EXISTS');
    assert.equal(await r.readLine(), '* 2 RECENT');
    r.write('DONE\r\n');
    assert.match(await r.readLine(), /^i1 OK/);
  });

  it('RFC 2177: anything but DONE ends IDLE with BAD; DONE pipelined with the next command works', async () => {
    const r = await selected();
    r.write('i1 IDLE\r\n');
    assert.equal(await r.readLine(), '+ idling');
    r.write('NOPE\r\n');
    assert.match(await r.readLine(), /^i1 BAD/);
    r.write('i2 IDLE\r\nDONE\r\ni3 NOOP\r\n');
    assert.equal(await r.readLine(), '+ idling');
    assert.match(await r.readLine(), /^i2 OK/);
    assert.match(await r.readLine(), /^i3 OK/);
  });

  it('RFC 3501 §6.3.11: an APPEND into the selected folder is announced with EXISTS before its tagged OK', async () => {
    const r = await selected();
    const data = message(1);
    const reply = await r.commandWithLiteral(`APPEND ${folder}`, data);
    assert.ok(reply.lines.includes('* 1 EXISTS'), reply.lines.join('\n'));
    assert.match(reply.tagged, /OK/);
  });

  it('RFC 3501 §7.4.1: another session\'s expunges become EXPUNGE responses in this session\'s numbering', async () => {
    const uids: number[] = [];
    for (let i = 1; i <= 5; i++) uids.push(await append(i));
    const r = await selected();
    store.store(folder, [[uids[1]!, uids[1]!], [uids[3]!, uids[3]!]], 'add', ['\\Deleted']);
    store.expunge(folder);
    const noop = await r.command('NOOP');
    assert.deepEqual(noop.lines.filter((l) => /EXPUNGE|EXISTS/.test(l)), ['* 2 EXPUNGE', '* 3 EXPUNGE']);
    assert.deepEqual((await r.command('UID SEARCH ALL')).lines, [`* SEARCH ${uids[0]} ${uids[2]} ${uids[4]}`]);
  });

  it('RFC 3501 §7.4.1: no EXPUNGE while answering SEARCH or FETCH; new messages still counted with the expunged one; NOOP then expunges', async () => {
    const first = await append(1);
    const second = await append(2);
    const r = await selected();
    store.store(folder, [[first, first]], 'add', ['\\Deleted']);
    store.expunge(folder);
    const third = await append(3);
    const search = await r.command('SEARCH ALL');
    assert.ok(!search.lines.some((l) => /EXPUNGE|VANISHED/.test(l)), search.lines.join('\n'));
    assert.ok(search.lines.includes('* 3 EXISTS'), `the held message still counts: ${search.lines.join('\n')}`);
    const fetch = await r.command('FETCH 2:3 (UID)');
    assert.ok(!fetch.lines.some((l) => /EXPUNGE|VANISHED/.test(l)), fetch.lines.join('\n'));
    assert.deepEqual(fetch.lines, [`* 2 FETCH (UID ${second})`, `* 3 FETCH (UID ${third})`], 'numbering unchanged until the EXPUNGE');
    const noop = await r.command('NOOP');
    assert.deepEqual(noop.lines, ['* 1 EXPUNGE']);
    assert.deepEqual((await r.command('UID SEARCH ALL')).lines, [`* SEARCH ${second} ${third}`]);
  });

  it('RFC 7162 §3.2.10: with QRESYNC enabled, expunges are reported as VANISHED', async () => {
    const uids = [await append(1), await append(2), await append(3)];
    const r = await session();
    await r.command('ENABLE QRESYNC');
    await r.command(`SELECT ${folder}`);
    store.store(folder, [[uids[0]!, uids[1]!]], 'add', ['\\Deleted']);
    store.expunge(folder);
    const noop = await r.command('NOOP');
    assert.deepEqual(noop.lines.filter((l) => !/FETCH/.test(l)), [`* VANISHED ${uids[0]}:${uids[1]}`]);
  });

  it('RFC 3501 §7.4.2 / RFC 7162 §3.1.4: flag changes of other sessions arrive as FETCH FLAGS, with UID for UID commands and MODSEQ after CONDSTORE', async () => {
    const uid = await append(1);
    const r = await session();
    await r.command('ENABLE CONDSTORE');
    await r.command(`SELECT ${folder}`);
    const result = store.store(folder, [[uid, uid]], 'add', ['\\Seen']);
    const modseq = result.updated[0]!.modseq;
    assert.deepEqual((await r.command('NOOP')).lines, [`* 1 FETCH (FLAGS (\\Seen) MODSEQ (${modseq}))`]);
    const again = store.store(folder, [[uid, uid]], 'add', ['\\Flagged']);
    const lines = (await r.command(`UID SEARCH UID ${uid}`)).lines;
    assert.ok(lines.includes(`* 1 FETCH (FLAGS (\\Seen \\Flagged) UID ${uid} MODSEQ (${again.updated[0]!.modseq}))`), lines.join('\n'));
  });

  it('RFC 3501 §6.4.6: a STORE is answered once, by the STORE itself; the other session hears of it at its next NOOP', async () => {
    await append(1);
    const a = await selected();
    const b = await selected();
    const stored = await a.command('STORE 1 +FLAGS (\\Flagged)');
    assert.deepEqual(stored.lines.filter((l) => /FETCH/.test(l)).length, 1, stored.lines.join('\n'));
    assert.deepEqual((await a.command('NOOP')).lines, [], 'not echoed again');
    assert.deepEqual((await b.command('NOOP')).lines, ['* 1 FETCH (FLAGS (\\Flagged))']);
  });

  it('RFC 3501 §7.2.6: a keyword nobody announced yet comes with a new FLAGS and PERMANENTFLAGS before the FETCH', async () => {
    const uid = await append(1);
    const r = await selected();
    store.store(folder, [[uid, uid]], 'add', ['$Project']);
    const lines = (await r.command('NOOP')).lines;
    assert.deepEqual(lines, [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Project)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Project \\*)] Flags permitted',
      '* 1 FETCH (FLAGS ($Project))',
    ]);
  });
  it('RFC 3501 §7.2.6: a new message with a keyword nobody announced yet: FLAGS and PERMANENTFLAGS come before its EXISTS', async () => {
    const r = await selected();
    await append(1, ['$Fresh']);
    assert.deepEqual((await r.command('NOOP')).lines, [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Fresh)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Fresh \\*)] Flags permitted',
      '* 1 EXISTS',
      '* 1 RECENT',
    ]);
  });
});

describe('\\Recent (RFC 3501 §2.3.2)', () => {
  it('RFC 3501 §2.3.2: of two sessions with the folder selected, exactly one sees a new message as \\Recent', async () => {
    const a = await selected();
    const b = await selected();
    await append(1);
    const recentA = (await a.command('NOOP')).lines.find((l) => / RECENT$/.test(l));
    const recentB = (await b.command('NOOP')).lines.find((l) => / RECENT$/.test(l));
    assert.deepEqual([recentA, recentB].sort(), ['* 0 RECENT', '* 1 RECENT']);
  });

  it('RFC 3501 §6.3.2: EXAMINE shows unclaimed messages as \\Recent without taking them; the next SELECT gets them, the one after not', async () => {
    await append(1);
    const examine = await session();
    assert.ok((await examine.command(`EXAMINE ${folder}`)).lines.includes('* 1 RECENT'));
    const first = await session();
    assert.ok((await first.command(`SELECT ${folder}`)).lines.includes('* 1 RECENT'));
    const second = await session();
    assert.ok((await second.command(`SELECT ${folder}`)).lines.includes('* 0 RECENT'));
    assert.ok((await examine.command(`EXAMINE ${folder}`)).lines.includes('* 0 RECENT'), 'claimed by the SELECT');
  });
});

describe('SELECT and EXAMINE (RFC 9051 §6.3.2, RFC 3501 §6.3.1)', () => {
  it('RFC 3501 §6.3.1: FLAGS, EXISTS, RECENT, UNSEEN, PERMANENTFLAGS with \\*, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, then [READ-WRITE]', async () => {
    await append(1, ['\\Seen', '$Work']);
    const second = await append(2);
    const status = store.status(folder);
    const r = await session();
    const reply = await r.command(`SELECT ${folder}`);
    assert.deepEqual(reply.lines, [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)',
      '* 2 EXISTS',
      '* 2 RECENT',
      '* OK [UNSEEN 2] First unseen',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted',
      `* OK [UIDVALIDITY ${status.uidValidity}] UIDs valid`,
      `* OK [UIDNEXT ${second + 1}] Predicted next UID`,
      `* OK [HIGHESTMODSEQ ${status.highestModseq}] Highest`,
      `* OK [MAILBOXID (${status.mailboxId})] Ok`,
    ]);
    assert.match(reply.tagged, /^t2 OK \[READ-WRITE\] SELECT completed$/);
  });

  it('RFC 9051 §6.3.2: after ENABLE IMAP4rev2, SELECT sends LIST with the folder name and no RECENT or UNSEEN; updates carry no RECENT', async () => {
    await append(1);
    const r = await session();
    await r.command('ENABLE IMAP4rev2');
    const reply = await r.command(`SELECT ${folder}`);
    assert.ok(reply.lines.includes(`* LIST (\\HasNoChildren) "/" "${folder}"`), reply.lines.join('\n'));
    assert.ok(!reply.lines.some((l) => / RECENT$|UNSEEN/.test(l)), reply.lines.join('\n'));
    await append(2);
    assert.deepEqual((await r.command('NOOP')).lines, ['* 2 EXISTS']);
  });

  it('RFC 3501 §6.3.2: EXAMINE is read-only: PERMANENTFLAGS () and [READ-ONLY]; no UNSEEN when all are seen', async () => {
    await append(1, ['\\Seen']);
    const r = await session();
    const reply = await r.command(`EXAMINE ${folder}`);
    assert.ok(reply.lines.includes('* OK [PERMANENTFLAGS ()] Read-only folder'), reply.lines.join('\n'));
    assert.ok(!reply.lines.some((l) => /UNSEEN/.test(l)));
    assert.match(reply.tagged, /^t2 OK \[READ-ONLY\] EXAMINE completed$/);
    assert.match((await r.command('EXPUNGE')).tagged, /^t3 NO \[READ-ONLY\]/);
  });

  it('RFC 7162 §3.2.11: a second SELECT says [CLOSED] first; RFC 9051 §6.3.2: a failed SELECT leaves no folder selected', async () => {
    const r = await selected();
    const again = await r.command('SELECT INBOX');
    assert.equal(again.lines[0], '* OK [CLOSED] Previous mailbox closed');
    const missing = await r.command('SELECT NoSuchFolder');
    assert.equal(missing.lines[0], '* OK [CLOSED] Previous mailbox closed');
    assert.match(missing.tagged, /^t4 NO \[NONEXISTENT\]/);
    assert.match((await r.command('CHECK')).tagged, /^t5 BAD/, 'not selected any more');
  });

  it('RFC 7162 §3.2.5: SELECT (QRESYNC (uidvalidity modseq)) reports VANISHED (EARLIER) and changed flags', async () => {
    const uids = [await append(1), await append(2), await append(3)];
    const before = store.status(folder);
    store.store(folder, [[uids[0]!, uids[0]!]], 'add', ['\\Deleted']);
    store.expunge(folder);
    const changed = store.store(folder, [[uids[2]!, uids[2]!]], 'add', ['\\Answered']).updated[0]!.modseq;
    const r = await session();
    assert.match((await r.command(`SELECT ${folder} (QRESYNC (${before.uidValidity} ${before.highestModseq}))`)).tagged, /^t2 BAD/, 'QRESYNC must be enabled');
    await r.command('ENABLE QRESYNC');
    const reply = await r.command(`SELECT ${folder} (QRESYNC (${before.uidValidity} ${before.highestModseq} 1:${uids[2]}))`);
    assert.ok(reply.lines.includes(`* VANISHED (EARLIER) ${uids[0]}`), reply.lines.join('\n'));
    assert.ok(reply.lines.includes(`* 2 FETCH (UID ${uids[2]} FLAGS (\\Answered) MODSEQ (${changed}))`), reply.lines.join('\n'));
    assert.match(reply.tagged, /OK \[READ-WRITE\]/);
  });
});

describe('CLOSE, UNSELECT, EXPUNGE (RFC 9051 §6.4.1–6.4.3, RFC 4315 §2.1)', () => {
  it('RFC 9051 §6.4.1: CLOSE removes \\Deleted messages without EXPUNGE responses; EXAMINE + CLOSE and UNSELECT remove nothing', async () => {
    const uids = [await append(1), await append(2)];
    store.store(folder, [[uids[0]!, uids[0]!]], 'add', ['\\Deleted']);
    const examine = await selected('EXAMINE');
    assert.deepEqual((await examine.command('CLOSE')).lines, []);
    assert.equal(store.status(folder).messages, 2);
    const unselect = await selected();
    assert.match((await unselect.command('UNSELECT')).tagged, /OK/);
    assert.equal(store.status(folder).messages, 2);
    const close = await selected();
    const reply = await close.command('CLOSE');
    assert.deepEqual(reply.lines, []);
    assert.match(reply.tagged, /OK/);
    assert.equal(store.status(folder).messages, 1);
  });

  it('RFC 4315 §2.1: UID EXPUNGE removes only the named \\Deleted messages; EXPUNGE all of them, reported in order', async () => {
    const uids = [await append(1), await append(2), await append(3), await append(4)];
    const r = await selected();
    store.store(folder, [[uids[0]!, uids[3]!]], 'add', ['\\Deleted']);
    await r.command('NOOP');
    const one = await r.command(`UID EXPUNGE ${uids[1]}`);
    assert.deepEqual(one.lines, ['* 2 EXPUNGE']);
    const rest = await r.command('EXPUNGE');
    assert.deepEqual(rest.lines, ['* 1 EXPUNGE', '* 1 EXPUNGE', '* 1 EXPUNGE']);
    assert.equal(store.status(folder).messages, 0);
  });
});
