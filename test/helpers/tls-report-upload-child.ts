// Runs in its own process (started with NODE_EXTRA_CA_CERTS naming a test CA, which Node reads only at start):
// an outbound queue that counted one failed TLS session yesterday sends its SMTP TLS report, and prints how many
// reports went out. Arguments: one JSON object { dir, dns, allowLoopback, domain }.
import crypto from 'node:crypto';
import path from 'node:path';
import { createResolver } from '../../server/smtp/dns.js';
import { DEFAULT_OUTBOUND_OPTIONS, OutboundQueue } from '../../server/smtp/outbound/index.js';
import { silentLogger } from '../../server/log.js';

const job = JSON.parse(process.argv[2] ?? '{}') as { dir: string; dns: string; allowLoopback: boolean; domain: string };
const queue = new OutboundQueue({
  file: path.join(job.dir, `outbound-${crypto.randomUUID()}.sqlite`),
  appKey: crypto.randomBytes(32),
  logger: silentLogger(),
  hostname: 'mail.sender.test',
  resolver: createResolver({ servers: [job.dns] }),
  options: { ...DEFAULT_OUTBOUND_OPTIONS, targets: { allowPrivate: false, allowLoopback: job.allowLoopback } },
});
const yesterday = Date.now() - 86_400_000;
queue.store.recordTlsSession(
  { policyDomain: job.domain, policyType: 'no-policy-found', policyString: [], mxHostPatterns: [], receivingMxHostname: `mx.${job.domain}`, receivingIp: '192.0.2.25', sendingMtaIp: null, failure: 'certificate-expired' },
  yesterday,
);
const sent = await queue.sendTlsReports();
queue.close();
process.stdout.write(`${JSON.stringify({ sent })}\n`);
