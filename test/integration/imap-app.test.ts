// Sealpost as `serve` runs it (startApp): mail received by the MX while the mailbox is locked waits sealed
// in the queue and appears in INBOX at the first IMAP login; mail received during an IDLE shows up at once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { waitForExists } from '../helpers/imap-wait.js';
import nodemailer from 'nodemailer';
import { startSendingApp, TEST_PASSWORD, type SendingApp } from '../helpers/sending.js';

let app: SendingApp;
const address = 'reader@imap-app.test';

function mail(subject: string, token: string): Buffer {
  return Buffer.from(`From: sender@example.org\r\nTo: ${address}\r\nSubject: ${subject}\r\nMessage-ID: <${token}@example.org>\r\n\r\nBody ${token}\r\n`);
}

async function deliver(raw: Buffer): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: app.port('smtp'), secure: false, ignoreTLS: true, tls: { rejectUnauthorized: false } });
  await transport.sendMail({ envelope: { from: 'sender@example.org', to: [address] }, raw });
  transport.close();
}

before(async () => {
  app = await startSendingApp({ listeners: ['smtp', 'imap', 'imaps'] });
  app.running.ctx.directory.addDomain('imap-app.test');
  await app.running.ctx.accounts.createAlias(address, TEST_PASSWORD);
});

after(async () => {
  await app.stop();
});

describe('IMAP in the running app', () => {
  it('lists imap (STARTTLS) and imaps (TLS) listeners', () => {
    const imap = app.running.listeners.find((l) => l.name === 'imap');
    const imaps = app.running.listeners.find((l) => l.name === 'imaps');
    assert.equal(imap?.security, 'starttls');
    assert.equal(imaps?.security, 'tls');
  });

  it('a message received while the mailbox is locked is in INBOX after the first login; new mail reaches IDLE at once', async () => {
    await deliver(mail('while locked', 'zqlock01'));
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: app.port('imaps'),
      secure: true,
      tls: { ca: [app.running.ctx.tls.certificatePem()], servername: 'localhost' },
      auth: { user: address, pass: TEST_PASSWORD },
      logger: false,
    });
    await client.connect();
    await client.mailboxOpen('INBOX');
    // LOGIN answers at once; the sealed queue drains behind it and the message is announced as EXISTS.
    assert.equal(await waitForExists(client, 1), 1, 'the sealed message arrives in INBOX, once');
    const first = await client.fetchOne('1', { envelope: true });
    assert.ok(first && first.envelope?.subject === 'while locked');

    const exists = new Promise<number>((resolve) => client.on('exists', (e: { count: number }) => resolve(e.count)));
    void client.idle();
    await deliver(mail('while idling', 'zqidle01'));
    assert.equal(await exists, 2);
    const hits = await client.search({ body: 'zqidle01' }, { uid: true });
    assert.equal(Array.isArray(hits) ? hits.length : 0, 1);
    await client.logout();
  });
});
