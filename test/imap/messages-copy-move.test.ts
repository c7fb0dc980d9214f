// COPY and MOVE on our own engine over real sockets: COPYUID mapping, TRYCREATE, EXISTS for copies into the
// selected folder, MOVE's response order (COPYUID, EXPUNGE / VANISHED, tagged OK), read-only sources, huge sets.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { code, message, startMessagesFixture, status, type MessagesFixture, type TestUser } from './messages-fixture.js';

let f: MessagesFixture;

before(async () => {
  f = await startMessagesFixture();
});
after(() => f.close());

/** A user with `count` messages in INBOX (subjects m1…mN, UIDs 1…N). */
async function userWith(count: number): Promise<TestUser> {
  const u = await f.user();
  for (let i = 1; i <= count; i++) await u.mailbox.append('INBOX', message(`m${i}`));
  return u;
}

/** `[COPYUID v src dst]` expanded to [source, destination] pairs in the order the sets list them. */
function copyUidPairs(text: string): { uidValidity: number; pairs: [number, number][] } {
  const m = /\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]/.exec(text);
  assert.ok(m, `no COPYUID in ${text}`);
  const expand = (set: string): number[] =>
    set.split(',').flatMap((part) => {
      const [a, b = a] = part.split(':').map(Number) as [number, number?];
      const out: number[] = [];
      for (let i = Math.min(a, b as number); i <= Math.max(a, b as number); i++) out.push(i);
      return out;
    });
  const src = expand(m[2] as string);
  const dst = expand(m[3] as string);
  assert.equal(src.length, dst.length);
  return { uidValidity: Number(m[1]), pairs: src.map((s, i) => [s, dst[i] as number]) };
}

describe('COPY (RFC 9051 §6.4.7, RFC 3501 §6.4.7)', () => {
  test('RFC 4315 §3: COPYUID maps each source UID to its copy, checked with UID FETCH in the destination', async () => {
    const u = await userWith(6);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.command('COPY 2,4:6 Archive');
    assert.equal(status(reply), 'OK', reply.tagged);
    const { uidValidity, pairs } = copyUidPairs(reply.tagged);
    assert.equal(uidValidity, u.mailbox.status('Archive').uidValidity);
    assert.deepEqual(pairs.map((p) => p[0]), [2, 4, 5, 6]);
    assert.equal(status(await u.imap.command('SELECT Archive')), 'OK');
    for (const [src, dst] of pairs) {
      const fetched = await u.imap.command(`UID FETCH ${dst} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])`);
      assert.equal(status(fetched), 'OK', fetched.tagged);
      assert.ok(fetched.lines.join('\n').includes(`Subject: m${src}\r\n`), `UID ${dst} is not a copy of UID ${src}: ${fetched.lines.join('|')}`);
    }
  });

  test('RFC 4315 §3: the mapping also holds by the bytes in the store', async () => {
    const u = await userWith(4);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.command('UID COPY 1,3:4 Archive');
    const { pairs } = copyUidPairs(reply.tagged);
    for (const [src, dst] of pairs) assert.deepEqual(await u.mailbox.readMessage('Archive', dst), await u.mailbox.readMessage('INBOX', src));
  });

  test('RFC 9051 §6.4.7: a destination that does not exist is NO [TRYCREATE]', async () => {
    const u = await userWith(1);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.command('COPY 1 Nowhere');
    assert.equal(status(reply), 'NO');
    assert.equal(code(reply), 'TRYCREATE');
  });

  test('RFC 9051 §6.4.7 / RFC 3501 §6.3.4: a \\Noselect name cannot take messages: COPY, MOVE and APPEND get NO [TRYCREATE]', async () => {
    const u = await userWith(1);
    u.mailbox.createFolder('Parent/Child');
    u.mailbox.deleteFolder('Parent');
    assert.equal(u.mailbox.status('Parent').noselect, true);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    for (const command of ['COPY 1 Parent', 'MOVE 1 Parent', 'APPEND Parent {3+}\r\nabc']) {
      const reply = await u.imap.command(command);
      assert.equal(code(reply), 'TRYCREATE', `${command} → ${reply.tagged}`);
    }
    assert.equal(u.mailbox.status('INBOX').messages, 1);
  });

  test('RFC 9051 §7.4.1 (issue: EXISTS before OK): COPY into the selected folder reports EXISTS before the tagged OK', async () => {
    const u = await userWith(2);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.command('COPY 1:2 INBOX');
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.ok(reply.lines.includes('* 4 EXISTS'), reply.lines.join('|'));
  });

  test('RFC 9051 §6.4.8: UID COPY of UIDs that do not exist is OK and copies nothing', async () => {
    const u = await userWith(1);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.command('UID COPY 50:60 Archive');
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.equal(u.mailbox.status('Archive').messages, 0);
  });

  test('RFC 9051 §6.4.7: COPY with a sequence number beyond the mailbox is BAD', async () => {
    const u = await userWith(1);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    assert.equal(status(await u.imap.command('COPY 5 Archive')), 'BAD');
  });

  test('hostile: huge UID sets (1:4294967295, thousands of ranges) copy what exists and nothing else', async () => {
    const u = await userWith(3);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const all = await u.imap.command('UID COPY 1:4294967295 Archive');
    assert.equal(status(all), 'OK', all.tagged);
    assert.deepEqual(copyUidPairs(all.tagged).pairs.map((p) => p[0]), [1, 2, 3]);
    const ranges = Array.from({ length: 5000 }, (_, i) => `${i * 3 + 2}`).join(',');
    const many = await u.imap.command(`UID COPY ${ranges} Trash`);
    assert.equal(status(many), 'OK', many.tagged);
    assert.deepEqual(copyUidPairs(many.tagged).pairs.map((p) => p[0]), [2]);
    assert.equal(status(await u.imap.command('NOOP')), 'OK');
  });

  test('RFC 3501 §6.4.7: COPY is not valid without a selected folder (BAD)', async () => {
    const u = await userWith(1);
    assert.equal(status(await u.imap.command('COPY 1 Archive')), 'BAD');
  });
});

describe('MOVE (RFC 6851)', () => {
  test('RFC 6851 §3.3, §4.3: * OK [COPYUID] first, then EXPUNGE for each moved message, then the tagged OK', async () => {
    const u = await userWith(5);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.command('MOVE 2:3,5 Archive');
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.equal(code(reply), '');
    const copyAt = reply.lines.findIndex((l) => l.startsWith('* OK [COPYUID '));
    assert.equal(copyAt, 0, reply.lines.join('|'));
    const { pairs } = copyUidPairs(reply.lines[0] as string);
    assert.deepEqual(pairs.map((p) => p[0]), [2, 3, 5]);
    // Sequence numbers as they stand when each EXPUNGE is read: 2 (uid 2), 2 (uid 3), 3 (uid 5).
    assert.deepEqual(reply.lines.slice(1, 4), ['* 2 EXPUNGE', '* 2 EXPUNGE', '* 3 EXPUNGE']);
    assert.ok(!reply.lines.slice(4).some((l) => l.endsWith(' EXPUNGE') || l.includes('COPYUID')), reply.lines.join('|'));
    assert.deepEqual(u.mailbox.listMessages('INBOX').map((m) => m.uid), [1, 4]);
    assert.equal(u.mailbox.status('Archive').messages, 3);
  });

  test('RFC 6851 §4.4 / RFC 7162 §3.2.10: with QRESYNC enabled the expunges come as VANISHED', async () => {
    const u = await userWith(4);
    assert.equal(status(await u.imap.command('ENABLE QRESYNC')), 'OK');
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.command('UID MOVE 1,3:4 Archive');
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.match(reply.lines[0] ?? '', /^\* OK \[COPYUID \d+ 1,3:4 1:3\]/);
    assert.equal(reply.lines[1], '* VANISHED 1,3:4');
    assert.ok(!reply.lines.some((l) => l.endsWith(' EXPUNGE')), reply.lines.join('|'));
  });

  test('RFC 6851 §3.3: MOVE into the selected folder itself gives the messages new UIDs (EXISTS and EXPUNGE)', async () => {
    const u = await userWith(2);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.command('UID MOVE 1 INBOX');
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.match(reply.lines[0] ?? '', /^\* OK \[COPYUID \d+ 1 3\]/);
    assert.ok(reply.lines.includes('* 1 EXPUNGE'), reply.lines.join('|'));
    assert.ok(reply.lines.some((l) => /^\* [23] EXISTS$/.test(l)), reply.lines.join('|'));
    assert.deepEqual(u.mailbox.listMessages('INBOX').map((m) => m.uid), [2, 3]);
  });

  test('RFC 6851 §3.3: MOVE from a folder opened with EXAMINE is refused (NO) and moves nothing', async () => {
    const u = await userWith(2);
    assert.equal(status(await u.imap.command('EXAMINE INBOX')), 'OK');
    const reply = await u.imap.command('MOVE 1 Archive');
    assert.equal(status(reply), 'NO', reply.tagged);
    assert.equal(u.mailbox.status('INBOX').messages, 2);
    assert.equal(u.mailbox.status('Archive').messages, 0);
  });

  test('RFC 6851 §3.3: a destination that does not exist is NO [TRYCREATE]; nothing leaves the source', async () => {
    const u = await userWith(1);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const reply = await u.imap.command('MOVE 1 Nowhere');
    assert.equal(code(reply), 'TRYCREATE');
    assert.equal(u.mailbox.status('INBOX').messages, 1);
  });

  test('hostile: UID MOVE with a huge UID set moves what exists and nothing else', async () => {
    const u = await userWith(3);
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    const ranges = ['2', ...Array.from({ length: 4000 }, (_, i) => `${i * 5 + 100}:${i * 5 + 102}`), '4000000000:*'].join(',');
    const reply = await u.imap.command(`UID MOVE ${ranges} Archive`);
    assert.equal(status(reply), 'OK', reply.tagged);
    assert.deepEqual(copyUidPairs(reply.lines[0] as string).pairs.map((p) => p[0]), [2, 3]);
    assert.deepEqual(u.mailbox.listMessages('INBOX').map((m) => m.uid), [1]);
  });

  test('RFC 6851 §3.3: another session of the same folder sees the moved messages expunged', async () => {
    const u = await userWith(3);
    const other = await u.connect();
    assert.equal(status(await other.command('SELECT INBOX')), 'OK');
    assert.equal(status(await u.imap.command('SELECT INBOX')), 'OK');
    assert.equal(status(await u.imap.command('MOVE 1 Trash')), 'OK');
    const noop = await other.command('NOOP');
    assert.ok(noop.lines.includes('* 1 EXPUNGE'), noop.lines.join('|'));
  });
});
