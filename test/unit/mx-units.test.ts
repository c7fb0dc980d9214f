// Unit scenarios of the MX building blocks: SRS, the DNS server list, settings, limits, trace header,
// webhook signatures and the webhook store (a real encrypted SQLite file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Srs } from '../../server/smtp/forward/srs.js';
import { Forwarder, hopCount, LOOP_HEADER } from '../../server/smtp/forward/index.js';
import { parseDnsServers, DnsConfigError, createResolver } from '../../server/smtp/dns.js';
import { loadMxSettings, DEFAULT_MX_SETTINGS, MxSettingsError } from '../../server/smtp/mx/settings.js';
import { FailedRcptLimiter, SenderRateLimiter, tarpitDelayMs } from '../../server/smtp/mx/limits.js';
import { receivedHeader } from '../../server/smtp/mx/received.js';
import { signWebhookBody, verifyWebhookSignature, buildWebhookBody } from '../../server/smtp/webhooks/payload.js';
import { WebhookStore } from '../../server/smtp/webhooks/store.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { findPlaintext } from '../helpers/privacy.js';

const DAY = 86_400_000;

test('SRS: a forwarded sender is rewritten at our domain and a bounce reverses to the original sender', () => {
  const srs = new Srs(randomBytes(32));
  const rewritten = srs.forward('Bob.Smith@Sender.example', 'fwd.test');
  assert.match(rewritten, /^SRS0=[a-z2-7]{13}=[a-z2-7]{2}=Sender\.example=Bob\.Smith@fwd\.test$/);
  assert.equal(srs.reverse(rewritten), 'Bob.Smith@Sender.example');
  // case-folded by a relay on the way back: still verifies
  assert.equal(srs.reverse(rewritten.toLowerCase())?.toLowerCase(), 'bob.smith@sender.example');
  // tampered hash or original address → refused
  assert.equal(srs.reverse(rewritten.replace(/=Bob\.Smith@/, '=mallory@')), null);
  // null sender stays null, a sender already at our domain is kept
  assert.equal(srs.forward('', 'fwd.test'), '');
  assert.equal(srs.forward('me@fwd.test', 'fwd.test'), 'me@fwd.test');
});

test('SRS: bounces older than 21 days are refused; re-forwarding an SRS0 address makes SRS1', () => {
  const srs = new Srs(randomBytes(32));
  const now = Date.UTC(2025, 0, 10);
  const old = srs.forward('a@b.example', 'fwd.test', now - 30 * DAY);
  assert.equal(srs.reverse(old, now), null);
  const fresh = srs.forward('a@b.example', 'fwd.test', now - 2 * DAY);
  assert.equal(srs.reverse(fresh, now), 'a@b.example');
  const srs1 = srs.forward('SRS0=abcd=ef=b.example=a@first.example', 'fwd.test', now);
  assert.match(srs1, /^SRS1=[a-z2-7]{13}=[a-z2-7]{2}=first\.example==abcd=ef=b\.example=a@fwd\.test$/);
  assert.equal(srs.reverse(srs1, now), 'SRS0=abcd=ef=b.example=a@first.example');
  assert.equal(srs.reverse(srs1, now + 30 * DAY), null, 'SRS1 expires too');
});

test('forwarding loop: a message carrying the alias loop token is kept locally, not forwarded again', () => {
  const fwd = new Forwarder(randomBytes(32));
  const targets = [{ target: 'x@elsewhere.example', keepCopy: false }];
  const first = fwd.plan('alias-1', targets, 'Subject: hi\r\nFrom: a@b.example');
  assert.deepEqual(first, { targets: ['x@elsewhere.example'], keepLocal: false, loop: false });
  const marked = fwd.markForwarded('alias-1', Buffer.from('Subject: hi\r\n\r\nbody'));
  const header = marked.toString().split('\r\n\r\n')[0] ?? '';
  assert.ok(header.startsWith(`${LOOP_HEADER}: `));
  assert.deepEqual(fwd.plan('alias-1', targets, header), { targets: [], keepLocal: true, loop: true });
  // another alias's token is not a loop for this one
  assert.equal(fwd.plan('alias-2', targets, header).loop, false);
  assert.equal(hopCount('Received: a\r\nreceived: b\r\nX: y\r\n\tReceived: not a header'), 2);
});

test('SEALPOST_DNS_SERVERS: host[:port] lists, IPv6 in brackets, clear error otherwise', () => {
  assert.deepEqual(parseDnsServers('127.0.0.1:5353, 1.1.1.1 [::1]:53'), ['127.0.0.1:5353', '1.1.1.1:53', '[::1]:53']);
  assert.deepEqual(parseDnsServers(''), []);
  assert.throws(() => parseDnsServers('dns.example:53'), DnsConfigError);
  assert.throws(() => parseDnsServers('127.0.0.1:99999'), /SEALPOST_DNS_SERVERS/);
});

test('the resolver module asks the configured server (MX, TXT split strings, NXDOMAIN → ENOTFOUND)', async () => {
  const dns = await startDnsServer({
    'mail.test': { MX: [{ exchange: 'mx1.mail.test', priority: 10 }], TXT: ['v=spf1 -all', 'k'.repeat(600)] },
  });
  try {
    const resolver = createResolver({ servers: [dns.address], timeoutMs: 2000 });
    assert.deepEqual(await resolver.resolveMx('mail.test'), [{ exchange: 'mx1.mail.test', priority: 10 }]);
    const txt = (await resolver.resolveTxt('mail.test')).map((chunks) => chunks.join(''));
    assert.ok(txt.includes('v=spf1 -all') && txt.includes('k'.repeat(600)));
    await assert.rejects(resolver.mailauth('nope.test', 'TXT'), (e: { code?: string }) => e.code === 'ENOTFOUND');
  } finally {
    await dns.close();
  }
});

test('MX settings: defaults, env overrides, clear errors', () => {
  assert.equal(loadMxSettings({}).maxSize, 50 * 1024 * 1024);
  const s = loadMxSettings({ SEALPOST_SMTP_MAX_SIZE: '2048', SEALPOST_SMTP_MAX_RECIPIENTS: '3', SEALPOST_WEBHOOK_BACKOFF_MS: '100,200' }, { smtpSenderRate: 7 });
  assert.equal(s.maxSize, 2048);
  assert.equal(s.maxRecipients, 3);
  assert.equal(s.maxMessagesPerSenderPerHour, 7);
  assert.deepEqual(s.webhookBackoffMs, [100, 200]);
  assert.equal(s.maxHops, DEFAULT_MX_SETTINGS.maxHops);
  assert.throws(() => loadMxSettings({ SEALPOST_SMTP_MAX_SIZE: 'lots' }), MxSettingsError);
  // abuse limits: defaults and their variables
  const d = loadMxSettings({});
  assert.deepEqual(
    [d.maxRecipients, d.maxBadRcpt, d.maxBadRcptPerIp, d.badRcptWindowMs, d.tarpitMs, d.srsMaxAgeDays, d.handshakeTimeoutMs, d.maxConnectionsPerIp, d.maxConnections],
    [100, 10, 30, 3_600_000, 500, 21, 15_000, 20, 500],
  );
  const e = loadMxSettings({ SEALPOST_SMTP_MAX_BAD_RCPT: '4', SEALPOST_SMTP_MAX_BAD_RCPT_PER_IP: '9', SEALPOST_SMTP_BAD_RCPT_WINDOW_MS: '1000', SEALPOST_SMTP_TARPIT_MS: '0', SEALPOST_SRS_MAX_AGE_DAYS: '7', SEALPOST_SMTP_HANDSHAKE_TIMEOUT_MS: '500' });
  assert.deepEqual([e.maxBadRcpt, e.maxBadRcptPerIp, e.badRcptWindowMs, e.tarpitMs, e.srsMaxAgeDays, e.handshakeTimeoutMs], [4, 9, 1000, 0, 7, 500]);
  assert.throws(() => loadMxSettings({ SEALPOST_SRS_MAX_AGE_DAYS: '2000' }), /1 to 1000/);
  assert.throws(() => loadMxSettings({ SEALPOST_SMTP_MAX_BAD_RCPT: '0' }), MxSettingsError);
  assert.throws(() => loadMxSettings({ SEALPOST_SMTP_MAX_RECIPIENTS: '0' }), MxSettingsError);
});

test('limits: failed RCPTs per IP over a window, the tarpit, and the per-sender hourly rate', () => {
  let clock = 1_000_000;
  const failed = new FailedRcptLimiter(60_000, 3, () => clock);
  assert.equal(failed.record('192.0.2.1'), 1);
  assert.equal(failed.record('192.0.2.1'), 2);
  assert.equal(failed.record('192.0.2.2'), 1, 'counted per IP');
  clock += 60_001;
  assert.equal(failed.count('192.0.2.1'), 0, 'the window slides');
  assert.equal(failed.record('192.0.2.1'), 1);
  failed.record('192.0.2.3');
  failed.record('192.0.2.4');
  failed.record('192.0.2.5');
  assert.equal(failed.count('192.0.2.1'), 0, 'at most maxIps tracked, the oldest dropped');
  assert.deepEqual([1, 2, 3, 30].map((n) => tarpitDelayMs(n, 500)), [0, 500, 1000, 10_000]);
  assert.equal(tarpitDelayMs(5, 0), 0, 'a step of 0 turns the tarpit off');
  let now = 0;
  const r = new SenderRateLimiter(2, () => now);
  r.record('A@x.example');
  r.record('a@x.example');
  assert.equal(r.allows('a@X.example'), false);
  now += 3_600_001;
  assert.equal(r.allows('a@x.example'), true);
});

test('Received header names the recipient only when there is exactly one', () => {
  const base = { helo: 'client.example', clientHostname: null, ip: '192.0.2.7', hostname: 'mx.sealpost.test', transactionId: 'abc', tls: null, utf8: false, date: new Date(0) };
  const one = receivedHeader({ ...base, recipients: ['a@x.test'] });
  assert.match(one, /^Received: from client\.example \(\[192\.0\.2\.7\]\)\r\n\tby mx\.sealpost\.test \(Sealpost\) with ESMTP id abc\r\n\tfor <a@x\.test>;\r\n\tThu, 1 Jan 1970 00:00:00 \+0000\r\n$/);
  const two = receivedHeader({ ...base, recipients: ['a@x.test', 'b@x.test'], tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } });
  assert.doesNotMatch(two, /for </);
  assert.match(two, /with ESMTPS \(TLSv1\.3:TLS_AES_256_GCM_SHA384\)/);
});

test('webhook signature: verifies with the secret, fails with another secret, a changed body or an old timestamp', async () => {
  const body = await buildWebhookBody({
    id: 'd1', alias: 'me@x.test', envelopeFrom: 's@y.test', envelopeTo: ['me@x.test'], receivedAt: new Date(), auth: null,
    raw: Buffer.from('From: S <s@y.test>\r\nTo: me@x.test\r\nSubject: Hello\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi there\r\n--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nPDF\r\n--b--\r\n'),
  });
  const json = JSON.parse(body.toString()) as { subject: string; text: string; attachments: { filename: string; size: number }[]; raw?: string };
  assert.equal(json.subject, 'Hello');
  assert.match(json.text, /hi there/);
  assert.equal(json.attachments[0]?.filename, 'a.pdf');
  assert.equal(json.raw, undefined);
  const now = Math.floor(Date.now() / 1000);
  const header = signWebhookBody('s3cret', body, now);
  assert.ok(verifyWebhookSignature('s3cret', body, header, now));
  assert.equal(verifyWebhookSignature('other', body, header, now), false);
  assert.equal(verifyWebhookSignature('s3cret', Buffer.concat([body, Buffer.from(' ')]), header, now), false);
  assert.equal(verifyWebhookSignature('s3cret', body, header, now + 3600), false);
});

test('webhook store: encrypted file, jobs due/retry/delivered, body dropped after delivery, log kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-'));
  try {
    const key = randomBytes(32);
    const file = join(dir, 'webhooks.sqlite');
    const store = WebhookStore.open(file, key);
    const [id] = store.enqueue([{ webhookId: 1, aliasId: 'al-1', url: 'http://127.0.0.1:9/hook', body: Buffer.from('{"subject":"Quarterly zebra report"}') }], 1000);
    let [job] = store.due(1000);
    assert.equal(job?.id, id);
    store.recordAttempt(job!, { status: 500, error: 'HTTP 500', durationMs: 3, at: 1000 }, 'retry', 5000);
    assert.equal(store.due(2000).length, 0);
    [job] = store.due(5000);
    assert.equal(job?.attempts, 1);
    store.recordAttempt(job!, { status: 204, error: null, durationMs: 2, at: 5000 }, 'delivered', null);
    assert.deepEqual(store.counts(), { pending: 0, delivered: 1, failed: 0 });
    assert.deepEqual(store.log({ webhookId: 1 }).map((e) => [e.attempt, e.status, e.outcome]), [[2, 204, 'delivered'], [1, 500, 'retry']]);
    store.close();
    // nothing readable on disk
    assert.deepEqual(findPlaintext(dir, ['zebra']), []);
    assert.throws(() => WebhookStore.open(file, randomBytes(32)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
