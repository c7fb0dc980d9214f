// POP3 with real clients (Python poplib, curl, fetchmail) against a real Sealpost: the corpus arrives
// sealed while the mailbox is locked, the first POP3 login drains it, and every client gets the exact bytes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { ImapFlow } from 'imapflow';
import { promisify } from 'node:util';
import { generateCorpus, type CorpusMessage } from '../helpers/corpus.js';
import { startSendingApp, TEST_PASSWORD, type SendingApp } from '../helpers/sending.js';
import { findPlaintext } from '../helpers/privacy.js';
import { POP3_DELETE_TO_TRASH_SETTING } from '../../server/pop3/index.js';

const run = promisify(execFile);
const ALICE = 'alice@pop.test';
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/** Runs a Python snippet with poplib imported and `P` = port, `U`/`W` = credentials; returns stdout. */
async function py(app: SendingApp, body: string, port = app.port('pop3')): Promise<string> {
  const script = `import poplib, ssl, hashlib, sys, json\nP=${port}\nU=${JSON.stringify(ALICE)}\nW=${JSON.stringify(TEST_PASSWORD)}\n${body}`;
  const out = await run('python3', ['-c', script], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return out.stdout;
}

/** Sends raw lines on one plain connection and returns everything the server said before closing. */
function rawSession(port: number, lines: string[], terminator = '\r\n'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.once('data', () => {
      for (const l of lines) socket.write(l + terminator);
    });
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

/** A POP3 client that sends one command at a time over a plain socket and returns what the server answered. */
class Pop3Line {
  private buffered = '';
  private waiting: (() => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffered += d.toString('latin1');
      this.waiting?.();
    });
    socket.on('close', () => this.waiting?.());
  }

  static async connect(port: number): Promise<Pop3Line> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new Pop3Line(socket);
    await client.until('\r\n');
    client.buffered = '';
    return client;
  }

  /** Waits until the buffered reply holds `marker`, then takes the reply up to and including it. */
  private async until(marker: string): Promise<string> {
    const deadline = Date.now() + 30_000;
    while (!this.buffered.includes(marker)) {
      if (this.socket.destroyed || Date.now() > deadline) throw new Error(`no ${JSON.stringify(marker)} in ${JSON.stringify(this.buffered.slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 1000).unref();
      });
    }
    const end = this.buffered.indexOf(marker) + marker.length;
    const reply = this.buffered.slice(0, end);
    this.buffered = this.buffered.slice(end);
    return reply;
  }

  /** A single-line reply, without its CRLF. */
  async command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return (await this.until('\r\n')).slice(0, -2);
  }

  /** The message of a +OK multi-line reply, un-stuffed (RFC 1939 §3); throws on -ERR. */
  async multiline(line: string): Promise<string> {
    const status = await this.command(line);
    if (!status.startsWith('+OK')) throw new Error(`${line}: ${status}`);
    const body = (await this.until('\r\n.\r\n')).slice(0, -3);
    return body.replace(/^\.\./gm, '.');
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('pop3', () => {
  let app: SendingApp;
  let corpus: CorpusMessage[];

  before(async () => {
    // POP3 must hand back the stored bytes exactly; the junk filter's own header (tested in junk-filter) would be
    // part of them, so it is off here and the stored message is the delivered one.
    app = await startSendingApp({ listeners: ['pop3', 'pop3s', 'imap'], env: { SEALPOST_JUNK: 'off' } });
    const ctx = app.running.ctx;
    ctx.directory.addDomain('pop.test');
    const { alias } = await ctx.accounts.createAlias(ALICE, TEST_PASSWORD);
    await ctx.accounts.lock(alias.id);
    corpus = generateCorpus(24, 7);
    // the mailbox is locked: these go into the sealed queue and are drained by the first POP3 login
    for (const m of corpus) await ctx.accounts.deliverOrQueue(alias, m.raw, { folder: 'INBOX', receivedAt: m.date });
    assert.equal(ctx.accounts.queuedCount(alias), corpus.length);
  });

  after(async () => {
    await app.stop();
    fs.rmSync(app.dir, { recursive: true, force: true });
  });

  test('greeting names Sealpost; CAPA lists USER, SASL PLAIN, UIDL, TOP, STLS', async () => {
    const text = await rawSession(app.port('pop3'), ['CAPA', 'QUIT']);
    assert.match(text, /^\+OK Sealpost POP3 ready/);
    for (const cap of ['TOP', 'UIDL', 'USER', 'SASL PLAIN', 'STLS', 'RESP-CODES']) assert.match(text, new RegExp(`\\r\\n${cap}\\r\\n`));
    assert.doesNotMatch(text, /WildDuck/);
  });

  test('poplib: the first login drains the sealed queue; every message is byte-identical; UIDL stable', async () => {
    const out = await py(
      app,
      `
def session():
    p = poplib.POP3("127.0.0.1", P, timeout=30); p.user(U); p.pass_(W)
    n, size = p.stat()
    uidl = [l.decode() for l in p.uidl()[1]]
    hashes = []
    for i in range(1, n + 1):
        lines = p.retr(i)[1]
        hashes.append(hashlib.sha256(b"\\r\\n".join(lines) + b"\\r\\n").hexdigest())
    top = b"\\r\\n".join(p.top(1, 0)[1]).decode("latin1")
    p.quit()
    return n, size, uidl, hashes, top
a = session(); b = session()
print(json.dumps({"n": a[0], "size": a[1], "uidl": a[2], "uidl2": b[2], "hashes": a[3], "top": a[4]}))
`,
    );
    const r = JSON.parse(out) as { n: number; size: number; uidl: string[]; uidl2: string[]; hashes: string[]; top: string };
    assert.equal(r.n, corpus.length);
    assert.equal(r.size, corpus.reduce((s, m) => s + m.raw.length, 0));
    assert.deepEqual(r.hashes, corpus.map((m) => sha(m.raw)));
    assert.deepEqual(r.uidl2, r.uidl, 'UIDL is the same in the next session');
    assert.match(r.uidl[0] ?? '', /^1 \d+\.1$/);
    const raw0 = corpus[0]?.raw ?? Buffer.alloc(0);
    const headerBlock = raw0.subarray(0, raw0.indexOf('\r\n\r\n') + 4).toString('latin1');
    assert.equal(r.top + '\r\n', headerBlock, 'TOP n 0: exactly the header block, no body line');
  });

  test('RFC 1939 §5 RETR in reverse, scattered and repeated order: each message is its own exact bytes', async () => {
    const out = await py(
      app,
      `
p = poplib.POP3("127.0.0.1", P, timeout=30); p.user(U); p.pass_(W)
n = p.stat()[0]
order = list(range(n, 0, -1)) + [((i * 7) % n) + 1 for i in range(n)] + [3, 3, 1]
got = []
for i in order:
    got.append([i, hashlib.sha256(b"\\r\\n".join(p.retr(i)[1]) + b"\\r\\n").hexdigest()])
p.quit()
print(json.dumps(got))
`,
    );
    const got = JSON.parse(out) as [number, string][];
    assert.equal(got.length, 2 * corpus.length + 3);
    for (const [n, hash] of got) assert.equal(hash, sha(corpus[n - 1]!.raw), `RETR ${n}`);
  });

  test('RFC 1939 §5 RETR of a message another session expunged after the listing: -ERR, never another message\'s bytes', async () => {
    // An alias of its own: the other tests count ALICE's messages.
    const DAVE = 'dave@pop.test';
    const ctx = app.running.ctx;
    const { alias } = await ctx.accounts.createAlias(DAVE, TEST_PASSWORD);
    for (const m of corpus) await ctx.accounts.deliverOrQueue(alias, m.raw, { folder: 'INBOX', receivedAt: m.date });
    const pop = await Pop3Line.connect(app.port('pop3'));
    const imap = new ImapFlow({ host: '127.0.0.1', port: app.port('imap'), secure: false, tls: { rejectUnauthorized: false }, auth: { user: DAVE, pass: TEST_PASSWORD }, logger: false });
    try {
      assert.match(await pop.command(`USER ${DAVE}`), /^\+OK/);
      assert.match(await pop.command(`PASS ${TEST_PASSWORD}`), /^\+OK/);
      const n = Number((await pop.command('STAT')).split(' ')[1]);
      assert.ok(n >= 20, `${n} messages`);
      assert.equal(await pop.multiline('RETR 1'), corpus[0]!.raw.toString('latin1'));
      await imap.connect();
      const lock = await imap.getMailboxLock('INBOX');
      try {
        await imap.messageFlagsAdd('20', ['\\Deleted']);
        await imap.messageDelete('20');
      } finally {
        lock.release();
      }
      for (let i = 2; i < 20; i++) assert.equal(await pop.multiline(`RETR ${i}`), corpus[i - 1]!.raw.toString('latin1'), `RETR ${i}`);
      assert.equal(await pop.command('RETR 20'), '-ERR Message no longer exists');
    } finally {
      pop.close();
      await imap.logout().catch(() => undefined);
    }
  });

  test('curl retrieves a message byte-for-byte and lists the maildrop', async () => {
    const user = `${ALICE}:${TEST_PASSWORD}`;
    const one = await run('curl', ['-sS', '--max-time', '30', `pop3://127.0.0.1:${app.port('pop3')}/3`, '-u', user], { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 });
    assert.equal(sha(one.stdout), sha(corpus[2]?.raw ?? Buffer.alloc(0)));
    const list = await run('curl', ['-sS', '--max-time', '30', `pop3://127.0.0.1:${app.port('pop3')}/`, '-u', user], { encoding: 'utf8' });
    assert.equal(list.stdout.trim().split(/\r?\n/).length, corpus.length);
  });

  test('POP3S and STLS work with poplib', async () => {
    const out = await py(
      app,
      `
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = poplib.POP3_SSL("127.0.0.1", ${app.port('pop3s')}, context=ctx, timeout=30); s.user(U); s.pass_(W); a = s.stat()[0]; v = s.sock.version(); s.quit()
t = poplib.POP3("127.0.0.1", P, timeout=30); t.stls(ctx); t.user(U); t.pass_(W); b = t.stat()[0]; t.quit()
print(a, b, v)
`,
    );
    assert.match(out.trim(), new RegExp(`^${corpus.length} ${corpus.length} TLSv1\\.[23]$`));
  });

  test('fetchmail downloads the whole maildrop (keep)', async () => {
    const dir = fs.mkdtempSync(path.join(app.dir, 'fetchmail-'));
    const rc = path.join(dir, 'fetchmailrc');
    const mbox = path.join(dir, 'out.mbox');
    fs.writeFileSync(
      rc,
      `set no bouncemail\npoll 127.0.0.1 service ${app.port('pop3')} protocol POP3 auth password timeout 30\n` +
        `  user "${ALICE}" there with password "${TEST_PASSWORD}" is "root" here\n  keep fetchall\n  sslproto ""\n  mda "/usr/bin/tee -a ${mbox} >/dev/null"\n`,
      { mode: 0o600 },
    );
    await run('fetchmail', ['-f', rc, '--nodetach', '--nosyslog', '--idfile', path.join(dir, 'ids')], { env: { ...process.env, HOME: dir }, timeout: 60_000 });
    const got = fs.readFileSync(mbox, 'latin1');
    for (const m of corpus) assert.ok(got.includes(m.messageId), `fetchmail got ${m.messageId}`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a second session of the same alias is refused with [IN-USE]; bad commands get -ERR and the server stays up', async () => {
    const out = await py(
      app,
      `
a = poplib.POP3("127.0.0.1", P, timeout=30); a.user(U); a.pass_(W)
b = poplib.POP3("127.0.0.1", P, timeout=30); b.user(U)
try:
    b.pass_(W); print("second: ok")
except poplib.error_proto as e:
    print("second:", e.args[0].decode())
try:
    a.retr(999)
except poplib.error_proto as e:
    print("retr999:", e.args[0].decode())
a.quit()
c = poplib.POP3("127.0.0.1", P, timeout=30); c.user(U); c.pass_(W); print("after:", c.stat()[0]); c.quit()
`,
    );
    assert.match(out, /^second: -ERR \[IN-USE\]/m);
    assert.match(out, /^retr999: -ERR no such message/m);
    assert.match(out, new RegExp(`^after: ${corpus.length}$`, 'm'));
    const bad = await rawSession(app.port('pop3'), ['FROB']);
    assert.match(bad, /\r\n-ERR bad command\r\n$/);
    const long = await rawSession(app.port('pop3'), ['USER ' + 'x'.repeat(20_000)], '');
    assert.match(long, /-ERR Line too long/);
    const wrong = await rawSession(app.port('pop3'), [`USER ${ALICE}`, 'PASS wrong-password', 'QUIT']);
    assert.match(wrong, /-ERR \[AUTH\] Invalid address or password/);
    assert.match(await rawSession(app.port('pop3'), ['QUIT']), /^\+OK Sealpost/);
  });

  test('DELE+RSET keeps everything; DELE+QUIT removes permanently; message numbers and UIDLs do not shift', async () => {
    const out = await py(
      app,
      `
p = poplib.POP3("127.0.0.1", P, timeout=30); p.user(U); p.pass_(W)
p.dele(1); p.rset(); p.quit()
p = poplib.POP3("127.0.0.1", P, timeout=30); p.user(U); p.pass_(W)
n0 = p.stat()[0]; u = [l.decode() for l in p.uidl()[1]]
p.dele(1); p.dele(2)
listed = [l.decode() for l in p.list()[1]]
try:
    p.list(1); l1 = "ok"
except poplib.error_proto as e:
    l1 = e.args[0].decode()
stat = p.stat()[0]
p.quit()
p = poplib.POP3("127.0.0.1", P, timeout=30); p.user(U); p.pass_(W)
n1 = p.stat()[0]; u1 = [l.decode() for l in p.uidl()[1]]; p.quit()
print(json.dumps({"n0": n0, "u": u, "listed": listed, "l1": l1, "stat": stat, "n1": n1, "u1": u1}))
`,
    );
    const r = JSON.parse(out) as { n0: number; u: string[]; listed: string[]; l1: string; stat: number; n1: number; u1: string[] };
    assert.equal(r.n0, corpus.length, 'RSET undid the DELE');
    assert.equal(r.listed[0]?.split(' ')[0], '3', 'numbers are kept after DELE');
    assert.match(r.l1, /^-ERR/);
    assert.equal(r.stat, corpus.length - 2);
    assert.equal(r.n1, corpus.length - 2);
    const ids = (lines: string[]): string[] => lines.map((l) => l.split(' ')[1] ?? '');
    assert.deepEqual(ids(r.u1), ids(r.u).slice(2), 'the remaining messages keep their UIDLs');
  });

  test('with pop3DeleteToTrash, DELE+QUIT moves the message to Trash', async () => {
    const ctx = app.running.ctx;
    ctx.directory.setSetting(POP3_DELETE_TO_TRASH_SETTING, true);
    try {
      const out = await py(app, `p = poplib.POP3("127.0.0.1", P, timeout=30); p.user(U); p.pass_(W); p.dele(1); p.quit(); print("ok")`);
      assert.equal(out.trim(), 'ok');
      const session = await ctx.accounts.authenticate(ALICE, TEST_PASSWORD, { ip: '127.0.0.1', protocol: 'cli' });
      try {
        const trash = session.mailbox.listFolders().find((f) => f.specialUse === '\\Trash');
        assert.ok(trash);
        const [moved] = session.mailbox.listMessages(trash.path);
        assert.ok(moved);
        assert.equal(sha(await session.mailbox.readMessage(trash.path, moved.uid)), sha(corpus[2]?.raw ?? Buffer.alloc(0)));
        assert.equal(session.mailbox.listMessages('INBOX').length, corpus.length - 3);
      } finally {
        session.release();
      }
    } finally {
      ctx.directory.setSetting(POP3_DELETE_TO_TRASH_SETTING, undefined);
    }
  });

  test('RETR sends the exact bytes: dot-stuffed lines, CRLF, one terminator; a bad message number gets -ERR and the session goes on', async () => {
    const ctx = app.running.ctx;
    const BOB = 'bob@pop.test';
    const { alias } = await ctx.accounts.createAlias(BOB, TEST_PASSWORD);
    const message = Buffer.from('From: carol@pop.test\r\nTo: bob@pop.test\r\nSubject: dots\r\n\r\n.leading dot\r\n.\r\n..two\r\nlast line\r\n', 'latin1');
    await ctx.accounts.deliverOrQueue(alias, message, { folder: 'INBOX', receivedAt: new Date() });
    await ctx.accounts.deliverOrQueue(alias, Buffer.from('Subject: second\r\n\r\nx\r\n'), { folder: 'INBOX', receivedAt: new Date() });
    // "DELE 1.5" and "TOP 1.5 0" in a maildrop of two messages threw inside WildDuck and ended the process
    const commands = ['RETR 1.5', 'RETR x', 'RETR 0', 'DELE 1.5', 'TOP 1.5 0', 'RETR 3', 'RETR 1', 'DELE 1', 'RETR 1', 'RSET', 'QUIT'];
    const out = await rawSession(app.port('pop3'), [`USER ${BOB}`, `PASS ${TEST_PASSWORD}`, ...commands]);
    const stuffed = '.leading dot\r\n.\r\n..two\r\n'.replace(/^\./gm, '..');
    const body = `From: carol@pop.test\r\nTo: bob@pop.test\r\nSubject: dots\r\n\r\n${stuffed}last line\r\n`;
    const replies = out.slice(out.indexOf('-ERR malformed command'), out.lastIndexOf('+OK maildrop has'));
    assert.equal(
      replies,
      '-ERR malformed command\r\n'.repeat(5) + '-ERR no such message, only 2 messages in maildrop\r\n' +
        `+OK ${message.length} octets\r\n${body}.\r\n` +
        '+OK message 1 deleted\r\n-ERR message 1 already deleted\r\n',
      'replies up to RSET',
    );
    assert.match(out, /\+OK Bye\r\n$/);
  });

  test('nothing readable in the data dir', () => {
    const needles = [ALICE, ...corpus.slice(0, 5).map((m) => m.token), corpus[0]?.subject ?? 'x'];
    const leaks = findPlaintext(app.dir, needles);
    assert.deepEqual(leaks, []);
  });
});
