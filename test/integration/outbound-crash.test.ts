// kill -9 of `bin/sealpost serve` in the middle of a 200-message outbound burst: after a restart every
// message reaches the remote MX. A recipient handed to the remote but not yet marked delivered when the
// process died is sent again (SMTP has no exactly-once handshake), so duplicates are bounded by the number
// of transactions in flight — and in practice usually zero. Nothing is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDnsServer } from '../helpers/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { OutboundQueue } from '../../server/smtp/outbound/index.js';
import { createResolver } from '../../server/smtp/dns.js';
import { silentLogger } from '../../server/log.js';
import { listenerPortsEnv } from '../helpers/ports.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/sealpost');
const COUNT = 200;
const IN_FLIGHT = 4;

const messageIdOf = (raw: Buffer): string => /^Message-ID: (<[^>]+>)/im.exec(raw.toString('latin1'))?.[1] ?? '';

async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('kill -9 during a 200-message outbound burst loses nothing and duplicates at most the in-flight few', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  const dns = await startDnsServer({
    'remote.test': { MX: [{ exchange: 'mx.remote.test', priority: 10 }] },
    'mx.remote.test': { A: ['127.0.0.1'] },
  });
  const sink: SmtpSink = await startSmtpSink();
  const appKey = crypto.randomBytes(32);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    SEALPOST_DATA: dir,
    SEALPOST_APP_KEY: appKey.toString('hex'),
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_LOG_LEVEL: 'warn',
    SEALPOST_HOSTNAME: 'mail.sender.test',
    SEALPOST_DNS_SERVERS: dns.address,
    SEALPOST_OUTBOUND_MX_PORT: String(sink.port),
    SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on', // the test MX resolves to a loopback sink
    SEALPOST_OUTBOUND_CONCURRENCY: String(IN_FLIGHT),
    SEALPOST_OUTBOUND_DOMAIN_CONCURRENCY: String(IN_FLIGHT),
    SEALPOST_OUTBOUND_DOMAIN_RATE: '100000',
    SEALPOST_OUTBOUND_RETRY_BASE_MS: '100',
    SEALPOST_OUTBOUND_POLL_MS: '50',
  };
  Object.assign(env, listenerPortsEnv());
  const children: ChildProcess[] = [];
  const serve = (): ChildProcess => {
    const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', () => undefined);
    children.push(child);
    return child;
  };
  try {
    // The burst: 200 small messages durably queued (as submission would), then the server starts sending.
    const queue = new OutboundQueue({ file: path.join(dir, 'outbound.sqlite'), appKey, logger: silentLogger(), hostname: 'mail.sender.test', resolver: createResolver({ servers: [dns.address] }) });
    const ids: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const id = `<burst.${i}.${crypto.randomUUID()}@sender.test>`;
      ids.push(id);
      const raw = Buffer.from(`From: alice@sender.test\r\nTo: r${i % 7}@remote.test\r\nSubject: burst ${i}\r\nMessage-ID: ${id}\r\n\r\nbody ${i}\r\n`);
      await queue.enqueue({ from: 'alice@sender.test', to: [`r${i % 7}@remote.test`], raw, kind: 'submission' });
    }
    queue.close();

    const first = serve();
    const killAt = 40 + crypto.randomInt(80);
    await until(`${killAt} deliveries`, () => sink.messages.length >= killAt);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = sink.messages.length;
    assert.ok(atKill < COUNT, 'killed mid-burst');

    const second = serve();
    const distinct = (): Set<string> => new Set(sink.messages.map((m) => messageIdOf(m.raw)));
    await until('all messages', () => distinct().size >= COUNT);
    // give a possible duplicate time to show up, then stop cleanly
    await new Promise((r) => setTimeout(r, 300));
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));

    const got = sink.messages.map((m) => messageIdOf(m.raw));
    assert.deepEqual([...new Set(got)].sort(), [...ids].sort(), 'every queued message arrived');
    const duplicates = got.length - new Set(got).size;
    assert.ok(duplicates <= IN_FLIGHT, `duplicates (${duplicates}) are bounded by the transactions in flight at the kill`);
    process.stdout.write(`# killed after ${atKill} deliveries; ${duplicates} duplicate(s)\n`);

    const after = new OutboundQueue({ file: path.join(dir, 'outbound.sqlite'), appKey, logger: silentLogger(), hostname: 'x', resolver: createResolver({ servers: [dns.address] }) });
    assert.equal(after.counts().messages, 0, 'the queue is empty');
    assert.equal((after.store.db.pragma('integrity_check') as { integrity_check: string }[])[0]?.integrity_check, 'ok');
    after.close();
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await sink.close();
    await dns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
