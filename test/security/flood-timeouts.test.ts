// Timeouts that free a slot held by a client that does nothing, against a real `sealpost serve` child with
// short settings: idle before login ends with the protocol's goodbye line; a TLS handshake that never comes
// (implicit TLS, or after STLS / STARTTLS) is cut by the handshake timeout, which logs tls.failed (each case
// connects from its own 127.0.0.x address, since the log line is rate-bounded per address); a logged-in POP3
// session is not cut at the login timeout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connects, createInstance, RELIABILITY_DOMAIN, sleep, until, type Instance } from '../helpers/reliability-harness.js';
import { freePorts } from '../helpers/ports.js';
import { LineClient } from '../helpers/starttls-client.js';

const ALICE = `alice@${RELIABILITY_DOMAIN}`;
const LOGIN_TIMEOUT_MS = 1500;
let inst: Instance;
let ports: { pop3s: number; imaps: number; submission: number; submissions: number };

before(async () => {
  const [pop3s, imaps, submission, submissions] = (await freePorts(4)) as [number, number, number, number];
  ports = { pop3s, imaps, submission, submissions };
  inst = await createInstance({
    aliases: [ALICE],
    env: {
      SEALPOST_POP3S_PORT: String(pop3s),
      SEALPOST_IMAPS_PORT: String(imaps),
      SEALPOST_SUBMISSION_PORT: String(submission),
      SEALPOST_SUBMISSIONS_PORT: String(submissions),
      SEALPOST_POP3_LOGIN_TIMEOUT_MS: String(LOGIN_TIMEOUT_MS),
      SEALPOST_POP3_TLS_HANDSHAKE_TIMEOUT_MS: '1000',
      SEALPOST_SUBMISSION_LOGIN_TIMEOUT_MS: String(LOGIN_TIMEOUT_MS),
      SEALPOST_SUBMISSION_TLS_HANDSHAKE_TIMEOUT_MS: '1000',
      SEALPOST_IMAP_LOGIN_TIMEOUT_MS: String(LOGIN_TIMEOUT_MS),
      SEALPOST_IMAP_TLS_HANDSHAKE_TIMEOUT_MS: '1000',
    },
  });
  await inst.start();
  for (const port of Object.values(ports)) await until(`port ${port}`, () => connects(port));
});

after(async () => {
  await inst?.cleanup();
});

/** The connection is closed by the server and a tls.failed handshake-timeout line names this address and protocol. */
async function handshakeCut(client: LineClient, ip: string, protocol: string): Promise<void> {
  await client.closed;
  const line = `security tls.failed ip=${ip} protocol=${protocol} reason=handshake-timeout`;
  await until(line, () => inst.logs.some((l) => l.includes(line)), 10_000);
}

describe('timeouts before login and during TLS handshakes', () => {
  it('POP3: idle before login ends with -ERR and a close; a logged-in session outlives the login timeout (RFC 1939 §3)', async () => {
    const idle = await LineClient.connect(inst.ports.pop3);
    assert.match((await idle.readLine()) ?? '', /^\+OK/);
    assert.equal(await idle.readLine(LOGIN_TIMEOUT_MS * 10), '-ERR Disconnected for inactivity');
    await idle.closed;

    const session = await LineClient.connect(inst.ports.pop3);
    assert.match((await session.readLine()) ?? '', /^\+OK/);
    session.write(`USER ${ALICE}\r\nPASS ${inst.passwords.get(ALICE)}\r\n`);
    assert.match((await session.readLine()) ?? '', /^\+OK/);
    assert.match((await session.readLine()) ?? '', /^\+OK maildrop has/);
    await sleep(LOGIN_TIMEOUT_MS * 2);
    session.write('NOOP\r\n');
    assert.equal(await session.readLine(), '+OK', 'still logged in after twice the login timeout');
    session.write('QUIT\r\n');
    await session.closed;
  });

  it('POP3: a handshake that never comes after STLS, or on POP3S, is cut', async () => {
    const stls = await LineClient.connect(inst.ports.pop3, '127.0.0.2');
    assert.match((await stls.readLine()) ?? '', /^\+OK/);
    stls.write('STLS\r\n');
    assert.match((await stls.readLine()) ?? '', /^\+OK Begin TLS/);
    await handshakeCut(stls, '127.0.0.2', 'pop3');
    await handshakeCut(await LineClient.connect(ports.pop3s, '127.0.0.3'), '127.0.0.3', 'pop3');
  });

  it('submission: idle before AUTH ends with 421 (RFC 5321 §4.5.3.2); a handshake that never comes is cut', async () => {
    const idle = await LineClient.connect(ports.submission);
    assert.match((await idle.readLine()) ?? '', /^220 /);
    assert.match((await idle.readLine(LOGIN_TIMEOUT_MS * 10)) ?? '', /^421 .*Timeout/);
    await idle.closed;

    const starttls = await LineClient.connect(ports.submission, '127.0.0.4');
    assert.match((await starttls.readLine()) ?? '', /^220 /);
    starttls.write('EHLO client.test\r\n');
    await starttls.readUntil(/^250 /);
    starttls.write('STARTTLS\r\n');
    assert.match((await starttls.readLine()) ?? '', /^220 /);
    await handshakeCut(starttls, '127.0.0.4', 'submission');
    await handshakeCut(await LineClient.connect(ports.submissions, '127.0.0.5'), '127.0.0.5', 'submission');
  });


  it('IMAP: idle before login ends with * BYE; a handshake that never comes after STARTTLS, or on IMAPS, is cut', async () => {
    const idle = await LineClient.connect(inst.ports.imap);
    assert.match((await idle.readLine()) ?? '', /^\* OK/);
    assert.match((await idle.readLine(LOGIN_TIMEOUT_MS * 10)) ?? '', /^\* BYE/);
    await idle.closed;

    const starttls = await LineClient.connect(inst.ports.imap, '127.0.0.6');
    assert.match((await starttls.readLine()) ?? '', /^\* OK/);
    starttls.write('a STARTTLS\r\n');
    assert.match((await starttls.readLine()) ?? '', /^a OK/);
    await handshakeCut(starttls, '127.0.0.6', 'imap');
    await handshakeCut(await LineClient.connect(ports.imaps, '127.0.0.7'), '127.0.0.7', 'imap');
  });

  it('the server is still up after every cut handshake (no crash from tearing down a half-made TLS session)', async () => {
    assert.equal(inst.child?.exitCode, null);
    assert.equal(inst.child?.signalCode, null);
    const client = await LineClient.connect(inst.ports.imap);
    assert.match((await client.readLine()) ?? '', /^\* OK/);
    client.close();
  });
});
