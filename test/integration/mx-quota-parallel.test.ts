// 50 deliveries at once to an alias 1 KB under its quota, over real SMTP (50 raw sessions that end DATA together):
// whether the mailbox is LOCKED (sealed into the queue; the room is reserved in the same synchronous step
// as the quota check) or UNLOCKED (the mailbox checks inside its commit), what is stored never exceeds the
// quota and every refused message got 452 4.2.2 (RFC 3463 §3.5 "mailbox full", a temporary failure the
// sender retries). The owner can still log in (imapflow), read, delete (EXPUNGE), and delivery resumes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import type { AppContext } from '../../server/context.js';
import type { AliasRecord } from '../../server/directory/index.js';
import { waitForExists } from '../helpers/imap-wait.js';
import { rawSmtp } from '../helpers/mx-session.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, sendNodemailer, senderZones, startMxApp, type MxApp } from './mx-fixture.js';

const QUOTA = 16_000;
const ROOM = 1024;
const PARALLEL = 50;

type Outcome = { ok: true; token: string } | { ok: false; code: number; response: string };

describe('50 parallel deliveries at a mailbox 1 KB under its quota', () => {
  let app: MxApp;
  let ctx: AppContext;
  let port: number;

  before(async () => {
    app = await startMxApp({
      zones: senderZones(makeDkimKey('good.test')),
      listeners: ['smtp', 'imap'],
      // Exact byte arithmetic against the quota: the junk filter's header would add to every stored message.
      env: { SEALPOST_SMTP_MAX_CONNECTIONS_PER_IP: '200', SEALPOST_SMTP_AUTH_CHECKS: 'off', SEALPOST_JUNK: 'off' },
    });
    ctx = app.running.ctx;
    port = app.port('smtp');
    ctx.directory.addDomain(LOCAL_DOMAIN);
  });

  after(async () => {
    await app?.stop();
  });

  /** Creates the alias and stores one message that leaves exactly ROOM bytes free; returns the alias. */
  async function aliasNearlyFull(local: string): Promise<AliasRecord> {
    const address = `${local}@${LOCAL_DOMAIN}`;
    const alias = (await ctx.accounts.createAlias(address, PASSWORD, { quotaBytes: QUOTA })).alias;
    await ctx.accounts.unlock(address, PASSWORD);
    const head = message({ from: 'filler@good.test', to: address, subject: 'filler', body: '' });
    const filler = Buffer.concat([head, Buffer.from('f'.repeat(QUOTA - ROOM - head.length - 2) + '\r\n')]);
    assert.equal(filler.length, QUOTA - ROOM);
    const stored = await ctx.accounts.deliverOrQueue(alias, filler, { receivedAt: new Date() });
    assert.equal(stored.stored, 'mailbox');
    assert.equal(await usedBytes(alias), QUOTA - ROOM);
    return alias;
  }

  async function usedBytes(alias: AliasRecord): Promise<number> {
    const material = ctx.keyRing.get(alias.id);
    assert.ok(material, 'unlocked');
    return (await ctx.mailboxes.open(alias.mailboxId, material.mailboxKey)).quota().usedBytes;
  }

  /**
   * 50 SMTP sessions each take the message up to the end of DATA, then all send the final "." in the same
   * instant, so the 50 quota decisions race each other as closely as real sockets allow.
   */
  async function fireParallel(address: string, tag: string): Promise<Outcome[]> {
    const sessions = await Promise.all(
      Array.from({ length: PARALLEL }, async (_, i) => {
        const token = `${tag}-${i}`;
        const raw = message({ from: 'news@good.test', to: address, subject: `parallel ${i}`, body: 'p'.repeat(120), extraHeaders: [`X-Token: ${token}`] });
        const smtp = await rawSmtp(port);
        assert.match((await smtp.next()) ?? '', /^220 /);
        assert.match((await smtp.command('EHLO client.good.test')) ?? '', /^250/);
        assert.match((await smtp.command('MAIL FROM:<news@good.test>')) ?? '', /^250/);
        assert.match((await smtp.command(`RCPT TO:<${address}>`)) ?? '', /^250/, 'every RCPT still sees room');
        assert.match((await smtp.command('DATA')) ?? '', /^354/);
        smtp.write(raw.toString('latin1')); // ends with CRLF; no line starts with "."
        return { smtp, token };
      }),
    );
    for (const { smtp } of sessions) smtp.write('.\r\n');
    return Promise.all(
      sessions.map(async ({ smtp, token }): Promise<Outcome> => {
        const reply = (await smtp.next()) ?? 'closed';
        smtp.destroy();
        return reply.startsWith('250 ') ? { ok: true, token } : { ok: false, code: Number(reply.slice(0, 3)), response: reply };
      }),
    );
  }

  function checkOutcomes(outcomes: readonly Outcome[]): string[] {
    const accepted = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok).map((o) => o.token);
    const refused = outcomes.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
    assert.ok(accepted.length >= 1, 'the first message that fits is accepted');
    assert.ok(refused.length >= 1, 'the rest cannot all fit in 1 KB');
    for (const r of refused) {
      assert.equal(r.code, 452, r.response);
      assert.match(r.response, /4\.2\.2/);
    }
    return accepted;
  }

  function imapClient(address: string): ImapFlow {
    return new ImapFlow({ host: '127.0.0.1', port: app.port('imap'), secure: false, auth: { user: address, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
  }

  /** Tokens of every message in INBOX (X-Token header), in UID order. */
  async function tokens(client: ImapFlow): Promise<string[]> {
    const out: string[] = [];
    for await (const msg of client.fetch('1:*', { headers: ['x-token'] })) out.push(/X-Token: (\S+)/i.exec(msg.headers?.toString('utf8') ?? '')?.[1] ?? 'filler');
    return out;
  }

  /** Deletes the filler (EXPUNGE), then a new message gets 250 and arrives in the open session. */
  async function deleteAndReceive(client: ImapFlow, address: string, count: number): Promise<void> {
    assert.equal(await client.messageDelete('1'), true, 'the filler is deleted (STORE \\Deleted + EXPUNGE)');
    const raw = message({ from: 'news@good.test', to: address, subject: 'after cleanup', body: 'room again', extraHeaders: ['X-Token: after-cleanup'] });
    const sent = await sendNodemailer(port, { from: 'news@good.test', to: [address] }, raw);
    assert.match(sent.response, /^250 /);
    await waitForExists(client, count);
    assert.equal((await tokens(client)).at(-1), 'after-cleanup');
  }

  test('LOCKED: the quota holds under 50 parallel sealed deliveries; login, read, EXPUNGE and delivery resumes', async () => {
    const address = `locked@${LOCAL_DOMAIN}`;
    const alias = await aliasNearlyFull('locked');
    await ctx.accounts.lock(alias.id);
    assert.equal(ctx.accounts.isUnlocked(alias.id), false);

    const accepted = checkOutcomes(await fireParallel(address, 'locked'));
    assert.equal(ctx.accounts.queuedCount(alias), accepted.length, 'every accepted message is sealed, nothing else');
    const known = ctx.accounts.usage.lastKnown(alias);
    assert.equal(known.reservedBytes, 0, 'no reservation left behind');
    assert.ok(known.usedBytes + known.queuedBytes <= QUOTA, `used ${known.usedBytes} + queued ${known.queuedBytes} ≤ ${QUOTA}`);

    const client = imapClient(address);
    await client.connect();
    try {
      await client.mailboxOpen('INBOX');
      await waitForExists(client, 1 + accepted.length);
      assert.equal(await ctx.accounts.whenDrained(alias.id, 30_000), true);
      assert.equal(ctx.accounts.queuedCount(alias), 0);
      assert.equal(ctx.accounts.drainStatus(alias).state, 'idle');
      assert.ok((await usedBytes(alias)) <= QUOTA, 'stored total within the quota');
      assert.deepEqual((await tokens(client)).slice(1).sort(), [...accepted].sort(), 'exactly the accepted messages arrived, once each');
      const first = await client.fetchOne(String(2), { source: true });
      assert.ok(first && first.source?.toString('utf8').includes('X-Token: locked-'), 'the owner reads the mail');
      await deleteAndReceive(client, address, 1 + accepted.length); // filler gone, one new
    } finally {
      await client.logout();
    }
    // Locked again: the freed room is known to the MX, so sealed delivery is accepted too.
    await ctx.accounts.lock(alias.id);
    const raw = message({ from: 'news@good.test', to: address, subject: 'sealed after cleanup', body: 'x', extraHeaders: ['X-Token: sealed-after'] });
    assert.match((await sendNodemailer(port, { from: 'news@good.test', to: [address] }, raw)).response, /^250 /);
    assert.equal(ctx.accounts.queuedCount(alias), 1);
  });

  test('UNLOCKED: the quota holds under 50 parallel deliveries into the open mailbox; read, EXPUNGE and delivery resumes', async () => {
    const address = `open@${LOCAL_DOMAIN}`;
    const alias = await aliasNearlyFull('open');
    const client = imapClient(address);
    await client.connect();
    try {
      await client.mailboxOpen('INBOX');
      assert.equal(client.mailbox && client.mailbox.exists, 1);
      const accepted = checkOutcomes(await fireParallel(address, 'open'));
      assert.equal(ctx.accounts.queuedCount(alias), 0, 'unlocked: straight into the mailbox');
      await waitForExists(client, 1 + accepted.length);
      assert.ok((await usedBytes(alias)) <= QUOTA, 'stored total within the quota');
      assert.deepEqual((await tokens(client)).slice(1).sort(), [...accepted].sort());
      await deleteAndReceive(client, address, 1 + accepted.length); // filler gone, one new
    } finally {
      await client.logout();
    }
  });

  test('LOCKED, same tick: 50 deliveries handed to Accounts at once reserve room atomically (no await between check and reserve)', async () => {
    const address = `tick@${LOCAL_DOMAIN}`;
    const alias = await aliasNearlyFull('tick');
    await ctx.accounts.lock(alias.id);
    const raws = Array.from({ length: PARALLEL }, (_, i) => message({ from: 'news@good.test', to: address, subject: `tick ${i}`, body: 't'.repeat(150), extraHeaders: [`X-Token: tick-${i}`] }));
    // All 50 calls start before any seal is durable: without the reservation each would see the same room.
    const results = await Promise.allSettled(raws.map((raw) => ctx.accounts.deliverOrQueue(alias, raw, { receivedAt: new Date() })));
    const sealed = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    const fits = Math.floor(ROOM / raws[0]!.length);
    assert.equal(sealed.length, fits, `exactly the ${fits} that fit are sealed`);
    for (const r of refused) assert.equal((r.reason as { code?: string }).code, 'OVER_QUOTA');
    const known = ctx.accounts.usage.lastKnown(alias);
    assert.equal(known.reservedBytes, 0);
    assert.ok(known.usedBytes + known.queuedBytes <= QUOTA, `used ${known.usedBytes} + queued ${known.queuedBytes} ≤ ${QUOTA}`);
    assert.equal(ctx.accounts.queuedCount(alias), fits);
  });

  test('UNLOCKED, same tick: 50 deliveries handed to Accounts at once; the mailbox checks the quota inside its commit', async () => {
    const address = `opentick@${LOCAL_DOMAIN}`;
    const alias = await aliasNearlyFull('opentick');
    const raws = Array.from({ length: PARALLEL }, (_, i) => message({ from: 'news@good.test', to: address, subject: `open tick ${i}`, body: 'o'.repeat(150), extraHeaders: [`X-Token: opentick-${i}`] }));
    // All 50 parse and reach the group commit together: only the commit-time check can keep them within the quota.
    const results = await Promise.allSettled(raws.map((raw) => ctx.accounts.deliverOrQueue(alias, raw, { receivedAt: new Date() })));
    const stored = results.filter((r) => r.status === 'fulfilled');
    const fits = Math.floor(ROOM / raws[0]!.length);
    assert.equal(stored.length, fits, `exactly the ${fits} that fit are stored`);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'OVER_QUOTA');
    assert.ok((await usedBytes(alias)) <= QUOTA);
    assert.equal(ctx.accounts.queuedCount(alias), 0);
  });
});
