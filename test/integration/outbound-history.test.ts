// The outgoing history against a real SMTP peer on loopback (smtp-server with STARTTLS, found through a
// real DNS server): every attempt of every recipient is kept with the host, address, TLS and reply; the
// message bytes are wiped once every recipient is final; the history is deleted after its retention time.
// Retries are driven by the owner's "retry now" (the backoff is an hour), never by waiting.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { findPlaintext } from '../helpers/privacy.js';
import { createResolver } from '../../server/smtp/dns.js';
import { DEFAULT_OUTBOUND_OPTIONS, OutboundQueue, outboundOptionsFromEnv } from '../../server/smtp/outbound/index.js';
import { createSelfSigned } from '../../server/config/tls.js';
import { silentLogger } from '../../server/log.js';
import { cancelOutgoing, listOutgoing, retryOutgoing, showOutgoing } from '../../server/ops/index.js';
import type { OutgoingDetail } from '../../server/ports.js';
import { openEncryptedDatabase } from '../../server/directory/index.js';
import { OutboundStore } from '../../server/smtp/outbound/store.js';
import { historyOf, historyPage } from '../../server/smtp/outbound/history.js';

const CALL = { via: 'cli', ip: 'local' } as const;
const SUBJECT = 'Quarterly walrus census 7731';
const BODY = 'The walruses of Lantern Bay number 4412 this spring.';
const RCPT = 'erin.flaky@flaky.test';
const STUCK = 'frank.stuck@stuck.test';

async function until<T>(what: string, read: () => T | null | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const raw = (to: string): Buffer =>
  Buffer.from(`From: alice@sender.test\r\nTo: ${to}\r\nSubject: ${SUBJECT}\r\nMessage-ID: <${crypto.randomUUID()}@sender.test>\r\n\r\n${BODY}\r\n`);

describe('outgoing history', () => {
  let dir: string;
  let dns: TestDnsServer;
  let sink: SmtpSink;
  let queue: OutboundQueue;
  const ctx = () => ({ logger: silentLogger(), outbound: queue });
  /** Replies the sink gives to each message for flaky.test, in order; then 250. */
  const flakyReplies = [451, 451];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
    dns = await startDnsServer({
      'flaky.test': { MX: [{ exchange: 'mx.flaky.test', priority: 10 }] },
      'mx.flaky.test': { A: ['127.0.0.1'] },
      'stuck.test': { MX: [{ exchange: 'mx.flaky.test', priority: 10 }] },
    });
    sink = await startSmtpSink({
      tls: createSelfSigned('mx.flaky.test'),
      rejectMessage: (m) => (m.rcptTo.includes(STUCK) ? 451 : m.rcptTo.includes(RCPT) ? (flakyReplies.shift() ?? null) : null),
    });
    queue = new OutboundQueue({
      file: path.join(dir, 'outbound.sqlite'),
      appKey: crypto.randomBytes(32),
      logger: silentLogger(),
      hostname: 'mail.sender.test',
      resolver: createResolver({ servers: [dns.address] }),
      // an hour between attempts: only "retry now" makes a second attempt happen in this test
      options: { ...DEFAULT_OUTBOUND_OPTIONS, mxPort: sink.port, retryBaseMs: 3600_000, pollMs: 25, targets: { allowPrivate: false, allowLoopback: true }, historyPageMax: 5 },
      notifySender: async () => true,
    });
    queue.start();
  });

  after(async () => {
    await queue.stop();
    queue.close();
    await sink.close();
    await dns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a delivery answered 451 twice then 250 shows all three attempts with their codes, TLS and host, and ends delivered (RFC 5321 §4.5.4.1 retries)', async () => {
    const id = await queue.enqueue({ from: 'alice@sender.test', to: [RCPT], raw: raw(RCPT), kind: 'submission' });
    const attemptsOf = (n: number) => (): OutgoingDetail | null => {
      const d = showOutgoing(ctx(), { id });
      return (d.recipientList[0]?.history.length ?? 0) >= n && d.status !== 'sending' ? d : null;
    };
    let detail = await until('the first attempt', attemptsOf(1));
    assert.equal(detail.status, 'waiting');
    assert.ok(detail.nextAttempt !== null && detail.nextAttempt > Date.now() + 30 * 60_000, 'the next try is an hour away');

    assert.equal((await retryOutgoing(ctx(), { id }, CALL)).recipients, 1);
    detail = await until('the second attempt', attemptsOf(2));
    assert.equal(detail.status, 'waiting');
    assert.equal((await retryOutgoing(ctx(), { id }, CALL)).recipients, 1);
    detail = await until('the third attempt', attemptsOf(3));

    assert.equal(detail.status, 'delivered');
    assert.equal(detail.attempts, 3);
    assert.notEqual(detail.finished, null);
    const rcpt = detail.recipientList[0];
    assert.ok(rcpt);
    assert.equal(rcpt.address, RCPT);
    assert.equal(rcpt.status, 'delivered');
    assert.deepEqual(rcpt.history.map((a) => [a.outcome, a.code]), [['deferred', 451], ['deferred', 451], ['delivered', 250]]);
    for (const a of rcpt.history) {
      assert.equal(a.host, 'mx.flaky.test');
      assert.equal(a.address, '127.0.0.1');
      assert.match(a.tlsVersion ?? '', /^TLSv1\.[23]$/, 'STARTTLS was used (RFC 3207)');
      assert.ok(a.tlsCipher, 'the cipher is recorded');
      assert.equal(a.verified, false, 'no MTA-STS policy: opportunistic TLS, the certificate is not checked');
      assert.equal(a.policy, 'opportunistic');
    }
    assert.match(rcpt.history[0]?.response ?? '', /^451 /);
    assert.equal(sink.messages.length, 1, 'the message reached the peer once');

    // the message text is not kept once every recipient is final; its history is
    assert.equal(queue.store.raw(id)?.length, 0, 'the raw message is wiped');
    assert.equal(queue.counts().messages, 0, 'nothing left in the queue');
    const listed = listOutgoing(ctx(), {}).messages.find((m) => m.id === id);
    assert.equal(listed?.status, 'delivered');
    assert.equal(listed?.attempts, 3);
  });

  it('cancel gives up without a bounce and both actions then refuse the final message in one sentence', async () => {
    const id = await queue.enqueue({ from: 'alice@sender.test', to: [STUCK], raw: raw(STUCK), kind: 'submission' });
    await until('the first attempt', () => {
      const d = showOutgoing(ctx(), { id });
      return d.attempts >= 1 && d.status === 'waiting' ? d : null;
    });
    assert.equal((await cancelOutgoing(ctx(), { id }, CALL)).recipients, 1);
    const detail = showOutgoing(ctx(), { id });
    assert.equal(detail.status, 'cancelled');
    assert.equal(detail.recipientList[0]?.status, 'cancelled');
    assert.equal(detail.recipientList[0]?.history.length, 1, 'the attempt before the cancel stays in the history');
    await assert.rejects(retryOutgoing(ctx(), { id }, CALL), (e: Error & { code?: string }) => e.code === 'MESSAGE_FINAL' && /already cancelled/.test(e.message));
    await assert.rejects(cancelOutgoing(ctx(), { id }, CALL), (e: Error & { code?: string }) => e.code === 'MESSAGE_FINAL');
    assert.equal(queue.store.raw(id)?.length, 0, 'the raw message is wiped once cancelled');
  });

  it('bad ids are refused with one sentence that does not repeat them; pages are capped', async () => {
    const odd = ['', 'nope', 'x'.repeat(100_000), '../../outbound.sqlite', "1' OR '1'='1", '%00', '０b6f3c1e-5a2d-4c8e-9f10-7d2b3a4c5e6f', '\u0000\r\n'];
    for (const id of odd) {
      assert.throws(() => showOutgoing(ctx(), { id }), (e: Error & { code?: string }) => e.code === 'BAD_MESSAGE_ID' && !e.message.includes(id || '\u0001'));
      await assert.rejects(retryOutgoing(ctx(), { id }, CALL), (e: Error & { code?: string }) => e.code === 'BAD_MESSAGE_ID');
      await assert.rejects(cancelOutgoing(ctx(), { id }, CALL), (e: Error & { code?: string }) => e.code === 'BAD_MESSAGE_ID');
    }
    const unknown = crypto.randomUUID();
    assert.throws(() => showOutgoing(ctx(), { id: unknown }), (e: Error & { code?: string }) => e.code === 'UNKNOWN_MESSAGE');
    await assert.rejects(retryOutgoing(ctx(), { id: unknown }, CALL), (e: Error & { code?: string }) => e.code === 'UNKNOWN_MESSAGE');
    assert.throws(() => listOutgoing(ctx(), { limit: 0 }), (e: Error & { code?: string }) => e.code === 'BAD_LIMIT');
    assert.throws(() => listOutgoing(ctx(), { cursor: 'DROP TABLE messages' }), (e: Error & { code?: string }) => e.code === 'BAD_CURSOR');

    // more messages than a page (the cap is 5 here): a huge limit still gets 5, and the cursor walks the rest once each
    for (let i = 0; i < 6; i++) await queue.enqueue({ from: 'alice@sender.test', to: [STUCK], raw: raw(STUCK), kind: 'submission' });
    const first = listOutgoing(ctx(), { limit: 1_000_000 });
    assert.equal(first.messages.length, 5);
    assert.ok(first.next);
    const second = listOutgoing(ctx(), { limit: 1_000_000, cursor: first.next });
    const seen = [...first.messages, ...second.messages].map((m) => m.id);
    assert.equal(new Set(seen).size, 8, 'every message once across the pages');
    assert.equal(second.next, null);
    for (const m of second.messages.concat(first.messages)) if (m.status === 'waiting' || m.status === 'sending') await cancelOutgoing(ctx(), { id: m.id }, CALL).catch(() => undefined);
  });

  it('the history is deleted after its retention time, and nothing of the message is in plaintext on disk', async () => {
    // 29 days on, all is kept; 31 days on, the finished messages are gone
    assert.equal(queue.pruneHistory(Date.now() + 29 * 86400_000), 0);
    await until('every message final', () => (queue.counts().messages === 0 ? true : null));
    const removed = queue.pruneHistory(Date.now() + 31 * 86400_000);
    assert.equal(removed, 8, 'the eight messages of this file');
    assert.equal(listOutgoing(ctx(), {}).messages.length, 0);
    assert.deepEqual(findPlaintext(dir, [SUBJECT, BODY, RCPT, STUCK, 'Lantern Bay']), []);
  });

  it('the retention and the page limit have defaults and settings, and a page limit above 1000 is refused', () => {
    assert.equal(DEFAULT_OUTBOUND_OPTIONS.historyDays, 30);
    assert.equal(DEFAULT_OUTBOUND_OPTIONS.historyPageMax, 100);
    const set = outboundOptionsFromEnv({ SEALPOST_OUTBOUND_HISTORY_DAYS: '7', SEALPOST_OUTBOUND_HISTORY_PAGE_MAX: '25' });
    assert.deepEqual([set.historyDays, set.historyPageMax], [7, 25]);
    assert.throws(() => outboundOptionsFromEnv({ SEALPOST_OUTBOUND_HISTORY_PAGE_MAX: '5000' }), /at most 1000/);
    assert.throws(() => outboundOptionsFromEnv({ SEALPOST_OUTBOUND_HISTORY_DAYS: '0' }), /whole number above 0/);
  });

  it('an outbound.sqlite from before the history opens with its waiting mail in the queue and in the history', () => {
    const file = path.join(dir, 'old-outbound.sqlite');
    const key = crypto.randomBytes(32);
    const old = openEncryptedDatabase(file, key);
    old.exec(`CREATE TABLE messages (id TEXT PRIMARY KEY, kind TEXT NOT NULL, sender TEXT NOT NULL, alias_id TEXT, created INTEGER NOT NULL, size INTEGER NOT NULL, raw BLOB NOT NULL);
      CREATE TABLE recipients (id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE, rcpt TEXT NOT NULL, domain TEXT NOT NULL,
        state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL, last_code INTEGER, last_response TEXT, warned INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL);`);
    const id = crypto.randomUUID();
    old.prepare("INSERT INTO messages VALUES (?, 'submission', 'alice@sender.test', NULL, 1000, 3, X'616263')").run(id);
    old.prepare("INSERT INTO recipients (message_id, rcpt, domain, state, attempts, next_attempt, last_code, last_response, updated) VALUES (?, ?, 'flaky.test', 'queued', 2, 5000, 451, '451 later', 1000)").run(id, RCPT);
    old.close();
    const store = new OutboundStore(file, key);
    try {
      assert.equal(store.counts().messages, 1);
      const page = historyPage(store.db, 10, null);
      assert.deepEqual(page.messages.map((m) => [m.id, m.status, m.attempts, m.nextAttempt, m.finished]), [[id, 'waiting', 2, 5000, null]]);
      assert.equal(historyOf(store.db, id, 10)?.recipientList[0]?.lastResponse, '451 later');
    } finally {
      store.close();
    }
  });

  it('the running delivery worker deletes history older than SEALPOST_OUTBOUND_HISTORY_DAYS by itself', async () => {
    const old = Date.now() - 40 * 86400_000;
    const worker = new OutboundQueue({
      file: path.join(dir, 'retention.sqlite'),
      appKey: crypto.randomBytes(32),
      logger: silentLogger(),
      hostname: 'mail.sender.test',
      resolver: createResolver({ servers: [dns.address] }),
      options: { ...DEFAULT_OUTBOUND_OPTIONS, pollMs: 25, historyDays: 30 },
    });
    try {
      // cancelled 40 days ago, and one cancelled now
      const stale = worker.store.enqueue({ kind: 'submission', sender: 'alice@sender.test', recipients: [STUCK], raw: raw(STUCK), now: old });
      worker.store.drop(stale, old);
      const fresh = worker.store.enqueue({ kind: 'submission', sender: 'alice@sender.test', recipients: [STUCK], raw: raw(STUCK) });
      worker.store.drop(fresh);
      assert.ok(worker.historyOf(stale), 'kept while no worker runs');
      worker.start();
      await until('the stale history pruned', () => (worker.historyOf(stale) === null ? true : null));
      assert.equal(worker.historyOf(fresh)?.status, 'cancelled', 'recent history stays');
    } finally {
      await worker.stop();
      worker.close();
    }
  });
});
