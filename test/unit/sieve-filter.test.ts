// The "sieve" delivery filter on a real encrypted mailbox and a real outbound queue (not started, so what the
// filter queued stays there to count): decisions, once-per-delivery outside effects, the vacation period, a
// broken script keeping mail, the SEALPOST_SIEVE_* settings, and no script or vacation text in the files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { SieveFilter, sieveLimitsFromEnv } from '../../server/accounts/index.js';
import { initialDecision } from '../../server/accounts/delivery-filter.js';
import type { AliasRecord } from '../../server/directory/index.js';
import { silentLogger } from '../../server/log.js';
import { createResolver } from '../../server/smtp/dns.js';
import { DEFAULT_OUTBOUND_OPTIONS, OutboundQueue } from '../../server/smtp/outbound/index.js';
import { SIEVE_LIMITS } from '../../server/sieve/index.js';
import { storeFixture } from '../helpers/mailbox.js';
import { findPlaintext } from '../helpers/privacy.js';

const VACATION_TEXT = 'Gone fishing on the Loire';
const SCRIPT = `require ["vacation", "copy", "fileinto"];
if header :contains "subject" "fwd" { redirect :copy "pal@elsewhere.test"; }
vacation :days 3 "${VACATION_TEXT}";
fileinto "Seen-by-sieve";`;

const raw = (from: string, subject: string): Buffer => Buffer.from(`From: ${from}\r\nTo: me@sealpost.test\r\nSubject: ${subject}\r\nMessage-ID: <${crypto.randomUUID()}@x>\r\n\r\nhello\r\n`);

test('redirect and vacation happen once per delivery (dedupeKey), replies once per sender per :days (RFC 5230 §4.2)', async () => {
  const fixture = storeFixture();
  const { mailbox } = await fixture.newMailbox();
  const queue = new OutboundQueue({ file: path.join(fixture.dataDir, 'outbound.sqlite'), appKey: crypto.randomBytes(32), logger: silentLogger(), hostname: 'mx.sealpost.test', resolver: createResolver({ servers: ['127.0.0.1:9'] }), options: DEFAULT_OUTBOUND_OPTIONS });
  let now = new Date('2026-01-01T00:00:00Z');
  const filter = new SieveFilter({ outbound: () => ({ enqueue: (m) => queue.enqueue(m) }), hostname: 'mx.sealpost.test', logger: silentLogger(), now: () => now });
  const alias = { id: 'alias-1', address: 'me@sealpost.test', domain: 'sealpost.test' } as unknown as AliasRecord;
  try {
    mailbox.sieve.put('s', SCRIPT);
    mailbox.sieve.setActive('s');
    const deliver = async (message: Buffer, dedupeKey?: string): Promise<readonly string[]> => {
      const meta = { receivedAt: now, envelope: { from: 'friend@good.test', to: 'me@sealpost.test' } };
      const decision = await filter.apply({ alias, mailbox, meta, ...(dedupeKey ? { dedupeKey } : {}) }, initialDecision(message, meta));
      return decision.folders;
    };
    const first = raw('friend@good.test', 'please fwd');
    assert.deepEqual(await deliver(first, 'a'.repeat(32)), ['Seen-by-sieve']);
    assert.equal(queue.list().length, 2, 'one redirect, one vacation reply');
    await deliver(first, 'a'.repeat(32)); // the same sealed item drained again after a crash
    assert.equal(queue.list().length, 2, 'nothing sent twice for one delivery');
    await deliver(raw('friend@good.test', 'please fwd again'), 'b'.repeat(32));
    assert.equal(queue.list().length, 3, 'a new delivery redirects again, but no second reply within :days');
    now = new Date(now.getTime() + 4 * 24 * 3600 * 1000);
    await deliver(raw('friend@good.test', 'later'));
    assert.equal(queue.list().length, 4, 'after :days the sender is answered again');
    const replies = queue.list().filter((e) => e.sender === '');
    assert.equal(replies.length, 2, 'vacation replies leave with an empty envelope sender');
    // privacy: neither the script, the vacation text nor the sender shows in any file
    assert.deepEqual(findPlaintext(fixture.dataDir, [VACATION_TEXT, 'Gone fishing', 'friend@good.test', 'pal@elsewhere.test', 'Seen-by-sieve']), []);
  } finally {
    queue.close();
    await fixture.cleanup();
  }
});

test('a script that cannot be compiled leaves the decision as it was (RFC 5228 §2.10.6)', async () => {
  const fixture = storeFixture();
  const { mailbox } = await fixture.newMailbox();
  const logs: string[] = [];
  const { pino } = await import('pino');
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  try {
    mailbox.sieve.put('bad', 'require "fileinto";\nfileinto "Secret folder name" frob;');
    mailbox.sieve.setActive('bad');
    const filter = new SieveFilter({ outbound: () => null, hostname: 'mx.test', logger });
    const meta = { receivedAt: new Date(), folder: 'Junk' };
    const alias = { id: 'alias-2', address: 'me@sealpost.test', domain: 'sealpost.test' } as unknown as AliasRecord;
    const decision = await filter.apply({ alias, mailbox, meta }, initialDecision(raw('a@b.test', 'x'), meta));
    assert.deepEqual(decision.folders, ['Junk']);
    assert.equal(logs.length, 1);
    assert.doesNotMatch(logs[0]!, /Secret folder/);
    // a redirect with no outbound queue keeps the message instead of losing it
    mailbox.sieve.put('bad', 'redirect "x@y.test";');
    const kept = await filter.apply({ alias, mailbox, meta }, initialDecision(raw('a@b.test', 'x'), meta));
    assert.deepEqual(kept.folders, ['Junk']);
  } finally {
    await fixture.cleanup();
  }
});

test('SEALPOST_SIEVE_* set the limits; a bad value names its variable', () => {
  assert.deepEqual(sieveLimitsFromEnv({}), SIEVE_LIMITS);
  const limits = sieveLimitsFromEnv({ SEALPOST_SIEVE_MAX_REDIRECTS: '1', SEALPOST_SIEVE_MAX_STEPS: '50000', SEALPOST_SIEVE_VACATION_MAX_DAYS: '14' });
  assert.deepEqual([limits.maxRedirects, limits.maxSteps, limits.vacationMaxDays], [1, 50_000, 14]);
  assert.throws(() => sieveLimitsFromEnv({ SEALPOST_SIEVE_MAX_STEPS: 'lots' }), /SEALPOST_SIEVE_MAX_STEPS must be a whole number of at least 10000/);
  assert.throws(() => sieveLimitsFromEnv({ SEALPOST_SIEVE_MAX_NESTING: '1000' }), /SEALPOST_SIEVE_MAX_NESTING/);
});

test('a sealed queue item carries the SMTP envelope for the envelope test; an item queued without one decodes without it', async () => {
  const { decodeEnvelope, encodeEnvelope, newQueueItemId } = await import('../../server/queue/envelope.js');
  const id = newQueueItemId();
  const receivedAt = new Date('2026-01-02T03:04:05Z');
  const withEnvelope = decodeEnvelope(encodeEnvelope(id, Buffer.from('x'), { receivedAt, envelope: { from: '', to: 'me@sealpost.test' } }));
  assert.deepEqual(withEnvelope.meta, { receivedAt, envelope: { from: '', to: 'me@sealpost.test' } });
  const old = decodeEnvelope(encodeEnvelope(id, Buffer.from('x'), { receivedAt, folder: 'INBOX' }));
  assert.deepEqual(old.meta, { receivedAt, folder: 'INBOX' });
});
