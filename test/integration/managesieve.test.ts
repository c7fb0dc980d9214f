// ManageSieve (RFC 5804) against a real Sealpost over real TCP on 127.0.0.1: a raw protocol client speaks the
// wire format byte for byte (STARTTLS, AUTHENTICATE PLAIN, literals), the scripts land in the encrypted mailbox
// file, hostile input gets NO or BYE, and nothing of a script or the password is readable on disk or in the logs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startApp, type RunningApp } from '../../server/app.js';
import type { AliasId } from '../../server/directory/index.js';
import { findPlaintext } from '../helpers/privacy.js';
import { freePorts, listenerPort, listenerPortsEnv } from '../helpers/ports.js';
import { LineClient } from '../helpers/starttls-client.js';
import { TEST_KDF, TEST_PASSWORD } from '../helpers/sending.js';

const ALICE = 'alice@sieve.test';
const SECRET_WORD = 'quokka-marmalade-7731';
const plain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`).toString('base64');

/** A ManageSieve client on a LineClient: reads whole responses (capability lines, literals) up to OK/NO/BYE. */
class SieveClient {
  private constructor(readonly line: LineClient) {}

  /** Connects; a refusal at the per-IP cap (earlier connections still closing on the server) is retried a few times. */
  static async connect(port: number): Promise<{ client: SieveClient; greeting: string[] }> {
    for (let attempt = 0; ; attempt++) {
      const line = await LineClient.connect(port);
      const client = new SieveClient(line);
      const greeting = await client.response();
      if (!greeting.at(-1)!.startsWith('BYE (TRYLATER)') || attempt >= 20) return { client, greeting };
      line.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Lines of one response, the OK/NO/BYE line last; a literal's content comes back as one entry. */
  async response(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const line = await this.line.readLine();
      if (line === null) throw new Error(`closed; got ${JSON.stringify(out)}`);
      const literal = /^\{(\d+)\}$/.exec(line);
      if (literal) {
        const size = Number(literal[1]);
        let content = '';
        while (Buffer.byteLength(content, 'latin1') < size) content += `${await this.line.readLine()}\r\n`;
        out.push(Buffer.from(content.slice(0, size), 'latin1').toString('utf8'));
        continue;
      }
      if (line === '' && out.length > 0) continue; // the CRLF after a literal
      out.push(line);
      if (/^(OK|NO|BYE)\b/.test(line)) return out;
    }
  }

  async send(text: string): Promise<string[]> {
    this.line.write(text);
    return this.response();
  }

  async last(text: string): Promise<string> {
    const lines = await this.send(text);
    return lines[lines.length - 1]!;
  }

  async startTls(): Promise<string[]> {
    assert.match(await this.last('STARTTLS\r\n'), /^OK/);
    await this.line.startTls();
    return this.response();
  }

  /** STARTTLS, then AUTHENTICATE "PLAIN" with the initial response. */
  async login(password = TEST_PASSWORD): Promise<string> {
    await this.startTls();
    return this.last(`AUTHENTICATE "PLAIN" "${plain(ALICE, password)}"\r\n`);
  }

  close(): void {
    this.line.close();
  }
}

describe('ManageSieve (RFC 5804)', () => {
  let running: RunningApp;
  let dir: string;
  let port: number;
  let aliasId: AliasId;
  const logs: string[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
    const [p] = await freePorts(1);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? dir,
      SEALPOST_TEST: '1',
      SEALPOST_DATA: dir,
      SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex'),
      SEALPOST_KEYCHAIN: 'off',
      SEALPOST_HOST: '127.0.0.1',
      SEALPOST_HOSTNAME: 'mail.sieve.test',
      SEALPOST_LOGIN_EXEMPT_LOOPBACK: 'off',
      // loopback must STARTTLS too, so the tests see the encrypted-only login policy
      SEALPOST_MANAGESIEVE_PLAINTEXT_LOGIN_ON_LOOPBACK: 'off',
      SEALPOST_MANAGESIEVE_MAX_CONNECTIONS_PER_IP: '4',
      SEALPOST_MANAGESIEVE_MAX_SCRIPT_BYTES: '4096',
      SEALPOST_MANAGESIEVE_MAX_TOTAL_BYTES: '4200',
      SEALPOST_MANAGESIEVE_MAX_SCRIPTS: '5',
      SEALPOST_MANAGESIEVE_MAX_LINE_BYTES: '1024',
      ...listenerPortsEnv(['managesieve'], [p!]),
    };
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    running = await startApp({ env }, { logger: pino({ level: 'debug' }, sink), kdf: TEST_KDF });
    port = listenerPort(running, 'managesieve');
    running.ctx.directory.addDomain('sieve.test');
    aliasId = (await running.ctx.accounts.createAlias(ALICE, TEST_PASSWORD)).alias.id;
  });

  after(async () => {
    await running.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('RFC 5804 §1.7: the greeting lists IMPLEMENTATION, SASL (empty before TLS), SIEVE, STARTTLS, VERSION "1.0"', async () => {
    const { client, greeting } = await SieveClient.connect(port);
    assert.equal(greeting[0], '"IMPLEMENTATION" "Sealpost"');
    assert.ok(greeting.includes('"SASL" ""'), 'no PLAIN offered in plaintext');
    assert.ok(greeting.some((l) => /^"SIEVE" ".*\bfileinto\b.*\bvacation\b/.test(l)), 'SIEVE lists the checker extensions');
    assert.ok(greeting.includes('"MAXREDIRECTS" "4"'));
    assert.ok(greeting.includes('"STARTTLS"'));
    assert.ok(greeting.includes('"VERSION" "1.0"'));
    assert.match(greeting.at(-1)!, /^OK /);
    assert.match(await client.last('LOGOUT\r\n'), /^OK/);
    await client.line.closed;
  });

  test('RFC 5804 §2.1: AUTHENTICATE before STARTTLS gets NO (ENCRYPT-NEEDED); script commands need a login', async () => {
    const { client } = await SieveClient.connect(port);
    assert.match(await client.last(`AUTHENTICATE "PLAIN" "${plain(ALICE, TEST_PASSWORD)}"\r\n`), /^NO \(ENCRYPT-NEEDED\)/);
    assert.match(await client.last('LISTSCRIPTS\r\n'), /^NO "Log in first/);
    assert.match(await client.last('PUTSCRIPT "x" "keep;"\r\n'), /^NO "Log in first/);
    assert.match(await client.last('FROBNICATE\r\n'), /^NO "Unknown command"/);
    client.close();
  });

  test('RFC 5804 §2.2: bytes pipelined behind STARTTLS are discarded; capabilities are sent again, now with SASL "PLAIN"', async () => {
    const { client } = await SieveClient.connect(port);
    client.line.write('STARTTLS\r\nLOGOUT\r\n');
    assert.match((await client.response()).at(-1)!, /^OK "Begin TLS/);
    await client.line.startTls();
    const caps = await client.response();
    assert.ok(caps.includes('"SASL" "PLAIN"'));
    assert.ok(!caps.includes('"STARTTLS"'), 'STARTTLS is not offered again inside TLS');
    // The pipelined LOGOUT did not run inside TLS: the session is still open and answers.
    assert.match(await client.last('NOOP "still-here"\r\n'), /^OK \(TAG "still-here"\)/);
    assert.match(await client.last('STARTTLS\r\n'), /^NO "TLS is already active"/);
    client.close();
  });

  test('RFC 5804 §2.1: AUTHENTICATE "PLAIN" with bad base64 gets NO; the continuation form logs in', async () => {
    const { client } = await SieveClient.connect(port);
    await client.startTls();
    assert.match(await client.last('AUTHENTICATE "PLAIN" "%%%not base64%%%"\r\n'), /^NO "The credentials are not valid base64"/);
    client.line.write('AUTHENTICATE "PLAIN"\r\n');
    assert.equal(await client.line.readLine(), '""', 'an empty server challenge');
    assert.match(await client.last(`"${plain(ALICE, TEST_PASSWORD)}"\r\n`), /^OK "Logged in"/);
    assert.match(await client.last(`AUTHENTICATE "PLAIN" "${plain(ALICE, TEST_PASSWORD)}"\r\n`), /^NO "Already logged in"/);
    assert.match(await client.last('UNAUTHENTICATE\r\n'), /^OK/);
    assert.match(await client.last('LISTSCRIPTS\r\n'), /^NO "Log in first/);
    client.close();
  });

  test('RFC 5804 §2.6–§2.12: PUTSCRIPT (quoted, {n+} and {n} literals), LISTSCRIPTS, SETACTIVE, GETSCRIPT, CHECKSCRIPT, RENAMESCRIPT, DELETESCRIPT, HAVESPACE, LOGOUT', async () => {
    const { client } = await SieveClient.connect(port);
    assert.match(await client.login(), /^OK "Logged in"/);
    const quoted = `# ${SECRET_WORD} "q" \\\\ \r\nkeep;`;
    // quoted form: only \" and \\ escaped, no CR/LF in a quoted string, so the quoted script is one line
    assert.match(await client.last(`PUTSCRIPT "one" "keep; # ${SECRET_WORD} \\"q\\" \\\\"\r\n`), /^OK/);
    const literal = `require ["fileinto"];\r\n# ${SECRET_WORD} — ünïcode\r\nif header :contains "subject" "x" { fileinto "Junk"; }\r\n`;
    assert.match(await client.last(`PUTSCRIPT "two" {${Buffer.byteLength(literal)}+}\r\n${literal}\r\n`), /^OK/);
    assert.match(await client.last(`PUTSCRIPT "three" {${Buffer.byteLength(quoted)}}\r\n${quoted}\r\n`), /^OK/);
    assert.deepEqual(await client.send('LISTSCRIPTS\r\n'), ['"one"', '"three"', '"two"', 'OK "Listscripts completed"']);
    assert.match(await client.last('SETACTIVE "two"\r\n'), /^OK/);
    assert.deepEqual((await client.send('LISTSCRIPTS\r\n')).slice(0, 3), ['"one"', '"three"', '"two" ACTIVE']);
    const got = await client.send('GETSCRIPT "two"\r\n');
    assert.equal(got[0], literal);
    assert.match(got.at(-1)!, /^OK/);
    assert.equal((await client.send('GETSCRIPT "one"\r\n'))[0], `keep; # ${SECRET_WORD} "q" \\`);
    assert.match(await client.last('GETSCRIPT "nope"\r\n'), /^NO \(NONEXISTENT\)/);
    assert.match(await client.last('CHECKSCRIPT "keep;"\r\n'), /^OK/);
    // RFC 5804 §2.12 / §2.6: an invalid script gets NO with the checker's line and message, and is not stored
    const bad = 'keep;\r\nfileinto "Junk";\r\n';
    assert.match(await client.last(`CHECKSCRIPT {${bad.length}+}\r\n${bad}\r\n`), /^NO "line 2: .*fileinto/);
    assert.match(await client.last(`PUTSCRIPT "bad" {${bad.length}+}\r\n${bad}\r\n`), /^NO "line 2: /);
    assert.match(await client.last('GETSCRIPT "bad"\r\n'), /^NO \(NONEXISTENT\)/);
    assert.match(await client.last('CHECKSCRIPT "if true {"\r\n'), /^NO "line 1: /);
    assert.match(await client.last('RENAMESCRIPT "one" "uno"\r\n'), /^OK/);
    assert.match(await client.last('RENAMESCRIPT "uno" "three"\r\n'), /^NO \(ALREADYEXISTS\)/);
    assert.match(await client.last('RENAMESCRIPT "gone" "x"\r\n'), /^NO \(NONEXISTENT\)/);
    assert.match(await client.last('DELETESCRIPT "two"\r\n'), /^NO \(ACTIVE\)/, 'the active script cannot be deleted');
    assert.match(await client.last('DELETESCRIPT "uno"\r\n'), /^OK/);
    assert.match(await client.last('DELETESCRIPT "uno"\r\n'), /^NO \(NONEXISTENT\)/);
    assert.match(await client.last('HAVESPACE "big" 100\r\n'), /^OK/);
    assert.match(await client.last('HAVESPACE "big" 5000\r\n'), /^NO \(QUOTA\/MAXSIZE\)/, 'over the per-script limit');
    assert.match(await client.last('HAVESPACE "big" 4090\r\n'), /^NO \(QUOTA\/MAXSIZE\)/, 'over the total for the alias');
    assert.match(await client.last('SETACTIVE ""\r\n'), /^OK/);
    assert.deepEqual((await client.send('LISTSCRIPTS\r\n')).slice(0, 2), ['"three"', '"two"']);
    assert.match(await client.last('SETACTIVE "two"\r\n'), /^OK/);
    assert.match(await client.last('NOOP\r\n'), /^OK "Done"/);
    assert.match(await client.last('LOGOUT\r\n'), /^OK/);
    await client.line.closed;
    // what the mail path will run: the active script, stored in the mailbox file
    const session = await running.ctx.accounts.authenticate(ALICE, TEST_PASSWORD, { ip: '127.0.0.1', protocol: 'cli' });
    try {
      assert.deepEqual(session.mailbox.sieve.active(), { name: 'two', content: literal });
    } finally {
      session.release();
    }
  });

  test('RFC 5804 §2.6: scripts per alias are capped (NO (QUOTA/MAXSCRIPTS)); names with control characters are refused', async () => {
    const { client } = await SieveClient.connect(port);
    await client.login();
    const names = (await client.send('LISTSCRIPTS\r\n')).length - 1;
    for (let i = names; i < 5; i++) assert.match(await client.last(`PUTSCRIPT "n${i}" "keep;"\r\n`), /^OK/);
    assert.match(await client.last('PUTSCRIPT "sixth" "keep;"\r\n'), /^NO \(QUOTA\/MAXSCRIPTS\)/);
    assert.match(await client.last('PUTSCRIPT {5+}\r\na\tb\0c "keep;"\r\n'), /^NO "A script name is/);
    assert.match(await client.last('PUTSCRIPT "" "keep;"\r\n'), /^NO "A script name is/);
    for (let i = names; i < 5; i++) assert.match(await client.last(`DELETESCRIPT "n${i}"\r\n`), /^OK/);
    client.close();
  });

  test('hostile: a huge literal is refused as soon as its header arrives, before any of its bytes; the session goes on', async () => {
    const { client } = await SieveClient.connect(port);
    await client.login();
    // no octet of the announced gigabyte is sent: the NO must come from the header alone
    assert.match(await client.last('PUTSCRIPT "huge" {999999999+}\r\n'), /^NO \(QUOTA\/MAXSIZE\)/);
    client.close();
    const again = await SieveClient.connect(port);
    await again.client.login();
    assert.match(await again.client.last(`PUTSCRIPT "big" {5000+}\r\n${'#'.repeat(4999)}\n\r\n`), /^NO \(QUOTA\/MAXSIZE\)/);
    assert.match(await again.client.last('NOOP\r\n'), /^OK/, 'the skipped literal did not desynchronise the session');
    again.client.close();
  });

  test('hostile: 300 pipelined GETSCRIPTs from a client that does not read are answered in order once it reads (the server waits for the socket to drain)', async () => {
    const { client } = await SieveClient.connect(port);
    await client.login();
    const script = `# ${'x'.repeat(3000)}\r\nkeep;\r\n`;
    assert.match(await client.last(`PUTSCRIPT "pipe" {${script.length}+}\r\n${script}\r\n`), /^OK/);
    client.line.write('GETSCRIPT "pipe"\r\n'.repeat(300));
    await new Promise((resolve) => setTimeout(resolve, 200)); // the replies pile up on the server side meanwhile
    for (let i = 0; i < 300; i++) {
      const reply = await client.response();
      assert.equal(reply[0], script);
      assert.match(reply.at(-1)!, /^OK/);
    }
    assert.match(await client.last('DELETESCRIPT "pipe"\r\n'), /^OK/);
    client.close();
  });

  test('hostile: an over-long line gets BYE; too many commands before login get BYE; failed logins end the connection', async () => {
    const long = await SieveClient.connect(port);
    assert.match(await long.client.last(`NOOP "${'a'.repeat(5000)}"\r\n`), /^BYE "Command line longer than 1024 bytes"/);
    await long.client.line.closed;
    const chatty = await SieveClient.connect(port);
    let last = '';
    for (let i = 0; i < 30 && !last.startsWith('BYE'); i++) last = await chatty.client.last('NOOP\r\n');
    assert.match(last, /^BYE "Too many commands before login"/);
    await chatty.client.line.closed;
    const guesser = await SieveClient.connect(port);
    await guesser.client.startTls();
    assert.match(await guesser.client.last(`AUTHENTICATE "PLAIN" "${plain(ALICE, 'wrong-1')}"\r\n`), /^NO "Invalid address or password"/);
    assert.match(await guesser.client.last('AUTHENTICATE "PLAIN" "!!"\r\n'), /^NO/);
    assert.match(await guesser.client.last(`AUTHENTICATE "PLAIN" "${plain(ALICE, 'wrong-3')}"\r\n`), /^BYE "Too many failed logins/);
    await guesser.client.line.closed;
    assert.ok(logs.some((l) => l.includes('security auth.failed') && l.includes('protocol=managesieve')), 'failed logins are in the security log');
  });

  test('hostile: a flood of connections from one address is capped (4 sessions, the rest get BYE (TRYLATER))', async () => {
    const opened = await Promise.all(Array.from({ length: 12 }, () => LineClient.connect(port)));
    const first = await Promise.all(opened.map((c) => c.readLine()));
    const greeted = first.filter((l) => l === '"IMPLEMENTATION" "Sealpost"').length;
    const refused = first.filter((l) => l?.startsWith('BYE (TRYLATER) "Too many connections from your address')).length;
    // earlier tests' connections may still be closing on the server side: at most 4 in all are admitted
    assert.ok(greeted >= 1 && greeted <= 4, `${greeted} greeted`);
    assert.equal(greeted + refused, 12);
    for (const c of opened) c.close();
  });

  test('a session ends with BYE when the server locks the mailbox', async () => {
    const { client } = await SieveClient.connect(port);
    await client.login();
    await running.ctx.accounts.lock(aliasId);
    assert.match((await client.response()).at(-1)!, /^BYE /);
    await client.line.closed;
  });

  test('privacy: no script text, address or password in plaintext in the data dir or the logs', async () => {
    assert.deepEqual(findPlaintext(dir, [SECRET_WORD, TEST_PASSWORD, ALICE, 'fileinto "Junk"'], { logs, exclude: (file) => file.endsWith('.pem') }), []);
  });
});
