// Transport security of direct delivery against real SMTP peers on loopback, with a loopback resolver that
// sets the AD bit like a validating unbound: DANE (RFC 7672) authenticates the MX by its TLSA records, an
// MTA-STS enforce policy (RFC 8461) refuses a certificate that does not verify, each refusal is deferred with
// its reason in the outgoing history, and the day's TLS outcomes go out as an SMTP TLS report (RFC 8460).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { simpleParser } from 'mailparser';
import { startDnssecServer, type DnssecTestServer } from '../helpers/dnssec-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { makeCert, sha256 } from '../helpers/test-certs.js';
import { findPlaintext } from '../helpers/privacy.js';
import { createResolver } from '../../server/smtp/dns.js';
import { DEFAULT_OUTBOUND_OPTIONS, OutboundQueue } from '../../server/smtp/outbound/index.js';
import { silentLogger } from '../../server/log.js';
import type { OutgoingDetail } from '../../server/ports.js';

const BODY = 'Lighthouse keeper rota for the winter 5519.';
const raw = (to: string): Buffer => Buffer.from(`From: alice@sender.test\r\nTo: ${to}\r\nSubject: Rota\r\nMessage-ID: <${crypto.randomUUID()}@sender.test>\r\n\r\n${BODY}\r\n`);

async function until<T>(what: string, read: () => T | null | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('DANE, MTA-STS and TLS reports on direct delivery', () => {
  const ca = makeCert({ commonName: 'Sealpost DANE test CA', ca: true });
  const mxCert = makeCert({ commonName: 'mx.dane.test', dnsNames: ['mx.dane.test', 'mx.danebad.test', 'mx.sts.test', 'mx.reports.test'], issuer: ca });
  const otherKey = makeCert({ commonName: 'elsewhere.test', dnsNames: ['elsewhere.test'] });
  let dir: string;
  let dns: DnssecTestServer;
  let sink: SmtpSink;
  let policyServer: http.Server;
  let queue: OutboundQueue;
  const detail = (id: string): OutgoingDetail | null => queue.historyOf(id);
  const lastAttempt = (d: OutgoingDetail) => d.recipientList[0]?.history.at(-1);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
    sink = await startSmtpSink({ tls: { key: mxCert.keyPem, cert: mxCert.certPem + ca.certPem } });
    dns = await startDnssecServer();
    const tlsa = (cert: { spkiDer: Buffer }) => [{ usage: 3, selector: 1, matchingType: 1, certificate: sha256(cert.spkiDer) }];
    // a signed zone whose TLSA record matches the MX's key
    dns.set('dane-ok.test', { secure: true, MX: [{ exchange: 'mx.dane.test', priority: 10 }] });
    dns.set('mx.dane.test', { secure: true, A: ['127.0.0.1'] });
    dns.set(`_${sink.port}._tcp.mx.dane.test`, { secure: true, TLSA: tlsa(mxCert) });
    // a signed zone whose TLSA record names another key: an attacker's certificate, as far as DANE can tell
    dns.set('dane-bad.test', { secure: true, MX: [{ exchange: 'mx.danebad.test', priority: 10 }] });
    dns.set('mx.danebad.test', { secure: true, A: ['127.0.0.1'] });
    dns.set(`_${sink.port}._tcp.mx.danebad.test`, { secure: true, TLSA: tlsa(otherKey) });
    dns.set('_smtp._tls.dane-bad.test', { secure: true, TXT: ['v=TLSRPTv1; rua=mailto:tlsrpt@reports.test'] });
    // the same TLSA records in an unsigned zone mean nothing: delivery as before
    dns.set('unsigned.test', { secure: false, MX: [{ exchange: 'mx.danebad.test', priority: 10 }] });
    // MTA-STS enforce with an MX certificate that does not verify (its CA is not a public one)
    dns.set('sts.test', { secure: false, MX: [{ exchange: 'mx.sts.test', priority: 10 }] });
    dns.set('mx.sts.test', { secure: false, A: ['127.0.0.1'] });
    dns.set('_mta-sts.sts.test', { secure: false, TXT: ['v=STSv1; id=20261206'] });
    // where the TLS report goes
    dns.set('reports.test', { secure: false, MX: [{ exchange: 'mx.reports.test', priority: 10 }] });
    dns.set('mx.reports.test', { secure: false, A: ['127.0.0.1'] });
    policyServer = http.createServer((req, res) => {
      if (req.url === '/sts.test/.well-known/mta-sts.txt') res.end('version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => policyServer.listen(0, '127.0.0.1', resolve));
    queue = new OutboundQueue({
      file: path.join(dir, 'outbound.sqlite'),
      appKey: crypto.randomBytes(32),
      logger: silentLogger(),
      hostname: 'mail.sender.test',
      resolver: createResolver({ servers: [dns.address] }),
      options: {
        ...DEFAULT_OUTBOUND_OPTIONS,
        mxPort: sink.port,
        retryBaseMs: 3600_000,
        pollMs: 25,
        targets: { allowPrivate: false, allowLoopback: true },
        mtaStsUrl: `http://127.0.0.1:${(policyServer.address() as AddressInfo).port}/{domain}/.well-known/mta-sts.txt`,
      },
      notifySender: async () => true,
    });
    queue.dkim.ensure('sender.test');
    queue.start();
  });

  after(async () => {
    await queue.stop();
    queue.close();
    await sink.close();
    await dns.close();
    policyServer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('DANE is on because the resolver is on this machine (RFC 7672 §2.1, RFC 6698 §4.1)', () => {
    assert.ok(queue.dane);
  });

  it('a certificate matching the signed TLSA record is delivered, recorded as checked by DANE (RFC 7672 §3.1.1)', async () => {
    const id = await queue.enqueue({ kind: 'submission', from: 'alice@sender.test', to: ['bob@dane-ok.test'], raw: raw('bob@dane-ok.test') });
    const d = await until('delivery to dane-ok.test', () => (detail(id)?.status === 'delivered' ? detail(id) : null));
    const attempt = lastAttempt(d as OutgoingDetail);
    assert.equal(attempt?.policy, 'dane');
    assert.equal(attempt?.verified, true);
    assert.match(attempt?.tlsVersion ?? '', /^TLSv1\.[23]$/);
  });

  it('a certificate matching no signed TLSA record is not sent to: deferred with the reason in the history (RFC 7672 §2.2)', async () => {
    const before = sink.messages.length;
    const id = await queue.enqueue({ kind: 'submission', from: 'alice@sender.test', to: ['carol@dane-bad.test'], raw: raw('carol@dane-bad.test') });
    const d = await until('the DANE refusal', () => (detail(id)?.recipientList[0]?.lastResponse ? detail(id) : null));
    assert.equal(d?.status, 'waiting');
    assert.match(d?.recipientList[0]?.lastResponse ?? '', /^4\.7\.5 DANE: the certificate of mx\.danebad\.test matches none of its DANE TLSA records/);
    assert.equal(lastAttempt(d as OutgoingDetail)?.outcome, 'deferred');
    assert.equal(sink.messages.length, before, 'nothing reached the MX');
  });

  it('the same TLSA records below an unsigned MX lookup do not apply: opportunistic delivery (RFC 7672 §2.2.1)', async () => {
    const id = await queue.enqueue({ kind: 'submission', from: 'alice@sender.test', to: ['dan@unsigned.test'], raw: raw('dan@unsigned.test') });
    const d = await until('delivery to unsigned.test', () => (detail(id)?.status === 'delivered' ? detail(id) : null));
    assert.equal(lastAttempt(d as OutgoingDetail)?.policy, 'opportunistic');
  });

  it('MTA-STS enforce: an MX certificate that does not verify is deferred with the reason in the history (RFC 8461 §4.2)', async () => {
    const before = sink.messages.length;
    const id = await queue.enqueue({ kind: 'submission', from: 'alice@sender.test', to: ['erin@sts.test'], raw: raw('erin@sts.test') });
    const d = await until('the MTA-STS refusal', () => (detail(id)?.recipientList[0]?.lastResponse ? detail(id) : null));
    assert.equal(d?.status, 'waiting');
    assert.match(d?.recipientList[0]?.lastResponse ?? '', /^4\.4\.1 mx\.sts\.test: .*(certificate|self-signed|issuer)/i);
    assert.equal(lastAttempt(d as OutgoingDetail)?.policy, 'mta-sts');
    assert.equal(sink.messages.length, before);
  });

  it('the day’s TLS outcomes go to the rua of the domain that asks, as a DKIM-signed RFC 8460 report (§4, §5.3)', async () => {
    const before = sink.messages.length;
    // the report of a finished day: pretend it is tomorrow
    assert.equal(await queue.sendTlsReports(Date.now() + 86_400_000), 1, 'only dane-bad.test publishes a TLSRPT record');
    const [message] = (await sink.waitFor(before + 1)).slice(before);
    assert.deepEqual(message?.rcptTo, ['tlsrpt@reports.test']);
    assert.equal(message?.mailFrom, '', 'reports go out with the null reverse-path, so nothing bounces back to a person');
    const mail = await simpleParser(message?.raw ?? Buffer.alloc(0));
    assert.ok(mail.headers.get('dkim-signature'), 'signed (RFC 8460 §5.3)');
    assert.equal(mail.headers.get('tls-report-domain'), 'dane-bad.test');
    const attachment = mail.attachments.find((a) => a.contentType === 'application/tlsrpt+gzip');
    assert.ok(attachment);
    const report = JSON.parse(gunzipSync(attachment.content).toString('utf8')) as { policies: { policy: { 'policy-type': string; 'policy-domain': string }; summary: Record<string, number>; 'failure-details'?: { 'result-type': string; 'receiving-mx-hostname': string; 'failed-session-count': number }[] }[] };
    const tlsa = report.policies.find((p) => p.policy['policy-type'] === 'tlsa');
    assert.equal(tlsa?.policy['policy-domain'], 'dane-bad.test');
    assert.ok((tlsa?.summary['total-failure-session-count'] ?? 0) >= 1);
    assert.equal(tlsa?.['failure-details']?.[0]?.['result-type'], 'validation-failure');
    assert.equal(tlsa?.['failure-details']?.[0]?.['receiving-mx-hostname'], 'mx.danebad.test');
    // sent once: the day's outcomes are gone
    assert.equal(await queue.sendTlsReports(Date.now() + 86_400_000), 0);
  });

  it('no message text in plaintext in the data dir', () => {
    assert.deepEqual(findPlaintext(dir, [BODY]), []);
  });
});
