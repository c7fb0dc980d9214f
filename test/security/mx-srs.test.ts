// SRS addresses that cannot be guessed, and an MX that does not let anyone try: forged, truncated,
// tampered, expired and old-scheme SRS addresses refused with 550 5.1.1 at RCPT and logged; a fresh one
// relays the bounce to the original sender; failed RCPTs close the connection with 421 4.7.0 after a
// small number, per connection and per IP, each refusal logged in the stable security format.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppContext } from '../../server/context.js';
import { Srs } from '../../server/smtp/forward/srs.js';
import { forwardingSecret } from '../../server/smtp/mx/index.js';
import { rawSmtp } from '../helpers/mx-session.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, sendSmtplib, senderZones, startMxApp, type MxApp } from '../integration/mx-fixture.js';

const DAY = 86_400_000;

function securityLines(app: MxApp, event: string, reason?: string): string[] {
  return app.logs.filter((line) => line.includes(`"msg":"security ${event} `) && (reason === undefined || line.includes(`reason=${reason}"`)));
}

/** Opens a session up to MAIL FROM, then asks each RCPT in turn; returns the RCPT replies (null once closed). */
async function rcptReplies(port: number, sender: string, recipients: readonly string[]): Promise<(string | null)[]> {
  const smtp = await rawSmtp(port);
  try {
    assert.match((await smtp.next()) ?? '', /^220 /);
    assert.match((await smtp.command('EHLO probe.good.test')) ?? '', /^250[- ]/);
    assert.match((await smtp.command(`MAIL FROM:<${sender}>`)) ?? '', /^250 /);
    const replies: (string | null)[] = [];
    for (const rcpt of recipients) replies.push(await smtp.command(`RCPT TO:<${rcpt}>`));
    return replies;
  } finally {
    smtp.destroy();
  }
}

describe('MX: SRS bounces and failed-RCPT limits', () => {
  let app: MxApp;
  let ctx: AppContext;
  let sink: SmtpSink;
  let port: number;
  let srs: Srs;

  before(async () => {
    sink = await startSmtpSink();
    app = await startMxApp({
      zones: senderZones(makeDkimKey('good.test')),
      env: {
        SEALPOST_OUTBOUND_MX_PORT: String(sink.port),
        SEALPOST_OUTBOUND_POLL_MS: '100',
        SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on',
        SEALPOST_SMTP_MAX_BAD_RCPT: '10',
        SEALPOST_SMTP_MAX_BAD_RCPT_PER_IP: '1000',
        SEALPOST_SMTP_TARPIT_MS: '5',
      },
    });
    ctx = app.running.ctx;
    port = app.port('smtp');
    ctx.directory.addDomain(LOCAL_DOMAIN);
    await ctx.accounts.createAlias(`fwd@${LOCAL_DOMAIN}`, PASSWORD);
    srs = new Srs(forwardingSecret(ctx.appKey));
  });

  after(async () => {
    await app?.stop();
    await sink?.close();
  });

  test('forged, truncated, tampered, expired and old 4-character SRS addresses get 550 5.1.1 and are logged', async () => {
    const now = Date.now();
    const fresh = srs.forward('news@good.test', LOCAL_DOMAIN, now);
    const [, hash, tt] = /^SRS0=([^=]+)=([^=]+)=/.exec(fresh) ?? [];
    assert.ok(hash && tt);
    const forged = fresh.replace(hash, 'a'.repeat(hash.length));
    const truncatedHash = fresh.replace(`=${hash}=`, `=${hash.slice(0, -1)}=`);
    const truncatedTail = `SRS0=${hash}=${tt}=good.test@${LOCAL_DOMAIN}`;
    const tampered = fresh.replace('=news@', '=mallory@');
    const expired = srs.forward('news@good.test', LOCAL_DOMAIN, now - 30 * DAY);
    const oldScheme = fresh.replace(`=${hash}=`, `=${hash.slice(0, 4)}=`);
    const before = { forged: securityLines(app, 'rcpt.refused', 'srs-forged').length, expired: securityLines(app, 'rcpt.refused', 'srs-expired').length };
    const replies = await rcptReplies(port, '', [forged, truncatedHash, truncatedTail, tampered, expired, oldScheme]);
    for (const reply of replies) assert.match(reply ?? '', /^550 5\.1\.1 /);
    assert.equal(securityLines(app, 'rcpt.refused', 'srs-forged').length - before.forged, 5);
    assert.equal(securityLines(app, 'rcpt.refused', 'srs-expired').length - before.expired, 1);
    const line = securityLines(app, 'rcpt.refused', 'srs-expired').at(-1) ?? '';
    assert.match(line, /"ip":"127\.0\.0\.1"/);
    assert.doesNotMatch(line, /news|good\.test|sealpost\.test/, 'the log line names no address');
    assert.equal(sink.messages.length, 0, 'nothing relayed');
  });

  test('a fresh SRS address is accepted and the bounce goes back to the original sender', async () => {
    const address = srs.forward('news@good.test', LOCAL_DOMAIN);
    const bounce = message({ from: `mailer-daemon@relay.test`, to: address, subject: 'Undelivered Mail Returned to Sender', body: 'Your message could not be delivered.' });
    const result = await sendSmtplib(port, '', [address], bounce);
    assert.equal(result.ok, true, JSON.stringify(result));
    const [relayed] = await sink.waitFor(1);
    assert.deepEqual(relayed?.rcptTo, ['news@good.test']);
    assert.equal(relayed?.mailFrom, '');
  });

  test('50 unknown recipients on one connection: 550 for nine, 421 4.7.0 at the tenth, then the connection is closed', async () => {
    const closedBefore = securityLines(app, 'conn.closed', 'too-many-bad-rcpt').length;
    const guesses = Array.from({ length: 50 }, (_, i) => `SRS0=${'b'.repeat(12)}${'abcdefghijklmnopqrstuvwxyz234567'[i % 32]}=aa=good.test=x${i}@${LOCAL_DOMAIN}`);
    const replies = await rcptReplies(port, 'probe@good.test', guesses);
    const answered = replies.filter((r): r is string => r !== null);
    assert.equal(answered.length, 10, 'ten RCPTs answered, forty never read');
    assert.deepEqual(
      answered.map((r) => r.slice(0, 9)),
      [...Array<string>(9).fill('550 5.1.1'), '421 4.7.0'],
    );
    assert.equal(replies[10], null, 'closed after the 421');
    assert.equal(securityLines(app, 'conn.closed', 'too-many-bad-rcpt').length - closedBefore, 1);
    // The next connection starts a new per-connection count and valid mail still flows.
    const ok = await sendSmtplib(port, 'news@good.test', [`fwd@${LOCAL_DOMAIN}`], message({ from: 'news@good.test', to: `fwd@${LOCAL_DOMAIN}`, subject: 'still open', body: 'hello' }));
    assert.equal(ok.ok, true, JSON.stringify(ok));
  });
});

describe('MX: failed RCPTs per IP over a window', () => {
  let app: MxApp;
  let port: number;

  before(async () => {
    app = await startMxApp({
      zones: senderZones(makeDkimKey('good.test')),
      env: { SEALPOST_SMTP_MAX_BAD_RCPT: '10', SEALPOST_SMTP_MAX_BAD_RCPT_PER_IP: '15', SEALPOST_SMTP_TARPIT_MS: '0' },
    });
    port = app.port('smtp');
    app.running.ctx.directory.addDomain(LOCAL_DOMAIN);
    await app.running.ctx.accounts.createAlias(`real@${LOCAL_DOMAIN}`, PASSWORD);
  });

  after(async () => {
    await app?.stop();
  });

  test('reconnecting does not reset the budget: past the per-IP limit a failed RCPT closes with 421 at once', async () => {
    const unknown = (n: number): string => `nobody${n}@${LOCAL_DOMAIN}`;
    const first = await rcptReplies(port, 'a@good.test', Array.from({ length: 12 }, (_, i) => unknown(i)));
    assert.equal(first.filter((r) => r?.startsWith('550 5.1.1')).length, 9);
    assert.match(first[9] ?? '', /^421 4\.7\.0 /);
    // 10 failures so far from 127.0.0.1: five more allowed, the sixth closes.
    const second = await rcptReplies(port, 'a@good.test', [unknown(20), `real@${LOCAL_DOMAIN}`, ...Array.from({ length: 6 }, (_, i) => unknown(21 + i))]);
    assert.match(second[0] ?? '', /^550 5\.1\.1 /);
    assert.match(second[1] ?? '', /^250 /, 'a valid recipient is still accepted');
    assert.equal(second.slice(2).filter((r) => r?.startsWith('550 5.1.1')).length, 4);
    assert.match(second[6] ?? '', /^421 4\.7\.0 /);
    assert.equal(second[7], null);
    assert.equal(securityLines(app, 'conn.closed', 'too-many-bad-rcpt-from-ip').length, 1);
  });
});
