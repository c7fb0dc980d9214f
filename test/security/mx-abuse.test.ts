// Hostile clients at the MX: a recipient flood in one transaction (RFC 5321 §4.5.3.1.8/§4.5.3.1.10),
// forged Authentication-Results naming our host (RFC 8601 §5), and connection floods against the per-IP and
// total caps, answered 421 4.7.0 and logged, with mail from a fresh connection flowing afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppContext } from '../../server/context.js';
import type { AliasRecord } from '../../server/directory/index.js';
import { authservIdOf, stripOwnAuthResults } from '../../server/smtp/mx/auth-results.js';
import { rawSmtp, type RawSmtp } from '../helpers/mx-session.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, sendSmtplib, senderZones, startMxApp, type MxApp } from '../integration/mx-fixture.js';

const HOST = `mx.${LOCAL_DOMAIN}`;

function securityLines(app: MxApp, event: string, reason: string): string[] {
  return app.logs.filter((line) => line.includes(`"msg":"security ${event} `) && line.includes(`reason=${reason}"`));
}

/** Waits (bounded) until the log holds at least `count` such lines, then returns how many it holds. */
async function securityCount(app: MxApp, event: string, reason: string, count: number): Promise<number> {
  for (let i = 0; i < 100 && securityLines(app, event, reason).length < count; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return securityLines(app, event, reason).length;
}

test('RFC 8601 §5: stripOwnAuthResults removes our authserv-id in any case, folded, commented or quoted, and keeps the others', () => {
  const raw = Buffer.from(
    [
      'Received: from a by b; Tue, 7 Jan 2025 10:00:00 +0000',
      `Authentication-Results: ${HOST}; spf=pass smtp.mailfrom=ceo@bank.test`,
      `authentication-results :(forged (nested)) MX.SEALPOST.TEST.;`,
      '\tdkim=pass header.d=bank.test',
      ` Authentication-Results: indented is a continuation of the line above`,
      `AUTHENTICATION-RESULTS: "${HOST}" 1; dmarc=pass`,
      'Authentication-Results: other.example; spf=fail',
      `Authentication-Results: ${HOST}.evil.example; spf=pass`,
      'Subject: hi',
      '',
      `Authentication-Results: ${HOST}; body text is not a header`,
      '',
    ].join('\r\n'),
  );
  const { raw: out, removed } = stripOwnAuthResults(raw, HOST);
  const text = out.toString();
  assert.equal(removed, 3);
  assert.doesNotMatch(text, /smtp\.mailfrom=ceo|header\.d=bank|dmarc=pass|indented/);
  assert.match(text, /^Received: from a by b;/);
  assert.match(text, /\r\nAuthentication-Results: other\.example; spf=fail\r\n/);
  assert.match(text, /\r\nAuthentication-Results: mx\.sealpost\.test\.evil\.example; spf=pass\r\n/);
  assert.match(text, /\r\nSubject: hi\r\n\r\nAuthentication-Results: mx\.sealpost\.test; body text/);
  const clean = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  assert.equal(stripOwnAuthResults(clean, HOST).raw, clean, 'untouched when there is nothing to strip');
  assert.equal(authservIdOf(' (c) "quoted.example" 1; spf=none'), 'quoted.example');
});

describe('MX: recipient cap and forged Authentication-Results', () => {
  let app: MxApp;
  let ctx: AppContext;
  let port: number;
  const aliases: AliasRecord[] = [];

  before(async () => {
    app = await startMxApp({ zones: senderZones(makeDkimKey('good.test')), env: { SEALPOST_SMTP_TARPIT_MS: '0' } });
    ctx = app.running.ctx;
    port = app.port('smtp');
    ctx.directory.addDomain(LOCAL_DOMAIN);
    for (let i = 0; i <= 100; i++) aliases.push((await ctx.accounts.createAlias(`r${i}@${LOCAL_DOMAIN}`, PASSWORD)).alias);
  });

  after(async () => {
    await app?.stop();
  });

  test('RFC 5321 §4.5.3.1.10: the 101st RCPT gets 452 4.5.3 and the first 100 recipients each get the message', async () => {
    const rcpts = aliases.map((a) => a.address);
    const raw = message({ from: 'news@good.test', to: 'undisclosed-recipients:;', subject: 'to a hundred', body: 'one hundred and one tried' });
    const result = await sendSmtplib(port, 'news@good.test', rcpts, raw);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(Object.keys(result.refused ?? {}), [`r100@${LOCAL_DOMAIN}`]);
    const [code, text] = result.refused?.[`r100@${LOCAL_DOMAIN}`] ?? [0, ''];
    assert.equal(code, 452);
    assert.match(text, /^4\.5\.3 Too many recipients/);
    for (const alias of aliases.slice(0, 100)) assert.equal(ctx.accounts.queuedCount(alias), 1, alias.address);
    assert.equal(ctx.accounts.queuedCount(aliases[100]!), 0);
    assert.equal(securityLines(app, 'rcpt.refused', 'too-many-recipients').length, 1);
  });

  test('+tag addresses count one by one: 101 tags of one alias, the 101st refused', async () => {
    const smtp = await rawSmtp(port);
    try {
      await smtp.next();
      await smtp.command('EHLO tags.good.test');
      await smtp.command('MAIL FROM:<news@good.test>');
      const replies: (string | null)[] = [];
      for (let i = 0; i <= 100; i++) replies.push(await smtp.command(`RCPT TO:<r0+t${i}@${LOCAL_DOMAIN}>`));
      assert.equal(replies.slice(0, 100).filter((r) => r?.startsWith('250 ')).length, 100);
      assert.match(replies[100] ?? '', /^452 4\.5\.3 /);
      assert.match((await smtp.command('RCPT TO:<r0+t0@' + LOCAL_DOMAIN + '>')) ?? '', /^250 /, 'an address already accepted is not a new recipient');
    } finally {
      smtp.destroy();
    }
  });

  test('RFC 8601 §5: forged Authentication-Results naming our host are removed from the stored message, others kept', async () => {
    const target = aliases[1]!;
    const raw = message({
      from: 'news@relay.test',
      to: target.address,
      subject: 'trust me',
      body: 'forged results',
      extraHeaders: [`Authentication-Results: ${HOST}; spf=pass smtp.mailfrom=ceo@bank.test`, `authentication-results: (x) MX.Sealpost.Test;\r\n\tdkim=pass header.d=bank.test`, 'Authentication-Results: upstream.example; arc=none'],
    });
    const result = await sendSmtplib(port, 'news@relay.test', [target.address], raw);
    assert.equal(result.ok, true, JSON.stringify(result));
    const session = await ctx.accounts.authenticate(target.address, PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });
    let stored = '';
    try {
      assert.equal(await ctx.accounts.whenDrained(session.alias.id, 30_000), true, 'mail sealed while locked has drained');
      const found = session.mailbox.listMessages('INBOX');
      for (const m of found) {
        const text = (await session.mailbox.readMessage('INBOX', m.uid)).toString('latin1');
        if (text.includes('forged results')) stored = text;
      }
    } finally {
      session.release();
      await ctx.accounts.lock(session.alias.id);
    }
    assert.ok(stored, 'the message was stored');
    const header = stored.slice(0, stored.indexOf('\r\n\r\n'));
    assert.doesNotMatch(header, /smtp\.mailfrom=ceo@bank\.test|header\.d=bank\.test/);
    assert.match(header, /\r\nAuthentication-Results: upstream\.example; arc=none/);
    const ours = header.match(/^Authentication-Results:\s*(?:\([^)]*\)\s*)?mx\.sealpost\.test\b/gim) ?? [];
    assert.equal(ours.length, 1, 'exactly one: the one we added');
    assert.ok(header.search(/^Authentication-Results: mx\.sealpost\.test/im) < header.search(/^Received: /im), 'ours is prepended above our Received');
  });
});

async function greet(port: number): Promise<{ smtp: RawSmtp; banner: string }> {
  const smtp = await rawSmtp(port);
  return { smtp, banner: (await smtp.next()) ?? '' };
}

describe('MX: connection floods', () => {
  let app: MxApp;
  let port: number;

  before(async () => {
    app = await startMxApp({ zones: senderZones(makeDkimKey('good.test')), env: { SEALPOST_SMTP_MAX_CONNECTIONS_PER_IP: '5', SEALPOST_SMTP_MAX_CONNECTIONS: '8' } });
    port = app.port('smtp');
    app.running.ctx.directory.addDomain(LOCAL_DOMAIN);
    await app.running.ctx.accounts.createAlias(`inbox@${LOCAL_DOMAIN}`, PASSWORD);
  });

  after(async () => {
    await app?.stop();
  });

  test('a flood from one IP: 5 greeted, the rest answered 421 4.7.0 and logged; after it closes a delivery succeeds', async () => {
    const flood = await Promise.all(Array.from({ length: 30 }, () => greet(port)));
    try {
      const banners = flood.map((f) => f.banner);
      assert.equal(banners.filter((b) => b.startsWith('220 ')).length, 5);
      assert.equal(banners.filter((b) => b.startsWith('421 4.7.0 ')).length, 25);
      // Logged, but bounded under a flood: one line per (IP, reason) and minute, the rest counted.
      assert.equal(await securityCount(app, 'conn.refused', 'per-ip-cap', 1), 1);
      // refused connections are closed by the server
      for (const f of flood.filter((x) => x.banner.startsWith('421'))) assert.equal(await f.smtp.next(), null);
    } finally {
      for (const f of flood) f.smtp.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const raw = message({ from: 'news@good.test', to: `inbox@${LOCAL_DOMAIN}`, subject: 'after the flood', body: 'still here' });
    const result = await sendSmtplib(port, 'news@good.test', [`inbox@${LOCAL_DOMAIN}`], raw);
    assert.equal(result.ok, true, JSON.stringify(result));
  });

  test('the total cap is answered 421 4.7.0 too (logged as total-cap)', async () => {
    // Loopback addresses other than 127.0.0.1 count as other IPs for the per-IP cap.
    const { default: net } = await import('node:net');
    const open = (localAddress: string): Promise<{ socket: import('node:net').Socket; banner: string }> =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: '127.0.0.1', localAddress });
        socket.once('error', reject);
        socket.once('data', (d: Buffer) => resolve({ socket, banner: d.toString() }));
      });
    const sources = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
    const conns = [];
    try {
      for (const source of sources) for (let i = 0; i < 3; i++) conns.push(await open(source));
      const banners = conns.map((c) => c.banner);
      assert.equal(banners.filter((b) => b.startsWith('220 ')).length, 8);
      assert.equal(banners.filter((b) => b.startsWith('421 4.7.0 ')).length, 4);
      assert.equal(await securityCount(app, 'conn.refused', 'total-cap', 2), 2, 'one line per source IP (127.0.0.4 and 127.0.0.5)');
    } finally {
      for (const c of conns) c.socket.destroy();
    }
  });

  test('connections that went through STARTTLS give their slot back: more TLS sessions than the per-IP cap, one after another', async () => {
    const raw = message({ from: 'news@good.test', to: `inbox@${LOCAL_DOMAIN}`, subject: 'over tls', body: 'sealed' });
    for (let i = 0; i < 7; i++) {
      const result = await sendSmtplib(port, 'news@good.test', [`inbox@${LOCAL_DOMAIN}`], raw, true);
      assert.equal(result.ok, true, `session ${i + 1}: ${JSON.stringify(result)}`);
    }
  });
});
