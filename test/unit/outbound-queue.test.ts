// The outbound queue on its own: real outbound.sqlite, a real loopback DNS server and real SMTP sinks.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { dkimVerify } from 'mailauth';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';
import { createResolver, type DnsResolver } from '../../server/smtp/dns.js';
import { OutboundQueue, OutboundStore, DEFAULT_OUTBOUND_OPTIONS, outboundOptionsFromEnv, retryDelay, type OutboundOptions, type SecretPort } from '../../server/smtp/outbound/index.js';
import { silentLogger } from '../../server/log.js';
import { findPlaintext } from '../helpers/privacy.js';

const message = (from: string, to: string, subject: string, body = 'hello there\r\n'): Buffer =>
  Buffer.from(`From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${crypto.randomUUID()}@sender.test>\r\n\r\n${body}`);

class MemorySecrets implements SecretPort {
  readonly values = new Map<string, string>();
  async getSecret(name: string): Promise<string | null> {
    return this.values.get(name) ?? null;
  }
  async setSecret(name: string, value: string): Promise<void> {
    this.values.set(name, value);
  }
  async deleteSecret(name: string): Promise<void> {
    this.values.delete(name);
  }
}

describe('outbound queue', () => {
  let dir: string;
  let dns: TestDnsServer;
  let resolver: DnsResolver;
  const appKey = crypto.randomBytes(32);
  const reports: { sender: string; raw: Buffer }[] = [];
  const queues: OutboundQueue[] = [];

  const makeQueue = (options: Partial<OutboundOptions>, secrets: SecretPort | null = null): OutboundQueue => {
    const q = new OutboundQueue({
      file: path.join(dir, `outbound-${queues.length}.sqlite`),
      appKey,
      logger: silentLogger(),
      hostname: 'mail.sender.test',
      resolver,
      // the test MX hosts resolve to loopback sinks, which direct delivery refuses unless allowed
      options: { ...DEFAULT_OUTBOUND_OPTIONS, retryBaseMs: 40, pollMs: 25, targets: { allowPrivate: false, allowLoopback: true }, ...options },
      secrets,
      notifySender: async (sender, _aliasId, raw) => {
        reports.push({ sender, raw });
        return true;
      },
    });
    queues.push(q);
    q.start();
    return q;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
    dns = await startDnsServer({
      'remote.test': { MX: [{ exchange: 'mx.remote.test', priority: 10 }] },
      'mx.remote.test': { A: ['127.0.0.1'] },
    });
    resolver = createResolver({ servers: [dns.address], timeoutMs: 1000, tries: 1 });
  });

  after(async () => {
    for (const q of queues) {
      await q.stop();
      q.close();
    }
    await dns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('backoff doubles per attempt and is capped', () => {
    const o = { retryBaseMs: 1000, retryMaxMs: 5000 };
    assert.deepEqual([1, 2, 3, 4, 10].map((n) => retryDelay(n, o)), [1000, 2000, 4000, 5000, 5000]);
  });

  test('mail to a domain whose MX points at a sink arrives once, with DKIM signatures mailauth verifies', async () => {
    const sink = await startSmtpSink();
    const q = makeQueue({ mxPort: sink.port });
    const keys = q.dkim.ensure('sender.test');
    assert.equal(keys.records.length, 2);
    for (const r of keys.records) dns.set(r.name, { TXT: [r.value] });
    const signed = await q.dkim.sign(message('alice@sender.test', 'bob@remote.test', 'signed hello'), 'sender.test');
    const id = await q.enqueue({ from: 'alice@sender.test', to: ['bob@remote.test'], raw: signed, kind: 'submission' });
    assert.match(id, /^[0-9a-f-]{36}$/);
    const [got] = await sink.waitFor(1);
    assert.ok(got);
    assert.equal(got.mailFrom, 'alice@sender.test');
    assert.deepEqual(got.rcptTo, ['bob@remote.test']);
    const verdict = await dkimVerify(got.raw, { resolver: resolver.mailauth as never });
    const results = verdict.results.map((r) => `${r.signingDomain}:${r.status.result}`);
    assert.deepEqual(results, ['sender.test:pass', 'sender.test:pass']);
    await q.drain();
    assert.equal(q.counts().messages, 0, 'delivered messages leave the queue');
    await sink.close();
  });

  test('a sink answering 451 twice and then accepting gets the message exactly once', async () => {
    let refusals = 0;
    const sink = await startSmtpSink({ rejectMessage: () => (refusals++ < 2 ? 451 : null) });
    const q = makeQueue({ mxPort: sink.port });
    await q.enqueue({ from: 'alice@sender.test', to: ['carol@remote.test'], raw: message('alice@sender.test', 'carol@remote.test', 'retry me'), kind: 'submission' });
    await sink.waitFor(1);
    await q.drain();
    assert.equal(refusals, 3);
    assert.equal(sink.messages.length, 1);
    assert.equal(reports.filter((r) => r.raw.includes('retry me')).length, 0, 'no DSN for a message that got through');
    await sink.close();
  });

  test('a 550 produces an RFC 3464 DSN for the sender and the message leaves the queue', async () => {
    const sink = await startSmtpSink({ rejectRecipient: (a) => (a.startsWith('nobody') ? 550 : null) });
    const q = makeQueue({ mxPort: sink.port });
    const before = reports.length;
    await q.enqueue({ from: 'alice@sender.test', to: ['nobody@remote.test', 'dave@remote.test'], raw: message('alice@sender.test', 'nobody@remote.test', 'bounce me'), kind: 'submission' });
    await sink.waitFor(1);
    await q.drain();
    assert.deepEqual(sink.messages[0]?.rcptTo, ['dave@remote.test'], 'the good recipient still gets it');
    const dsn = reports.slice(before);
    assert.equal(dsn.length, 1);
    const text = dsn[0]?.raw.toString() ?? '';
    assert.equal(dsn[0]?.sender, 'alice@sender.test');
    assert.match(text, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(text, /Final-Recipient: rfc822; nobody@remote\.test\r\nAction: failed\r\nStatus: 5\.\d\.\d/);
    assert.match(text, /Subject: bounce me/, 'the original headers are attached');
    assert.doesNotMatch(text, /Final-Recipient: rfc822; dave@/);
    assert.equal(q.counts().messages, 0);
    await sink.close();
  });

  test('4xx until the maximum age bounces with 4.4.7, and a delay warning comes first', async () => {
    const sink = await startSmtpSink({ rejectMessage: () => 451 });
    const q = makeQueue({ mxPort: sink.port, delayWarningMs: 1, maxAgeMs: 400 });
    const before = reports.length;
    await q.enqueue({ from: 'alice@sender.test', to: ['erin@remote.test'], raw: message('alice@sender.test', 'erin@remote.test', 'slow one'), kind: 'submission' });
    const until = Date.now() + 10_000;
    while (q.counts().messages > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    const mine = reports.slice(before).map((r) => r.raw.toString());
    assert.equal(mine.length, 2, 'one delay warning, one final bounce');
    assert.match(mine[0] ?? '', /Action: delayed/);
    assert.match(mine[0] ?? '', /Will-Retry-Until:/);
    assert.match(mine[1] ?? '', /Action: failed\r\nStatus: 4\.4\.7/);
    await sink.close();
  });

  test('relay mode sends through the smarthost with AUTH, whatever the recipient domain', async () => {
    const sink = await startSmtpSink({ auth: { username: 'relayuser', password: 'relay-secret-1' } });
    const secrets = new MemorySecrets();
    const q = makeQueue({}, secrets);
    await q.setRelay({ host: '127.0.0.1', port: sink.port, tls: 'none', insecure: false, username: 'relayuser' }, 'relay-secret-1');
    assert.deepEqual([...secrets.values.values()], ['relay-secret-1']);
    assert.deepEqual(await q.testRelay(), { ok: true, message: `Connected to 127.0.0.1:${sink.port} (no TLS) and logged in.` });
    await q.enqueue({ from: 'alice@sender.test', to: ['frank@elsewhere.invalid'], raw: message('alice@sender.test', 'frank@elsewhere.invalid', 'via relay'), kind: 'submission' });
    const [got] = await sink.waitFor(1);
    assert.deepEqual(got?.rcptTo, ['frank@elsewhere.invalid']);
    await q.setRelay({ host: '127.0.0.1', port: sink.port, tls: 'none', insecure: false, username: 'relayuser' }, 'wrong');
    const verdict = await q.testRelay();
    assert.equal(verdict.ok, false);
    assert.match(verdict.message, /refused the login/);
    await q.setRelay(null);
    assert.equal(q.relay(), null);
    assert.equal(secrets.values.size, 0);
    await sink.close();
  });

  test('MTA-STS: an enforce policy that does not list the MX keeps the mail queued; testing mode delivers', async () => {
    let policy = 'version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 86400\n';
    const http = await import('node:http');
    const server = http.createServer((req, res) => {
      if (req.url === '/sts.test/.well-known/mta-sts.txt') res.end(policy);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    dns.set('sts.test', { MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
    dns.set('_mta-sts.sts.test', { TXT: ['v=STSv1; id=1'] });
    const sink = await startSmtpSink();
    const q = makeQueue({ mxPort: sink.port, retryBaseMs: 3_600_000, mtaStsUrl: `http://127.0.0.1:${port}/{domain}/.well-known/mta-sts.txt` });
    const id = await q.enqueue({ from: 'alice@sender.test', to: ['hal@sts.test'], raw: message('alice@sender.test', 'hal@sts.test', 'sts'), kind: 'submission' });
    const until = Date.now() + 5000;
    while (Date.now() < until && (q.list()[0]?.recipients[0]?.attempts ?? 0) < 1) await new Promise((r) => setTimeout(r, 20));
    await q.drain();
    assert.equal(sink.messages.length, 0, 'nothing sent to an MX the policy does not allow');
    assert.match(q.list()[0]?.recipients[0]?.lastResponse ?? '', /^4\.7\.5 MX host mx\.remote\.test is not allowed by the MTA-STS policy/);
    // a new policy id makes the sender fetch the policy again
    policy = 'version: STSv1\nmode: testing\nmx: mx.elsewhere.test\nmax_age: 86400\n';
    dns.set('_mta-sts.sts.test', { TXT: ['v=STSv1; id=2'] });
    q.retry(id);
    await sink.waitFor(1);
    await q.drain();
    await sink.close();
    server.close();
  });

  test('status, retry, flush and drop', async () => {
    const q = makeQueue({ mxPort: 9, retryBaseMs: 3_600_000, connectTimeoutMs: 500 });
    dns.set('down.test', { MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
    const id = await q.enqueue({ from: 'alice@sender.test', to: ['gina@down.test'], raw: message('alice@sender.test', 'gina@down.test', 'stuck'), kind: 'submission' });
    const until = Date.now() + 5000;
    while (Date.now() < until && (q.list()[0]?.recipients[0]?.attempts ?? 0) < 1) await new Promise((r) => setTimeout(r, 20));
    await q.drain();
    const [entry] = q.list();
    assert.equal(entry?.id, id);
    assert.equal(entry?.recipients[0]?.state, 'queued');
    assert.equal(entry?.recipients[0]?.attempts, 1);
    assert.ok((entry?.recipients[0]?.nextAttempt ?? 0) > Date.now() + 3_000_000, 'next attempt an hour away');
    assert.equal(q.retry(id), 1);
    assert.equal(q.drop(id), 1);
    assert.equal(q.counts().messages, 0);
  });

  test('four parallel connections to a remote that answers the end of data late: never more than one message is past its final dot without its 250 recorded', async () => {
    // The window a kill -9 turns into a duplicate (RFC 5321 §6.1: a lost 250 means the message is sent
    // again) is final dot → our commit of the reply. The sink records each message, then waits 30 ms before
    // its 250; with four connections busy, only the end-of-data gate keeps that count at one.
    const sink = await startSmtpSink({ replyDelayMs: 30 });
    try {
      const q = makeQueue({ mxPort: sink.port, concurrency: 4, perDomainConcurrency: 4, perDomainPerMinute: 100_000 });
      const domains = ['g0.test', 'g1.test', 'g2.test', 'g3.test'];
      for (const d of domains) dns.set(d, { MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
      const ids: string[] = [];
      for (let i = 0; i < 24; i++) {
        const to = `u${i}@${domains[i % 4]}`;
        const raw = message('alice@sender.test', to, `gate ${i}`);
        ids.push(/Message-ID: (<[^>]+>)/.exec(raw.toString())?.[1] ?? '');
        await q.enqueue({ from: 'alice@sender.test', to: [to], raw, kind: 'submission' });
      }
      await sink.waitFor(24, 30_000);
      await q.drain();
      const got = sink.messages.map((m) => /Message-ID: (<[^>]+>)/.exec(m.raw.toString())?.[1] ?? '');
      assert.deepEqual([...got].sort(), [...ids].sort(), 'each message arrived exactly once');
      assert.ok(sink.connections() >= 4, `one connection per domain at least (${sink.connections()}), up to four at once`);
      assert.equal(sink.peakUnanswered(), 1, 'one message at a time between its final dot and its recorded reply');
      assert.equal(q.counts().messages, 0);
    } finally {
      await sink.close();
    }
  });

  test('transactions refused at RCPT (550) or after the dot (451) never leave the end-of-data gate held: the others keep flowing', async () => {
    let refusedOnce = false;
    const sink = await startSmtpSink({
      replyDelayMs: 10,
      rejectRecipient: (a) => (a.startsWith('nobody') ? 550 : null),
      rejectMessage: (m) => (m.rcptTo[0]?.startsWith('later') && !refusedOnce ? ((refusedOnce = true), 451) : null),
    });
    try {
      const q = makeQueue({ mxPort: sink.port, concurrency: 3, perDomainConcurrency: 3, perDomainPerMinute: 100_000 });
      for (const d of ['k0.test', 'k1.test', 'k2.test']) dns.set(d, { MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
      const good: string[] = [];
      for (let i = 0; i < 12; i++) {
        const local = i % 4 === 1 ? 'nobody' : i === 6 ? 'later' : 'u';
        const to = `${local}${i}@k${i % 3}.test`;
        if (local !== 'nobody') good.push(to);
        await q.enqueue({ from: 'alice@sender.test', to: [to], raw: message('alice@sender.test', to, `mixed ${i}`), kind: 'submission' });
      }
      await sink.waitFor(good.length, 30_000);
      await q.drain();
      assert.deepEqual(sink.messages.map((m) => m.rcptTo[0]).sort(), [...good].sort(), 'every accepted recipient once, the 451 one after its retry');
      assert.ok(refusedOnce);
      assert.equal(q.counts().messages, 0, 'the refused ones bounced, nothing left in flight');
      assert.equal(sink.peakUnanswered(), 1);
    } finally {
      await sink.close();
    }
  });

  test('a remote that has not answered a final dot within SEALPOST_OUTBOUND_END_OF_DATA_HOLD_MS no longer holds back the other connections', async () => {
    assert.equal(DEFAULT_OUTBOUND_OPTIONS.endOfDataHoldMs, 30_000);
    assert.equal(outboundOptionsFromEnv({ SEALPOST_OUTBOUND_END_OF_DATA_HOLD_MS: '5000' }).endOfDataHoldMs, 5000);
    assert.throws(() => outboundOptionsFromEnv({ SEALPOST_OUTBOUND_END_OF_DATA_HOLD_MS: 'soon' }), /SEALPOST_OUTBOUND_END_OF_DATA_HOLD_MS must be a whole number/);
    // every 250 comes 400 ms after the dot; holds end after 50 ms, so the two connections overlap there
    const sink = await startSmtpSink({ replyDelayMs: 400 });
    try {
      const q = makeQueue({ mxPort: sink.port, concurrency: 2, perDomainConcurrency: 2, perDomainPerMinute: 100_000, endOfDataHoldMs: 50 });
      for (const d of ['h0.test', 'h1.test']) dns.set(d, { MX: [{ exchange: 'mx.remote.test', priority: 10 }] });
      for (let i = 0; i < 4; i++) {
        const to = `u${i}@h${i % 2}.test`;
        await q.enqueue({ from: 'alice@sender.test', to: [to], raw: message('alice@sender.test', to, `slow ${i}`), kind: 'submission' });
      }
      await sink.waitFor(4, 30_000);
      await q.drain();
      assert.equal(sink.messages.length, 4, 'each message once');
      assert.equal(sink.peakUnanswered(), 2, 'the second connection sent its dot while the first waited past the hold');
    } finally {
      await sink.close();
    }
  });

  test('a claim is committed before its transaction: a second reader sees the recipient sending, nothing claims it again, and recovery re-queues only what was in flight, per recipient', () => {
    const file = path.join(dir, 'claims.sqlite');
    const worker = new OutboundStore(file, appKey);
    const other = new OutboundStore(file, appKey);
    try {
      const id = worker.enqueue({ kind: 'submission', sender: 'alice@sender.test', recipients: ['a@one.test', 'b@two.test', 'c@two.test'], raw: Buffer.from('x') });
      const jobs = worker.claimDue(Date.now(), 8, () => true);
      assert.deepEqual(jobs.map((j) => [j.domain, j.items.flatMap((i) => i.recipients.map((r) => r.rcpt))]).sort(), [
        ['one.test', ['a@one.test']],
        ['two.test', ['b@two.test', 'c@two.test']],
      ]);
      // another connection (another process would see the same) reads the lease from disk
      assert.equal(other.counts().sending, 3);
      assert.deepEqual(other.claimDue(Date.now() + 3_600_000, 8, () => true), [], 'an in-flight recipient is never claimed twice');
      assert.equal(other.retryNow(id), 0, '`outbound retry` leaves in-flight recipients alone');
      // the remote accepted b and c (one commit), a's transaction was cut by a kill -9
      const two = jobs.find((j) => j.domain === 'two.test');
      worker.markDeliveredEach((two?.items[0]?.recipients ?? []).map((r) => ({ id: r.id, code: 250, response: '250 ok' })));
      assert.equal(other.recoverInflight(), 1, 'only the recipient still in flight goes back to the queue');
      const states = other.list()[0]?.recipients.map((r) => [r.rcpt, r.state, r.attempts]);
      assert.deepEqual(states, [
        ['a@one.test', 'queued', 1],
        ['b@two.test', 'delivered', 1],
        ['c@two.test', 'delivered', 1],
      ]);
    } finally {
      worker.close();
      other.close();
    }
  });

  test('one delivery worker per outbound.sqlite: a second is refused while the first runs, and starts once it stopped', async () => {
    const first = makeQueue({ mxPort: 9 });
    const file = path.join(dir, `outbound-${queues.length - 1}.sqlite`);
    const second = new OutboundQueue({ file, appKey, logger: silentLogger(), hostname: 'mail.sender.test', resolver, options: DEFAULT_OUTBOUND_OPTIONS });
    try {
      assert.throws(() => second.start(), /already delivering outbound mail from this data dir/);
      await first.stop();
      second.start();
      await second.stop();
    } finally {
      second.close();
    }
    assert.equal(fs.statSync(`${file}.worker`).size, 0, 'the lock file holds nothing');
  });

  test('outbound.sqlite holds no readable address or text', async () => {
    for (const q of queues) q.store.db.pragma('wal_checkpoint(TRUNCATE)');
    assert.deepEqual(findPlaintext(dir, ['alice@sender.test', 'remote.test', 'hello there', 'SQLite format 3', 'BEGIN PRIVATE KEY']), []);
  });
});
