// Durability: 500 small messages over 4 parallel SMTP connections to a `bin/sealpost serve` child, half
// to a locked alias (sealed queue) and half to an unlocked one (mailbox), SIGKILLed mid-stream. After a
// restart every message that got 250 is in the queue or the mailbox exactly once, and every SQLite
// file passes integrity_check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3-multiple-ciphers';
import nodemailer from 'nodemailer';
import { closeContext, openContext } from '../../server/app.js';
import { deriveAliasKeys } from '../../server/crypto/index.js';
import { silentLogger } from '../../server/log.js';
import { queueFileKey } from '../../server/queue/index.js';
import { freePorts, listenerPortsEnv } from '../helpers/ports.js';
import { LOCAL_DOMAIN, PASSWORD, TEST_KDF, message } from './mx-fixture.js';

const BIN = fileURLToPath(new URL('../../bin/sealpost', import.meta.url));
const TOTAL = 500;
const KILL_AFTER = 220;
const CONNECTIONS = 4;

function serve(env: Record<string, string>): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (/smtp listening on/.test(output)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`serve exited early (${code}): ${output.slice(-2000)}`)));
  });
  return { child, ready, output: () => output };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** integrity_check of an encrypted SQLite file (cipher=chacha20, raw key). */
function integrity(file: string, key: Buffer): string {
  const db = new Database(file);
  try {
    db.pragma(`cipher='chacha20'`);
    db.pragma(`key="x'${key.toString('hex')}'"`);
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

test('SIGKILL mid-stream: every 250-acknowledged message is stored exactly once; integrity_check passes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  const appKey = crypto.randomBytes(32);
  const [smtpPort, submissionPort] = await freePorts(2);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    SEALPOST_TEST: '1',
    SEALPOST_DATA: dir,
    SEALPOST_APP_KEY: appKey.toString('hex'),
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_HOST: '127.0.0.1',
    SEALPOST_HOSTNAME: `mx.${LOCAL_DOMAIN}`,
    SEALPOST_LOG_LEVEL: 'info',
    // Sender authentication needs DNS; this test is about storage, so it runs without it.
    SEALPOST_SMTP_AUTH_CHECKS: 'off',
  };
  Object.assign(env, listenerPortsEnv(['smtp', 'submission'], [smtpPort, submissionPort]));
  let child: ChildProcess | null = null;
  try {
    // Set up two aliases with a cheap KDF (the server reads KDF params per alias from the directory).
    const setup = await openContext({ env }, { logger: silentLogger(), kdf: TEST_KDF });
    try {
      setup.directory.addDomain(LOCAL_DOMAIN);
      await setup.accounts.createAlias(`locked@${LOCAL_DOMAIN}`, PASSWORD);
      await setup.accounts.createAlias(`open@${LOCAL_DOMAIN}`, PASSWORD);
    } finally {
      await closeContext(setup);
    }

    const first = serve(env);
    child = first.child;
    await first.ready;
    // The owner of open@ logs in (submission AUTH): its keys stay in the key ring, the mailbox is unlocked.
    const login = nodemailer.createTransport({ host: '127.0.0.1', port: submissionPort, secure: false, auth: { user: `open@${LOCAL_DOMAIN}`, pass: PASSWORD }, tls: { rejectUnauthorized: false } });
    await login.verify();
    login.close();

    const acked = new Set<string>();
    let stop = false;
    let killed = false;
    const kill = (): void => {
      if (killed) return;
      killed = true;
      stop = true;
      child?.kill('SIGKILL');
    };
    const worker = async (w: number): Promise<void> => {
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true, pool: true, maxConnections: 1, maxMessages: Infinity });
      try {
        for (let i = w; i < TOTAL && !stop; i += CONNECTIONS) {
          const token = `dur${String(i).padStart(4, '0')}x`;
          const to = i % 2 === 0 ? `locked@${LOCAL_DOMAIN}` : `open@${LOCAL_DOMAIN}`;
          const raw = message({ from: 'sender@good.test', to, subject: `token ${token}`, body: `body ${token}` });
          try {
            await transport.sendMail({ envelope: { from: 'sender@good.test', to: [to] }, raw });
            acked.add(token);
            if (acked.size >= KILL_AFTER) kill();
          } catch {
            if (!killed) throw new Error(`message ${token} refused before the kill`);
            return; // the server died under us: this one was never acknowledged
          }
        }
      } finally {
        transport.close();
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, w) => worker(w)));
    assert.ok(killed, 'the server was killed mid-stream');
    await exited(child);
    assert.equal(child.signalCode, 'SIGKILL');
    assert.ok(acked.size >= KILL_AFTER && acked.size < TOTAL, `acked ${acked.size}`);

    // Every file opens and passes integrity_check right after the crash.
    const check = await openContext({ env }, { logger: silentLogger() });
    const aliases = check.directory.listAliases();
    // Both paths were exercised: the locked alias's mail is sealed in its queue, the open one's is not.
    const queued = new Map(aliases.map((a) => [a.address, check.accounts.queuedCount(a)]));
    await closeContext(check);
    assert.ok((queued.get(`locked@${LOCAL_DOMAIN}`) ?? 0) >= Math.floor(KILL_AFTER / 2) - CONNECTIONS);
    assert.equal(queued.get(`open@${LOCAL_DOMAIN}`), 0);
    for (const alias of aliases) {
      const keys = await deriveAliasKeys(PASSWORD, alias.salt, alias.kdf);
      assert.equal(integrity(path.join(dir, 'mailboxes', `${alias.mailboxId}.sqlite`), keys.mailboxKey), 'ok');
      const queueFile = path.join(dir, 'queue', `${alias.mailboxId}.sqlite`);
      if (fs.existsSync(queueFile)) assert.equal(integrity(queueFile, queueFileKey(appKey)), 'ok');
    }
    assert.equal(integrity(path.join(dir, 'sealpost.db'), appKey), 'ok');

    // Restart: the server comes back and takes mail again; then a clean stop.
    const second = serve(env);
    child = second.child;
    await second.ready;
    const after = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true });
    const info = await after.sendMail({ envelope: { from: 'sender@good.test', to: [`locked@${LOCAL_DOMAIN}`] }, raw: message({ from: 'sender@good.test', to: `locked@${LOCAL_DOMAIN}`, subject: 'token afterx', body: 'after restart' }) });
    after.close();
    assert.match(info.response, /^250 /);
    child.kill('SIGTERM');
    await exited(child);
    child = null;

    // Count every token across the locked alias's queue (drained after the login) and both mailboxes.
    const ctx = await openContext({ env }, { logger: silentLogger() });
    const seen = new Map<string, number>();
    try {
      for (const address of [`locked@${LOCAL_DOMAIN}`, `open@${LOCAL_DOMAIN}`]) {
        const session = await ctx.accounts.authenticate(address, PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });
        try {
          assert.equal(await ctx.accounts.whenDrained(session.alias.id, 120_000), true, 'the background drain finishes');
          assert.equal(ctx.accounts.queuedCount(session.alias), 0);
          for (const meta of session.mailbox.listMessages('INBOX')) {
            const raw = (await session.mailbox.readMessage('INBOX', meta.uid)).toString();
            const token = /token (dur\d{4}x|afterx)/.exec(raw)?.[1];
            assert.ok(token, 'every stored message is one of ours');
            seen.set(token, (seen.get(token) ?? 0) + 1);
          }
        } finally {
          session.release();
        }
      }
    } finally {
      await closeContext(ctx);
    }
    for (const token of acked) assert.equal(seen.get(token), 1, `acknowledged ${token} stored ${seen.get(token) ?? 0} times`);
    for (const [token, n] of seen) assert.equal(n, 1, `${token} stored ${n} times`);
    assert.equal(seen.get('afterx'), 1);
    // At most the messages in flight at the kill (one per connection) were stored without their 250.
    assert.ok(seen.size - 1 - acked.size <= CONNECTIONS, `unacknowledged but stored: ${seen.size - 1 - acked.size}`);
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
