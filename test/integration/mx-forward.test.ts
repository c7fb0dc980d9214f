// Forwarding and webhooks end to end: a message to a forwarding alias leaves through the outbound
// queue with an SRS sender into a local sink MX; a message that already went through the alias is not
// forwarded again; a bounce to the SRS address goes back to the original sender; a webhook receives
// signed JSON, is retried after a 500, and the CLI shows the delivery log and queue counts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AppContext } from '../../server/context.js';
import { Srs } from '../../server/smtp/forward/srs.js';
import { forwardingSecret } from '../../server/smtp/mx/index.js';
import { verifyWebhookSignature } from '../../server/smtp/webhooks/payload.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, sendNodemailer, sendSmtplib, senderZones, signed, startMxApp, type MxApp } from './mx-fixture.js';

const BIN = fileURLToPath(new URL('../../bin/sealpost', import.meta.url));

async function cli(env: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

async function until<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('MX forwarding and webhooks', () => {
  let app: MxApp;
  let ctx: AppContext;
  let sink: SmtpSink;
  let port: number;
  const key = makeDkimKey('good.test');
  const hooks: { headers: http.IncomingHttpHeaders; body: Buffer; status: number }[] = [];
  let hookServer: http.Server;
  let hookUrl = '';

  before(async () => {
    sink = await startSmtpSink();
    hookServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // the first delivery fails with a 500, the retry succeeds
        const status = hooks.length === 0 ? 500 : 204;
        hooks.push({ headers: req.headers, body: Buffer.concat(chunks), status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
    const address = hookServer.address();
    hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/incoming`;
    const zones = {
      ...senderZones(key),
      'elsewhere.test': { MX: [{ exchange: 'mx.elsewhere.test', priority: 5 }] },
      'mx.elsewhere.test': { A: ['127.0.0.1'] },
    };
    app = await startMxApp({
      zones,
      env: { SEALPOST_OUTBOUND_MX_PORT: String(sink.port), SEALPOST_WEBHOOK_BACKOFF_MS: '300', SEALPOST_OUTBOUND_POLL_MS: '100', SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on' },
    });
    ctx = app.running.ctx;
    port = app.port('smtp');
    ctx.directory.addDomain(LOCAL_DOMAIN);
    for (const name of ['fwd', 'keep', 'hook']) await ctx.accounts.createAlias(`${name}@${LOCAL_DOMAIN}`, PASSWORD);
    const fwd = ctx.directory.requireAlias(`fwd@${LOCAL_DOMAIN}`);
    ctx.directory.addForward(fwd.id, 'friend@elsewhere.test', false);
  });

  after(async () => {
    await app?.stop();
    await sink?.close();
    await new Promise<void>((resolve) => hookServer?.close(() => resolve()));
  });

  async function inboxOf(address: string): Promise<Buffer[]> {
    const session = await ctx.accounts.authenticate(address, PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });
    try {
      assert.equal(await ctx.accounts.whenDrained(session.alias.id, 30_000), true, 'mail sealed while locked has drained');
      return await Promise.all(session.mailbox.listMessages('INBOX').map((m) => session.mailbox.readMessage('INBOX', m.uid)));
    } finally {
      session.release();
      await ctx.accounts.lock(session.alias.id);
    }
  }

  test('a forwarded message reaches the target MX with an SRS sender and the original bytes; no local copy', async () => {
    const original = await signed(message({ from: 'news@good.test', to: `fwd@${LOCAL_DOMAIN}`, subject: 'Pass it on', body: 'Forward me.' }), key);
    await sendNodemailer(port, { from: 'news@good.test', to: [`fwd@${LOCAL_DOMAIN}`] }, original);
    const [received] = await sink.waitFor(1);
    assert.ok(received);
    assert.deepEqual(received.rcptTo, ['friend@elsewhere.test']);
    assert.match(received.mailFrom, /^SRS0=[a-z2-7]{13}=[a-z2-7]{2}=good\.test=news@sealpost\.test$/);
    assert.equal(new Srs(forwardingSecret(ctx.appKey)).reverse(received.mailFrom), 'news@good.test');
    assert.ok(received.raw.subarray(received.raw.length - original.length).equals(original), 'original bytes forwarded unchanged');
    assert.match(received.raw.toString(), /^X-Sealpost-Loop: \S+\r\n/);
    assert.match(received.raw.toString(), /DKIM-Signature: /);
    assert.equal((await inboxOf(`fwd@${LOCAL_DOMAIN}`)).length, 0);
  });

  test('CLI: alias forward add --keep-copy forwards and keeps a copy', async () => {
    const [added, bad] = await Promise.all([
      cli(app.env, ['alias', 'forward', `keep@${LOCAL_DOMAIN}`, 'add', 'pal@elsewhere.test', '--keep-copy']),
      cli(app.env, ['alias', 'forward', `keep@${LOCAL_DOMAIN}`, 'frobnicate']),
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /now forwards to pal@elsewhere\.test \(keeping a copy\)/);
    assert.deepEqual(ctx.directory.listForwards(ctx.directory.requireAlias(`keep@${LOCAL_DOMAIN}`).id).map((f) => [f.target, f.keepCopy]), [['pal@elsewhere.test', true]]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Unknown action "frobnicate"/);

    const original = message({ from: 'news@good.test', to: `keep@${LOCAL_DOMAIN}`, subject: 'Both ways', body: 'Copy and forward.' });
    assert.deepEqual(await sendSmtplib(port, 'news@good.test', [`keep@${LOCAL_DOMAIN}`], original), { ok: true, refused: {} });
    const got = await sink.waitFor(2);
    assert.deepEqual(got[1]?.rcptTo, ['pal@elsewhere.test']);
    assert.equal((await inboxOf(`keep@${LOCAL_DOMAIN}`)).filter((m) => m.includes('Copy and forward.')).length, 1);
  });

  test('a message that already went through the alias forwarding is kept locally, not forwarded again (loop stopped)', async () => {
    const bounced = sink.messages[0]!.raw; // what friend@elsewhere.test got, now sent back to the alias
    const before = ctx.outbound.counts().messages;
    assert.deepEqual(await sendSmtplib(port, 'friend@elsewhere.test', [`fwd@${LOCAL_DOMAIN}`], bounced), { ok: true, refused: {} });
    assert.equal(ctx.outbound.counts().messages, before, 'nothing new queued for forwarding');
    const inbox = await inboxOf(`fwd@${LOCAL_DOMAIN}`);
    assert.equal(inbox.filter((m) => m.includes('Forward me.')).length, 1);
    assert.ok(app.logs.some((l) => l.includes('"event":"mx.forward_loop"')));
  });

  test('a bounce to the SRS address goes back to the original sender; a forged SRS address is refused', async () => {
    const srsAddress = sink.messages[0]!.mailFrom;
    const dsn = message({ from: 'mailer-daemon@elsewhere.test', to: srsAddress, subject: 'Undeliverable', body: 'Your message could not be delivered.' });
    assert.deepEqual(await sendSmtplib(port, '', [srsAddress], dsn), { ok: true, refused: {} });
    const got = await sink.waitFor(3);
    assert.deepEqual(got[2]?.rcptTo, ['news@good.test']);
    assert.equal(got[2]?.mailFrom, '');
    const forged = await sendSmtplib(port, '', [srsAddress.replace(/^SRS0=[a-z2-7]{4}/, 'SRS0=aaaa')], dsn);
    assert.equal(forged.code, 550);
  });

  test('webhook: signed JSON POSTed, retried after a 500, visible in the CLI delivery log and queue status', async () => {
    const added = await cli(app.env, ['alias', 'webhook', `hook@${LOCAL_DOMAIN}`, 'add', hookUrl, '--json']);
    assert.equal(added.code, 0, added.stderr);
    const { secret } = JSON.parse(added.stdout) as { secret: string };
    const original = await signed(message({ from: 'news@good.test', to: `hook@${LOCAL_DOMAIN}`, subject: 'Hook me', body: 'Webhook body text.' }), key);
    await sendNodemailer(port, { from: 'news@good.test', to: [`hook@${LOCAL_DOMAIN}`] }, original);
    await until('two webhook attempts', () => hooks.length >= 2);
    const [first, second] = hooks;
    assert.equal(first!.status, 500);
    assert.equal(second!.status, 204);
    assert.ok(first!.body.equals(second!.body), 'the retry sends the same body');
    assert.equal(first!.headers['x-sealpost-delivery'], second!.headers['x-sealpost-delivery']);
    const signature = String(second!.headers['x-sealpost-signature']);
    assert.ok(verifyWebhookSignature(secret, second!.body, signature));
    assert.equal(verifyWebhookSignature('wrong-secret', second!.body, signature), false);
    const json = JSON.parse(second!.body.toString()) as { subject: string; text: string; alias: string; envelope: { from: string }; authentication: { dkim: string; spf: string } };
    assert.equal(json.subject, 'Hook me');
    assert.match(json.text, /Webhook body text\./);
    assert.equal(json.alias, `hook@${LOCAL_DOMAIN}`);
    assert.equal(json.envelope.from, 'news@good.test');
    assert.deepEqual([json.authentication.dkim, json.authentication.spf], ['pass', 'pass']);
    // the mailbox still gets its copy (webhooks come in addition)
    assert.equal((await inboxOf(`hook@${LOCAL_DOMAIN}`)).length, 1);

    const [log, status] = await Promise.all([
      cli(app.env, ['alias', 'webhook', `hook@${LOCAL_DOMAIN}`, 'log', hookUrl, '--json']),
      cli(app.env, ['queue', 'status', '--json']),
    ]);
    assert.equal(log.code, 0, log.stderr);
    const entries = JSON.parse(log.stdout) as { attempt: number; status: number; outcome: string }[];
    assert.deepEqual(entries.map((e) => [e.attempt, e.status, e.outcome]), [[2, 204, 'delivered'], [1, 500, 'retry']]);
    const counts = JSON.parse(status.stdout) as { webhooks: { pending: number; delivered: number } };
    assert.deepEqual([counts.webhooks.pending, counts.webhooks.delivered], [0, 1]);
  });
});
