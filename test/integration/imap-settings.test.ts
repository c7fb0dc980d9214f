// IMAP settings and lifecycle as an operator sees them: SEALPOST_IMAP_* limits read by `sealpost serve`
// (CAPABILITY, per-IP connection limit, line limit, a clear error for a bad value), the user's certificate
// replaced on disk while serving (new IMAPS connections get it, open ones keep working), the APPENDLIMIT
// enforced below imap-core's own 1 MiB floor, and sessions ended with * BYE when the mailbox changes under
// them (password change, lock, restore), while another alias's session carries on.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { imapLimitsFromEnv } from '../../server/imap/index.js';
import { RawImap } from '../helpers/imap-raw.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { freePorts } from '../helpers/ports.js';
import { findPlaintext } from '../helpers/privacy.js';
import { run } from '../helpers/run.js';
import { runCli, startServe, tempDataDir, type ServeProcess, stopServe } from '../helpers/sealpost-cli.js';

/** A self-signed EC pair for localhost, made by openssl. */
async function makePair(dir: string, name: string): Promise<{ cert: string; key: string; fingerprint: string }> {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const result = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name}.sealpost.test`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert,
  ]);
  assert.equal(result.status, 0, result.stderr);
  return { cert, key, fingerprint: new crypto.X509Certificate(fs.readFileSync(cert)).fingerprint256 };
}

/**
 * The certificate an IMAPS connection presents. The per-IP cap covers IMAP and IMAPS together and counts a
 * socket until the server has closed it, so a probe made right after closing others may be turned away
 * (dropped: nothing readable can be said before TLS); it is retried until admitted.
 */
async function peerFingerprint(port: number): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await peerFingerprintOnce(port);
    } catch (error) {
      if (attempt >= 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function peerFingerprintOnce(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.destroy();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

/** First line the server sends on a fresh plain connection. */
function greeting(port: number): Promise<{ line: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n');
      if (end >= 0) resolve({ line: buffered.slice(0, end), socket });
    });
    socket.once('error', reject);
  });
}

describe('sealpost serve with SEALPOST_IMAP_* settings and the user\'s certificate', () => {
  let data: ReturnType<typeof tempDataDir>;
  let serve: ServeProcess | null = null;
  let certDir: string;

  before(() => {
    data = tempDataDir();
    certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  });
  after(async () => {
    if (serve) {
      await stopServe(serve);
    }
    data.cleanup();
    fs.rmSync(certDir, { recursive: true, force: true });
  });

  it('a bad value stops serve with a sentence naming the variable', async () => {
    const bad = await runCli(['serve', '--data', data.dir], { env: { ...data.env, SEALPOST_IMAP_MAX_CONNECTIONS_PER_IP: 'lots' } });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr + bad.stdout, /SEALPOST_IMAP_MAX_CONNECTIONS_PER_IP must be a whole number/);
  });

  it('limits take effect, and a replaced certificate is used by new IMAPS connections without a restart', async () => {
    const one = await makePair(certDir, 'one');
    const two = await makePair(certDir, 'two');
    const live = { cert: path.join(certDir, 'live.crt'), key: path.join(certDir, 'live.key') };
    fs.copyFileSync(one.cert, live.cert);
    fs.copyFileSync(one.key, live.key);
    const [imap, imaps] = (await freePorts(2)) as [number, number];
    const env = {
      ...data.env,
      SEALPOST_TLS_CERT: live.cert,
      SEALPOST_TLS_KEY: live.key,
      SEALPOST_IMAP_MAX_CONNECTIONS_PER_IP: '2',
      SEALPOST_IMAP_APPEND_LIMIT: '4096',
      SEALPOST_IMAP_MAX_LINE_BYTES: '2048',
    };
    const off = ['--smtp-port', '0', '--submission-port', '0', '--submissions-port', '0', '--pop3-port', '0', '--pop3s-port', '0', '--admin-port', '0'];
    serve = await startServe(['--data', data.dir, '--imap-port', String(imap), '--imaps-port', String(imaps), ...off], env, 2);

    // CAPABILITY advertises the configured APPENDLIMIT; a line over the (pre-login) limit is refused.
    const r = await RawImap.connect(imap);
    assert.match(r.greeting, /APPENDLIMIT=4096\b/);
    assert.match((await r.command(`NOOP ${'x'.repeat(1500)}`)).tagged, /^t1 BAD/);
    assert.match((await r.command('NOOP')).tagged, /^t2 OK/);
    r.write(`t3 NOOP ${'x'.repeat(3000)}\r\n`);
    assert.match(await r.readLine(), /Line too long/);

    // Two connections from 127.0.0.1 are allowed (r is one), the third is turned away.
    const second = await greeting(imap);
    assert.match(second.line, /^\* OK/);
    const third = await greeting(imap);
    assert.match(third.line, /^\* BYE Too many connections/);
    third.socket.destroy();
    second.socket.destroy();
    r.close();

    // The user's certificate, then its replacement (as certbot would: new files renamed into place).
    const before = await peerFingerprint(imaps);
    assert.equal(before, one.fingerprint);
    const openSession = await RawImap.connect(imaps, { tls: { rejectUnauthorized: false } });
    fs.copyFileSync(two.key, `${live.key}.new`);
    fs.copyFileSync(two.cert, `${live.cert}.new`);
    fs.renameSync(`${live.key}.new`, live.key);
    fs.renameSync(`${live.cert}.new`, live.cert);
    let now = before;
    for (let i = 0; i < 60 && now !== two.fingerprint; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      now = await peerFingerprint(imaps);
    }
    assert.equal(now, two.fingerprint, 'a new IMAPS connection presents the replaced certificate');
    assert.match((await openSession.command('NOOP')).tagged, /^t1 OK/, 'the connection made before the swap still works');
    openSession.close();
  });
});

describe('limits and revocation in a running IMAP server', () => {
  let fx: ImapFixture;
  before(async () => {
    fx = await startImapFixture({ logLevel: 'warn', limits: imapLimitsFromEnv({ SEALPOST_IMAP_APPEND_LIMIT: '4096', SEALPOST_IMAP_MAX_CONNECTIONS_PER_ALIAS: '3' }) });
  });
  after(() => fx.close());

  it('APPEND above the configured APPENDLIMIT is NO [TOOBIG] (below imap-core\'s 1 MiB floor); one below is stored', async () => {
    const user = await fx.addUser('limits');
    const r = await RawImap.connect(fx.port);
    assert.match((await r.command(`LOGIN "${user.address}" "${user.password}"`)).tagged, /OK/);
    r.write(`a1 APPEND INBOX {5000}\r\n`);
    assert.match(await r.readLine(), /^a1 NO \[TOOBIG\]/);
    const small = `Subject: small\r\n\r\n${'y'.repeat(3000)}\r\n`;
    assert.match((await r.commandWithLiteral('APPEND INBOX', small)).tagged, /OK \[APPENDUID/);
    const status = await r.command('STATUS INBOX (MESSAGES)');
    assert.match(status.lines[0] ?? '', /MESSAGES 1\)/);
    r.close();
    assert.deepEqual(imapLimitsFromEnv({ SEALPOST_IMAP_IDLE_TIMEOUT_MS: ' 60000 ', SEALPOST_IMAP_TIMEOUT_MS: '' }), { idleTimeoutMs: 60_000 });
    assert.throws(() => imapLimitsFromEnv({ SEALPOST_IMAP_APPEND_LIMIT: '10' }), /SEALPOST_IMAP_APPEND_LIMIT must be a whole number of at least 1024/);
  });

  it('a password change, a lock and a restore each end that mailbox\'s sessions with * BYE; other aliases carry on', async () => {
    const alice = await fx.addUser('alice');
    const bob = await fx.addUser('bob');
    const bobSession = await RawImap.connect(fx.port);
    assert.match((await bobSession.command(`LOGIN "${bob.address}" "${bob.password}"`)).tagged, /OK/);
    await bobSession.command('SELECT INBOX');

    const session = async (password: string): Promise<RawImap> => {
      const r = await RawImap.connect(fx.port);
      assert.match((await r.command(`LOGIN "${alice.address}" "${password}"`)).tagged, /OK/);
      assert.match((await r.command('SELECT INBOX')).tagged, /OK/);
      return r;
    };
    const expectBye = async (r: RawImap, what: string): Promise<void> => {
      const line = await r.readLine(10_000);
      assert.match(line, /^\* BYE The mailbox was changed on the server/, what);
      assert.equal(await r.readLine(10_000), '', `${what}: the connection is closed`);
    };

    // Password change: the raw session and an imapflow client both end.
    let password = alice.password;
    const raw1 = await session(password);
    const flow = new ImapFlow({ host: fx.host, port: fx.port, secure: false, doSTARTTLS: false, auth: { user: alice.address, pass: password }, logger: false });
    await flow.connect();
    await flow.mailboxOpen('INBOX');
    const flowClosed = new Promise<void>((resolve) => flow.once('close', () => resolve()));
    const next = 'Cobalt harbour 77 lanterns renewed';
    await fx.accounts.changePassword(alice.address, password, next);
    password = next;
    await expectBye(raw1, 'password change');
    await flowClosed;

    // Lock (alias lock / lock --all).
    const raw2 = await session(password);
    const probe = await fx.accounts.authenticate(alice.address, password, { ip: '127.0.0.1', protocol: 'cli' });
    const { id, mailboxId } = probe.alias;
    probe.release();
    await fx.accounts.lock(id);
    await expectBye(raw2, 'lock');

    // Restore replacing the file: what the restore's "replacing" event triggers in serve (server/control).
    const raw3 = await session(password);
    fx.accounts.revokeMailboxSessions(mailboxId, 'restored');
    await expectBye(raw3, 'restore');

    assert.match((await bobSession.command('NOOP')).tagged, /OK/, "another alias's session is untouched");
    bobSession.close();
    const needles = [alice.address, alice.password, next, bob.address, bob.password];
    assert.deepEqual(findPlaintext(fx.dataDir, needles, { logs: fx.logs, exclude: (file) => file.endsWith('.pem') }), []);
  });
});
