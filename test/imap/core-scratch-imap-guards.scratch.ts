// A hostile or broken client against Sealpost IMAP over real sockets: every malformed input gets BAD/NO
// (never a crash, never a stack trace in the log), and the limits hold: line length, literals, COMPRESS
// expansion, connections per IP and per alias, login and idle timeouts, STARTTLS before plaintext LOGIN.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ImapFixture } from '../helpers/imap-server.js';
import { startEngineFixture } from './core-fixture.js';
async function startImapFixture(o: Parameters<typeof startEngineFixture>[0] = {}): Promise<ImapFixture> { const ef = await startEngineFixture(o); return { ...ef.fx, port: ef.port, securePort: ef.securePort, close: () => ef.close() } as ImapFixture; }
import { RawImap } from '../helpers/imap-raw.js';

let fx: ImapFixture;
let alice: { address: string; password: string };
let bob: { address: string; password: string };
const open: RawImap[] = [];

async function connect(port = fx.port): Promise<RawImap> {
  const r = await RawImap.connect(port);
  open.push(r);
  return r;
}

async function login(user = alice, port = fx.port): Promise<RawImap> {
  const r = await connect(port);
  assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /^t1 OK/);
  return r;
}

/** Reads until the server closes the connection; returns every line seen. */
async function drainUntilClosed(r: RawImap, ms = 10_000): Promise<string[]> {
  const lines: string[] = [];
  const deadline = Date.now() + ms;
  while (!r.isClosed && Date.now() < deadline) {
    const line = await r.readLine(Math.max(1, deadline - Date.now())).catch(() => '');
    if (line) lines.push(line);
  }
  return lines;
}

async function stillServing(): Promise<void> {
  const r = await connect();
  assert.match(r.greeting, /^\* OK .*Sealpost/);
  assert.match((await r.command('NOOP')).tagged, /^t1 OK/);
  r.close();
}

before(async () => {
  fx = await startImapFixture({
    limits: { maxConnectionsPerIp: 12, maxConnectionsPerAlias: 3, inflateSlackBytes: 256 * 1024, inflateRatio: 50, maxMessageBytes: 2 * 1024 * 1024 },
  });
  alice = await fx.addUser('alice');
  bob = await fx.addUser('bob');
});

// Sessions count against the per-alias limit until the server has seen them close.
afterEach(async () => {
  for (const r of open.splice(0)) r.close();
  await new Promise((resolve) => setTimeout(resolve, 150));
});

after(async () => {
  await fx.close();
});

describe('IMAP guards', () => {
  it('LSUB "" "" answers the hierarchy delimiter instead of crashing', async () => {
    const r = await login();
    const reply = await r.command('LSUB "" ""');
    assert.deepEqual(reply.lines, ['* LSUB (\\Noselect) "/" ""']);
    assert.match(reply.tagged, /^t2 OK/);
    assert.match((await r.command('LSUB "" "*"')).tagged, /^t3 OK/);
    r.close();
    await stillServing();
  });

  it('malformed commands get BAD or NO, before login, after login and with a folder selected', async () => {
    const inputs = [
      '*', 'a', 'a FOO', 'a FETCH', 'a SELECT', 'a UID', 'a UID BOGUS 1', 'a LIST', 'a SEARCH (', 'a FETCH 1 (BODY[',
      'a STATUS INBOX (FOO)', 'a STATUS INBOX', 'a APPEND', 'a LOGIN onlyone', 'a ENABLE', 'a STORE 1 +FLAGS (\\Bogus)',
      'a COPY 1:* ""', 'a CREATE ""', 'a RENAME INBOX', 'a AUTHENTICATE CRAM-MD5', 'a XLIST "" "*"', 'a XAPPLEPUSHSERVICE',
      'a FETCH 1:* (FLAGS) (CHANGEDSINCE x)', 'a SELECT INBOX (QRESYNC (1 2))', 'a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)',
      'a SEARCH CHARSET KOI8-R TEXT x', 'a SEARCH BEFORE notadate', 'a COMPRESS LZ4', 'a ID (a b c)', 'a GETQUOTAROOT ""',
      'a FETCH 0:-1 FLAGS', 'a STARTTLS extra', '\u0000\u0001\u0002', 'a LIST "" "\u0000"',
    ];
    const check = async (r: RawImap, stage: string): Promise<void> => {
      for (const input of inputs) {
        r.write(`${input}\r\n`);
        let line = await r.readLine();
        // Untagged data (e.g. * ID) may precede the tagged reply; an untaggable line gets an untagged BAD.
        while (!/^(a|\*) (BAD|NO|OK|BYE)\b/.test(line) && line !== '') line = await r.readLine();
        assert.match(line, /^(a|\*) (BAD|NO|OK)\b/, `${stage}: ${JSON.stringify(input)} → ${line}`);
      }
      assert.match((await r.command('NOOP')).tagged, /^t\d+ OK/, `${stage}: connection still usable`);
    };
    await check(await connect(), 'before login');
    await check(await login(), 'after login');
    const selected = await login();
    await selected.command('SELECT INBOX');
    await check(selected, 'selected');
    await stillServing();
  });

  it('an over-long line before login is refused and the connection closed', async () => {
    const r = await connect();
    r.write('a LOGIN ' + 'x'.repeat(40 * 1024));
    const lines = await drainUntilClosed(r);
    assert.ok(lines.includes('* BAD Line too long'), lines.join('\n'));
    assert.ok(r.isClosed);
    await stillServing();
  });

  it('an over-long line after login is refused too (BAD for a complete line, BYE for an endless one)', async () => {
    const r = await login();
    const reply = await r.command(`SEARCH TEXT "${'y'.repeat(70 * 1024)}"`);
    assert.ok([reply.tagged, ...reply.lines].some((l) => /BAD Line too long/.test(l)), [reply.tagged, ...reply.lines].join('\n'));
    const endless = await login();
    for (let i = 0; i < 8; i++) endless.write('z'.repeat(32 * 1024));
    const lines = await drainUntilClosed(endless);
    assert.ok(lines.some((l) => /BAD Line too long/.test(l)) && endless.isClosed, lines.join('\n'));
    await stillServing();
  });

  it('literals: large ones before login, too many per command and over APPENDLIMIT are refused without reading them', async () => {
    const pre = await connect();
    pre.write('a LOGIN {100000}\r\n');
    assert.equal(await pre.readLine(), 'a BAD Literal too large before login');
    const r = await login();
    const many = Array.from({ length: 40 }, () => 'TEXT {1}').join(' ');
    r.write(`m SEARCH ${many.slice(0, many.indexOf('{1}'))}{1}\r\n`);
    let line = await r.readLine();
    for (let i = 0; i < 40 && line.startsWith('+'); i++) {
      r.write(i < 39 ? 'x TEXT {1}\r\n' : 'x\r\n');
      line = await r.readLine();
    }
    assert.equal(line, 'm BAD Too many literals in one command');
    r.write('big APPEND INBOX {3000000}\r\n');
    assert.match(await r.readLine(), /^big NO \[TOOBIG\]/);
    assert.match((await r.command('NOOP')).tagged, /OK/);
    await stillServing();
  });

  it('COMPRESS=DEFLATE works, and a decompression bomb ends the connection instead of filling memory', async () => {
    const r = await login();
    assert.match((await r.command('COMPRESS DEFLATE')).tagged, /^t2 OK/);
    r.startCompression();
    assert.match((await r.command('SELECT INBOX')).tagged, /OK \[READ-WRITE\]/);
    assert.match((await r.command('COMPRESS DEFLATE')).tagged, /NO \[COMPRESSIONACTIVE\]/);
    r.close();

    const bomb = await login();
    await bomb.command('COMPRESS DEFLATE');
    bomb.startCompression();
    bomb.write('b APPEND INBOX {2000000}\r\n');
    assert.match(await bomb.readLine(), /^\+/);
    // 2 MB of zeros deflate to ~2 KB: far beyond 256 KiB + 50 × compressed.
    bomb.writeRawSocket(zlib.deflateRawSync(Buffer.alloc(2_000_000), { flush: zlib.constants.Z_SYNC_FLUSH }).subarray(0));
    const lines = await drainUntilClosed(bomb);
    assert.ok(lines.includes('* BYE Compressed input expands too much'), lines.join('\n'));
    await stillServing();
  });

  it('connection floods: per IP address and per alias', async () => {
    for (const r of open.splice(0)) r.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const held: RawImap[] = [];
    for (let i = 0; i < 12; i++) held.push(await connect());
    const refused = await RawImap.connect(fx.port).catch(() => null);
    assert.ok(refused);
    assert.match(refused.greeting, /^\* BYE Too many connections/);
    for (const r of [...held, ...open]) r.close();
    await new Promise((resolve) => setTimeout(resolve, 200));

    const sessions = [await login(bob), await login(bob), await login(bob)];
    const fourth = await connect();
    assert.match((await fourth.command(`LOGIN "${bob.address}" "${bob.password}"`)).tagged, /^t1 NO \[UNAVAILABLE\]/);
    sessions[0]?.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await connect();
    assert.match((await again.command(`LOGIN "${bob.address}" "${bob.password}"`)).tagged, /^t1 OK/, 'a slot frees when a session ends');
    for (const r of open) r.close();
  });

  it('failed logins are answered with [AUTHENTICATIONFAILED] and logged without address or password', async () => {
    const r = await connect();
    const wrong = `wrong-${crypto.randomUUID()}`;
    assert.match((await r.command(`LOGIN "${alice.address}" "${wrong}"`)).tagged, /^t1 NO \[AUTHENTICATIONFAILED\]/);
    const plain = Buffer.from(`\u0000${alice.address}\u0000${wrong}`).toString('base64');
    assert.match((await r.command(`AUTHENTICATE PLAIN ${plain}`)).tagged, /^t2 NO \[AUTHENTICATIONFAILED\]/);
    r.close();
    const logs = fx.logs.join('\n');
    assert.ok(logs.includes('imap.login_failed'));
    assert.ok(!logs.includes(wrong) && !logs.includes(alice.address) && !logs.includes(alice.password));
  });

  it('nothing above put a stack trace or a raw command in the log', () => {
    const logs = fx.logs.join('\n');
    assert.ok(!/\n\s+at /.test(logs) && !/"stack"/.test(logs), 'no stack traces');
    assert.ok(!logs.includes('XAPPLEPUSHSERVICE') && !logs.includes('KOI8-R'), 'no raw commands');
  });
});

describe('IMAP TLS and timeouts', () => {
  let strict: ImapFixture;
  before(async () => {
    strict = await startImapFixture({ plaintextLoginOnLoopback: false, limits: { preAuthTimeoutMs: 400, socketTimeoutMs: 800 } });
  });
  after(async () => {
    await strict.close();
  });

  it('without TLS, LOGIN is disabled until STARTTLS; TLS uses our certificate, 1.2+ only, and drops pipelined plaintext', async () => {
    const user = await strict.addUser('carol');
    const r = await RawImap.connect(strict.port);
    assert.match(r.greeting, /LOGINDISABLED/);
    assert.match(r.greeting, /STARTTLS/);
    assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /^t1 BAD \[PRIVACYREQUIRED\]/);
    // STARTTLS with a command pipelined behind it in plaintext: the injected command must never run.
    r.write('t2 STARTTLS\r\nt3 LOGIN injected injected\r\n');
    assert.match(await r.readLine(), /^t2 OK/);
    await r.upgradeTls({ ca: [strict.tls.certificatePem()], servername: 'localhost', minVersion: 'TLSv1.2' });
    const caps = await r.command('CAPABILITY');
    assert.ok(!caps.lines.join(' ').includes('LOGINDISABLED') && caps.lines.join(' ').includes('AUTH=PLAIN'));
    assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /OK/);
    r.close();

    const secure = await RawImap.connect(strict.securePort, { tls: { ca: [strict.tls.certificatePem()], servername: 'localhost' } });
    assert.match(secure.greeting, /AUTH=PLAIN/);
    secure.close();
    await assert.rejects(
      RawImap.connect(strict.securePort, { tls: { rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' } }),
      'TLS 1.1 is refused',
    );
    const tls = await import('node:tls');
    const fingerprint = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: strict.securePort, rejectUnauthorized: false }, () => {
        resolve(s.getPeerX509Certificate()?.fingerprint256 ?? '');
        s.destroy();
      });
      s.once('error', reject);
    });
    assert.equal(fingerprint, strict.tls.fingerprint256(), 'our certificate, not the library default');
  });

  it('closes connections that do not log in, and sessions that stay silent', async () => {
    const idle = await RawImap.connect(strict.port);
    const lines = await drainUntilClosed(idle, 5000);
    assert.ok(lines.includes('* BYE Login timeout'), lines.join('\n'));
    const user = await strict.addUser('dave');
    const tlsOptions = { ca: [strict.tls.certificatePem()], servername: 'localhost' };
    const quiet = await RawImap.connect(strict.securePort, { tls: tlsOptions });
    assert.match((await quiet.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /OK/);
    const bye = await drainUntilClosed(quiet, 5000);
    assert.ok(bye.some((l) => /^\* BYE/.test(l)), bye.join('\n'));
  });
});
