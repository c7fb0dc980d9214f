// The fail2ban filter in docs/fail2ban/ against the log of a real `sealpost serve` after real failed logins
// (IMAP, POP3 and submission from 127.0.0.2, an unknown user from 127.0.0.4) and real successful ones from
// 127.0.0.3: `fail2ban-regex` (Debian package fail2ban) must match every security line of the failing IPs,
// and nothing of the successful sessions. The same log prefixed as `journalctl` prints it is matched the
// same way. The jail file is checked by `fail2ban-client -d` (config dump) on a copy of /etc/fail2ban.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { RawImap } from '../helpers/imap-raw.js';
import { freePort } from '../helpers/ports.js';
import { RELIABILITY_DOMAIN, connects, createInstance, until, type Instance } from '../helpers/reliability-harness.js';

const FILTER = fileURLToPath(new URL('../../docs/fail2ban/sealpost.conf', import.meta.url));
const JAIL = fileURLToPath(new URL('../../docs/fail2ban/jail.local', import.meta.url));
const ALICE = `alice@${RELIABILITY_DOMAIN}`;
const hasFail2ban = spawnSync('fail2ban-regex', ['--version']).status === 0;
const NO_FAIL2BAN = hasFail2ban ? false : 'fail2ban-regex is not installed (apt-get install fail2ban; listed in .ci/apt-packages.txt)';

let inst: Instance;
let submissionPort: number;
let scratch: string;
let logFile: string;

async function imapLogin(localAddress: string, user: string, password: string): Promise<string> {
  const client = await RawImap.connect(inst.ports.imap, { localAddress });
  try {
    return (await client.command(`LOGIN "${user}" "${password}"`)).tagged;
  } finally {
    client.close();
  }
}

async function submissionLogin(localAddress: string, user: string, password: string): Promise<boolean> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: submissionPort, secure: false, ignoreTLS: true, localAddress, auth: { user, pass: password } });
  try {
    return await transport.verify();
  } catch {
    return false;
  } finally {
    transport.close();
  }
}

/** Runs fail2ban-regex with `-o msg`: the log lines the filter matched, one per line. */
function matchedLines(file: string): string[] {
  const run = spawnSync('fail2ban-regex', ['-o', 'msg', file, FILTER], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n').filter(Boolean);
}

before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-f2b-'));
  submissionPort = await freePort();
  inst = await createInstance({ aliases: [ALICE], env: { SEALPOST_SUBMISSION_PORT: String(submissionPort), SEALPOST_LOGIN_EXEMPT_LOOPBACK: 'off', SEALPOST_LOGIN_PAIR_LOCK_AFTER: '4', SEALPOST_LOGIN_BASE_DELAY_MS: '1', SEALPOST_LOGIN_MAX_DELAY_MS: '4' }, logLevel: 'info' });
  await inst.start();
  await until('submission listens', () => connects(submissionPort), 60_000);
  const password = inst.passwords.get(ALICE) ?? '';
  // The attacker: wrong passwords over IMAP and submission, then locked out.
  assert.match(await imapLogin('127.0.0.2', ALICE, 'wrong-guess-a'), /NO \[AUTHENTICATIONFAILED\]/);
  assert.match(await imapLogin('127.0.0.2', ALICE, 'wrong-guess-b'), /NO \[AUTHENTICATIONFAILED\]/);
  assert.equal(await submissionLogin('127.0.0.2', ALICE, 'wrong-guess-c'), false);
  assert.match(await imapLogin('127.0.0.2', ALICE, 'wrong-guess-d'), /NO \[AUTHENTICATIONFAILED\]/);
  assert.match(await imapLogin('127.0.0.2', ALICE, password), /NO \[CONTACTADMIN\]/);
  // A scanner trying an address that does not exist.
  assert.match(await imapLogin('127.0.0.4', `admin@${RELIABILITY_DOMAIN}`, 'admin123'), /NO \[AUTHENTICATIONFAILED\]/);
  // The owner, successfully, over IMAP and submission.
  assert.match(await imapLogin('127.0.0.3', ALICE, password), /OK/);
  assert.equal(await submissionLogin('127.0.0.3', ALICE, password), true);
  // The server logs a login after answering it, and its stdout reaches us asynchronously: wait for both lines.
  await until('both successful logins logged', () => inst.logs.filter((l) => l.includes('"event":"auth.ok"')).length >= 2, 15_000);
  logFile = path.join(scratch, 'sealpost.log');
  fs.writeFileSync(logFile, `${inst.logs.join('\n')}\n`);
});

after(async () => {
  await inst?.cleanup();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('fail2ban filter (docs/fail2ban/sealpost.conf) on a real server log', () => {
  it('the log has the security lines the filter is written for, and the owner\'s logins', () => {
    const security = inst.logs.filter((l) => l.includes('"security":true')).map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.deepEqual(security, [
      'security auth.failed ip=127.0.0.2 protocol=imap reason=bad-password',
      'security auth.failed ip=127.0.0.2 protocol=imap reason=bad-password',
      'security auth.failed ip=127.0.0.2 protocol=submission reason=bad-password',
      'security auth.failed ip=127.0.0.2 protocol=imap reason=bad-password',
      'security auth.lockout ip=127.0.0.2 protocol=imap reason=pair-lock-started',
      'security auth.lockout ip=127.0.0.2 protocol=imap reason=pair-locked',
      'security auth.failed ip=127.0.0.4 protocol=imap reason=unknown-user',
    ]);
    assert.equal(inst.logs.filter((l) => l.includes('"event":"auth.ok"')).length, 2, 'two successful logins (IMAP, submission)');
  });

  it('fail2ban-regex matches every failure and lock-out line of 127.0.0.2 and 127.0.0.4, and no successful login', { skip: NO_FAIL2BAN }, () => {
    const matched = matchedLines(logFile);
    const expected = inst.logs.filter((l) => l.includes('"security":true'));
    assert.deepEqual(matched, expected, 'exactly the security lines');
    const ips = matched.map((l) => (JSON.parse(l) as { ip: string }).ip);
    assert.deepEqual([...new Set(ips)].sort(), ['127.0.0.2', '127.0.0.4']);
    assert.equal(ips.filter((ip) => ip === '127.0.0.2').length, 6);
    assert.ok(!matched.some((l) => l.includes('127.0.0.3') || l.includes('"event":"auth.ok"')), 'the owner is never matched');
  });

  it('the same lines as journalctl prints them (with a syslog prefix) are matched too', { skip: NO_FAIL2BAN }, () => {
    const journal = path.join(scratch, 'journal.log');
    fs.writeFileSync(journal, inst.logs.map((l) => `Dec 06 01:27:36 mailhost sealpost[4242]: ${l}`).join('\n') + '\n');
    const ips = matchedLines(journal).map((l) => /ip=(\S+)/.exec(l)?.[1]);
    assert.deepEqual(ips.filter((ip) => ip === '127.0.0.2').length, 6);
    assert.deepEqual([...new Set(ips)].sort(), ['127.0.0.2', '127.0.0.4']);
  });

  it('a forged "msg" inside another field, a total-cap refusal and a line without an IP are not matched', { skip: NO_FAIL2BAN }, () => {
    const forged = path.join(scratch, 'forged.log');
    const time = new Date().toISOString();
    fs.writeFileSync(
      forged,
      [
        // What a client-supplied value containing the text would look like once JSON-escaped.
        JSON.stringify({ level: 30, time, note: '"msg":"security auth.failed ip=198.51.100.66 protocol=imap reason=bad-password"}', msg: 'login' }),
        JSON.stringify({ level: 40, time, security: true, event: 'conn.refused', ip: '198.51.100.67', protocol: 'pop3', reason: 'total-cap', msg: 'security conn.refused ip=198.51.100.67 protocol=pop3 reason=total-cap' }),
        JSON.stringify({ level: 40, time, security: true, event: 'auth.failed', ip: 'unknown', protocol: 'imap', reason: 'bad-password', msg: 'security auth.failed ip=unknown protocol=imap reason=bad-password' }),
        JSON.stringify({ level: 40, time, security: true, event: 'conn.refused', ip: '2001:db8::7', protocol: 'imap', reason: 'per-ip-cap', msg: 'security conn.refused ip=2001:db8::7 protocol=imap reason=per-ip-cap' }),
        JSON.stringify({ level: 40, time, security: true, event: 'rcpt.refused', ip: '203.0.113.5', protocol: 'smtp', reason: 'srs-forged', msg: 'security rcpt.refused ip=203.0.113.5 protocol=smtp reason=srs-forged' }),
      ].join('\n') + '\n',
    );
    const ips = matchedLines(forged).map((l) => (JSON.parse(l) as { ip: string }).ip);
    assert.deepEqual(ips, ['2001:db8::7', '203.0.113.5'], 'only the per-IP cap refusal (IPv6 too) and the refused recipient');
  });

  it('the jail file loads in fail2ban (both jails, journald and file backends)', { skip: NO_FAIL2BAN }, () => {
    const conf = path.join(scratch, 'fail2ban');
    fs.cpSync('/etc/fail2ban', conf, { recursive: true });
    fs.rmSync(path.join(conf, 'jail.d'), { recursive: true, force: true });
    fs.mkdirSync(path.join(conf, 'jail.d'));
    fs.copyFileSync(FILTER, path.join(conf, 'filter.d', 'sealpost.conf'));
    const jail = fs.readFileSync(JAIL, 'utf8').replace(/^logpath( *)= .*$/m, `logpath$1= ${logFile}`).replace(/^enabled {3}= false$/m, 'enabled   = true');
    fs.writeFileSync(path.join(conf, 'jail.d', 'sealpost.local'), jail);
    const dump = spawnSync('fail2ban-client', ['-c', conf, '-d'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(dump.status, 0, dump.stderr);
    assert.match(dump.stdout, /\['add', 'sealpost', 'systemd'\]/);
    assert.match(dump.stdout, /\['set', 'sealpost', 'addjournalmatch', '_SYSTEMD_UNIT=sealpost.service'\]/);
    assert.match(dump.stdout, /\['add', 'sealpost-file', 'auto'\]/);
    assert.ok(dump.stdout.includes(`['set', 'sealpost-file', 'addlogpath', '${logFile}', 'head']`), `${logFile}: ${dump.stderr}`);
  });
});
