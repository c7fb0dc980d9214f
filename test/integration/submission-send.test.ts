// Sending through Sealpost's submission ports with real clients, delivery to a "remote" MX found on the
// loopback DNS server, DKIM verified by mailauth, bounces back into the sender's INBOX.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { dkimVerify } from 'mailauth';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startSendingApp, TEST_PASSWORD, type SendingApp } from '../helpers/sending.js';
import { findPlaintext } from '../helpers/privacy.js';
import { createResolver } from '../../server/smtp/dns.js';

const ALICE = 'alice@sender.test';

describe('submission', () => {
  let dns: TestDnsServer;
  let sink: SmtpSink;
  let app: SendingApp;

  before(async () => {
    dns = await startDnsServer({
      'remote.test': { MX: [{ exchange: 'mx.remote.test', priority: 10 }] },
      'mx.remote.test': { A: ['127.0.0.1'] },
    });
    sink = await startSmtpSink({ rejectRecipient: (a) => (a.startsWith('nobody@') ? 550 : null) });
    app = await startSendingApp({
      listeners: ['submission', 'submissions'],
      env: { SEALPOST_DNS_SERVERS: dns.address, SEALPOST_OUTBOUND_MX_PORT: String(sink.port), SEALPOST_OUTBOUND_POLL_MS: '50', SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on' },
    });
    const ctx = app.running.ctx;
    ctx.directory.addDomain('sender.test');
    await ctx.accounts.createAlias(ALICE, TEST_PASSWORD);
    await ctx.accounts.createAlias('bob@sender.test', TEST_PASSWORD);
    for (const r of ctx.outbound.dkim.ensure('sender.test').records) dns.set(r.name, { TXT: [r.value] });
  });

  after(async () => {
    await app.stop();
    await sink.close();
    await dns.close();
    fs.rmSync(app.dir, { recursive: true, force: true });
  });

  const transport = (secure: boolean, password = TEST_PASSWORD) =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port: app.port(secure ? 'submissions' : 'submission'),
      secure,
      requireTLS: !secure,
      auth: { user: ALICE, pass: password },
      tls: { rejectUnauthorized: false },
    });

  test('nodemailer over STARTTLS: the remote MX gets it once, DKIM-signed (rsa + ed25519) and verifiable', async () => {
    const before = sink.messages.length;
    const info = await transport(false).sendMail({ from: `Alice <${ALICE}>`, to: 'carol@remote.test', subject: 'Budget over STARTTLS', text: 'zq111111 numbers attached' });
    assert.match(info.response, /^250 2\.0\.0 Ok: queued as [0-9a-f-]{36}$/);
    const got = (await sink.waitFor(before + 1)).slice(before);
    assert.equal(got.length, 1);
    assert.equal(got[0]?.mailFrom, ALICE);
    assert.deepEqual(got[0]?.rcptTo, ['carol@remote.test']);
    const verdict = await dkimVerify(got[0]?.raw ?? Buffer.alloc(0), { resolver: createResolver({ servers: [dns.address] }).mailauth as never });
    assert.deepEqual(
      verdict.results.map((r) => `${r.signingDomain}/${r.status.result}`),
      ['sender.test/pass', 'sender.test/pass'],
    );
    assert.match(got[0]?.raw.toString() ?? '', /a=ed25519-sha256/);
  });

  test('nodemailer over implicit TLS (submissions)', async () => {
    const before = sink.messages.length;
    await transport(true).sendMail({ from: ALICE, to: 'dave@remote.test', subject: 'over TLS', text: 'hi' });
    const got = (await sink.waitFor(before + 1)).slice(before);
    assert.deepEqual(got[0]?.rcptTo, ['dave@remote.test']);
  });

  test('Message-ID and Date are added when the client leaves them out', async () => {
    const before = sink.messages.length;
    const raw = `From: ${ALICE}\r\nTo: erin@remote.test\r\nSubject: bare\r\n\r\nno id, no date\r\n`;
    await transport(false).sendMail({ envelope: { from: ALICE, to: ['erin@remote.test'] }, raw });
    const got = (await sink.waitFor(before + 1)).slice(before);
    const text = got[0]?.raw.toString() ?? '';
    assert.match(text, /^Message-ID: <[0-9a-f-]{36}@sender\.test>$/m);
    assert.match(text, /^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/m);
  });

  test('a From or envelope sender that is not the logged-in alias is refused with 550 5.7.1', async () => {
    await assert.rejects(
      transport(false).sendMail({ from: 'mallory@sender.test', to: 'carol@remote.test', subject: 'spoof', text: 'x' }),
      (err: Error & { responseCode?: number; response?: string }) => err.responseCode === 550 && /5\.7\.1/.test(err.response ?? ''),
    );
    await assert.rejects(
      transport(false).sendMail({ envelope: { from: ALICE, to: ['carol@remote.test'] }, from: 'bob@sender.test', to: 'carol@remote.test', subject: 'spoof 2', text: 'x' }),
      (err: Error & { responseCode?: number; response?: string }) => err.responseCode === 550 && /5\.7\.1 From address/.test(err.response ?? ''),
    );
  });

  test('a wrong password is refused with 535', async () => {
    await assert.rejects(transport(false, 'not-the-password').sendMail({ from: ALICE, to: 'carol@remote.test', text: 'x' }), (err: Error & { responseCode?: number }) => err.responseCode === 535);
  });

  test('Python smtplib may log in without TLS from loopback', async () => {
    const script = [
      'import smtplib, sys',
      `s = smtplib.SMTP("127.0.0.1", ${app.port('submission')}, timeout=20)`,
      's.ehlo()',
      `s.login("${ALICE}", "${TEST_PASSWORD}")`,
      `r = s.sendmail("${ALICE}", ["frank@remote.test"], "From: ${ALICE}\\r\\nTo: frank@remote.test\\r\\nSubject: py\\r\\n\\r\\nfrom python\\r\\n")`,
      'print("refused", r)',
      's.quit()',
    ].join('\n');
    const out = await promisify(execFile)('python3', ['-c', script], { encoding: 'utf8', timeout: 30_000 });
    assert.match(out.stdout, /refused \{\}/);
  });

  test('a 550 from the remote puts an RFC 3464 bounce into the sender INBOX; Sent copy when enabled', async () => {
    const ctx = app.running.ctx;
    const alice = ctx.directory.requireAlias(ALICE);
    ctx.directory.setSaveSentCopy(alice.id, true);
    await transport(false).sendMail({ from: ALICE, to: 'nobody@remote.test', subject: 'This will bounce', text: 'zq222222' });
    const session = await ctx.accounts.authenticate(ALICE, TEST_PASSWORD, { ip: '127.0.0.1', protocol: 'cli' });
    try {
      assert.equal(await ctx.accounts.whenDrained(session.alias.id, 30_000), true, 'mail sealed while locked has drained');
      const findBounce = async (): Promise<Buffer | null> => {
        for (const m of session.mailbox.listMessages('INBOX')) {
          const raw = await session.mailbox.readMessage('INBOX', m.uid);
          if (raw.includes('report-type=delivery-status')) return raw;
        }
        return null;
      };
      let bounce = await findBounce();
      const until = Date.now() + 15_000;
      while (!bounce && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        bounce = await findBounce();
      }
      assert.ok(bounce, 'a DSN arrived in INBOX');
      const text = bounce.toString();
      assert.match(text, /^Subject: Undelivered Mail Returned to Sender$/m);
      assert.match(text, /Final-Recipient: rfc822; nobody@remote\.test\r\nAction: failed\r\nStatus: 5\.\d\.\d/);
      assert.match(text, /Subject: This will bounce/);
      const sent = session.mailbox.listFolders().find((f) => f.specialUse === '\\Sent');
      assert.ok(sent);
      const copies = session.mailbox.listMessages(sent.path);
      assert.equal(copies.length, 1);
      const copy = await session.mailbox.readMessage(sent.path, copies[0]?.uid ?? 0);
      assert.match(copy.toString(), /Subject: This will bounce/);
      assert.match(copy.toString(), /^DKIM-Signature:/);
    } finally {
      session.release();
      ctx.directory.setSaveSentCopy(alice.id, false);
    }
  });

  test('mail to another local alias goes straight into its mailbox', async () => {
    await transport(false).sendMail({ from: ALICE, to: 'bob@sender.test', subject: 'Local hello', text: 'zq333333' });
    const session = await app.running.ctx.accounts.authenticate('bob@sender.test', TEST_PASSWORD, { ip: '127.0.0.1', protocol: 'cli' });
    try {
      assert.equal(await app.running.ctx.accounts.whenDrained(session.alias.id, 30_000), true, 'mail sealed while locked has drained');
      const [m] = session.mailbox.listMessages('INBOX');
      assert.ok(m);
      assert.match((await session.mailbox.readMessage('INBOX', m.uid)).toString(), /zq333333/);
    } finally {
      session.release();
    }
  });

  test('no address or text in plaintext anywhere in the data dir', async () => {
    app.running.ctx.outbound.store.db.pragma('wal_checkpoint(TRUNCATE)');
    // tls/key.pem is the listener's own TLS key (plain PEM by design); DKIM keys must not show up anywhere
    const leaks = findPlaintext(app.dir, [ALICE, 'carol@remote.test', 'Budget over STARTTLS', 'zq111111', 'This will bounce', 'BEGIN PRIVATE KEY'], {
      exclude: (file) => file === path.join('tls', 'key.pem'),
    });
    assert.deepEqual(leaks, []);
  });
});
