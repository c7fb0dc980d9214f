// `sealpost queue list|show|retry|cancel` against a running `bin/sealpost serve` that delivers to a real SMTP
// peer on loopback (smtp-server, found through a real DNS server): the commands run in the server (control
// socket), retry makes the server try at once, cancel gives up without a bounce, both refuse a final
// message, bad ids get one sentence, and no subject, body or recipient address is in plaintext in the
// data dir or the server's log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { findPlaintext } from '../helpers/privacy.js';
import { listenerPortsEnv } from '../helpers/ports.js';
import { runCli, SEALPOST_BIN } from '../helpers/sealpost-cli.js';
import { createResolver } from '../../server/smtp/dns.js';
import { OutboundQueue } from '../../server/smtp/outbound/index.js';
import { silentLogger } from '../../server/log.js';
import { createSelfSigned } from '../../server/config/tls.js';
import type { OutgoingDetail, OutgoingPage } from '../../server/ports.js';

const SUBJECT = 'Lighthouse keeper rota 5519';
const BODY = 'Marigold takes the north lamp on Thursday.';
const LATE = 'gwen.late@late.test';
const NEVER = 'hal.never@never.test';

async function until<T>(what: string, read: () => T | null | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('sealpost queue commands against a running server', () => {
  let dir: string;
  let dns: TestDnsServer;
  let sink: SmtpSink;
  /** A relay with STARTTLS whose self-signed certificate the server trusts (NODE_EXTRA_CA_CERTS). */
  let relay: SmtpSink;
  let caDir: string;
  let serve: ChildProcess;
  let env: NodeJS.ProcessEnv;
  let reader: OutboundQueue;
  const log: string[] = [];
  const ids: { late: string; never: string } = { late: '', never: '' };
  let lateTries = 0;

  const detail = (id: string): OutgoingDetail | null => reader.historyOf(id);
  const cli = (...args: string[]) => runCli(args, { env });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
    dns = await startDnsServer({
      'late.test': { MX: [{ exchange: 'mx.peer.test', priority: 10 }] },
      'never.test': { MX: [{ exchange: 'mx.peer.test', priority: 10 }] },
      'mx.peer.test': { A: ['127.0.0.1'] },
    });
    // late.test: 451 the first time, then 250; never.test: always 451
    sink = await startSmtpSink({ rejectMessage: (m) => (m.rcptTo.includes(NEVER) ? 451 : m.rcptTo.includes(LATE) && lateTries++ === 0 ? 451 : null) });
    const relayPair = createSelfSigned('relay.test');
    relay = await startSmtpSink({ tls: relayPair });
    caDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-ca-'));
    fs.writeFileSync(path.join(caDir, 'relay.pem'), relayPair.cert);
    const appKey = crypto.randomBytes(32);
    env = {
      ...process.env,
      SEALPOST_DATA: dir,
      SEALPOST_APP_KEY: appKey.toString('hex'),
      SEALPOST_KEYCHAIN: 'off',
      SEALPOST_LOG_LEVEL: 'info',
      SEALPOST_HOSTNAME: 'mail.sender.test',
      SEALPOST_DNS_SERVERS: dns.address,
      SEALPOST_OUTBOUND_MX_PORT: String(sink.port),
      SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on', // the test MX resolves to the loopback peer
      SEALPOST_OUTBOUND_RETRY_BASE_MS: '3600000', // only `queue retry` brings a second attempt
      SEALPOST_OUTBOUND_POLL_MS: '50',
      NODE_EXTRA_CA_CERTS: path.join(caDir, 'relay.pem'),
      ...listenerPortsEnv(),
    };
    // queued as submission would, before the server starts (the CLI's own queue handle, no worker)
    const queue = new OutboundQueue({ file: path.join(dir, 'outbound.sqlite'), appKey, logger: silentLogger(), hostname: 'mail.sender.test', resolver: createResolver({ servers: [dns.address] }) });
    const message = (to: string): Buffer => Buffer.from(`From: alice@sender.test\r\nTo: ${to}\r\nSubject: ${SUBJECT}\r\n\r\n${BODY}\r\n`);
    ids.late = await queue.enqueue({ from: 'alice@sender.test', to: [LATE], raw: message(LATE), kind: 'submission' });
    ids.never = await queue.enqueue({ from: 'alice@sender.test', to: [NEVER], raw: message(NEVER), kind: 'submission' });
    queue.close();
    reader = new OutboundQueue({ file: path.join(dir, 'outbound.sqlite'), appKey, logger: silentLogger(), hostname: 'mail.sender.test', resolver: createResolver({ servers: [dns.address] }) });

    serve = spawn(process.execPath, [SEALPOST_BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    const take = (chunk: Buffer): void => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      log.push(...lines);
    };
    serve.stdout?.on('data', take);
    serve.stderr?.on('data', take);
    await until('the control socket', () => (log.some((l) => l.includes('"control.listening"')) ? true : null));
    await until('a first attempt of both messages', () => ((detail(ids.late)?.attempts ?? 0) >= 1 && (detail(ids.never)?.attempts ?? 0) >= 1 && detail(ids.late)?.status === 'waiting' && detail(ids.never)?.status === 'waiting' ? true : null));
  });

  after(async () => {
    if (serve.exitCode === null && serve.signalCode === null) {
      serve.kill('SIGTERM');
      await new Promise((r) => serve.once('exit', r));
    }
    reader.close();
    await relay.close();
    fs.rmSync(caDir, { recursive: true, force: true });
    await sink.close();
    await dns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('queue list shows each message with its status, recipients, attempts and next try', async () => {
    const text = await cli('queue', 'list');
    assert.equal(text.code, 0, text.stderr);
    for (const id of [ids.late, ids.never]) assert.match(text.stdout, new RegExp(`${id}  waiting +1 +1  in \\d+m`));
    const json = await cli('queue', 'list', '--json');
    const page = JSON.parse(json.stdout) as OutgoingPage;
    assert.deepEqual(page.messages.map((m) => m.id).sort(), [ids.late, ids.never].sort());
  });

  it('queue retry makes the running server try again now; queue show then lists both attempts with their replies (RFC 5321 §4.2.1 codes)', async () => {
    const retried = await cli('queue', 'retry', ids.late);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, /1 recipient\(s\) of .* will be tried again now/);
    await until('the retry delivered', () => (detail(ids.late)?.status === 'delivered' ? true : null));
    assert.ok(log.some((l) => l.includes('"control.op"') && l.includes('"outgoing.retry"')), 'the retry ran in the server');
    const shown = await cli('queue', 'show', ids.late);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^${ids.late}  delivered`));
    assert.match(shown.stdout, /deferred {2}451 /);
    assert.match(shown.stdout, /delivered {2}250 /);
    assert.match(shown.stdout, /mx\.peer\.test \[127\.0\.0\.1\], no TLS/);
    assert.match(shown.stdout, /message text deleted/);
    assert.equal(sink.messages.length, 1);
  });

  it('queue cancel gives up without a bounce; retry and cancel then refuse the final message with one sentence', async () => {
    const cancelled = await cli('queue', 'cancel', ids.never);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(detail(ids.never)?.status, 'cancelled');
    for (const [verb, id, word] of [['retry', ids.never, 'cancelled'], ['cancel', ids.never, 'cancelled'], ['cancel', ids.late, 'delivered'], ['retry', ids.late, 'delivered']] as const) {
      const refused = await cli('queue', verb, id);
      assert.equal(refused.code, 1, `${verb} of a ${word} message fails`);
      assert.equal(refused.stderr.trim().split('\n').length, 1, 'one line');
      assert.match(refused.stderr, new RegExp(`already ${word}; there is nothing left to send`));
    }
    // the old spelling is the same operation
    const dropped = await cli('outbound', 'drop', ids.never);
    assert.equal(dropped.code, 1);
    assert.match(dropped.stderr, /already cancelled/);
  });

  it('bad ids get one clear sentence, never a stack trace', async () => {
    const cases = ['does-not-exist', 'x'.repeat(20_000), '../../../etc/passwd', "'; DROP TABLE messages; --", '\u202eevil'];
    for (const id of cases) {
      const r = await cli('queue', 'show', id);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${id.slice(0, 20)}`);
      assert.match(r.stderr, /not an outgoing message id .*\. List the outgoing messages and their ids with: sealpost queue list\./);
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
    }
    const unknown = await cli('queue', 'retry', crypto.randomUUID());
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /There is no outgoing message [0-9a-f-]{36}/);
    const badLimit = await cli('queue', 'list', '--limit', '-5');
    assert.equal(badLimit.code, 1);
    assert.match(badLimit.stderr, /whole number/);
  });

  it('through a relay the history says TLS was used and the certificate verified by the relay settings (RFC 3207)', async () => {
    const set = await cli('relay', 'set', `127.0.0.1:${relay.port}`, '--tls', 'starttls');
    assert.equal(set.code, 0, set.stderr);
    const id = await reader.enqueue({ from: 'alice@sender.test', to: [LATE], raw: Buffer.from(`Subject: ${SUBJECT}\r\n\r\n${BODY}\r\n`), kind: 'submission' });
    const shown = await until('delivered through the relay', () => (detail(id)?.status === 'delivered' ? detail(id) : null));
    const attempt = shown.recipientList[0]?.history[0];
    assert.equal(attempt?.host, '127.0.0.1');
    assert.match(attempt?.tlsVersion ?? '', /^TLSv1\.[23]$/);
    assert.equal(attempt?.verified, true, 'the relay certificate was checked');
    assert.equal(attempt?.policy, 'relay');
    assert.equal(relay.messages.length, 1);
    const text = await cli('queue', 'show', id);
    assert.match(text.stdout, /127\.0\.0\.1, TLSv1\.[23] \S+, certificate verified/);
  });

  it('nothing of the messages is in plaintext in the data dir or the server log', () => {
    assert.ok(log.length > 5, 'the server logged');
    assert.deepEqual(findPlaintext(dir, [SUBJECT, BODY, LATE, NEVER, 'Marigold'], { logs: log }), []);
  });
});
