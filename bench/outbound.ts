// Outbound delivery throughput: N small messages queued in outbound.sqlite and delivered by the worker
// (MX lookup on a loopback DNS server → a local sink SMTP server), with the default concurrency limits.
// Flags: --messages=N (default 500), --concurrency=N (default 8), --domains=N (default 4).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDnsServer } from '../test/helpers/dns-server.js';
import { startSmtpSink } from '../test/helpers/smtp-sink.js';
import { OutboundQueue, DEFAULT_OUTBOUND_OPTIONS } from '../server/smtp/outbound/index.js';
import { createResolver } from '../server/smtp/dns.js';
import { silentLogger } from '../server/log.js';

const flag = (flags: string[], name: string, fallback: number): number => {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  return f ? Number(f.split('=')[1]) : fallback;
};

export async function run(flags: string[]): Promise<void> {
  const messages = flag(flags, 'messages', 500);
  const concurrency = flag(flags, 'concurrency', 8);
  const domains = flag(flags, 'domains', 4);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-bench-'));
  const zones: Record<string, { MX?: { exchange: string; priority: number }[]; A?: string[] }> = { 'mx.remote.test': { A: ['127.0.0.1'] } };
  for (let d = 0; d < domains; d++) zones[`d${d}.remote.test`] = { MX: [{ exchange: 'mx.remote.test', priority: 10 }] };
  const dns = await startDnsServer(zones);
  const sink = await startSmtpSink();
  const appKey = crypto.randomBytes(32);
  const queue = new OutboundQueue({
    file: path.join(dir, 'outbound.sqlite'),
    appKey,
    logger: silentLogger(),
    hostname: 'bench.sender.test',
    resolver: createResolver({ servers: [dns.address] }),
    options: { ...DEFAULT_OUTBOUND_OPTIONS, mxPort: sink.port, concurrency, perDomainConcurrency: concurrency, perDomainPerMinute: 1e9, pollMs: 50, targets: { allowPrivate: false, allowLoopback: true } },
  });
  try {
    const body = 'x'.repeat(2000);
    const t0 = performance.now();
    for (let i = 0; i < messages; i++) {
      const to = `user${i}@d${i % domains}.remote.test`;
      const raw = Buffer.from(`From: bench@sender.test\r\nTo: ${to}\r\nSubject: bench ${i}\r\nMessage-ID: <${i}@bench>\r\n\r\n${body}\r\n`);
      await queue.enqueue({ from: 'bench@sender.test', to: [to], raw, kind: 'submission' });
    }
    const enqueueSecs = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    queue.start();
    await sink.waitFor(messages, 600_000);
    const deliverSecs = (performance.now() - t1) / 1000;
    await queue.stop();
    const result = {
      bench: 'outbound',
      messages,
      concurrency,
      domains,
      enqueuePerSec: Math.round(messages / enqueueSecs),
      deliveredPerSec: Math.round((messages / deliverSecs) * 10) / 10,
      deliverSecs: Math.round(deliverSecs * 100) / 100,
    };
    console.log(JSON.stringify(result));
    console.log(`outbound: ${messages} messages delivered to a local sink in ${result.deliverSecs}s = ${result.deliveredPerSec} msg/s (enqueue ${result.enqueuePerSec} msg/s, concurrency ${concurrency})`);
  } finally {
    queue.close();
    await sink.close();
    await dns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
