// Connection floods against a real `sealpost serve` child started with 1,024 file descriptors
// (prlimit --nofile=1024:1024): 1,500 idle connections on one listener are turned away in that protocol's
// words once its cap is reached, and meanwhile the other listeners still serve a real IMAP login (imapflow),
// an SMTP delivery to the MX (nodemailer) and a POP3 login. The per-IP caps are raised for this server so
// the flood meets the total caps, which are lowered to each protocol's share of the fd limit (net.ts
// capToFdShare), as a flood from many addresses would. Refusals are logged at a bounded rate.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { capToFdShare } from '../../server/net.js';
import {
  RELIABILITY_DOMAIN,
  connects,
  createInstance,
  messageIdsByFolder,
  smtpTransport,
  tinyMessage,
  until,
  type Instance,
} from '../helpers/reliability-harness.js';
import { freePorts } from '../helpers/ports.js';
import { SEALPOST_BIN } from '../helpers/sealpost-cli.js';
import { LineClient } from '../helpers/starttls-client.js';

const FLOOD = 1500;
const FD_LIMIT = 1024;
const ALICE = `alice@${RELIABILITY_DOMAIN}`;
const BOB = `bob@${RELIABILITY_DOMAIN}`;

let inst: Instance;
let submission: number;
let child: ChildProcess | null = null;
const logs: string[] = [];

/** Starts `serve` under prlimit with the given open-file limit (soft:hard); resolves once every port accepts. */
async function startLimited(nofile: string): Promise<ChildProcess> {
  const proc = spawn('prlimit', [`--nofile=${nofile}`, process.execPath, SEALPOST_BIN, 'serve'], { env: inst.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let partial = '';
  const onData = (d: Buffer): void => {
    partial += d.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    logs.push(...parts.filter(Boolean));
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  for (const port of [inst.ports.smtp, inst.ports.imap, inst.ports.pop3, submission]) {
    await until(`port ${port}`, async () => {
      if (proc.exitCode !== null) throw new Error(`serve exited:\n${logs.slice(-20).join('\n')}`);
      return connects(port);
    });
  }
  return proc;
}

async function stopChild(): Promise<void> {
  const proc = child;
  child = null;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

interface FloodResult {
  readonly held: LineClient[];
  readonly refusals: string[];
  /** Connections that got neither a greeting nor a refusal line (reset, or closed silently). */
  readonly other: number;
}

/** Opens `count` idle connections, 100 at a time; keeps the greeted ones open, collects the refusal lines. */
async function flood(port: number, greeting: RegExp, count = FLOOD): Promise<FloodResult> {
  const held: LineClient[] = [];
  const refusals: string[] = [];
  let other = 0;
  for (let start = 0; start < count; start += 100) {
    const batch = Array.from({ length: Math.min(100, count - start) }, async () => {
      let client: LineClient;
      try {
        client = await LineClient.connect(port);
      } catch {
        other += 1;
        return;
      }
      const line = await client.readLine(30_000).catch(() => null);
      if (line !== null && greeting.test(line)) held.push(client);
      else {
        if (line === null) other += 1;
        else refusals.push(line);
        client.close();
      }
    });
    await Promise.all(batch);
  }
  return { held, refusals, other };
}

function closeAll(result: FloodResult): void {
  for (const client of result.held) client.close();
}

/** A fresh connection is greeted again (the flood's slots were released). */
async function greetedAgain(port: number, greeting: RegExp): Promise<void> {
  await until(`a greeting on ${port}`, async () => {
    const client = await LineClient.connect(port);
    const line = await client.readLine().catch(() => null);
    client.close();
    return line !== null && greeting.test(line);
  });
}

async function deliverToMx(label: string): Promise<string> {
  const message = tinyMessage(ALICE, label);
  const transport = smtpTransport(inst.ports.smtp);
  try {
    const info = await transport.sendMail({ envelope: { from: 'sender@sender.rel.test', to: [ALICE] }, raw: message.raw });
    assert.deepEqual(info.accepted, [ALICE]);
  } finally {
    transport.close();
  }
  return message.messageId;
}

/**
 * A real IMAP client logs in and sees the message delivered during the flood. The alias is locked (no keychain),
 * so the MX sealed it and the login starts the drain behind its OK: look again until it has landed.
 */
async function imapSees(messageId: string): Promise<void> {
  await until('the IMAP login sees the message delivered during the flood', async () => {
    const ids = await messageIdsByFolder(inst.ports.imap, ALICE, inst.passwords.get(ALICE)!);
    return ids.get('INBOX')?.includes(messageId) ?? false;
  });
}

/** A POP3 login (USER/PASS over a raw socket) reaches TRANSACTION state. */
async function pop3Login(): Promise<void> {
  const client = await LineClient.connect(inst.ports.pop3);
  assert.match((await client.readLine()) ?? '', /^\+OK/);
  client.write(`USER ${BOB}\r\n`);
  assert.match((await client.readLine()) ?? '', /^\+OK/);
  client.write(`PASS ${inst.passwords.get(BOB)}\r\n`);
  assert.match((await client.readLine()) ?? '', /^\+OK maildrop has/);
  client.write('QUIT\r\n');
  await client.readLine();
  client.close();
}

const refusedLines = (protocol: string, reason: string): string[] =>
  logs.filter((l) => l.includes(`security conn.refused ip=127.0.0.1 protocol=${protocol} reason=${reason}`));

before(async () => {
  [submission] = (await freePorts(1)) as [number];
  inst = await createInstance({
    aliases: [ALICE, BOB],
    env: {
      SEALPOST_SUBMISSION_PORT: String(submission),
      SEALPOST_POP3_MAX_CONNECTIONS_PER_IP: '5000',
      SEALPOST_SUBMISSION_MAX_CONNECTIONS_PER_IP: '5000',
      SEALPOST_IMAP_MAX_CONNECTIONS_PER_IP: '5000',
    },
  });
  child = await startLimited(`${FD_LIMIT}:${FD_LIMIT}`);
});

after(async () => {
  await stopChild();
  await inst?.cleanup();
});

describe(`floods against serve with ${FD_LIMIT} file descriptors`, { timeout: 600_000 }, () => {
  it('runs with the fd limit it was given', () => {
    const limits = fs.readFileSync(`/proc/${child!.pid}/limits`, 'utf8');
    assert.match(limits, new RegExp(`^Max open files\\s+${FD_LIMIT}\\s+${FD_LIMIT}\\s`, 'm'));
  });

  it(`POP3: ${FLOOD} idle connections are capped with -ERR [SYS/TEMP] (RFC 3206); an IMAP login and an SMTP delivery still succeed`, async () => {
    const result = await flood(inst.ports.pop3, /^\+OK /);
    try {
      const share = capToFdShare(500, 'pop3', FD_LIMIT);
      assert.ok(result.held.length > 0 && result.held.length <= share, `held ${result.held.length}, share ${share}`);
      assert.equal(result.held.length + result.refusals.length + result.other, FLOOD);
      assert.ok(result.refusals.length >= FLOOD - share - result.other, `refused ${result.refusals.length}`);
      assert.deepEqual([...new Set(result.refusals)], ['-ERR [SYS/TEMP] Too many connections, try again later']);
      const messageId = await deliverToMx('pop3 flood');
      await imapSees(messageId);
    } finally {
      closeAll(result);
    }
    // Over a thousand refusals, one log line (the count follows when the minute is over).
    const lines = refusedLines('pop3', 'total-cap');
    assert.ok(lines.length >= 1 && lines.length <= 2, `${lines.length} log lines`);
    await greetedAgain(inst.ports.pop3, /^\+OK /);
  });

  it(`submission: ${FLOOD} idle connections are capped with 421 4.7.0 (RFC 5321 §3.8); an IMAP login and an SMTP delivery still succeed`, async () => {
    const result = await flood(submission, /^220 /);
    try {
      const share = capToFdShare(500, 'submission', FD_LIMIT);
      assert.ok(result.held.length > 0 && result.held.length <= share, `held ${result.held.length}, share ${share}`);
      assert.ok(result.refusals.length >= FLOOD - share - result.other, `refused ${result.refusals.length}`);
      assert.deepEqual([...new Set(result.refusals)], ['421 4.7.0 Too many connections, try again later']);
      const messageId = await deliverToMx('submission flood');
      await imapSees(messageId);
    } finally {
      closeAll(result);
    }
    const lines = refusedLines('submission', 'total-cap');
    assert.ok(lines.length >= 1 && lines.length <= 2, `${lines.length} log lines`);
    await greetedAgain(submission, /^220 /);
  });

  it(`IMAP: ${FLOOD} idle connections are capped with * BYE (RFC 3501 §7.1.5); a POP3 login and an SMTP delivery still succeed, IMAP serves again after`, async () => {
    const result = await flood(inst.ports.imap, /^\* OK /);
    let messageId: string;
    try {
      const share = capToFdShare(2000, 'imap', FD_LIMIT);
      assert.ok(result.held.length > 0 && result.held.length <= share, `held ${result.held.length}, share ${share}`);
      assert.ok(result.refusals.length >= FLOOD - share - result.other, `refused ${result.refusals.length}`);
      assert.deepEqual([...new Set(result.refusals)], ['* BYE Too many connections, try again later']);
      messageId = await deliverToMx('imap flood');
      await pop3Login();
    } finally {
      closeAll(result);
    }
    await greetedAgain(inst.ports.imap, /^\* OK /);
    await imapSees(messageId);
  });

  it('Node raises the fd soft limit to the hard limit at start (serve under prlimit --nofile=512:4096)', async () => {
    await stopChild();
    child = await startLimited('512:4096');
    const limits = fs.readFileSync(`/proc/${child.pid}/limits`, 'utf8');
    assert.match(limits, /^Max open files\s+4096\s+4096\s/m);
  });
});
