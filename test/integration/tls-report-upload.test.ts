// SMTP TLS reports uploaded to an https: reporting address (RFC 8460 §5.4): one POST of the gzipped JSON as
// application/tlsrpt+gzip to a real HTTPS server, verified against a CA the sending process trusts; and no POST
// at all to an address the outbound address policy refuses (here: loopback, when loopback is not allowed).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { makeCert } from '../helpers/test-certs.js';

const CHILD = fileURLToPath(new URL('../helpers/tls-report-upload-child.ts', import.meta.url));
const DOMAIN = 'tls-upload.test';
const REPORT_HOST = 'reports.upload.test';

describe('TLS reports over HTTPS (RFC 8460 §5.4)', () => {
  const ca = makeCert({ commonName: 'Upload test CA', ca: true });
  const cert = makeCert({ commonName: REPORT_HOST, dnsNames: [REPORT_HOST], issuer: ca });
  let dir: string;
  let caFile: string;
  let dns: TestDnsServer;
  let server: https.Server;
  const uploads: { method: string; url: string; type: string; body: Buffer }[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-tlsrpt-'));
    caFile = path.join(dir, 'ca.pem');
    fs.writeFileSync(caFile, ca.certPem);
    server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        uploads.push({ method: request.method ?? '', url: request.url ?? '', type: String(request.headers['content-type']), body: Buffer.concat(chunks) });
        response.writeHead(201).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    dns = await startDnsServer({
      [REPORT_HOST]: { A: ['127.0.0.1'] },
      [`_smtp._tls.${DOMAIN}`]: { TXT: [`v=TLSRPTv1; rua=https://${REPORT_HOST}:${port}/v1/tlsrpt`] },
    });
  });

  after(async () => {
    server.close();
    await dns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const sendFromChild = (allowLoopback: boolean): Promise<{ sent: number }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({ dir, dns: dns.address, allowLoopback, domain: DOMAIN })], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { sent: number }) : reject(new Error(`child exited ${code}: ${out}`))));
    });

  it('POSTs yesterday’s report as application/tlsrpt+gzip to the https rua, over a verified TLS connection', async () => {
    assert.deepEqual(await sendFromChild(true), { sent: 1 });
    assert.equal(uploads.length, 1);
    const [upload] = uploads;
    assert.deepEqual([upload?.method, upload?.url, upload?.type], ['POST', '/v1/tlsrpt', 'application/tlsrpt+gzip']);
    const report = JSON.parse(gunzipSync(upload?.body ?? Buffer.alloc(0)).toString('utf8')) as { policies: { policy: { 'policy-domain': string }; summary: Record<string, number>; 'failure-details': { 'result-type': string }[] }[] };
    assert.equal(report.policies[0]?.policy['policy-domain'], DOMAIN);
    assert.equal(report.policies[0]?.summary['total-failure-session-count'], 1);
    assert.equal(report.policies[0]?.['failure-details'][0]?.['result-type'], 'certificate-expired');
  });

  it('does not POST to an address the outbound policy refuses (SSRF: the reporting host resolves to loopback)', async () => {
    const before = uploads.length;
    assert.deepEqual(await sendFromChild(false), { sent: 0 });
    assert.equal(uploads.length, before);
  });
});
