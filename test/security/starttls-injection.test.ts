// STARTTLS / STLS command injection (CVE-2011-0411 class) and AUTH before TLS, against a real `sealpost serve`
// child: commands pipelined behind STLS / STARTTLS in the same write arrived in plaintext and must never be
// run inside the TLS session; submission neither offers nor reads AUTH before TLS off loopback (the loopback
// exemption is switched off for this server, so 127.0.0.1 takes the non-loopback branch); caps per IP are
// answered in each protocol's words, and a connection upgraded to TLS still releases its slot when it closes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { connects, createInstance, RELIABILITY_DOMAIN, until, type Instance } from '../helpers/reliability-harness.js';
import { freePorts } from '../helpers/ports.js';
import { LineClient } from '../helpers/starttls-client.js';

const ALICE = `alice@${RELIABILITY_DOMAIN}`;
let inst: Instance;
let submission: number;
const b64 = (text: string): string => Buffer.from(text).toString('base64');

before(async () => {
  [submission] = (await freePorts(1)) as [number];
  inst = await createInstance({
    aliases: [ALICE],
    env: {
      SEALPOST_SUBMISSION_PORT: String(submission),
      SEALPOST_SUBMISSION_PLAINTEXT_AUTH_ON_LOOPBACK: 'off',
      SEALPOST_POP3_MAX_CONNECTIONS_PER_IP: '2',
      SEALPOST_SUBMISSION_MAX_CONNECTIONS_PER_IP: '3',
    },
  });
  await inst.start();
  await until('the submission listener', () => connects(submission));
});

after(async () => {
  await inst?.cleanup();
});

/** Waits until a fresh connection is greeted (not refused): earlier sockets' slots have been released. */
async function admitted(port: number, greeting: RegExp): Promise<LineClient> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const client = await LineClient.connect(port);
    const line = await client.readLine();
    if (line !== null && greeting.test(line)) return client;
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`port ${port} kept refusing connections`);
}

describe('STARTTLS / STLS discard what was pipelined before the handshake', () => {
  it('POP3: STLS\\r\\nCAPA in one write: CAPA is never answered over TLS (RFC 2595 §4, RFC 3207 §4.2)', async () => {
    const client = await admitted(inst.ports.pop3, /^\+OK/);
    client.write('STLS\r\nCAPA\r\n');
    assert.match((await client.readLine()) ?? '', /^\+OK Begin TLS/);
    await client.startTls();
    client.write('USER someone@example.test\r\n');
    assert.equal(await client.readLine(), '+OK send PASS', 'the first reply over TLS answers our USER, not the injected CAPA');
    client.write('QUIT\r\n');
    assert.match((await client.readLine()) ?? '', /^\+OK/);
    await client.closed;
  });

  it('submission: STARTTLS\\r\\nNOOP in one write: NOOP is never answered over TLS (RFC 3207 §4.2)', async () => {
    const client = await LineClient.connect(submission);
    assert.match((await client.readLine()) ?? '', /^220 /);
    client.write('EHLO client.test\r\n');
    await client.readUntil(/^250 /);
    client.write('STARTTLS\r\nNOOP\r\n');
    assert.match((await client.readLine()) ?? '', /^220 /);
    await client.startTls();
    client.write('EHLO client.test\r\n');
    // NOOP's answer is "250 OK"; EHLO's first line is "250-<host> ...".
    assert.match((await client.readLine()) ?? '', /^250-/, 'the first reply over TLS answers our EHLO, not the injected NOOP');
    client.close();
  });

  it('IMAP: a STARTTLS\\r\\nb NOOP in one write: b is never answered over TLS (RFC 3501 §6.2.1)', async () => {
    const client = await LineClient.connect(inst.ports.imap);
    assert.match((await client.readLine()) ?? '', /^\* OK/);
    client.write('a STARTTLS\r\nb NOOP\r\n');
    assert.match((await client.readLine()) ?? '', /^a OK/);
    await client.startTls();
    client.write('c NOOP\r\n');
    assert.match((await client.readLine()) ?? '', /^c OK/, 'the first reply over TLS answers c, not the injected b');
    client.write('d LOGOUT\r\n');
    await client.readUntil(/^d OK/);
    client.close();
  });
});

describe('submission: AUTH only after TLS off loopback (RFC 3207 §4, RFC 4954 §4)', () => {
  it('EHLO before TLS offers STARTTLS but not AUTH; AUTH is 530 5.7.0 at once, no 334 prompt, credentials never read', async () => {
    const client = await LineClient.connect(submission);
    assert.match((await client.readLine()) ?? '', /^220 /);
    client.write('EHLO client.test\r\n');
    const ehlo = await client.readUntil(/^250 /);
    assert.ok(ehlo.some((l) => /^250[- ]STARTTLS$/.test(l)), ehlo.join('\n'));
    assert.ok(!ehlo.some((l) => /AUTH/i.test(l)), `no AUTH before TLS:\n${ehlo.join('\n')}`);
    for (const command of ['AUTH PLAIN', 'AUTH LOGIN', `AUTH PLAIN ${b64(`\0${ALICE}\0${inst.passwords.get(ALICE)}`)}`]) {
      client.write(`${command}\r\n`);
      assert.equal(await client.readLine(), '530 5.7.0 Must issue a STARTTLS command first', command.slice(0, 10));
    }
    // Still in command mode (no 334 was sent, nothing waits for credentials): NOOP is answered.
    client.write('NOOP\r\n');
    assert.match((await client.readLine()) ?? '', /^250 /);

    client.write('STARTTLS\r\n');
    assert.match((await client.readLine()) ?? '', /^220 /);
    await client.startTls();
    client.write('EHLO client.test\r\n');
    const secured = await client.readUntil(/^250 /);
    assert.ok(secured.some((l) => /^250[- ]AUTH PLAIN LOGIN$/.test(l)), secured.join('\n'));
    client.write(`AUTH PLAIN ${b64(`\0${ALICE}\0${inst.passwords.get(ALICE)}`)}\r\n`);
    assert.match((await client.readLine()) ?? '', /^235 /);
    client.close();
  });

  it('a real client (nodemailer) authenticates after STARTTLS and submits', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: submission,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: ALICE, pass: inst.passwords.get(ALICE) },
    });
    try {
      const info = await transport.sendMail({ from: ALICE, to: ALICE, subject: 'after STARTTLS', text: 'hello' });
      assert.deepEqual(info.accepted, [ALICE]);
    } finally {
      transport.close();
    }
  });
});

describe('per-IP caps answered in the protocol\'s words', () => {
  it('POP3: a third connection from one address is -ERR [SYS/TEMP] (RFC 3206); slots of STLS sessions are released', async () => {
    // Three STLS sessions one after the other: with a cap of 2, each must have given its slot back.
    for (let i = 0; i < 3; i++) {
      const client = await admitted(inst.ports.pop3, /^\+OK/);
      client.write('STLS\r\n');
      assert.match((await client.readLine()) ?? '', /^\+OK Begin TLS/);
      await client.startTls();
      client.write('QUIT\r\n');
      await client.closed;
    }
    const one = await admitted(inst.ports.pop3, /^\+OK/);
    const two = await admitted(inst.ports.pop3, /^\+OK/);
    const third = await LineClient.connect(inst.ports.pop3);
    assert.equal(await third.readLine(), '-ERR [SYS/TEMP] Too many connections from your address, try again later');
    assert.equal(await third.readLine(), null, 'then the server closes the connection');
    one.close();
    two.close();
    // The refusal is logged in the stable format for fail2ban.
    await until('the conn.refused line', () => inst.logs.some((l) => l.includes('security conn.refused ip=127.0.0.1 protocol=pop3 reason=per-ip-cap')), 10_000);
  });

  it('submission: a fourth connection from one address is 421 4.7.0 (RFC 5321 §3.8)', async () => {
    const held = [await admitted(submission, /^220 /), await admitted(submission, /^220 /), await admitted(submission, /^220 /)];
    const fourth = await LineClient.connect(submission);
    assert.equal(await fourth.readLine(), '421 4.7.0 Too many connections from your address, try again later');
    assert.equal(await fourth.readLine(), null);
    for (const c of held) c.close();
  });
});
