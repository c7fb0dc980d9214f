// A client with Nagle's algorithm on that writes an APPEND literal and its closing CRLF in two writes (Python's
// imaplib does, plain and over TLS) must not wait for the server's delayed ACK before the CRLF can leave: the
// server asks the kernel for an immediate ACK after each `+` continuation and while a command is still arriving.
// Checked without clocks: Linux counts every ACK it had to delay and send from its timer (TcpExt DelayedACKs in
// /proc/net/netstat); before the fix every split APPEND cost one, now they must be rare.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { run } from '../helpers/run.js';
import { delayedAcks, tcpCountersAvailable } from '../helpers/tcp-counters.js';

let fx: ImapFixture;
let user: { address: string; password: string };
const APPENDS = 40;

const SCRIPT = String.raw`
import imaplib, ssl, sys
host, port, secure, user, pw, n = sys.argv[1], int(sys.argv[2]), sys.argv[3] == 'tls', sys.argv[4], sys.argv[5], int(sys.argv[6])
if secure:
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    M = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
else:
    M = imaplib.IMAP4(host, port)
M.login(user, pw)
body = b'From: a@example.org\r\nSubject: split literal\r\n\r\n' + b'line of text\r\n' * 100
ok = 0
for i in range(n):
    # imaplib sends the literal, then CRLF in a second send(): with Nagle on, the CRLF waits for the ACK.
    if M.append('INBOX', None, None, body)[0] == 'OK':
        ok += 1
M.logout()
print(ok)
`;

const linux = tcpCountersAvailable;

before(async () => {
  fx = await startImapFixture();
  user = await fx.addUser('nagle', 50 * 1024 * 1024);
});

after(async () => {
  await fx.close();
});

describe('IMAP literals from a Nagle client (split literal and CRLF)', { skip: !linux && 'needs Linux /proc/net/netstat' }, () => {
  for (const mode of ['plain', 'tls'] as const) {
    it(`RFC 9051 §4.3 synchronizing literal: ${APPENDS} imaplib APPENDs over ${mode} cause almost no delayed ACKs`, async () => {
      const before = delayedAcks();
      const py = await run('python3', ['-c', SCRIPT, fx.host, String(mode === 'tls' ? fx.securePort : fx.port), mode, user.address, user.password, String(APPENDS)]);
      const delta = delayedAcks() - before;
      assert.equal(py.status, 0, py.stderr.toString());
      assert.equal(Number(py.stdout.toString().trim()), APPENDS, 'every APPEND answered OK');
      // Each stalled APPEND adds one; a quarter leaves room for other traffic on this machine meanwhile.
      assert.ok(delta < APPENDS / 4, `${delta} delayed ACKs for ${APPENDS} APPENDs`);
    });
  }
});
