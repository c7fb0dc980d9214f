// Inbound mail over real sockets (nodemailer and Python smtplib) into a running Sealpost: unlocked and
// locked mailboxes, multiple recipients, every refusal code, SPF/DKIM/DMARC against a loopback DNS
// server, STARTTLS, and the privacy of mail queued for a locked mailbox.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { waitForExists } from '../helpers/imap-wait.js';
import type { AppContext } from '../../server/context.js';
import type { AliasRecord } from '../../server/directory/index.js';
import {
  LOCAL_DOMAIN,
  PASSWORD,
  makeDkimKey,
  message,
  prependedHeaders,
  sendNodemailer,
  sendSmtplib,
  senderZones,
  signed,
  smtpDialogue,
  startMxApp,
  type DkimKey,
  type MxApp,
} from './mx-fixture.js';
import { findPlaintext } from '../helpers/privacy.js';

const MAX_SIZE = 200_000;

describe('MX delivery', () => {
  let app: MxApp;
  let ctx: AppContext;
  let port: number;
  let key: DkimKey;
  const alias: Record<string, AliasRecord> = {};

  /** The messages of an alias's folder, read by logging in (after the sealed queue it starts draining has landed). */
  async function folder(address: string, path = 'INBOX'): Promise<{ raw: Buffer; internalDate: Date }[]> {
    const record = ctx.directory.requireAlias(address);
    const wasLocked = !ctx.accounts.isUnlocked(record.id);
    const session = await ctx.accounts.authenticate(address, PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });
    try {
      assert.equal(await ctx.accounts.whenDrained(record.id, 30_000), true, 'the background drain finishes');
      assert.equal(ctx.accounts.queuedCount(record), 0, 'nothing left sealed');
      const out = [];
      for (const meta of session.mailbox.listMessages(path)) out.push({ raw: await session.mailbox.readMessage(path, meta.uid), internalDate: meta.internalDate });
      return out;
    } finally {
      session.release();
      // The owner logs out and the mailbox locks again (instead of waiting for the idle timeout).
      if (wasLocked) await ctx.accounts.lock(record.id);
    }
  }

  before(async () => {
    key = makeDkimKey('good.test');
    app = await startMxApp({ zones: senderZones(key), listeners: ['smtp', 'imap'], env: { SEALPOST_SMTP_MAX_SIZE: String(MAX_SIZE), SEALPOST_SMTP_MAX_RECIPIENTS: '4' } });
    ctx = app.running.ctx;
    port = app.port('smtp');
    ctx.directory.addDomain(LOCAL_DOMAIN);
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) {
      alias[name] = (await ctx.accounts.createAlias(`${name}@${LOCAL_DOMAIN}`, PASSWORD, name === 'carol' ? { quotaBytes: 2048 } : {})).alias;
    }
    ctx.directory.setEnabled(alias.dave!.id, false);
    // alice and carol are unlocked (as after a login); bob and erin stay locked.
    await ctx.accounts.unlock(`alice@${LOCAL_DOMAIN}`, PASSWORD);
    await ctx.accounts.unlock(`carol@${LOCAL_DOMAIN}`, PASSWORD);
  });

  after(async () => {
    await app?.stop();
  });

  test('the greeting names Sealpost and EHLO offers STARTTLS, PIPELINING, 8BITMIME, SMTPUTF8, SIZE, ENHANCEDSTATUSCODES and no AUTH', async () => {
    const [banner, ehlo] = await smtpDialogue(port, ['EHLO probe.test', 'QUIT']);
    assert.match(banner ?? '', /^220 mx\.sealpost\.test ESMTP Sealpost/);
    for (const ext of ['STARTTLS', 'PIPELINING', '8BITMIME', 'SMTPUTF8', `SIZE ${MAX_SIZE}`, 'ENHANCEDSTATUSCODES']) assert.match(ehlo ?? '', new RegExp(`250[- ]${ext}`));
    assert.doesNotMatch(ehlo ?? '', /AUTH/);
  });

  test('a DKIM-signed message to an unlocked mailbox lands in INBOX with spf/dkim/dmarc=pass, bytes intact', async () => {
    const original = await signed(message({ from: 'news@good.test', to: `alice@${LOCAL_DOMAIN}`, subject: 'Signed hello', body: 'A signed body.' }), key);
    const sent = await sendNodemailer(port, { from: 'news@good.test', to: [`alice@${LOCAL_DOMAIN}`] }, original);
    assert.match(sent.response, /^250 2\.0\.0 Ok: queued as \w+/);
    const inbox = await folder(`alice@${LOCAL_DOMAIN}`);
    assert.equal(inbox.length, 1);
    const added = prependedHeaders(inbox[0]!.raw, original);
    // The junk filter's verdict comes first (an untrained mailbox is unsure), then the MX's trace.
    assert.match(added, /^X-Sealpost-Junk: score=0\.500; verdict=unsure; [^\r\n]*\r\nReturn-Path: <news@good\.test>\r\n/);
    assert.match(added, /Authentication-Results: mx\.sealpost\.test;[\s\S]*dkim=pass[\s\S]*spf=pass[\s\S]*dmarc=pass/);
    assert.match(added, /Received: from client\.good\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.sealpost\.test \(Sealpost\) with ESMTP id \w+\r\n\tfor <alice@sealpost\.test>;/);
  });

  test('STARTTLS (TLS 1.2+) is used when the client asks, and the Received header says so', async () => {
    const original = await signed(message({ from: 'news@good.test', to: `alice@${LOCAL_DOMAIN}`, subject: 'Over TLS', body: 'Encrypted in transit.' }), key);
    await sendNodemailer(port, { from: 'news@good.test', to: [`alice@${LOCAL_DOMAIN}`] }, original, { requireTLS: true });
    const inbox = await folder(`alice@${LOCAL_DOMAIN}`);
    const added = prependedHeaders(inbox.at(-1)!.raw, original);
    assert.match(added, /with ESMTPS \(TLSv1\.[23]:/);
  });

  test('mail for a locked mailbox is sealed in the queue and appears in INBOX at the first IMAP login, byte-identical, with its arrival time', async () => {
    const original = message({ from: 'news@good.test', to: `bob@${LOCAL_DOMAIN}`, subject: 'Queued while away', body: 'Sealed until you log in.' });
    const result = await sendSmtplib(port, 'news@good.test', [`bob@${LOCAL_DOMAIN}`], original);
    assert.deepEqual(result, { ok: true, refused: {} });
    const arrived = Date.now();
    assert.equal(ctx.accounts.queuedCount(alias.bob!), 1);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the login is visibly later than the arrival
    // bob's first IMAP login (imapflow over STARTTLS) starts draining the sealed queue into INBOX
    const client = new ImapFlow({ host: '127.0.0.1', port: app.port('imap'), secure: false, auth: { user: `bob@${LOCAL_DOMAIN}`, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
    await client.connect();
    const inbox: { raw: Buffer; internalDate: Date }[] = [];
    try {
      await client.mailboxOpen('INBOX');
      await waitForExists(client, 1); // the drain runs behind the login and announces the message (EXISTS)
      for await (const msg of client.fetch('1:*', { source: true, internalDate: true })) {
        if (msg.source && msg.internalDate) inbox.push({ raw: msg.source, internalDate: new Date(msg.internalDate) });
      }
    } finally {
      await client.logout();
      await ctx.accounts.lock(alias.bob!.id);
    }
    assert.equal(ctx.accounts.queuedCount(alias.bob!), 0);
    assert.equal(inbox.length, 1);
    const added = prependedHeaders(inbox[0]!.raw, original);
    assert.match(added, /spf=pass/);
    const received = /\r\n\t(\w{3}, \d{1,2} \w{3} \d{4} [\d:]{8} \+0000)\r\n$/.exec(added)?.[1];
    assert.ok(received, 'Received header has a date');
    assert.equal(Math.floor(inbox[0]!.internalDate.getTime() / 1000), Math.floor(new Date(received).getTime() / 1000));
    assert.ok(inbox[0]!.internalDate.getTime() <= arrived);
  });

  test('one transaction to several recipients: each alias gets exactly one copy (+tag and case folded)', async () => {
    const original = message({ from: 'news@good.test', to: `team@${LOCAL_DOMAIN}`, subject: 'To many', body: 'Everyone gets one.' });
    const rcpts = [`alice@${LOCAL_DOMAIN}`, `Alice+lists@${LOCAL_DOMAIN}`, `erin@${LOCAL_DOMAIN}`, `bob@${LOCAL_DOMAIN}`];
    const sent = await sendNodemailer(port, { from: 'news@good.test', to: rcpts }, original);
    assert.deepEqual(sent.rejected, []);
    assert.equal(ctx.accounts.queuedCount(alias.erin!), 1);
    assert.equal(ctx.accounts.queuedCount(alias.bob!), 1);
    const count = (box: { raw: Buffer }[]): number => box.filter((m) => m.raw.includes('Everyone gets one.')).length;
    assert.equal(count(await folder(`alice@${LOCAL_DOMAIN}`)), 1);
    assert.equal(count(await folder(`erin@${LOCAL_DOMAIN}`)), 1);
    assert.equal(count(await folder(`bob@${LOCAL_DOMAIN}`)), 1);
    // the Received header does not reveal the other recipients
    const raw = (await folder(`erin@${LOCAL_DOMAIN}`)).find((m) => m.raw.includes('Everyone gets one.'))!.raw.toString();
    assert.doesNotMatch(raw.split('\r\n\r\n')[0] ?? '', /for <[^>]+>/);
  });

  test('refusals: unknown and disabled 550 5.1.1, over quota 452 4.2.2, too many recipients 452 4.5.3, too large 552 5.3.4', async () => {
    const small = message({ from: 'news@good.test', to: 'x', subject: 's', body: 'b' });
    const unknown = await sendSmtplib(port, 'news@good.test', [`nobody@${LOCAL_DOMAIN}`], small);
    assert.equal(unknown.code, 550);
    assert.match(unknown.error ?? '', /^5\.1\.1 /);
    const otherDomain = await sendSmtplib(port, 'news@good.test', ['someone@elsewhere.test'], small);
    assert.equal(otherDomain.code, 550);
    const disabled = await sendSmtplib(port, 'news@good.test', [`dave@${LOCAL_DOMAIN}`], small);
    assert.equal(disabled.code, 550);
    assert.match(disabled.error ?? '', /^5\.1\.1 /);

    // carol's 2 KiB quota: one 3 KB message fills it (a message that fits is appended even past the limit
    // only if the store allows; either way the next one is refused at RCPT with 452 4.2.2)
    const filler = message({ from: 'news@good.test', to: `carol@${LOCAL_DOMAIN}`, subject: 'filler', body: 'x'.repeat(1500) });
    await sendSmtplib(port, 'news@good.test', [`carol@${LOCAL_DOMAIN}`], filler);
    const overQuota = await sendSmtplib(port, 'news@good.test', [`carol@${LOCAL_DOMAIN}`], filler);
    assert.equal(overQuota.code, 452);
    assert.match(overQuota.error ?? '', /^4\.2\.2 /);

    const replies = await smtpDialogue(port, [
      'EHLO probe.test',
      'MAIL FROM:<news@good.test>',
      // +tag addresses of one alias count one by one toward the cap (4 here).
      ...['alice', 'bob', 'erin', 'alice+y', 'alice+x'].map((n) => `RCPT TO:<${n}@${LOCAL_DOMAIN}>`),
      'RSET',
      `MAIL FROM:<news@good.test> SIZE=${MAX_SIZE + 1}`,
      'QUIT',
    ]);
    assert.match(replies[7] ?? '', /^452 4\.5\.3 /, 'fifth recipient refused');
    assert.match(replies[9] ?? '', /^552 5\.3\.4 /, 'SIZE above the limit refused at MAIL FROM');

    const big = message({ from: 'news@good.test', to: `alice@${LOCAL_DOMAIN}`, subject: 'big', body: 'y'.repeat(MAX_SIZE + 10) });
    const tooLarge = await sendSmtplib(port, 'news@good.test', [`alice@${LOCAL_DOMAIN}`], big);
    assert.equal(tooLarge.code, 552);
    assert.match(tooLarge.error ?? '', /^5\.3\.4 /);
    const looped = message({ from: 'news@good.test', to: `alice@${LOCAL_DOMAIN}`, subject: 'loop', body: 'l', extraHeaders: Array.from({ length: 31 }, (_, i) => `Received: from hop${i}.test by hop${i + 1}.test; Tue, 7 Jan 2025 10:00:00 +0000`) });
    const loop = await sendSmtplib(port, 'news@good.test', [`alice@${LOCAL_DOMAIN}`], looped);
    assert.equal(loop.code, 554);
    assert.match(loop.error ?? '', /^5\.4\.6 /);
  });

  test('DMARC: p=reject failure refused 550 5.7.1 (or to Junk when the domain says so); p=quarantine failure goes to Junk', async () => {
    const spoof = message({ from: 'ceo@bad.test', to: `alice@${LOCAL_DOMAIN}`, subject: 'Wire money', body: 'Spoofed.' });
    const refused = await sendSmtplib(port, 'ceo@bad.test', [`alice@${LOCAL_DOMAIN}`], spoof);
    assert.equal(refused.code, 550);
    assert.match(refused.error ?? '', /^5\.7\.1 .*DMARC/);
    await assert.rejects(sendNodemailer(port, { from: 'ceo@bad.test', to: [`alice@${LOCAL_DOMAIN}`] }, spoof), (e: { responseCode?: number; response?: string }) => e.responseCode === 550 && /5\.7\.1/.test(e.response ?? ''));

    // a DKIM-signed message altered on the way (signed Subject changed): dkim=fail; SPF still passes
    // for 127.0.0.1, so DMARC passes through SPF alignment and the message is delivered
    const tampered = Buffer.from((await signed(message({ from: 'news@good.test', to: `alice@${LOCAL_DOMAIN}`, subject: 'Tampered', body: 'original text' }), key)).toString().replace('Subject: Tampered', 'Subject: Altered'));
    await sendNodemailer(port, { from: 'news@good.test', to: [`alice@${LOCAL_DOMAIN}`] }, tampered);
    const tamperedStored = (await folder(`alice@${LOCAL_DOMAIN}`)).find((m) => m.raw.includes('Subject: Altered'))!;
    assert.match(prependedHeaders(tamperedStored.raw, tampered), /dkim=fail[\s\S]*spf=pass[\s\S]*dmarc=pass/);

    const quarantined = message({ from: 'promo@quar.test', to: `alice@${LOCAL_DOMAIN}`, subject: 'Cheap pills', body: 'Quarantine me.' });
    assert.deepEqual(await sendSmtplib(port, 'promo@quar.test', [`alice@${LOCAL_DOMAIN}`], quarantined), { ok: true, refused: {} });
    const junk = await folder(`alice@${LOCAL_DOMAIN}`, 'Junk');
    const stored = junk.find((m) => m.raw.includes('Quarantine me.'));
    assert.ok(stored, 'quarantined message is in Junk');
    assert.match(prependedHeaders(stored.raw, quarantined), /spf=fail[\s\S]*dmarc=fail/);
    assert.equal((await folder(`alice@${LOCAL_DOMAIN}`)).filter((m) => m.raw.includes('Quarantine me.')).length, 0);

    ctx.directory.setDmarcRejectToJunk(LOCAL_DOMAIN, true);
    try {
      assert.deepEqual(await sendSmtplib(port, 'ceo@bad.test', [`alice@${LOCAL_DOMAIN}`], spoof), { ok: true, refused: {} });
      assert.ok((await folder(`alice@${LOCAL_DOMAIN}`, 'Junk')).some((m) => m.raw.includes('Spoofed.')));
    } finally {
      ctx.directory.setDmarcRejectToJunk(LOCAL_DOMAIN, false);
    }
  });

  test('a failure storing any recipient answers 451 4.3.0 and leaves nothing behind for the others', async () => {
    const frank = (await ctx.accounts.createAlias(`frank@${LOCAL_DOMAIN}`, PASSWORD)).alias;
    // frank's queue file cannot be created (a directory is in its way): sealing for him fails
    const blocker = join(app.dir, 'queue', `${frank.mailboxId}.sqlite`);
    mkdirSync(blocker, { recursive: true });
    const original = message({ from: 'news@good.test', to: `alice@${LOCAL_DOMAIN}`, subject: 'All or nothing', body: 'Atomic delivery.' });
    const failed = await sendSmtplib(port, 'news@good.test', [`alice@${LOCAL_DOMAIN}`, `frank@${LOCAL_DOMAIN}`], original);
    assert.equal(failed.code, 451);
    assert.match(failed.error ?? '', /^4\.3\.0 /);
    assert.equal((await folder(`alice@${LOCAL_DOMAIN}`)).filter((m) => m.raw.includes('Atomic delivery.')).length, 0, 'alice\'s copy was rolled back');
    rmSync(blocker, { recursive: true });
    assert.deepEqual(await sendSmtplib(port, 'news@good.test', [`alice@${LOCAL_DOMAIN}`, `frank@${LOCAL_DOMAIN}`], original), { ok: true, refused: {} });
    assert.equal((await folder(`alice@${LOCAL_DOMAIN}`)).filter((m) => m.raw.includes('Atomic delivery.')).length, 1);
    assert.equal(ctx.accounts.queuedCount(frank), 1);
  });

  test('privacy: after delivery to a locked mailbox no subject, address or body text is in any file under the data dir, nor in the logs', async () => {
    const secret = { subject: 'Zanzibar quarterly figures', body: 'Vermilion pangolin treaty text', sender: 'whistle.blower@good.test' };
    const original = message({ from: secret.sender, to: `erin@${LOCAL_DOMAIN}`, subject: secret.subject, body: secret.body });
    assert.equal((await sendSmtplib(port, secret.sender, [`erin@${LOCAL_DOMAIN}`], original)).ok, true);
    assert.ok(ctx.accounts.queuedCount(alias.erin!) >= 1);
    const needles = [secret.subject, secret.body, secret.sender, `erin@${LOCAL_DOMAIN}`, 'Zanzibar', 'pangolin', 'whistle.blower'];
    assert.deepEqual(findPlaintext(app.dir, needles), []);
    assert.match(app.logs.join('\n'), /"event":"mx.accepted"/);
    assert.deepEqual(findPlaintext([], [...needles, `alice@${LOCAL_DOMAIN}`, 'news@good.test', 'ceo@bad.test', 'Wire money'], { logs: app.logs }), []);
  });
});
