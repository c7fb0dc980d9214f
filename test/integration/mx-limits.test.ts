// Configurable MX limits over real sockets: connections per IP (421 4.7.0), messages per sender per
// hour (450 4.7.1), the idle timeout, and bad input that gets protocol replies while the server stays up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, sendSmtplib, senderZones, smtpDialogue, startMxApp, type MxApp } from './mx-fixture.js';

function greeting(port: number): Promise<{ socket: net.Socket; line: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('data', (d: Buffer) => resolve({ socket, line: d.toString().trim() }));
  });
}

describe('MX limits', () => {
  let app: MxApp;
  let port: number;

  before(async () => {
    app = await startMxApp({
      zones: senderZones(makeDkimKey('good.test')),
      env: { SEALPOST_SMTP_MAX_CONNECTIONS_PER_IP: '2', SEALPOST_SMTP_SENDER_RATE: '2', SEALPOST_SMTP_TIMEOUT_MS: '1500' },
    });
    port = app.port('smtp');
    app.running.ctx.directory.addDomain(LOCAL_DOMAIN);
    await app.running.ctx.accounts.createAlias(`rate@${LOCAL_DOMAIN}`, PASSWORD);
  });

  after(async () => {
    await app?.stop();
  });

  test('a third simultaneous connection from one IP is refused with 421 4.7.0', async () => {
    const a = await greeting(port);
    const b = await greeting(port);
    const c = await greeting(port);
    try {
      assert.match(a.line, /^220 /);
      assert.match(b.line, /^220 /);
      assert.match(c.line, /^421 4\.7\.0 /);
    } finally {
      for (const s of [a, b, c]) s.socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    const d = await greeting(port);
    d.socket.destroy();
    assert.match(d.line, /^220 /, 'slots are released when connections close');
  });

  test('the third message from one sender within the hour is deferred with 450 4.7.1', async () => {
    const raw = message({ from: 'bulk@good.test', to: `rate@${LOCAL_DOMAIN}`, subject: 'again', body: 'and again' });
    assert.equal((await sendSmtplib(port, 'bulk@good.test', [`rate@${LOCAL_DOMAIN}`], raw)).ok, true);
    assert.equal((await sendSmtplib(port, 'bulk@good.test', [`rate@${LOCAL_DOMAIN}`], raw)).ok, true);
    const third = await sendSmtplib(port, 'bulk@good.test', [`rate@${LOCAL_DOMAIN}`], raw);
    assert.equal(third.code, 450);
    assert.match(third.error ?? '', /^4\.7\.1 /);
    assert.equal((await sendSmtplib(port, 'other@good.test', [`rate@${LOCAL_DOMAIN}`], raw)).ok, true, 'other senders are not affected');
  });

  test('bad input gets protocol replies and the server stays up; an idle client is disconnected', async () => {
    const replies = await smtpDialogue(port, ['EHLO x.test', 'MAIL FROM:<not an address>', 'RCPT TO:<a@b.test>', 'DATA', 'AUTH PLAIN AGFsaWNlAHB3', `NOOP ${'x'.repeat(5000)}`, 'QUIT']);
    assert.match(replies[2] ?? '', /^5\d\d /);
    assert.match(replies[3] ?? '', /^503 /);
    assert.match(replies[4] ?? '', /^503 /);
    assert.match(replies[5] ?? '', /^5\d\d /, 'AUTH is not offered on the MX');
    const idle = await greeting(port);
    const closed = await new Promise<string>((resolve) => {
      let text = '';
      idle.socket.on('data', (d: Buffer) => (text += d.toString()));
      idle.socket.on('close', () => resolve(text));
    });
    assert.match(closed, /^421 /);
    const [banner] = await smtpDialogue(port, ['QUIT']);
    assert.match(banner ?? '', /^220 .*Sealpost/);
  });
});
