// The own IMAP engine's session layer over real sockets: greeting and CAPABILITY per state, LOGIN and
// AUTHENTICATE PLAIN (SASL-IR, continuation, cancel), the LOGINDISABLED rule off loopback, STARTTLS dropping
// pipelined plaintext, COMPRESS, ID, ENABLE, NAMESPACE, pipelining in order, and bounded buffers for a client
// that sends without reading.
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { RawImap } from '../helpers/imap-raw.js';
import { startEngineFixture, type EngineFixture } from './core-fixture.js';

let ef: EngineFixture;
let alice: { address: string; password: string };
const plain = (authzid: string, user: string, password: string): string => Buffer.from(`${authzid}\u0000${user}\u0000${password}`).toString('base64');

before(async () => {
  ef = await startEngineFixture({ limits: { maxMessageBytes: 4 * 1024 * 1024, inflateSlackBytes: 256 * 1024, inflateRatio: 50 } });
  alice = await ef.fx.addUser('alice');
});
after(async () => ef.close());

async function login(): Promise<RawImap> {
  const r = await RawImap.connect(ef.port);
  assert.match((await r.command(`LOGIN "${alice.address}" "${alice.password}"`)).tagged, /^t1 OK/);
  return r;
}

describe('greeting and CAPABILITY (RFC 9051 §7.1.1, §6.1.1)', () => {
  it('RFC 9051 §7.2.2: the greeting carries the capability list; before login AUTH=PLAIN, after it COMPRESS=DEFLATE', async () => {
    const r = await RawImap.connect(ef.port);
    assert.match(r.greeting, /^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS AUTH=PLAIN SASL-IR .*LITERAL\+.* APPENDLIMIT=4194304\] Sealpost IMAP ready$/);
    assert.doesNotMatch(r.greeting, /COMPRESS|LOGINDISABLED/);
    const caps = await r.command('CAPABILITY');
    assert.equal(caps.lines.length, 1);
    assert.match(caps.lines[0] ?? '', /^\* CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS AUTH=PLAIN SASL-IR /);
    assert.match(caps.tagged, /^t1 OK/);
    const loggedIn = await r.command(`LOGIN "${alice.address}" "${alice.password}"`);
    assert.match(loggedIn.tagged, /^t2 OK/);
    const after = (await r.command('CAPABILITY')).lines[0] ?? '';
    for (const name of ['COMPRESS=DEFLATE', 'IDLE', 'ID', 'ENABLE', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT']) {
      assert.ok(after.split(' ').includes(name), `${name} in ${after}`);
    }
    assert.doesNotMatch(after, /STARTTLS|AUTH=PLAIN|LOGINDISABLED/);
    r.close();
  });

  it('RFC 9051 §6.1.3: LOGOUT answers BYE, then the tagged OK, then the server closes', async () => {
    const r = await login();
    const reply = await r.command('LOGOUT');
    assert.deepEqual(reply.lines, ['* BYE Sealpost logging out']);
    assert.match(reply.tagged, /^t2 OK/);
    assert.equal(await r.readLine(2000), '');
    assert.ok(r.isClosed);
  });

  it('RFC 9051 §6: unknown commands, commands in the wrong state and bad arguments get BAD; the session goes on', async () => {
    const r = await RawImap.connect(ef.port);
    assert.equal((await r.command('FROBNICATE')).tagged, 't1 BAD Unknown command');
    assert.match((await r.command('SELECT INBOX')).tagged, /^t2 BAD/);
    assert.match((await r.command('LOGIN onlyone')).tagged, /^t3 BAD/);
    assert.match((await r.command('UID NOOP')).tagged, /^t4 BAD Unknown command/);
    assert.match((await r.command('NOOP')).tagged, /^t5 OK/);
    r.close();
  });
});

describe('LOGIN and AUTHENTICATE PLAIN (RFC 9051 §6.2, RFC 4616, RFC 4959)', () => {
  it('RFC 4959: AUTHENTICATE PLAIN with an initial response logs in', async () => {
    const r = await RawImap.connect(ef.port);
    const reply = await r.command(`AUTHENTICATE PLAIN ${plain('', alice.address, alice.password)}`);
    assert.match(reply.tagged, /^t1 OK/);
    assert.match((await r.command('SELECT INBOX')).tagged, /^t2 OK \[READ-WRITE\]/);
    r.close();
  });

  it('RFC 9051 §6.2.2: without an initial response the server sends an empty continuation', async () => {
    const r = await RawImap.connect(ef.port);
    r.write('a1 AUTHENTICATE PLAIN\r\n');
    assert.equal(await r.readLine(), '+ ');
    r.write(`${plain(alice.address, alice.address, alice.password)}\r\n`);
    assert.match((await r.until('a1')).tagged, /^a1 OK/);
    r.close();
  });

  it('RFC 9051 §6.2.2: "*" cancels the exchange with BAD, invalid base64 is BAD, wrong password NO [AUTHENTICATIONFAILED]', async () => {
    const r = await RawImap.connect(ef.port);
    r.write('a1 AUTHENTICATE PLAIN\r\n');
    assert.equal(await r.readLine(), '+ ');
    r.write('*\r\n');
    assert.match(await r.readLine(), /^a1 BAD/);
    assert.match((await r.command('AUTHENTICATE PLAIN !!notbase64')).tagged, /^t1 BAD/);
    assert.match((await r.command(`AUTHENTICATE PLAIN ${plain('', alice.address, 'wrong password')}`)).tagged, /^t2 NO \[AUTHENTICATIONFAILED\]/);
    assert.match((await r.command('AUTHENTICATE CRAM-MD5')).tagged, /^t3 NO/);
    assert.match((await r.command(`LOGIN "${alice.address}" "${alice.password}"`)).tagged, /^t4 OK/);
    assert.match((await r.command(`LOGIN "${alice.address}" "${alice.password}"`)).tagged, /^t5 BAD/, 'LOGIN is not valid once authenticated');
    r.close();
  });

  it('LOGIN takes literals (RFC 9051 §4.3) and imapflow logs in', async () => {
    const r = await RawImap.connect(ef.port);
    r.write(`a1 LOGIN {${alice.address.length}}\r\n`);
    assert.match(await r.readLine(), /^\+ /);
    r.write(`${alice.address} {${Buffer.byteLength(alice.password)}}\r\n`);
    assert.match(await r.readLine(), /^\+ /);
    r.write(`${alice.password}\r\n`);
    assert.match((await r.until('a1')).tagged, /^a1 OK/);
    r.close();
    // imapflow upgrades with STARTTLS on its own: this goes through the engine's handshake too.
    const client = new ImapFlow({
      host: '127.0.0.1', port: ef.port, secure: false, auth: { user: alice.address, pass: alice.password }, logger: false,
      tls: { ca: [ef.fx.tls.certificatePem()], servername: 'localhost' },
    });
    await client.connect();
    // imapflow negotiates STARTTLS, AUTHENTICATE PLAIN, COMPRESS and ENABLE on its own.
    assert.ok(client.authenticated);
    assert.equal(client.secureConnection, true);
    assert.ok(client.enabled.has('CONDSTORE'));
    await client.noop();
    await client.logout();
  });
});

describe('ID, ENABLE, NAMESPACE', () => {
  it('RFC 2971: ID NIL or up to 30 pairs, before login too; 31 pairs or a 31-octet field is BAD', async () => {
    const r = await RawImap.connect(ef.port);
    const id = await r.command('ID NIL');
    assert.match(id.lines[0] ?? '', /^\* ID \("name" "Sealpost" "version" "[^"]+"\)$/);
    const pairs = (n: number, field = 30, value = 1024): string =>
      `(${Array.from({ length: n }, (_, i) => `"${String(i).padStart(field, 'f')}" "${'v'.repeat(value)}"`).join(' ')})`;
    assert.match((await r.command(`ID ${pairs(30)}`)).tagged, /^t2 OK/, 'the largest legal ID fits the pre-login line cap');
    assert.match((await r.command(`ID ${pairs(31, 30, 10)}`)).tagged, /^t3 BAD/);
    assert.match((await r.command(`ID ${pairs(1, 31, 10)}`)).tagged, /^t4 BAD/);
    assert.match((await r.command(`ID ${pairs(1, 10, 1025)}`)).tagged, /^t5 BAD/);
    r.close();
  });

  it('RFC 5161: ENABLE lists what it turned on; RFC 2342: one personal namespace with "/"', async () => {
    const r = await login();
    const enabled = await r.command('ENABLE QRESYNC X-UNKNOWN UTF8=ACCEPT');
    assert.deepEqual(enabled.lines, ['* ENABLED QRESYNC UTF8=ACCEPT']);
    assert.deepEqual((await r.command('ENABLE QRESYNC')).lines, ['* ENABLED']);
    assert.match((await r.command('ENABLE')).tagged, /^t4 BAD/);
    assert.deepEqual((await r.command('NAMESPACE')).lines, ['* NAMESPACE (("" "/")) NIL NIL']);
    r.close();
  });
});

describe('COMPRESS=DEFLATE (RFC 4978)', () => {
  it('RFC 4978 §3: both directions compressed after the OK; a second COMPRESS is NO [COMPRESSIONACTIVE]', async () => {
    const r = await login();
    assert.match((await r.command('COMPRESS DEFLATE')).tagged, /^t2 OK/);
    r.startCompression();
    assert.match((await r.command('SELECT INBOX')).tagged, /^t3 OK \[READ-WRITE\]/);
    assert.match((await r.command('COMPRESS DEFLATE')).tagged, /^t4 NO \[COMPRESSIONACTIVE\]/);
    assert.doesNotMatch((await r.command('CAPABILITY')).lines.join(' '), /COMPRESS=DEFLATE/);
    // (LOGOUT is not checked here: RawImap may see the socket close before its inflater hands over the last bytes.)
    assert.match((await r.command('NOOP')).tagged, /^t6 OK/);
    r.close();
  });

  it('RFC 4978 §6: input that inflates beyond slack + ratio × compressed bytes ends the connection with BYE', async () => {
    const r = await login();
    await r.command('COMPRESS DEFLATE');
    r.startCompression();
    r.write('b APPEND INBOX {3000000}\r\n');
    assert.match(await r.readLine(), /^\+ /);
    // 3 MB of zeros deflate to ~3 KB: far beyond this fixture's 256 KiB + 50 × compressed.
    r.writeRawSocket(zlib.deflateRawSync(Buffer.alloc(3_000_000), { flush: zlib.constants.Z_SYNC_FLUSH }));
    const lines: string[] = [];
    for (let line = await r.readLine(); line !== ''; line = await r.readLine()) lines.push(line);
    assert.ok(lines.includes('* BYE Compressed input expands too much'), lines.join('\n'));
  });

  it('RFC 4978 §3: LOGOUT\'s BYE and OK reach the client compressed before the server closes', async () => {
    const net = await import('node:net');
    const socket = net.connect({ host: '127.0.0.1', port: ef.port });
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const waitFor = async (text: string): Promise<void> => {
      for (let i = 0; i < 200 && !received.includes(text); i++) await new Promise((resolve) => setTimeout(resolve, 25));
      assert.ok(received.includes(text), `waiting for ${text}`);
    };
    await waitFor('Sealpost IMAP ready\r\n');
    socket.write(`a LOGIN "${alice.address}" "${alice.password}"\r\nb COMPRESS DEFLATE\r\n`);
    await waitFor('b OK');
    const plainLength = received.indexOf('\r\n', received.indexOf('b OK')) + 2;
    const deflate = zlib.createDeflateRaw();
    deflate.on('data', (chunk: Buffer) => socket.write(chunk));
    deflate.write('c LOGOUT\r\n');
    deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    await closed;
    const text = zlib.inflateRawSync(received.subarray(plainLength), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();
    assert.equal(text, '* BYE Sealpost logging out\r\nc OK LOGOUT completed\r\n');
  });

  it('RFC 4978: an unknown mechanism is BAD', async () => {
    const r = await login();
    assert.match((await r.command('COMPRESS LZ4')).tagged, /^t2 BAD/);
    r.close();
  });
});

describe('pipelining and flow control (RFC 9051 §5.5)', () => {
  it('RFC 9051 §5.5: pipelined commands are answered one by one, in order', async () => {
    const r = await login();
    r.write('p1 NOOP\r\np2 SELECT INBOX\r\np3 ID NIL\r\np4 FROB\r\np5 UNSELECT\r\np6 CHECK\r\np7 NAMESPACE\r\n');
    const tags: string[] = [];
    for (;;) {
      const line = await r.readLine();
      if (/^p\d /.test(line)) tags.push(line);
      if (line.startsWith('p7 ')) break;
    }
    assert.deepEqual(
      tags.map((l) => l.split(' ').slice(0, 2).join(' ')),
      ['p1 OK', 'p2 OK', 'p3 OK', 'p4 BAD', 'p5 OK', 'p6 BAD', 'p7 OK'],
    );
    r.close();
  });

  it('a client that sends without reading is paused: unsent output and unframed input stay bounded, then every command is answered in order', async () => {
    const r = await login();
    const count = 30_000; // ~10 MB of CAPABILITY output
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(`f${i} CAPABILITY\r\n`);
    r.write(lines.join(''));
    // Let the server run into the socket's limits.
    let previous = -1;
    for (let i = 0; i < 50; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const stats = ef.engine.bufferStats();
      if (stats.maxUnsent === previous && stats.maxUnsent > 0) break;
      previous = stats.maxUnsent;
    }
    const stats = ef.engine.bufferStats();
    assert.ok(stats.maxUnsent <= 1024 * 1024 + 64 * 1024 + 4096, `unsent ${stats.maxUnsent}`);
    assert.ok(stats.maxUnframed <= 256 * 1024 + 128 * 1024, `unframed ${stats.maxUnframed}`);
    let next = 0;
    while (next < count) {
      const line = await r.readLine();
      if (line.startsWith('* ')) continue;
      assert.ok(line.startsWith(`f${next} OK`), `expected f${next}, got ${line.slice(0, 40)}`);
      next++;
    }
    assert.match((await r.command('NOOP')).tagged, /^t2 OK/);
    r.close();
  });
});

describe('literals judged before their bytes are sent (RFC 7888 §4, RFC 7889, RFC 4469 §5)', () => {
  it('over APPENDLIMIT: NO [TOOBIG] instead of a continuation; before login a large literal is BAD; an unknown command\'s literal is BAD', async () => {
    const pre = await RawImap.connect(ef.port);
    pre.write('a LOGIN {100000}\r\n');
    assert.equal(await pre.readLine(), 'a BAD Literal too large before login');
    pre.close();
    const r = await login();
    r.write(`big APPEND INBOX {${5 * 1024 * 1024}}\r\n`);
    assert.match(await r.readLine(), /^big NO \[TOOBIG\]/);
    r.write('odd FROB {10}\r\n');
    assert.equal(await r.readLine(), 'odd BAD Unknown command');
    r.write('s SEARCH TEXT {100000}\r\n');
    assert.equal(await r.readLine(), 's BAD Literal too large');
    assert.match((await r.command('NOOP')).tagged, /^t2 OK/, 'nothing of the refused commands is pending');
    r.close();
  });
});

describe('STARTTLS and the LOGINDISABLED rule (RFC 3501 §6.2.1, §6.2.3, RFC 2595 §3.1)', () => {
  let strict: EngineFixture;
  let carol: { address: string; password: string };
  before(async () => {
    strict = await startEngineFixture({ plaintextLoginOnLoopback: false, limits: { preAuthTimeoutMs: 600, socketTimeoutMs: 1500, idleTimeoutMs: 1500 } });
    carol = await strict.fx.addUser('carol');
  });
  after(async () => strict.close());

  it('RFC 3501 §6.2.3: off loopback rules, LOGINDISABLED is advertised and LOGIN / AUTHENTICATE are refused with [PRIVACYREQUIRED]', async () => {
    const r = await RawImap.connect(strict.port);
    assert.match(r.greeting, /STARTTLS LOGINDISABLED/);
    assert.doesNotMatch(r.greeting, /AUTH=PLAIN/);
    assert.match((await r.command(`LOGIN "${carol.address}" "${carol.password}"`)).tagged, /^t1 BAD \[PRIVACYREQUIRED\]/);
    assert.match((await r.command(`AUTHENTICATE PLAIN ${plain('', carol.address, carol.password)}`)).tagged, /^t2 NO \[PRIVACYREQUIRED\]/);
    r.close();
  });

  it('RFC 2595 §3.1: commands pipelined after STARTTLS are dropped; after the handshake the capabilities change and LOGIN works', async () => {
    const r = await RawImap.connect(strict.port);
    r.write('t1 STARTTLS\r\nt2 LOGIN injected injected\r\nt3 CAPABILITY\r\n');
    assert.match(await r.readLine(), /^t1 OK/);
    await r.upgradeTls({ ca: [strict.fx.tls.certificatePem()], servername: 'localhost' });
    const caps = await r.command('CAPABILITY');
    assert.equal(caps.lines.length, 1, caps.lines.join('\n'));
    assert.match(caps.lines[0] ?? '', /AUTH=PLAIN/);
    assert.doesNotMatch(caps.lines[0] ?? '', /LOGINDISABLED|STARTTLS/);
    assert.match(caps.tagged, /^t1 OK/, 'the injected t2/t3 never ran');
    assert.match((await r.command('STARTTLS')).tagged, /^t2 BAD/);
    assert.match((await r.command(`LOGIN "${carol.address}" "${carol.password}"`)).tagged, /^t3 OK/);
    assert.match((await r.command('STARTTLS')).tagged, /^t4 BAD/, 'not valid after login');
    r.close();
  });

  it('implicit TLS: our certificate, LOGIN allowed at once', async () => {
    const r = await RawImap.connect(strict.securePort, { tls: { ca: [strict.fx.tls.certificatePem()], servername: 'localhost' } });
    assert.match(r.greeting, /AUTH=PLAIN/);
    assert.doesNotMatch(r.greeting, /STARTTLS|LOGINDISABLED/);
    assert.match((await r.command(`LOGIN "${carol.address}" "${carol.password}"`)).tagged, /^t1 OK/);
    r.close();
  });

  it('timeouts: no login → BYE Login timeout; a silent session → BYE; an IDLE past its limit → BYE', async () => {
    const r = await RawImap.connect(strict.port);
    assert.equal(await r.readLine(5000), '* BYE Login timeout');
    const tlsOptions = { ca: [strict.fx.tls.certificatePem()], servername: 'localhost' };
    const quiet = await RawImap.connect(strict.securePort, { tls: tlsOptions });
    assert.match((await quiet.command(`LOGIN "${carol.address}" "${carol.password}"`)).tagged, /OK/);
    assert.match(await quiet.readLine(5000), /^\* BYE/);
    const idle = await RawImap.connect(strict.securePort, { tls: tlsOptions });
    assert.match((await idle.command(`LOGIN "${carol.address}" "${carol.password}"`)).tagged, /OK/);
    idle.write('i1 IDLE\r\n');
    assert.equal(await idle.readLine(), '+ idling');
    assert.match(await idle.readLine(5000), /^\* BYE/);
  });
});

describe('sessions ended by the server', () => {
  it('a password change ends the alias\'s sessions with * BYE and closes them (accounts onRevoked)', async () => {
    const dora = await ef.fx.addUser('dora');
    const r = await RawImap.connect(ef.port);
    assert.match((await r.command(`LOGIN "${dora.address}" "${dora.password}"`)).tagged, /^t1 OK/);
    assert.match((await r.command('SELECT INBOX')).tagged, /^t2 OK/);
    await ef.fx.accounts.changePassword(dora.address, dora.password, 'Cobalt harbour 77 lanterns renewed');
    assert.match(await r.readLine(), /^\* BYE The mailbox was changed on the server/);
    assert.equal(await r.readLine(), '');
  });

  it('a selected folder deleted by another session ends this session with * BYE at its next command', async () => {
    const gwen = await ef.fx.addUser('gwen');
    const mailbox = await ef.fx.mailboxOf(gwen.address, gwen.password);
    mailbox.createFolder('Doomed');
    const r = await RawImap.connect(ef.port);
    assert.match((await r.command(`LOGIN "${gwen.address}" "${gwen.password}"`)).tagged, /^t1 OK/);
    assert.match((await r.command('SELECT Doomed')).tagged, /^t2 OK/);
    mailbox.deleteFolder('Doomed');
    const reply = await r.command('NOOP');
    assert.match(reply.lines[0] ?? '', /^\* BYE /);
    assert.ok(r.isClosed || (await r.readLine()) === '');
  });

  it('server stop says * BYE to every session', async () => {
    const other = await startEngineFixture();
    const fred = await other.fx.addUser('fred');
    const r = await RawImap.connect(other.port);
    assert.match((await r.command(`LOGIN "${fred.address}" "${fred.password}"`)).tagged, /^t1 OK/);
    const closing = other.close();
    assert.equal(await r.readLine(), '* BYE Server shutting down');
    await closing;
  });
});

describe('stopping with a TLS handshake in progress', () => {
  it('stop() does not wait for an IMAPS client that never finishes its handshake', async () => {
    const other = await startEngineFixture();
    const net = await import('node:net');
    const silent = net.connect({ host: '127.0.0.1', port: other.securePort });
    await new Promise<void>((resolve) => silent.once('connect', () => resolve()));
    const closedByServer = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    silent.on('error', () => undefined);
    // The handshake limit is 30 s by default: a stop() that waited for it would lose this race.
    const stopped = await Promise.race([other.close().then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('waited'), 10_000).unref())]);
    assert.equal(stopped, 'stopped');
    await closedByServer;
  });
});
