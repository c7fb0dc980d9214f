// Real clients against APPEND / COPY / MOVE of our own engine: imapflow reads APPENDUID and COPYUID (RFC 4315)
// into its results, Python's imaplib sends a MULTIAPPEND-free APPEND with flags and a date.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { message, startMessagesFixture, type MessagesFixture } from './messages-fixture.js';

let f: MessagesFixture;

before(async () => {
  f = await startMessagesFixture();
});
after(() => f.close());

describe('real clients on APPEND, COPY and MOVE', () => {
  test('imapflow: append() gets the APPENDUID, messageCopy()/messageMove() get the COPYUID map (RFC 4315 §3)', async () => {
    const u = await f.user();
    const client = new ImapFlow({ host: '127.0.0.1', port: f.port, secure: false, doSTARTTLS: false, auth: { user: u.address, pass: u.password }, logger: false });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const appended = await client.append('INBOX', message('via imapflow'), ['\\Seen']);
      assert.ok(appended && typeof appended === 'object');
      assert.equal(appended.uid, 1);
      assert.equal(appended.uidValidity, BigInt(u.mailbox.status('INBOX').uidValidity));
      await client.append('INBOX', message('second'));
      await client.mailboxOpen('INBOX');
      const copied = await client.messageCopy('1:2', 'Archive', { uid: true });
      assert.ok(copied && typeof copied === 'object');
      assert.deepEqual([...(copied.uidMap ?? new Map()).entries()], [[1, 1], [2, 2]]);
      const moved = await client.messageMove('1', 'Trash', { uid: true });
      assert.ok(moved && typeof moved === 'object');
      assert.deepEqual([...(moved.uidMap ?? new Map()).entries()], [[1, 1]]);
      assert.deepEqual(u.mailbox.listMessages('INBOX').map((m) => m.uid), [2]);
      assert.equal(u.mailbox.status('Trash').messages, 1);
    } finally {
      await client.logout().catch(() => undefined);
    }
  });

  test('Python imaplib: APPEND with flags and a date answers OK [APPENDUID]', async () => {
    const u = await f.user();
    const script = [
      'import imaplib, sys',
      'c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))',
      'c.login(sys.argv[2], sys.argv[3])',
      'typ, data = c.append("INBOX", "(\\\\Flagged)", imaplib.Time2Internaldate(1700000000), b"Subject: py\\r\\n\\r\\nbody\\r\\n")',
      'print(typ, data[0].decode())',
      'c.logout()',
    ].join('\n');
    // Asynchronously: the server runs in this process and must keep answering while Python talks to it.
    const run = await promisify(execFile)('python3', ['-c', script, String(f.port), u.address, u.password], { encoding: 'utf8', timeout: 20_000 });
    assert.match(run.stdout, /^OK \[APPENDUID \d+ 1\]/);
    const [meta] = u.mailbox.listMessages('INBOX');
    assert.deepEqual(meta?.flags, ['\\Flagged']);
    assert.equal(meta?.internalDate.getTime(), 1700000000 * 1000);
  });
});
