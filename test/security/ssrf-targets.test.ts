// SSRF: a webhook or a forward whose target name resolves to this machine (through the loopback test DNS
// server) is refused with a sentence that says why, and no connection reaches the listener waiting on that
// port; with SEALPOST_OUTBOUND_ALLOW_LOOPBACK=on the same targets are delivered. Every socket stays on
// 127.0.0.1: the refused targets ARE loopback listeners, which is exactly what must not be dialled.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { silentLogger } from '../../server/log.js';
import { createResolver } from '../../server/smtp/dns.js';
import { DEFAULT_OUTBOUND_OPTIONS, OutboundQueue } from '../../server/smtp/outbound/index.js';
import type { DeliveryLogEntry } from '../../server/smtp/webhooks/index.js';
import { Webhooks, webhookTargetsFromEnv } from '../../server/smtp/webhooks/index.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { LOCAL_DOMAIN, PASSWORD, message, sendSmtplib, startMxApp, type MxApp } from '../integration/mx-fixture.js';

async function until<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

interface HookReceiver {
  port: number;
  connections: number;
  requests: number;
  close(): Promise<void>;
}

/** An HTTP receiver on 127.0.0.1 that counts TCP connections (not just requests) and answers `status`. */
async function startReceiver(respond: (res: http.ServerResponse) => void): Promise<HookReceiver> {
  const receiver: HookReceiver = { port: 0, connections: 0, requests: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    receiver.requests++;
    req.resume();
    req.on('end', () => respond(res));
  });
  server.on('connection', () => receiver.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  receiver.port = typeof address === 'object' && address ? address.port : 0;
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}

describe('SSRF: webhooks never reach this machine unless allowed', () => {
  let dns: TestDnsServer;
  let receiver: HookReceiver;
  let redirector: HookReceiver;
  let dir: string;
  const opened: Webhooks[] = [];
  const logs: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    }),
  );

  before(async () => {
    dns = await startDnsServer({ 'hooks.evil.test': { A: ['127.0.0.1'] }, 'meta.evil.test': { A: ['169.254.169.254'] } });
    receiver = await startReceiver((res) => res.writeHead(204).end());
    redirector = await startReceiver((res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-ssrf-'));
  });

  after(async () => {
    for (const w of opened) await w.stop();
    await receiver?.close();
    await redirector?.close();
    await dns?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs one webhook job to its final log entry through the same Webhooks class the MX uses. */
  async function deliver(url: string, env: Record<string, string>): Promise<DeliveryLogEntry[]> {
    const webhooks = Webhooks.open({
      dataDir: fs.mkdtempSync(path.join(dir, 'w-')),
      appKey: crypto.randomBytes(32),
      logger,
      backoffMs: [50],
      pollMs: 50,
      requestTimeoutMs: 5_000,
      secretOf: () => 'hook-secret',
      targets: webhookTargetsFromEnv({ SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DNS_TIMEOUT_MS: '2000', ...env }),
    });
    opened.push(webhooks);
    webhooks.enqueue([{ webhookId: 1, aliasId: 'alias-1', url, body: Buffer.from('{"subject":"x"}') }]);
    webhooks.start();
    await until('the webhook job to finish', () => webhooks.store.counts().pending === 0);
    // a refused job must stay finished: give a retry (50 ms backoff) the chance to happen, then look again
    await new Promise((resolve) => setTimeout(resolve, 300));
    return webhooks.store.log({ webhookId: 1 });
  }

  test('a webhook whose host name resolves to 127.0.0.1 fails once, says why, and never connects', async () => {
    const log = await deliver(`http://hooks.evil.test:${receiver.port}/in`, {});
    assert.equal(log.length, 1, 'one attempt, no retries');
    assert.equal(log[0]?.outcome, 'failed');
    assert.equal(log[0]?.status, null);
    assert.match(log[0]?.error ?? '', /^refused: hooks\.evil\.test resolves to 127\.0\.0\.1, a loopback address \(this machine\)/);
    assert.equal(receiver.connections, 0, 'no TCP connection reached the receiver');
    assert.ok(logs.some((l) => l.includes('"event":"webhook.target_refused"')));
  });

  test('IP-literal URLs in any WHATWG spelling (127.0.0.1, 2130706433, 0x7f.1, [::ffff:7f00:1]) are refused without a connection', async () => {
    for (const host of ['127.0.0.1', '2130706433', '0x7f.1', '[::ffff:7f00:1]']) {
      const log = await deliver(`http://${host}:${receiver.port}/in`, {});
      assert.deepEqual([log.length, log[0]?.outcome], [1, 'failed'], host);
      assert.match(log[0]?.error ?? '', /^refused: .*loopback address/, host);
    }
    assert.equal(receiver.connections, 0);
  });

  test('a name resolving to the metadata address stays refused even with both allow settings on', async () => {
    const log = await deliver(`http://meta.evil.test:${receiver.port}/in`, { SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on', SEALPOST_OUTBOUND_ALLOW_PRIVATE: 'on' });
    assert.match(log[0]?.error ?? '', /meta\.evil\.test resolves to 169\.254\.169\.254, a link-local address/);
    assert.equal(log[0]?.outcome, 'failed');
  });

  test('with SEALPOST_OUTBOUND_ALLOW_LOOPBACK=on the same webhook is delivered', async () => {
    const log = await deliver(`http://hooks.evil.test:${receiver.port}/in`, { SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on' });
    assert.deepEqual(log.map((e) => [e.outcome, e.status]), [['delivered', 204]]);
    assert.equal(receiver.requests, 1);
    assert.ok(receiver.connections >= 1);
  });

  test('a redirect is not followed: the delivery fails once with the reason', async () => {
    const log = await deliver(`http://hooks.evil.test:${redirector.port}/in`, { SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on' });
    assert.deepEqual(log.map((e) => [e.outcome, e.status]), [['failed', 302]]);
    assert.match(log[0]?.error ?? '', /redirect not followed/);
    assert.equal(redirector.requests, 1, 'only the first request was made');
  });
});

describe('SSRF: forwards never reach this machine unless allowed', () => {
  const zones = {
    'evil.test': { MX: [{ exchange: 'mx.evil.test', priority: 10 }] },
    'mx.evil.test': { A: ['127.0.0.1'] },
  };
  let sink: SmtpSink;
  // one app at a time: two in one process would share the scheduler's named jobs
  let app: MxApp | null = null;

  before(async () => {
    sink = await startSmtpSink();
  });

  after(async () => {
    await app?.stop();
    await sink?.close();
  });

  async function forwardingApp(env: Record<string, string>): Promise<MxApp> {
    await app?.stop();
    app = await startMxApp({ zones, env: { SEALPOST_OUTBOUND_MX_PORT: String(sink.port), SEALPOST_OUTBOUND_POLL_MS: '50', SEALPOST_SMTP_AUTH_CHECKS: 'off', ...env } });
    const ctx = app.running.ctx;
    ctx.directory.addDomain(LOCAL_DOMAIN);
    await ctx.accounts.createAlias(`fwd@${LOCAL_DOMAIN}`, PASSWORD);
    ctx.directory.addForward(ctx.directory.requireAlias(`fwd@${LOCAL_DOMAIN}`).id, 'friend@evil.test', false);
    return app;
  }

  test('a forward whose MX resolves to 127.0.0.1 is bounced with the reason and no connection is made', async () => {
    const app = await forwardingApp({});
    const raw = message({ from: 'news@good.test', to: `fwd@${LOCAL_DOMAIN}`, subject: 'Pass it on', body: 'Forward me.' });
    assert.deepEqual(await sendSmtplib(app.port('smtp'), 'news@good.test', [`fwd@${LOCAL_DOMAIN}`], raw), { ok: true, refused: {} });
    const refusedLine = await until('the refusal log line', () => app.logs.find((l) => l.includes('"event":"outbound.target_refused"')));
    assert.match(refusedLine, /refused: mx\.evil\.test resolves to 127\.0\.0\.1, a loopback address \(this machine\)/);
    const bounced = await until('the bounce', () => app.logs.find((l) => l.includes('"event":"outbound.bounced"')));
    assert.match(bounced, /"code":550/);
    await until('the queue to empty', () => app.running.ctx.outbound.counts().messages === 0);
    assert.equal(sink.connections(), 0, 'no SMTP connection reached the loopback sink');
    assert.equal(sink.messages.length, 0);
  });

  test('with SEALPOST_OUTBOUND_ALLOW_LOOPBACK=on the same forward is delivered', async () => {
    const app = await forwardingApp({ SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on' });
    const raw = message({ from: 'news@good.test', to: `fwd@${LOCAL_DOMAIN}`, subject: 'Pass it on', body: 'Forward me too.' });
    assert.deepEqual(await sendSmtplib(app.port('smtp'), 'news@good.test', [`fwd@${LOCAL_DOMAIN}`], raw), { ok: true, refused: {} });
    const [received] = await sink.waitFor(1);
    assert.deepEqual(received?.rcptTo, ['friend@evil.test']);
    assert.ok(sink.connections() >= 1);
    assert.ok(!app.logs.some((l) => l.includes('"event":"outbound.target_refused"')));
  });
});

describe('SSRF: direct delivery of submitted mail', () => {
  test('a recipient domain whose MX (or MTA-STS policy host) resolves to 169.254.169.254 or 127.0.0.1 bounces with a DSN that says why; nothing is dialled', async () => {
    const dns = await startDnsServer({
      'meta.test': { MX: [{ exchange: 'mx.meta.test', priority: 10 }] },
      'mx.meta.test': { A: ['169.254.169.254'] },
      '_mta-sts.loop.test': { TXT: ['v=STSv1; id=20240101'] },
      'mta-sts.loop.test': { A: ['127.0.0.1'] },
      'loop.test': { MX: [{ exchange: 'mx.loop.test', priority: 10 }] },
      'mx.loop.test': { A: ['127.0.0.1'], AAAA: ['::1'] },
    });
    const sink = await startSmtpSink();
    const policyHost = await startReceiver((res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('version: STSv1\nmode: testing\nmx: *\nmax_age: 86400\n'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-ssrf-'));
    const dsns: Buffer[] = [];
    const queue = new OutboundQueue({
      file: path.join(dir, 'outbound.sqlite'),
      appKey: crypto.randomBytes(32),
      logger: silentLogger(),
      hostname: 'mail.sender.test',
      resolver: createResolver({ servers: [dns.address], timeoutMs: 1000, tries: 1 }),
      // the policy URL names mta-sts.<domain>, which the test DNS points at the loopback policy host
      options: { ...DEFAULT_OUTBOUND_OPTIONS, mxPort: sink.port, pollMs: 25, mtaStsUrl: `http://mta-sts.{domain}:${policyHost.port}/.well-known/mta-sts.txt` },
      notifySender: async (_sender, _aliasId, raw) => {
        dsns.push(raw);
        return true;
      },
    });
    try {
      queue.start();
      const raw = Buffer.from('From: alice@sender.test\r\nSubject: hi\r\n\r\nhello\r\n');
      await queue.enqueue({ from: 'alice@sender.test', to: ['bob@meta.test'], raw, kind: 'submission' });
      await queue.enqueue({ from: 'alice@sender.test', to: ['carol@loop.test'], raw, kind: 'submission' });
      await until('two DSNs', () => dsns.length >= 2);
      await queue.drain(5_000);
      const text = dsns.map((d) => d.toString()).join('\n');
      assert.match(text, /Status: 5\.4\.4/);
      assert.match(text, /mx\.meta\.test resolves to 169\.254\.169\.254, a link-local address/);
      assert.match(text, /mx\.loop\.test resolves to 127\.0\.0\.1, a loopback address/);
      assert.equal(queue.counts().messages, 0, 'bounced, not retried');
      assert.equal(sink.connections(), 0, 'no SMTP connection was made');
      assert.equal(policyHost.connections, 0, 'the MTA-STS policy host on loopback was not fetched');
    } finally {
      await policyHost.close();
      await queue.stop();
      queue.close();
      await sink.close();
      await dns.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
