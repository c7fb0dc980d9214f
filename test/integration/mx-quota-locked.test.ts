// Quota of a LOCKED mailbox at the MX: the file cannot be read without the password, so the MX uses the
// last-known usage kept in the directory (written when the mailbox was open) plus the bytes sealed into
// its queue since. A locked alias near its quota answers 452 4.2.2 at RCPT (declared SIZE) and at the end
// of DATA (actual size); after the owner logs in, the drain resets the figures.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppContext } from '../../server/context.js';
import type { AliasRecord } from '../../server/directory/index.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, sendSmtplib, senderZones, smtpDialogue, startMxApp, type MxApp } from './mx-fixture.js';

const QUOTA = 10_000;
const NEAR = `near@${LOCAL_DOMAIN}`;

describe('quota of a locked mailbox at the MX', () => {
  let app: MxApp;
  let ctx: AppContext;
  let port: number;
  let near: AliasRecord;

  const mail = (subject: string, bodyBytes: number): Buffer => message({ from: 'news@good.test', to: NEAR, subject, body: 'q'.repeat(bodyBytes) });

  before(async () => {
    app = await startMxApp({ zones: senderZones(makeDkimKey('good.test')) });
    ctx = app.running.ctx;
    port = app.port('smtp');
    ctx.directory.addDomain(LOCAL_DOMAIN);
    near = (await ctx.accounts.createAlias(NEAR, PASSWORD, { quotaBytes: QUOTA })).alias;
    await ctx.accounts.createAlias(`roomy@${LOCAL_DOMAIN}`, PASSWORD);
  });

  after(async () => {
    await app?.stop();
  });

  test('usage written while unlocked is kept when the mailbox locks', async () => {
    await ctx.accounts.unlock(NEAR, PASSWORD);
    const sent = await sendSmtplib(port, 'news@good.test', [NEAR], mail('stored while unlocked', 4000));
    assert.equal(sent.ok, true, JSON.stringify(sent));
    await ctx.accounts.lock(near.id); // closing writes the usage at once
    const usage = ctx.directory.usageOf(near.id);
    assert.ok(usage && usage.usedBytes > 4000 && usage.usedBytes < 5000, `used ${usage?.usedBytes}`);
    assert.equal(usage?.queuedBytes, 0);
    assert.equal(ctx.accounts.isUnlocked(near.id), false);
  });

  test('while locked, queued mail counts: the message that would exceed the quota gets 452 4.2.2 at RCPT', async () => {
    const fits = await sendSmtplib(port, 'news@good.test', [NEAR], mail('queued while locked', 1500));
    assert.equal(fits.ok, true, JSON.stringify(fits));
    const queued = ctx.accounts.usage.lastKnown(near).queuedBytes;
    assert.ok(queued > 1500, 'queued bytes counted at once');
    // The directory follows within a second (one commit for many messages), or at once on flush.
    ctx.accounts.usage.flush(near.id);
    assert.equal(ctx.directory.usageOf(near.id)?.queuedBytes, queued, 'queued bytes written to the directory');
    assert.equal(ctx.accounts.queuedCount(near), 1);

    // smtplib declares SIZE, so the refusal comes at RCPT.
    const over = await sendSmtplib(port, 'news@good.test', [NEAR], mail('one too many', 2500));
    assert.equal(over.ok, false);
    assert.equal(over.code, 452);
    assert.match(over.error ?? '', /4\.2\.2/);
    assert.equal(ctx.accounts.queuedCount(near), 1, 'nothing queued');

    // An alias without a quota still accepts while locked.
    const roomy = await sendSmtplib(port, 'news@good.test', [`roomy@${LOCAL_DOMAIN}`], mail('no limit', 2500));
    assert.equal(roomy.ok, true);
  });

  test('without SIZE, the actual size is checked at the end of DATA: 452 4.2.2, nothing stored for any recipient', async () => {
    const raw = mail('undeclared size', 2500).toString('latin1');
    const replies = await smtpDialogue(port, ['EHLO client.good.test', 'MAIL FROM:<news@good.test>', `RCPT TO:<roomy@${LOCAL_DOMAIN}>`, `RCPT TO:<${NEAR}>`, 'DATA', `${raw}\r\n.`, 'QUIT']);
    assert.match(replies[3] ?? '', /^250/, 'RCPT accepted without a declared size');
    assert.match(replies[4] ?? '', /^250/);
    assert.match(replies[6] ?? '', /^452 4\.2\.2 /);
    assert.equal(ctx.accounts.queuedCount(near), 1);
    assert.equal(ctx.accounts.queuedCount(ctx.directory.requireAlias(`roomy@${LOCAL_DOMAIN}`)), 1, 'the other recipient got nothing either');
  });

  test('after the owner logs in, the queue drains (in the background) into the mailbox and the figures follow', async () => {
    const session = await ctx.accounts.authenticate(NEAR, PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });
    try {
      assert.equal(await ctx.accounts.whenDrained(near.id, 30_000), true, 'the background drain finishes');
      assert.equal(session.mailbox.listMessages('INBOX').length, 2, 'the stored and the queued message');
      const usage = ctx.directory.usageOf(near.id);
      assert.equal(usage?.queuedBytes, 0, 'nothing waits any more');
      assert.equal(usage?.usedBytes, session.mailbox.quota().usedBytes);
    } finally {
      session.release();
      await ctx.accounts.lock(near.id);
    }
    // Room for a small message again, none for a large one.
    const small = await sendSmtplib(port, 'news@good.test', [NEAR], mail('small again', 300));
    assert.equal(small.ok, true, JSON.stringify({ small, usage: ctx.directory.usageOf(near.id) }));
    assert.equal((await sendSmtplib(port, 'news@good.test', [NEAR], mail('large again', 3000))).code, 452);
  });

  test('unlocked again: the early check reads the open mailbox, so each delivery counts at once (452 4.2.2 at RCPT)', async () => {
    await ctx.accounts.unlock(NEAR, PASSWORD);
    try {
      const used = (): number => ctx.accounts.usage.openQuota(near)?.usedBytes ?? -1;
      const room = (): number => QUOTA - used();
      // Fill to just under the quota in messages the open mailbox stores; the last one leaves < 1000 bytes.
      for (let i = 0; room() > 1800; i++) {
        const sent = await sendSmtplib(port, 'news@good.test', [NEAR], mail(`filler ${i}`, Math.min(1500, room() - 1300)));
        assert.equal(sent.ok, true, JSON.stringify(sent));
      }
      assert.ok(used() > 0, 'the usage of the open mailbox is known without its key');
      const replies = await smtpDialogue(port, ['EHLO client.good.test', `MAIL FROM:<news@good.test> SIZE=${room() + 100}`, `RCPT TO:<${NEAR}>`, 'QUIT']);
      assert.match(replies[3] ?? '', /^452 4\.2\.2 /);
    } finally {
      await ctx.accounts.lock(near.id);
    }
  });
});
