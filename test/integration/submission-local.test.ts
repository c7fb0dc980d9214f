// Mail submitted for a local alias takes the MX's delivery path: the alias's forwarding rule sends it on
// (SRS sender, DKIM signature kept), its webhook gets the signed JSON, a kept copy lands in INBOX, and a
// full mailbox refuses with 452 4.2.2 for everyone (nothing stored, nothing queued for the remote).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import nodemailer from 'nodemailer';
import { verifyWebhookSignature } from '../../server/smtp/webhooks/payload.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startSendingApp, TEST_PASSWORD, type SendingApp } from '../helpers/sending.js';
import { findPlaintext } from '../helpers/privacy.js';

const ALICE = 'alice@sender.test';
const BOB = 'bob@sender.test';
const FULL = 'full@sender.test';

describe('submission to local recipients', () => {
  let dns: TestDnsServer;
  let sink: SmtpSink;
  let app: SendingApp;
  let hookServer: http.Server;
  const hooks: { headers: http.IncomingHttpHeaders; body: Buffer }[] = [];
  let hookSecret = '';

  before(async () => {
    dns = await startDnsServer({ 'remote.test': { MX: [{ exchange: 'mx.remote.test', priority: 10 }] }, 'mx.remote.test': { A: ['127.0.0.1'] } });
    sink = await startSmtpSink();
    hookServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
    const address = hookServer.address();
    app = await startSendingApp({
      listeners: ['submission', 'smtp'],
      env: { SEALPOST_DNS_SERVERS: dns.address, SEALPOST_OUTBOUND_MX_PORT: String(sink.port), SEALPOST_OUTBOUND_POLL_MS: '50', SEALPOST_SMTP_AUTH_CHECKS: 'off', SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on' },
    });
    const ctx = app.running.ctx;
    ctx.directory.addDomain('sender.test');
    for (const r of ctx.outbound.dkim.ensure('sender.test').records) dns.set(r.name, { TXT: [r.value] });
    await ctx.accounts.createAlias(ALICE, TEST_PASSWORD);
    const bob = (await ctx.accounts.createAlias(BOB, TEST_PASSWORD)).alias;
    ctx.directory.addForward(bob.id, 'bob.elsewhere@remote.test', true);
    hookSecret = ctx.directory.addWebhook(bob.id, `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`).secret;
    await ctx.accounts.createAlias(FULL, TEST_PASSWORD, { quotaBytes: 600 });
    await ctx.accounts.unlock(FULL, TEST_PASSWORD); // unlocked: the store's own quota check answers
  });

  after(async () => {
    await app?.stop();
    await sink?.close();
    await dns?.close();
    await new Promise<void>((resolve) => hookServer?.close(() => resolve()));
    if (app) fs.rmSync(app.dir, { recursive: true, force: true });
  });

  const send = (to: string[], subject: string, text: string) =>
    nodemailer
      .createTransport({ host: '127.0.0.1', port: app.port('submission'), secure: false, requireTLS: true, auth: { user: ALICE, pass: TEST_PASSWORD }, tls: { rejectUnauthorized: false } })
      .sendMail({ from: ALICE, to, subject, text });

  async function inbox(address: string): Promise<Buffer[]> {
    const session = await app.running.ctx.accounts.authenticate(address, TEST_PASSWORD, { ip: '127.0.0.1', protocol: 'cli' });
    try {
      assert.equal(await app.running.ctx.accounts.whenDrained(session.alias.id, 30_000), true, 'mail sealed while locked has drained');
      return await Promise.all(session.mailbox.listMessages('INBOX').map((m) => session.mailbox.readMessage('INBOX', m.uid)));
    } finally {
      session.release();
    }
  }

  test("a local recipient's forward and webhook run, and it keeps its copy", async () => {
    const info = await send([BOB], 'Local with rules', 'zq444444 for bob');
    assert.match(info.response, /^250 /);
    const [forwarded] = await sink.waitFor(1);
    assert.deepEqual(forwarded?.rcptTo, ['bob.elsewhere@remote.test']);
    // SRS leaves a sender in one of our own domains as it is (SPF already passes for it).
    assert.equal(forwarded?.mailFrom, ALICE);
    assert.match(forwarded?.raw.toString() ?? '', /zq444444/);
    assert.match(forwarded?.raw.toString() ?? '', /DKIM-Signature: /, 'the submission signature travels with it');

    const [copy] = await inbox(BOB);
    assert.match(copy?.toString() ?? '', /zq444444/, 'keep-copy forward: also in INBOX');

    // The MX service's webhook dispatcher picks the job up (it polls every few seconds).
    for (let i = 0; i < 200 && hooks.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(hooks.length, 1, 'webhook called once');
    const hook = hooks[0]!;
    assert.ok(verifyWebhookSignature(hookSecret, hook.body, String(hook.headers['x-sealpost-signature'])), 'signed with the webhook secret');
    const payload = JSON.parse(hook.body.toString()) as { subject?: string; envelope?: { from?: string } };
    assert.equal(payload.subject, 'Local with rules');
  });

  test('a full local mailbox refuses with 452 4.2.2: nothing stored for anyone, nothing sent to the remote', async () => {
    const before = sink.messages.length;
    const bobBefore = (await inbox(BOB)).length;
    await assert.rejects(send([BOB, FULL, 'carol@remote.test'], 'Too big for full', `zq555555 ${'x'.repeat(2000)}`), (error: Error & { responseCode?: number; response?: string }) => {
      assert.equal(error.responseCode, 452);
      assert.match(error.response ?? '', /4\.2\.2/);
      return true;
    });
    assert.equal((await inbox(BOB)).length, bobBefore, 'rolled back for the other local recipient');
    assert.equal((await inbox(FULL)).length, 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(sink.messages.length, before, 'no forward and no remote delivery');
  });

  test('no text or address in plaintext in the data dir (webhook jobs included)', () => {
    const leaks = findPlaintext(app.dir, [BOB, 'bob.elsewhere@remote.test', 'zq444444', 'Local with rules']);
    assert.deepEqual(leaks, []);
  });
});
