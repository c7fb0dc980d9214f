// Sieve at delivery and drain time, over real sockets: a script active in the mailbox files mail delivered through
// the MX (nodemailer, Python smtplib) into a folder read back with imapflow, both for an unlocked mailbox and for
// mail sealed while it was locked (the envelope sealed with it); vacation replies leave through the outbound
// queue to a real SMTP sink once per sender, never to lists, bounces or automatic mail; redirects do not loop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import type { AppContext } from '../../server/context.js';
import type { AliasSession } from '../../server/accounts/index.js';
import { findPlaintext } from '../helpers/privacy.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitForExists } from '../helpers/imap-wait.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, sendNodemailer, sendSmtplib, senderZones, startMxApp, type MxApp } from './mx-fixture.js';

const FILING_SCRIPT = `require ["fileinto", "envelope", "imap4flags", "variables"];
# file list mail by the list's name; a sender's envelope domain decides the rest
if header :matches "List-Id" "*<*.*>*" { fileinto :flags "\\\\Flagged" "Lists"; stop; }
if envelope :domain :is "from" "good.test" { fileinto "FromGood"; }
`;
const VACATION_TEXT = 'Walking the Pyrenees until the 20th, back soon';
const VACATION_SCRIPT = `require ["vacation"];\nvacation :days 3 :subject "Away: hiking" "${VACATION_TEXT}";\n`;

describe('Sieve at delivery and drain time (RFC 5228, RFC 5230)', () => {
  let app: MxApp;
  let ctx: AppContext;
  let sink: SmtpSink;
  let port: number;
  const key = makeDkimKey('good.test');
  const secrets: string[] = [VACATION_TEXT, 'Pyrenees', 'fileinto :flags', 'friend@good.test', 'Quarterly figures', 'List of lists'];

  before(async () => {
    sink = await startSmtpSink();
    app = await startMxApp({
      zones: senderZones(key),
      listeners: ['smtp', 'imap'],
      env: { SEALPOST_OUTBOUND_MX_PORT: String(sink.port), SEALPOST_OUTBOUND_POLL_MS: '100', SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on' },
    });
    ctx = app.running.ctx;
    port = app.port('smtp');
    ctx.directory.addDomain(LOCAL_DOMAIN);
    for (const name of ['sorted', 'away', 'loop']) await ctx.accounts.createAlias(`${name}@${LOCAL_DOMAIN}`, PASSWORD);
  });

  after(async () => {
    await app?.stop();
    await sink?.close();
  });

  const login = (name: string): Promise<AliasSession> => ctx.accounts.authenticate(`${name}@${LOCAL_DOMAIN}`, PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });

  async function activate(name: string, script: string, folders: string[] = []): Promise<void> {
    const session = await login(name);
    try {
      for (const folder of folders) session.mailbox.createFolder(folder);
      session.mailbox.sieve.put('main', script);
      session.mailbox.sieve.setActive('main');
    } finally {
      session.release();
      await ctx.accounts.lock(session.alias.id);
    }
  }

  async function folderContents(name: string, folder: string, expected: number): Promise<{ subject: string; flags: string[] }[]> {
    const client = new ImapFlow({ host: '127.0.0.1', port: app.port('imap'), secure: false, auth: { user: `${name}@${LOCAL_DOMAIN}`, pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false });
    await client.connect();
    const out: { subject: string; flags: string[] }[] = [];
    try {
      await client.mailboxOpen('INBOX');
      await ctx.accounts.whenDrained(ctx.directory.requireAlias(`${name}@${LOCAL_DOMAIN}`).id, 30_000);
      const opened = await client.mailboxOpen(folder);
      if (expected > 0) await waitForExists(client, expected);
      else if (opened.exists === 0) return out;
      for await (const msg of client.fetch('1:*', { envelope: true, flags: true })) out.push({ subject: msg.envelope?.subject ?? '', flags: [...(msg.flags ?? [])] });
    } finally {
      await client.logout();
    }
    return out;
  }

  test('an unlocked mailbox: list mail goes to Lists (flagged), other mail from good.test to FromGood (RFC 5228 §4.1, RFC 5232 §3)', async () => {
    await activate('sorted', FILING_SCRIPT, ['Lists', 'FromGood']);
    const session = await login('sorted'); // keeps the mailbox unlocked while the MX delivers
    try {
      const list = message({ from: 'friend@good.test', to: `sorted@${LOCAL_DOMAIN}`, subject: 'List of lists', body: 'Weekly digest.', extraHeaders: ['List-Id: Hikers <hikers.lists.good.test>'] });
      await sendNodemailer(port, { from: 'friend@good.test', to: [`sorted@${LOCAL_DOMAIN}`] }, list);
      const plain = message({ from: 'friend@good.test', to: `sorted@${LOCAL_DOMAIN}`, subject: 'Quarterly figures', body: 'See attached.' });
      await sendNodemailer(port, { from: 'friend@good.test', to: [`sorted@${LOCAL_DOMAIN}`] }, plain);
      assert.equal(session.mailbox.listMessages('INBOX').length, 0);
    } finally {
      session.release();
      await ctx.accounts.lock(session.alias.id);
    }
    const lists = await folderContents('sorted', 'Lists', 1);
    assert.deepEqual(lists.map((m) => m.subject), ['List of lists']);
    assert.ok(lists[0]!.flags.includes('\\Flagged'));
    assert.deepEqual((await folderContents('sorted', 'FromGood', 1)).map((m) => m.subject), ['Quarterly figures']);
    await ctx.accounts.lock(ctx.directory.requireAlias(`sorted@${LOCAL_DOMAIN}`).id);
  });

  test('a locked mailbox: mail sealed in the queue is filed by the script when it drains at the IMAP login, the envelope test included (RFC 5228 §5.4)', async () => {
    const alias = ctx.directory.requireAlias(`sorted@${LOCAL_DOMAIN}`);
    assert.equal(ctx.accounts.isUnlocked?.(alias.id) ?? false, false);
    const sealed = message({ from: 'friend@good.test', to: `sorted@${LOCAL_DOMAIN}`, subject: 'Sealed then sorted', body: 'Filed at drain time.' });
    assert.deepEqual(await sendSmtplib(port, 'friend@good.test', [`sorted@${LOCAL_DOMAIN}`], sealed), { ok: true, refused: {} });
    assert.equal(ctx.accounts.queuedCount(alias), 1);
    const fromGood = await folderContents('sorted', 'FromGood', 2);
    assert.deepEqual(fromGood.map((m) => m.subject).sort(), ['Quarterly figures', 'Sealed then sorted']);
    assert.equal(ctx.accounts.queuedCount(alias), 0);
    assert.deepEqual(await folderContents('sorted', 'INBOX', 0), []);
    await ctx.accounts.lock(alias.id);
  });

  test('vacation (RFC 5230 §4.2, §5): one reply per sender per :days, empty envelope sender, auto-replied; none to lists, bounces or automatic mail', async () => {
    await activate('away', VACATION_SCRIPT);
    const session = await login('away');
    const sent = (): number => app.logs.filter((l) => l.includes('"sieve.vacation_sent"')).length;
    try {
      const to = `away@${LOCAL_DOMAIN}`;
      const first = message({ from: 'friend@good.test', to, subject: 'Lunch on Friday?', body: 'Are you around?', messageId: 'lunch-1' });
      await sendNodemailer(port, { from: 'friend@good.test', to: [to] }, first);
      assert.equal(sent(), 1);
      await sendNodemailer(port, { from: 'friend@good.test', to: [to] }, message({ from: 'friend@good.test', to, subject: 'Lunch, again', body: 'Still?' }));
      assert.equal(sent(), 1, 'a second message from the same sender within :days gets no reply');
      await sendNodemailer(port, { from: 'digest@good.test', to: [to] }, message({ from: 'digest@good.test', to, subject: 'Digest', body: 'x', extraHeaders: ['List-Id: <hikers.good.test>'] }));
      await sendNodemailer(port, { from: 'robot@good.test', to: [to] }, message({ from: 'robot@good.test', to, subject: 'Auto', body: 'x', extraHeaders: ['Auto-Submitted: auto-generated'] }));
      await sendNodemailer(port, { from: 'bulk@good.test', to: [to] }, message({ from: 'bulk@good.test', to, subject: 'Bulk', body: 'x', extraHeaders: ['Precedence: bulk'] }));
      assert.deepEqual(await sendSmtplib(port, '', [to], message({ from: 'mailer-daemon@elsewhere.test', to, subject: 'Undelivered', body: 'x' })), { ok: true, refused: {} });
      await sendNodemailer(port, { from: 'other@good.test', to: [to] }, message({ from: 'other@good.test', to: 'someone-else@good.test', subject: 'Bcc', body: 'x' }));
      assert.equal(sent(), 1, 'no reply to a list, automatic, bulk, bounce or not-addressed message');
      assert.equal(session.mailbox.listMessages('INBOX').length, 7, 'vacation keeps every message');
    } finally {
      session.release();
      await ctx.accounts.lock(session.alias.id);
    }
    const [reply] = await sink.waitFor(1);
    assert.ok(reply);
    assert.equal(reply.mailFrom, '');
    assert.deepEqual(reply.rcptTo, ['friend@good.test']);
    const text = reply.raw.toString();
    assert.match(text, /^Auto-Submitted: auto-replied/m);
    assert.match(text, /^Subject: Away: hiking\r$/m);
    assert.match(text, /^In-Reply-To: <lunch-1@good\.test>\r$/m);
    assert.match(text, /^From: away@sealpost\.test\r$/m);
    assert.ok(text.includes(Buffer.from(VACATION_TEXT).toString('base64')));
  });

  test('a redirect to our own address that comes back is not sent again (loop), and the message is kept (RFC 5228 §4.2)', async () => {
    await activate('loop', `redirect "friend@good.test";\n`);
    const to = `loop@${LOCAL_DOMAIN}`;
    const before = sink.messages.length;
    const looped = message({ from: 'friend@good.test', to, subject: 'Round and round', body: 'x', extraHeaders: [`Delivered-To: ${to}`] });
    const session = await login('loop');
    try {
      await sendNodemailer(port, { from: 'friend@good.test', to: [to] }, looped);
      assert.equal(session.mailbox.listMessages('INBOX').length, 1, 'kept, not lost');
      assert.ok(app.logs.some((l) => l.includes('"sieve.redirect_loop"')));
      await sendNodemailer(port, { from: 'friend@good.test', to: [to] }, message({ from: 'friend@good.test', to, subject: 'Pass it on', body: 'y' }));
      assert.equal(session.mailbox.listMessages('INBOX').length, 1, 'redirected, not kept');
    } finally {
      session.release();
      await ctx.accounts.lock(session.alias.id);
    }
    const all = await sink.waitFor(before + 1);
    const redirected = all[all.length - 1]!;
    assert.deepEqual(redirected.rcptTo, ['friend@good.test']);
    assert.match(redirected.raw.toString(), /^Delivered-To: loop@sealpost\.test\r$/m);
  });

  test('privacy: no script text, vacation text or sender address in plaintext in the data dir or the logs', () => {
    assert.deepEqual(findPlaintext(app.dir, secrets, { logs: app.logs }), []);
  });
});
