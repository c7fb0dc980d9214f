// Login lock-out per (client IP, alias) against a real `sealpost serve`: distinct loopback addresses stand in
// for distinct client IPs (a client socket bound to 127.0.0.2 or 127.0.0.3), with the loopback exemption
// turned off (SEALPOST_LOGIN_EXEMPT_LOOPBACK=off) so loopback is throttled like any remote IP. Failures from
// 127.0.0.2 are delayed, then lock 127.0.0.2 out of that alias (IMAP and POP3 count together); the owner
// logging in from 127.0.0.3 is not affected. With the exemption on, a loopback client is never locked.
// Every failure and lock-out is one stable security log line with IP, protocol and reason, and no secret.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { RawImap } from '../helpers/imap-raw.js';
import { RELIABILITY_DOMAIN, createInstance, type Instance } from '../helpers/reliability-harness.js';

const ALICE = `alice@${RELIABILITY_DOMAIN}`;
const ATTACKER = '127.0.0.2';
const OWNER = '127.0.0.3';

/** Small thresholds so a few attempts show the whole curve (delays in ms stay tiny: tests never time them). */
const THROTTLE_ENV = {
  SEALPOST_LOGIN_FREE_FAILURES: '1',
  SEALPOST_LOGIN_BASE_DELAY_MS: '1',
  SEALPOST_LOGIN_MAX_DELAY_MS: '4',
  SEALPOST_LOGIN_PAIR_LOCK_AFTER: '4',
  SEALPOST_LOGIN_IP_LOCK_AFTER: '50',
  SEALPOST_LOGIN_ALIAS_SLOW_AFTER: '100',
};

/** IMAP LOGIN from a given local address; the tagged reply line. */
async function imapLogin(port: number, localAddress: string, user: string, password: string): Promise<string> {
  const client = await RawImap.connect(port, { localAddress });
  try {
    return (await client.command(`LOGIN "${user}" "${password}"`)).tagged;
  } finally {
    client.close();
  }
}

/** POP3 USER/PASS from a given local address; the reply to PASS. */
function pop3Login(port: number, localAddress: string, user: string, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    const replies: string[] = [];
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`POP3: no reply in ${JSON.stringify(replies)}`));
    }, 20_000);
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        replies.push(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
        if (replies.length === 1) socket.write(`USER ${user}\r\n`);
        else if (replies.length === 2) socket.write(`PASS ${password}\r\n`);
        else if (replies.length === 3) {
          clearTimeout(timer);
          socket.end('QUIT\r\n');
          resolve(replies[2]);
        }
      }
    });
  });
}

/** The security lines of the server log, parsed. */
function securityLines(inst: Instance): { msg: string; ip: string; protocol: string; reason: string; event: string; delayMs?: number; aliasId?: string }[] {
  return inst.logs
    .filter((l) => l.includes('"security":true'))
    .map((l) => JSON.parse(l) as { msg: string; ip: string; protocol: string; reason: string; event: string; delayMs?: number; aliasId?: string });
}

describe('lock-out per (IP, alias), loopback exemption off', () => {
  let inst: Instance;

  before(async () => {
    inst = await createInstance({ aliases: [ALICE], env: { ...THROTTLE_ENV, SEALPOST_LOGIN_EXEMPT_LOOPBACK: 'off' }, logLevel: 'info' });
    await inst.start();
  });

  after(async () => {
    await inst?.cleanup();
  });

  it('failures from 127.0.0.2 (IMAP and POP3 together) lock 127.0.0.2 out of the alias, even with the right password', async () => {
    const password = inst.passwords.get(ALICE) ?? '';
    const replies = [
      await imapLogin(inst.ports.imap, ATTACKER, ALICE, 'wrong-guess-1'),
      await pop3Login(inst.ports.pop3, ATTACKER, ALICE, 'wrong-guess-2'),
      await imapLogin(inst.ports.imap, ATTACKER, ALICE, 'wrong-guess-3'),
      await pop3Login(inst.ports.pop3, ATTACKER, ALICE, 'wrong-guess-4'),
    ];
    assert.match(replies[0], /^\S+ NO \[AUTHENTICATIONFAILED\]/);
    assert.match(replies[1], /^-ERR/);
    assert.match(replies[2], /^\S+ NO \[AUTHENTICATIONFAILED\]/);
    assert.match(replies[3], /^-ERR/);
    // Locked now: even the right password from 127.0.0.2 is refused, with each protocol's "try later" reply.
    assert.match(await imapLogin(inst.ports.imap, ATTACKER, ALICE, password), /^\S+ NO \[CONTACTADMIN\] Too many failed logins/);
    assert.match(await pop3Login(inst.ports.pop3, ATTACKER, ALICE, password), /^-ERR .*Too many failed logins/);
  });

  it('the failures were delayed more and more before the lock (the tarpit), as the log records', () => {
    const failed = securityLines(inst).filter((l) => l.event === 'auth.failed' && l.ip === ATTACKER);
    assert.deepEqual(
      failed.map((l) => l.delayMs),
      [0, 1, 2, 4],
      'free failure, then doubling delays up to the cap',
    );
  });

  it('the owner logs in from 127.0.0.3 with a real client (imapflow) while 127.0.0.2 is locked out', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: inst.ports.imap,
      secure: false,
      doSTARTTLS: false,
      auth: { user: ALICE, pass: inst.passwords.get(ALICE) ?? '' },
      logger: false,
      tls: { localAddress: OWNER } as object,
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      assert.equal((client as unknown as { socket: net.Socket }).socket.localAddress, OWNER, 'the client really comes from 127.0.0.3');
      const status = await client.status('INBOX', { messages: true });
      assert.equal(status.messages, 0);
    } finally {
      await client.logout();
    }
    assert.match(await pop3Login(inst.ports.pop3, OWNER, ALICE, inst.passwords.get(ALICE) ?? ''), /^\+OK/);
    assert.ok(inst.logs.some((l) => l.includes('"event":"auth.ok"')), 'the owner login was logged');
  });

  it('every failure and lock-out is one stable security line with IP, protocol and reason, and no secret', () => {
    const lines = securityLines(inst);
    const messages = lines.filter((l) => l.ip === ATTACKER).map((l) => l.msg);
    assert.deepEqual(messages, [
      'security auth.failed ip=127.0.0.2 protocol=imap reason=bad-password',
      'security auth.failed ip=127.0.0.2 protocol=pop3 reason=bad-password',
      'security auth.failed ip=127.0.0.2 protocol=imap reason=bad-password',
      'security auth.failed ip=127.0.0.2 protocol=pop3 reason=bad-password',
      'security auth.lockout ip=127.0.0.2 protocol=pop3 reason=pair-lock-started',
      'security auth.lockout ip=127.0.0.2 protocol=imap reason=pair-locked',
      'security auth.lockout ip=127.0.0.2 protocol=pop3 reason=pair-locked',
    ]);
    assert.ok(lines.filter((l) => l.event === 'auth.failed').every((l) => typeof l.aliasId === 'string'), 'the alias is named by its id');
    assert.equal(lines.filter((l) => l.ip === OWNER).length, 0, 'nothing logged against the owner');
    const all = inst.logs.join('\n');
    for (const secret of ['wrong-guess-1', 'wrong-guess-4', inst.passwords.get(ALICE) ?? '', ALICE]) assert.equal(all.includes(secret), false, 'no password or address in the log');
  });

  it('an unknown user is logged as such, without the address', async () => {
    const reply = await imapLogin(inst.ports.imap, '127.0.0.4', `nobody@${RELIABILITY_DOMAIN}`, 'whatever-guess');
    assert.match(reply, /^\S+ NO \[AUTHENTICATIONFAILED\]/);
    assert.ok(securityLines(inst).some((l) => l.msg === 'security auth.failed ip=127.0.0.4 protocol=imap reason=unknown-user'));
    assert.equal(inst.logs.join('\n').includes('nobody@'), false);
  });
});

describe('loopback exemption on (the default)', () => {
  let inst: Instance;

  before(async () => {
    inst = await createInstance({ aliases: [ALICE], env: THROTTLE_ENV, logLevel: 'info' });
    await inst.start();
  });

  after(async () => {
    await inst?.cleanup();
  });

  it('a loopback client is never locked out, however many failures it makes', async () => {
    for (let i = 0; i < 6; i++) assert.match(await imapLogin(inst.ports.imap, ATTACKER, ALICE, `wrong-guess-${i}`), /^\S+ NO \[AUTHENTICATIONFAILED\]/);
    assert.match(await imapLogin(inst.ports.imap, ATTACKER, ALICE, inst.passwords.get(ALICE) ?? ''), /^\S+ OK/);
    const failed = securityLines(inst).filter((l) => l.event === 'auth.failed');
    assert.equal(failed.length, 6, 'failures are still logged');
    assert.equal(securityLines(inst).filter((l) => l.event === 'auth.lockout').length, 0);
  });
});
