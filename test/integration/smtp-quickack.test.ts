// A client with Nagle's algorithm on that writes a message and its closing ".\r\n" in two writes (nodemailer
// does, as many MTAs) must not wait for the server's delayed ACK before that last line can leave: the MX and
// submission listeners ask the kernel for an immediate ACK after each reply and for every chunk of DATA, over
// plain TCP, STARTTLS and implicit TLS. Checked without clocks: Linux counts every ACK it had to delay and send
// from its timer (TcpExt DelayedACKs in /proc/net/netstat); without the hook every message cost one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { startSendingApp, TEST_PASSWORD, type SendingApp } from '../helpers/sending.js';
import { delayedAcks, tcpCountersAvailable } from '../helpers/tcp-counters.js';

const MESSAGES = 40;
const DOMAIN = 'sender.test';
const ALIAS = `nagle@${DOMAIN}`;

const linux = tcpCountersAvailable;

function message(i: number): Buffer {
  return Buffer.from(`From: <${ALIAS}>\r\nTo: <${ALIAS}>\r\nSubject: split terminator ${i}\r\n\r\n${'line of text\r\n'.repeat(100)}`);
}

interface Route {
  readonly name: string;
  readonly listener: 'smtp' | 'submission' | 'submissions';
  readonly tls: 'none' | 'starttls' | 'implicit';
  readonly auth: boolean;
}

const ROUTES: readonly Route[] = [
  { name: 'MX, plain', listener: 'smtp', tls: 'none', auth: false },
  { name: 'MX, STARTTLS', listener: 'smtp', tls: 'starttls', auth: false },
  { name: 'submission, STARTTLS', listener: 'submission', tls: 'starttls', auth: true },
  { name: 'submissions, implicit TLS', listener: 'submissions', tls: 'implicit', auth: true },
];

let app: SendingApp;

before(async () => {
  app = await startSendingApp({ listeners: ['smtp', 'submission', 'submissions'], env: { SEALPOST_SMTP_AUTH_CHECKS: 'off' } });
  app.running.ctx.directory.addDomain(DOMAIN);
  await app.running.ctx.accounts.createAlias(ALIAS, TEST_PASSWORD, { quotaBytes: 50 * 1024 * 1024 });
});

after(async () => {
  await app?.stop();
  if (app) fs.rmSync(app.dir, { recursive: true, force: true });
});

describe('SMTP DATA from a Nagle client (message and final dot in separate writes)', { skip: !linux && 'needs Linux /proc/net/netstat' }, () => {
  for (const route of ROUTES) {
    it(`RFC 5321 §4.1.1.4 DATA: ${MESSAGES} nodemailer messages over ${route.name} cause almost no delayed ACKs`, async () => {
      // One pooled connection: nodemailer writes the dot-stuffed body, then ".\r\n" as a write of its own.
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: app.port(route.listener),
        secure: route.tls === 'implicit',
        ignoreTLS: route.tls === 'none',
        requireTLS: route.tls === 'starttls',
        tls: { rejectUnauthorized: false, minVersion: 'TLSv1.2' },
        ...(route.auth ? { auth: { user: ALIAS, pass: TEST_PASSWORD } } : {}),
        pool: true,
        maxConnections: 1,
        maxMessages: Infinity,
        name: 'client.sender.test',
      });
      let accepted = 0;
      const before = delayedAcks();
      try {
        for (let i = 0; i < MESSAGES; i++) {
          const info = await transport.sendMail({ envelope: { from: ALIAS, to: [ALIAS] }, raw: message(i) });
          if (/^250 /.test(info.response)) accepted++;
        }
      } finally {
        transport.close();
      }
      const delta = delayedAcks() - before;
      assert.equal(accepted, MESSAGES, 'every message answered 250');
      // Each stalled message adds one; a quarter leaves room for other traffic on this machine meanwhile.
      assert.ok(delta < MESSAGES / 4, `${delta} delayed ACKs for ${MESSAGES} messages`);
    });
  }
});
