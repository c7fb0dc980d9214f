// Search contexts (RFC 5267 §4) over real sockets against our own IMAP engine: RETURN (UPDATE) results kept live
// with ADDTO / REMOVEFROM after new messages (NOOP and IDLE), expunges (before their EXPUNGE) and flag changes by
// this or another session; CANCELUPDATE; contexts ended by a new selection; the per-session cap (NOUPDATE).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_UPDATE_CONTEXTS } from '../../server/imap/commands/search-context.js';
import type { Mailbox } from '../../server/mailbox/types.js';
import { RawImap, type RawReply } from '../helpers/imap-raw.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';

let fx: ImapFixture;

const message = (subject: string): Buffer => Buffer.from(`From: a@example.com\r\nSubject: ${subject}\r\n\r\nbody\r\n`);

interface Account {
  readonly address: string;
  readonly password: string;
  readonly mailbox: Mailbox;
}

let users = 0;
/** A fresh alias with the given messages in INBOX (UIDs 1..n). */
async function account(subjects: readonly string[], flags: readonly (readonly string[])[] = []): Promise<Account> {
  const user = await fx.addUser(`ctx${++users}`);
  const mailbox = await fx.mailboxOf(user.address, user.password);
  for (let i = 0; i < subjects.length; i++) await mailbox.append('INBOX', message(subjects[i] as string), { flags: [...(flags[i] ?? [])] });
  return { ...user, mailbox };
}

async function session(user: Account, select = 'SELECT INBOX'): Promise<RawImap> {
  const r = await RawImap.connect(fx.port);
  assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /OK/);
  if (select) ok(await r.command(select));
  return r;
}

const ok = (reply: RawReply): RawReply => {
  assert.match(reply.tagged, /^\S+ OK /, reply.tagged);
  return reply;
};
const tagOf = (reply: RawReply): string => reply.tagged.split(' ')[0] as string;
const esearch = (reply: RawReply): string[] => reply.lines.filter((l) => l.startsWith('* ESEARCH'));

async function append(r: RawImap, subject: string, flags = ''): Promise<void> {
  ok(await r.commandWithLiteral(`APPEND INBOX${flags ? ` (${flags})` : ''}`, message(subject)));
}

before(async () => {
  fx = await startImapFixture();
});
after(async () => fx?.close());

describe('RFC 5267 §4.3 notifications of changes', () => {
  test('RFC 5267 §4.3: CONTEXT=SEARCH is advertised after login', async () => {
    const user = await account([]);
    const a = await session(user, '');
    const caps = (await a.command('CAPABILITY')).lines.find((l) => l.startsWith('* CAPABILITY')) ?? '';
    assert.ok(caps.split(' ').includes('CONTEXT=SEARCH'), caps);
    await a.command('LOGOUT');
  });

  test('RFC 5267 §4.3: ADDTO at the next NOOP for a matching message another session appended, after its EXISTS; a non-matching one adds nothing', async () => {
    const user = await account(['hello one', 'other']);
    const a = await session(user);
    const b = await session(user);
    const search = ok(await a.command('UID SEARCH RETURN (ALL UPDATE) SUBJECT hello'));
    const tag = tagOf(search);
    assert.deepEqual(esearch(search), [`* ESEARCH (TAG "${tag}") UID ALL 1`]);
    await append(b, 'hello two');
    await append(b, 'unrelated');
    const noop = ok(await a.command('NOOP'));
    assert.deepEqual(esearch(noop), [`* ESEARCH (TAG "${tag}") UID ADDTO (0 3)`]);
    const exists = noop.lines.indexOf('* 4 EXISTS');
    assert.ok(exists >= 0 && exists < noop.lines.indexOf(esearch(noop)[0] as string), noop.lines.join('\n'));
    // Reported once: the next NOOP has nothing new.
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), []);
    await a.command('LOGOUT');
    await b.command('LOGOUT');
  });

  test('RFC 5267 §4.3: a SEARCH (message numbers) context numbers ADDTO as the client does: the new message is 3', async () => {
    const user = await account(['x', 'y']);
    const a = await session(user);
    const b = await session(user);
    const search = ok(await a.command('SEARCH RETURN (UPDATE) ALL'));
    // RFC 4731 §3.1: no result option is ALL; UPDATE alone asks for no data of its own.
    assert.deepEqual(esearch(search), [`* ESEARCH (TAG "${tagOf(search)}") ALL 1:2`]);
    await append(b, 'z');
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), [`* ESEARCH (TAG "${tagOf(search)}") ADDTO (0 3)`]);
    await a.command('LOGOUT');
    await b.command('LOGOUT');
  });

  test('RFC 5267 §4.3: ADDTO during IDLE (RFC 2177) the moment another session appends a matching message', async () => {
    const user = await account(['keep']);
    const a = await session(user);
    const b = await session(user);
    const tag = tagOf(ok(await a.command('UID SEARCH RETURN (COUNT UPDATE) SUBJECT wanted')));
    a.write('idle1 IDLE\r\n');
    assert.match(await a.readLine(), /^\+ /);
    await append(b, 'wanted here');
    const seen: string[] = [];
    for (;;) {
      const line = await a.readLine();
      seen.push(line);
      if (line.startsWith('* ESEARCH')) break;
    }
    assert.equal(seen[seen.length - 1], `* ESEARCH (TAG "${tag}") UID ADDTO (0 2)`);
    assert.ok(seen.includes('* 2 EXISTS'), seen.join('\n'));
    a.write('DONE\r\n');
    ok(await a.until('idle1'));
    await a.command('LOGOUT');
    await b.command('LOGOUT');
  });

  test('RFC 5267 §4.3: REMOVEFROM for a message another session expunged, written before its EXPUNGE (its number still valid)', async () => {
    const user = await account(['m1', 'm2', 'm3']);
    const a = await session(user);
    const b = await session(user);
    const tag = tagOf(ok(await a.command('SEARCH RETURN (ALL UPDATE) ALL')));
    ok(await b.command('STORE 2 +FLAGS.SILENT (\\Deleted)'));
    ok(await b.command('EXPUNGE'));
    const noop = ok(await a.command('NOOP'));
    const update = `* ESEARCH (TAG "${tag}") REMOVEFROM (0 2)`;
    assert.deepEqual(esearch(noop), [update]);
    const at = noop.lines.indexOf(update);
    const expunge = noop.lines.indexOf('* 2 EXPUNGE');
    assert.ok(at >= 0 && expunge > at, noop.lines.join('\n'));
    // The context goes on with the renumbered folder: a new message is now number 3.
    await append(b, 'm4');
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), [`* ESEARCH (TAG "${tag}") ADDTO (0 3)`]);
    await a.command('LOGOUT');
    await b.command('LOGOUT');
  });

  test('RFC 5267 §4.3: this session\'s own EXPUNGE answers REMOVEFROM before the EXPUNGE it causes', async () => {
    const user = await account(['e1', 'e2', 'e3'], [[], ['\\Deleted'], ['\\Deleted']]);
    const a = await session(user);
    const tag = tagOf(ok(await a.command('SEARCH RETURN (ALL UPDATE) NOT SUBJECT e1')));
    const expunge = ok(await a.command('EXPUNGE'));
    const update = `* ESEARCH (TAG "${tag}") REMOVEFROM (0 2:3)`;
    assert.deepEqual(esearch(expunge), [update]);
    // Messages 2 and 3 go: `* 2 EXPUNGE` twice (each number counts the EXPUNGEs before it, RFC 3501 §7.4.1).
    assert.deepEqual(expunge.lines.filter((l) => l.endsWith(' EXPUNGE')), ['* 2 EXPUNGE', '* 2 EXPUNGE']);
    assert.ok(expunge.lines.indexOf(update) < expunge.lines.indexOf('* 2 EXPUNGE'), expunge.lines.join('\n'));
    await a.command('LOGOUT');
  });

  test('RFC 5267 §4.3: REMOVEFROM when this session\'s own STORE makes a message stop matching, ADDTO when another session\'s makes one match', async () => {
    const user = await account(['u1', 'u2', 'u3'], [[], ['\\Seen'], []]);
    const a = await session(user);
    const b = await session(user);
    const search = ok(await a.command('UID SEARCH RETURN (ALL UPDATE) UNSEEN'));
    const tag = tagOf(search);
    assert.deepEqual(esearch(search), [`* ESEARCH (TAG "${tag}") UID ALL 1,3`]);
    const store = ok(await a.command('UID STORE 1 +FLAGS (\\Seen)'));
    assert.deepEqual(esearch(store), [`* ESEARCH (TAG "${tag}") UID REMOVEFROM (0 1)`]);
    ok(await b.command('UID STORE 2 -FLAGS.SILENT (\\Seen)'));
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), [`* ESEARCH (TAG "${tag}") UID ADDTO (0 2)`]);
    // A flag change that leaves the match as it was says nothing.
    ok(await b.command('UID STORE 3 +FLAGS.SILENT (\\Flagged)'));
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), []);
    await a.command('LOGOUT');
    await b.command('LOGOUT');
  });
});

describe('RFC 5267 §4.2 CANCELUPDATE and the end of contexts', () => {
  test('RFC 5267 §4.2: CANCELUPDATE "tag" ends the context; an unknown tag is NO, a missing one BAD', async () => {
    const user = await account(['a']);
    const a = await session(user);
    const b = await session(user);
    const first = tagOf(ok(await a.command('UID SEARCH RETURN (UPDATE) ALL')));
    const second = tagOf(ok(await a.command('UID SEARCH RETURN (UPDATE) SUBJECT b')));
    ok(await a.command(`CANCELUPDATE "${first}"`));
    assert.match((await a.command(`CANCELUPDATE "${first}"`)).tagged, /^\S+ NO /);
    assert.match((await a.command('CANCELUPDATE')).tagged, /^\S+ BAD /);
    await append(b, 'b');
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), [`* ESEARCH (TAG "${second}") UID ADDTO (0 2)`]);
    ok(await a.command(`CANCELUPDATE "${second}"`));
    await append(b, 'b again');
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), []);
    await a.command('LOGOUT');
    await b.command('LOGOUT');
  });

  test('RFC 5267 §4: a new SELECT (and UNSELECT) ends the contexts of the previous selection', async () => {
    const user = await account(['s']);
    const a = await session(user);
    const b = await session(user);
    const tag = tagOf(ok(await a.command('UID SEARCH RETURN (UPDATE) ALL')));
    ok(await a.command('SELECT INBOX'));
    await append(b, 't');
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), []);
    assert.match((await a.command(`CANCELUPDATE "${tag}"`)).tagged, /^\S+ NO /);
    const again = tagOf(ok(await a.command('UID SEARCH RETURN (UPDATE) ALL')));
    ok(await a.command('UNSELECT'));
    ok(await a.command('EXAMINE INBOX'));
    await append(b, 'u');
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), []);
    assert.match((await a.command(`CANCELUPDATE "${again}"`)).tagged, /^\S+ NO /);
    await a.command('LOGOUT');
    await b.command('LOGOUT');
  });

  test('RFC 5267 §4.3: a second live context under the same tag is BAD; after CANCELUPDATE the tag may be used again', async () => {
    const user = await account(['d']);
    const a = await session(user);
    a.write('dup UID SEARCH RETURN (UPDATE) ALL\r\n');
    ok(await a.until('dup'));
    a.write('dup UID SEARCH RETURN (UPDATE) ALL\r\n');
    assert.match((await a.until('dup')).tagged, /^dup BAD /);
    ok(await a.command('CANCELUPDATE "dup"'));
    a.write('dup UID SEARCH RETURN (UPDATE) ALL\r\n');
    ok(await a.until('dup'));
    await a.command('LOGOUT');
  });
});

describe('RFC 5267 §4.3.1 refusing to update contexts', () => {
  test(`RFC 5267 §4.3.1: beyond ${MAX_UPDATE_CONTEXTS} live contexts a search answers with * NO [NOUPDATE "tag"] first and keeps no context`, async () => {
    const user = await account(['c']);
    const a = await session(user);
    const b = await session(user);
    const tags: string[] = [];
    for (let i = 0; i < MAX_UPDATE_CONTEXTS; i++) {
      const reply = ok(await a.command('UID SEARCH RETURN (UPDATE) ALL'));
      assert.ok(!reply.lines.some((l) => l.includes('NOUPDATE')), reply.lines.join('\n'));
      tags.push(tagOf(reply));
    }
    const refused = ok(await a.command('UID SEARCH RETURN (UPDATE) ALL'));
    const refusedTag = tagOf(refused);
    const no = refused.lines.findIndex((l) => l.startsWith(`* NO [NOUPDATE "${refusedTag}"]`));
    assert.ok(no >= 0, refused.lines.join('\n'));
    // The search itself is answered as usual, after the refusal.
    assert.ok(refused.lines.indexOf(`* ESEARCH (TAG "${refusedTag}") UID ALL 1`) > no, refused.lines.join('\n'));
    await append(b, 'c2');
    const updates = esearch(ok(await a.command('NOOP')));
    assert.deepEqual(updates, tags.map((tag) => `* ESEARCH (TAG "${tag}") UID ADDTO (0 2)`));
    assert.match((await a.command(`CANCELUPDATE "${refusedTag}"`)).tagged, /^\S+ NO /);
    // A cancelled context frees its place.
    ok(await a.command(`CANCELUPDATE "${tags[0]}"`));
    const accepted = ok(await a.command('UID SEARCH RETURN (UPDATE) ALL'));
    assert.ok(!accepted.lines.some((l) => l.includes('NOUPDATE')), accepted.lines.join('\n'));
    await a.command('LOGOUT');
    await b.command('LOGOUT');
  });
});

describe('RFC 5267 §4.3 CONTEXT=SORT', () => {
  test('RFC 5267 §4.3: UID SORT RETURN (UPDATE) sends ADDTO / REMOVEFROM with the sort positions', async () => {
    const user = await account(['beta', 'delta', 'alpha']);
    const a = await session(user);
    const caps = (await a.command('CAPABILITY')).lines.find((l) => l.startsWith('* CAPABILITY')) ?? '';
    assert.ok(caps.split(' ').includes('CONTEXT=SORT'), caps);
    const b = await session(user);
    const sort = ok(await a.command('UID SORT RETURN (ALL UPDATE) (SUBJECT) UTF-8 ALL'));
    const tag = tagOf(sort);
    assert.deepEqual(esearch(sort), [`* ESEARCH (TAG "${tag}") UID ALL 3,1:2`]);
    await append(b, 'charlie');
    // alpha(3) beta(1) charlie(4) delta(2): the new one is at position 3.
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), [`* ESEARCH (TAG "${tag}") UID ADDTO (3 4)`]);
    ok(await b.command('UID STORE 1 +FLAGS.SILENT (\\Deleted)'));
    ok(await b.command('EXPUNGE'));
    assert.deepEqual(esearch(ok(await a.command('NOOP'))), [`* ESEARCH (TAG "${tag}") UID REMOVEFROM (2 1)`]);
    await a.command('LOGOUT');
    await b.command('LOGOUT');
  });
});
