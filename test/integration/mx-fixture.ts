// Shared scaffolding of the MX integration tests: a running Sealpost (startApp) with the MX on a free
// port, a real loopback DNS server with sender zones (SPF, DKIM key, DMARC), log lines captured in
// memory, and clients: nodemailer, Python smtplib, a raw SMTP dialogue.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import nodemailer from 'nodemailer';
import { dkimSign } from 'mailauth';
import { startApp, type RunningApp } from '../../server/app.js';
import type { ListenerName } from '../../server/config/index.js';
import type { KdfParams } from '../../server/crypto/index.js';
import { REDACT_PATHS } from '../../server/log.js';
import { startDnsServer, type DnsRecords, type TestDnsServer } from '../helpers/dns-server.js';
import { freePorts, listenerPort, listenerPortsEnv } from '../helpers/ports.js';

export const TEST_KDF: KdfParams = Object.freeze({ algorithm: 'argon2id', memoryKiB: 256, iterations: 1, parallelism: 1 });
export const LOCAL_DOMAIN = 'sealpost.test';
export const PASSWORD = 'tidy-Orbit-9-walrus-Lantern';

/** A DKIM key pair for a sender domain, published in the test zone. */
export interface DkimKey {
  readonly domain: string;
  readonly selector: string;
  readonly privateKey: string;
  readonly txt: string;
}

export function makeDkimKey(domain: string, selector = 's1'): DkimKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { domain, selector, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), txt: `v=DKIM1; k=rsa; p=${spki}` };
}

/** Signs a message with mailauth's dkimSign; returns the signed bytes. */
export async function signed(raw: Buffer, key: DkimKey): Promise<Buffer> {
  const signature = { canonicalization: 'relaxed/relaxed', signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey };
  // mailauth signs what signatureData lists; its typings also want the fields at the top level.
  const result = await dkimSign(raw, { ...signature, signatureData: [signature] });
  return Buffer.concat([Buffer.from(result.signatures), raw]);
}

/** Zones: good.test (SPF allows 127.0.0.1, DKIM key, DMARC reject), bad.test (SPF -all, DMARC reject), quar.test (SPF -all, DMARC quarantine). */
export function senderZones(goodKey: DkimKey): Record<string, DnsRecords> {
  return {
    'good.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'], MX: [{ exchange: 'mx.good.test', priority: 10 }] },
    'mx.good.test': { A: ['127.0.0.1'] },
    [`${goodKey.selector}._domainkey.good.test`]: { TXT: [goodKey.txt] },
    '_dmarc.good.test': { TXT: ['v=DMARC1; p=reject'] },
    'bad.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
    '_dmarc.bad.test': { TXT: ['v=DMARC1; p=reject'] },
    'quar.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
    '_dmarc.quar.test': { TXT: ['v=DMARC1; p=quarantine'] },
    [LOCAL_DOMAIN]: { MX: [{ exchange: `mx.${LOCAL_DOMAIN}`, priority: 10 }], TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    [`mx.${LOCAL_DOMAIN}`]: { A: ['127.0.0.1'] },
  };
}

export interface MxApp {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly running: RunningApp;
  readonly dns: TestDnsServer;
  readonly logs: string[];
  port(name: ListenerName): number;
  stop(): Promise<void>;
}

export interface MxAppOptions {
  readonly zones: Record<string, DnsRecords>;
  readonly env?: Record<string, string>;
  readonly listeners?: readonly ListenerName[];
}

export async function startMxApp(options: MxAppOptions): Promise<MxApp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  const dns = await startDnsServer(options.zones);
  const listeners = options.listeners ?? ['smtp'];
  const ports = await freePorts(listeners.length);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    SEALPOST_TEST: '1',
    SEALPOST_DATA: dir,
    SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex'),
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_HOST: '127.0.0.1',
    SEALPOST_HOSTNAME: `mx.${LOCAL_DOMAIN}`,
    SEALPOST_DNS_SERVERS: dns.address,
    SEALPOST_DNS_TIMEOUT_MS: '2000',
  };
  Object.assign(env, listenerPortsEnv(listeners, ports));
  Object.assign(env, options.env ?? {});
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, sink);
  const running = await startApp({ env }, { logger, kdf: TEST_KDF });
  return {
    dir,
    env,
    running,
    dns,
    logs,
    port: (name) => listenerPort(running, name),
    stop: async () => {
      await running.stop();
      await dns.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends with nodemailer's SMTP transport; resolves with the server's final reply or rejects with the SMTP error. */
export async function sendNodemailer(port: number, envelope: { from: string; to: string[] }, raw: Buffer, options: { requireTLS?: boolean } = {}): Promise<{ response: string; accepted: string[]; rejected: string[] }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: !options.requireTLS,
    requireTLS: options.requireTLS === true,
    tls: { rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    name: 'client.good.test',
  });
  try {
    const info = await transport.sendMail({ envelope, raw });
    return { response: info.response, accepted: info.accepted.map(String), rejected: info.rejected.map(String) };
  } finally {
    transport.close();
  }
}

/** Sends with Python's smtplib; returns what Python saw: {"ok": true, "refused": {...}} or {"ok": false, "code", "error"}. */
// Async spawn: the server under test runs in this same process, a spawnSync would block it.
export async function sendSmtplib(port: number, from: string, to: string[], raw: Buffer, starttls = false): Promise<{ ok: boolean; code?: number; error?: string; refused?: Record<string, [number, string]> }> {
  const script = `
import json, smtplib, ssl, sys
raw = sys.stdin.buffer.read()
port, sender, rcpts, tls = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4] == '1'
s = smtplib.SMTP('127.0.0.1', port, local_hostname='py.good.test', timeout=30)
try:
    if tls:
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
    refused = s.sendmail(sender, rcpts, raw)
    print(json.dumps({"ok": True, "refused": {k: [v[0], v[1].decode()] for k, v in refused.items()}}))
except smtplib.SMTPRecipientsRefused as e:
    print(json.dumps({"ok": False, "code": list(e.recipients.values())[0][0], "error": list(e.recipients.values())[0][1].decode()}))
except smtplib.SMTPResponseException as e:
    print(json.dumps({"ok": False, "code": e.smtp_code, "error": e.smtp_error.decode()}))
finally:
    try: s.quit()
    except Exception: pass
`;
  const child = spawn('python3', ['-c', script, String(port), from, JSON.stringify(to), starttls ? '1' : '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(raw);
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (status !== 0) throw new Error(`python smtplib failed: ${stderr}`);
  return JSON.parse(stdout) as { ok: boolean; code?: number; error?: string };
}

/** A raw SMTP dialogue: sends each line and collects the reply to it (multi-line replies joined). */
export async function smtpDialogue(port: number, lines: readonly string[]): Promise<string[]> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let buffer = '';
  const waiters: ((reply: string) => void)[] = [];
  const replies: string[] = [];
  socket.on('data', (data: string) => {
    buffer += data;
    for (;;) {
      const match = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(buffer);
      if (!match) break;
      buffer = buffer.slice(match[0].length);
      const reply = match[0].trimEnd();
      const waiter = waiters.shift();
      if (waiter) waiter(reply);
      else replies.push(reply);
    }
  });
  const next = (): Promise<string> => (replies.length ? Promise.resolve(replies.shift() as string) : new Promise((resolve) => waiters.push(resolve)));
  const out: string[] = [await next()];
  for (const line of lines) {
    socket.write(`${line}\r\n`);
    // DATA content ends with "." and gets one reply; lines inside DATA get none.
    out.push(await next());
  }
  socket.end();
  return out;
}

/** A small test message. */
export function message(opts: { from: string; to: string; subject: string; body: string; extraHeaders?: string[]; messageId?: string }): Buffer {
  const headers = [
    `From: Sender <${opts.from}>`,
    `To: ${opts.to}`,
    `Subject: ${opts.subject}`,
    `Date: Tue, 07 Jan 2025 10:00:00 +0000`,
    `Message-ID: <${opts.messageId ?? crypto.randomUUID()}@${opts.from.split('@')[1]}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    ...(opts.extraHeaders ?? []),
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${opts.body}\r\n`, 'utf8');
}

/** The bytes our MX prepended: everything before the original message. */
export function prependedHeaders(stored: Buffer, original: Buffer): string {
  assertEndsWith(stored, original);
  return stored.subarray(0, stored.length - original.length).toString('utf8');
}

export function assertEndsWith(stored: Buffer, original: Buffer): void {
  if (!stored.subarray(stored.length - original.length).equals(original)) throw new Error('stored message does not end with the original bytes');
}
