// SEARCH from real clients against our own IMAP engine: imapflow (ESEARCH-aware, builds OR/NOT trees and UTF-8
// literals itself) and Python's imaplib (plain `* SEARCH`, CHARSET UTF-8 with a literal). RFC 3501/9051 §6.4.4.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import type { Mailbox } from '../../server/mailbox/types.js';
import { run } from '../helpers/run.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';

const MESSAGES = [
  'From: =?utf-8?q?Zo=C3=AB_Adams?= <zoe@example.org>\r\nTo: Project Team: carol@example.net;\r\nSubject: =?utf-8?q?caf=C3=A9_menu?=\r\n\r\ntoken zqclient1\r\n',
  'From: bob@example.org\r\nTo: zoe@example.org\r\nSubject: lunch\r\n\r\ntoken zqclient2\r\n',
  'From: carol@example.net\r\nTo: bob@example.org\r\nSubject: Re: lunch\r\n\r\ntoken zqclient3\r\n',
];

let fx: ImapFixture;
let user: { address: string; password: string };
let mailbox: Mailbox;

before(async () => {
  fx = await startImapFixture();
  user = await fx.addUser('clients');
  mailbox = await fx.mailboxOf(user.address, user.password);
  for (const [i, raw] of MESSAGES.entries()) await mailbox.append('INBOX', Buffer.from(raw), { flags: i === 1 ? ['\\Seen', '\\Flagged'] : [] });
});
after(async () => fx?.close());

describe('RFC 3501 §6.4.4 / RFC 4731 SEARCH from imapflow', () => {
  test('search() with flags, OR/NOT trees, UTF-8 text and address names, by UID and by sequence', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: fx.port,
      secure: false,
      tls: { ca: [fx.tls.certificatePem()], servername: 'localhost' },
      auth: { user: user.address, pass: user.password },
      logger: false,
    });
    await client.connect();
    try {
      await client.mailboxOpen('INBOX');
      assert.deepEqual(await client.search({ flagged: true }, { uid: true }), [2]);
      assert.deepEqual(await client.search({ seen: false }), [1, 3]);
      assert.deepEqual(await client.search({ or: [{ from: 'carol' }, { subject: 'café' }] }), [1, 3]);
      assert.deepEqual(await client.search({ not: { subject: 'lunch' } }), [1]);
      assert.deepEqual(await client.search({ from: 'Zoë Adams' }), [1]);
      assert.deepEqual(await client.search({ to: 'Project Team' }), [1]);
      assert.deepEqual(await client.search({ body: 'zqclient3' }, { uid: true }), [3]);
      assert.deepEqual(await client.search({ uid: '2:*', seen: false }, { uid: true }), [3]);
      assert.deepEqual(await client.search({ subject: 'nothing like this' }), []);
    } finally {
      await client.logout();
    }
  });
});

describe('RFC 3501 §6.4.4 SEARCH from Python imaplib', () => {
  test('SEARCH and UID SEARCH, CHARSET UTF-8 with a literal, an ESEARCH RETURN', async () => {
    const script = String.raw`
import imaplib, json, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login(sys.argv[2], sys.argv[3])
M.select('INBOX')
out = {}
out['flagged'] = M.search(None, 'FLAGGED')[1][0].decode()
out['uid_unseen'] = M.uid('SEARCH', 'UNSEEN')[1][0].decode()
M.literal = 'Zoë'.encode('utf-8')
out['utf8_from'] = M.search('UTF-8', 'FROM')[1][0].decode()
out['group'] = M.search(None, 'TO', '"Project Team"')[1][0].decode()
typ, data = M._simple_command('SEARCH', 'RETURN', '(MIN MAX COUNT)', 'ALL')
out['esearch'] = M._untagged_response(typ, data, 'ESEARCH')[1][0].decode()
typ, data = M.search('KOI8-R', 'ALL')
out['badcharset'] = typ + ' ' + data[0].decode()
M.logout()
print(json.dumps(out))
`;
    const result = await run('python3', ['-c', script, String(fx.port), user.address, user.password]);
    assert.equal(result.status, 0, result.stderr);
    const out = JSON.parse(result.stdout.toString('utf8')) as Record<string, string>;
    assert.equal(out.flagged, '2');
    assert.equal(out.uid_unseen, '1 3');
    assert.equal(out.utf8_from, '1');
    assert.equal(out.group, '1');
    assert.match(out.esearch ?? '', /^\(TAG "\w+"\) MIN 1 MAX 3 COUNT 3$/);
    assert.equal(out.badcharset, 'NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset, use UTF-8');
  });
});
