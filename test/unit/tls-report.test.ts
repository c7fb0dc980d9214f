// SMTP TLS reports we send (RFC 8460): the record that asks for them, the JSON report, and the report mail.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { buildTlsReport, buildTlsReportMail, classifyTlsFailure, parseTlsRptRecord, tlsReportFileName, tlsRptFromTxt, type TlsSessionResult } from '../../server/smtp/outbound/tls-report.js';
import { makeCert } from '../helpers/test-certs.js';

describe('TLSRPT record (RFC 8460 §3)', () => {
  it('RFC 8460 §3 examples: a mailto and an https reporting URI', () => {
    assert.deepEqual(parseTlsRptRecord('v=TLSRPTv1;rua=mailto:reports@example.com'), { mailto: ['reports@example.com'], https: [] });
    assert.deepEqual(parseTlsRptRecord('v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt'), { mailto: [], https: ['https://reporting.example.com/v1/tlsrpt'] });
    assert.deepEqual(parseTlsRptRecord('v=TLSRPTv1; rua=mailto:a@example.com, mailto:b%40x@example.com,mailto:c@example.com; ext=1'), { mailto: ['a@example.com', 'c@example.com'], https: [] });
  });

  it('anything that is not a TLSRPTv1 record with a usable rua is no record (RFC 8460 §3)', () => {
    assert.equal(parseTlsRptRecord('v=spf1 -all'), null);
    assert.equal(parseTlsRptRecord('v=TLSRPTv1'), null);
    assert.equal(parseTlsRptRecord('v=TLSRPTv1; rua=ftp://x.example/'), null);
    assert.equal(parseTlsRptRecord('v=TLSRPTv1; rua=mailto:%E0%A4%A'), null);
    assert.equal(parseTlsRptRecord('v=TLSRPTv1; rua=mailto:x@example.com?subject=hi'), null);
  });

  it('more than one TLSRPTv1 record in the set means none (RFC 8460 §3)', () => {
    assert.deepEqual(tlsRptFromTxt([['v=TLSRPTv1; rua=mailto:', 'r@example.com'], ['v=spf1 -all']]), { mailto: ['r@example.com'], https: [] });
    assert.equal(tlsRptFromTxt([['v=TLSRPTv1; rua=mailto:a@example.com'], ['v=TLSRPTv1; rua=mailto:b@example.com']]), null);
    assert.equal(tlsRptFromTxt([]), null);
  });
});

const sts = ['version: STSv1', 'mode: enforce', 'mx: *.mail.company-y.example', 'max_age: 86400'];
const session = (failure: TlsSessionResult['failure'], mx = 'mx1.mail.company-y.example'): TlsSessionResult => ({
  policyDomain: 'company-y.example',
  policyType: 'sts',
  policyString: sts,
  mxHostPatterns: ['*.mail.company-y.example'],
  receivingMxHostname: mx,
  receivingIp: '203.0.113.56',
  sendingMtaIp: '2001:db8:abcd:0012::1',
  failure,
});

describe('TLS report JSON (RFC 8460 §4)', () => {
  it('sums sessions per policy and groups failures by type and host (RFC 8460 §4.4)', () => {
    const report = buildTlsReport({
      organizationName: 'sealpost.example',
      contactInfo: 'postmaster@sealpost.example',
      start: new Date('2026-12-05T00:00:00Z'),
      end: new Date('2026-12-05T23:59:59Z'),
      results: [session(null), session(null), session('certificate-expired'), session('certificate-expired'), session('starttls-not-supported', 'mx2.mail.company-y.example')],
      reportId: '2026-12-05T00:00:00Z_abc',
    });
    assert.equal(report['organization-name'], 'sealpost.example');
    assert.deepEqual(report['date-range'], { 'start-datetime': '2026-12-05T00:00:00Z', 'end-datetime': '2026-12-05T23:59:59Z' });
    assert.equal(report.policies.length, 1);
    const [policy] = report.policies;
    assert.deepEqual(policy?.policy, { 'policy-type': 'sts', 'policy-string': sts, 'policy-domain': 'company-y.example', 'mx-host': ['*.mail.company-y.example'] });
    assert.deepEqual(policy?.summary, { 'total-successful-session-count': 2, 'total-failure-session-count': 3 });
    assert.deepEqual(
      policy?.['failure-details']?.map((d) => [d['result-type'], d['receiving-mx-hostname'], d['failed-session-count']]),
      [
        ['certificate-expired', 'mx1.mail.company-y.example', 2],
        ['starttls-not-supported', 'mx2.mail.company-y.example', 1],
      ],
    );
  });

  it('a domain without a policy is reported as no-policy-found with no policy-string (RFC 8460 §4.3)', () => {
    const report = buildTlsReport({
      organizationName: 'o',
      contactInfo: 'c@o.example',
      start: new Date(0),
      end: new Date(86_399_000),
      results: [{ ...session(null), policyType: 'no-policy-found', policyString: [], mxHostPatterns: [] }],
    });
    assert.deepEqual(report.policies[0]?.policy, { 'policy-type': 'no-policy-found', 'policy-domain': 'company-y.example' });
    assert.equal(report.policies[0]?.['failure-details'], undefined);
  });
});

describe('TLS report mail (RFC 8460 §5.3)', () => {
  it('multipart/report; report-type="tlsrpt" with the gzipped JSON, the §5.3 subject and headers, and the §5.1 file name', async () => {
    const report = buildTlsReport({ organizationName: 'sealpost.example', contactInfo: 'p@sealpost.example', start: new Date('2026-12-05T00:00:00Z'), end: new Date('2026-12-05T23:59:59Z'), results: [session('certificate-host-mismatch')], reportId: 'r-1' });
    const raw = buildTlsReportMail({ report, policyDomain: 'company-y.example', submitter: 'sealpost.example', from: 'tls-reports@sealpost.example', to: ['reports@company-y.example'] });
    const mail = await simpleParser(raw);
    assert.equal(mail.subject, 'Report Domain: company-y.example Submitter: sealpost.example Report-ID: <r-1>');
    assert.equal(mail.headers.get('tls-report-domain'), 'company-y.example');
    assert.equal(mail.headers.get('tls-report-submitter'), 'sealpost.example');
    assert.match(String(raw), /Content-Type: multipart\/report; report-type="tlsrpt"/);
    const attachment = mail.attachments.find((a) => a.contentType === 'application/tlsrpt+gzip');
    assert.ok(attachment);
    assert.equal(attachment.filename, 'sealpost.example!company-y.example!1796428800!1796515199!r-1.json.gz');
    assert.equal(tlsReportFileName(report, 'sealpost.example', 'company-y.example'), attachment.filename);
    assert.deepEqual(JSON.parse(gunzipSync(attachment.content).toString('utf8')), report);
  });
});

describe('TLS failure types from real handshakes (RFC 8460 §4.3)', () => {
  const handshakeError = async (cert: { keyPem: string; certPem: string }, servername: string, ca: string[]): Promise<string> => {
    const server = tls.createServer({ key: cert.keyPem, cert: cert.certPem });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      return await new Promise<string>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: true }, () => {
          socket.destroy();
          resolve('no error');
        });
        // the text nodemailer reports for a failed STARTTLS handshake
        socket.once('error', (error) => resolve(`Error initiating TLS - ${error.message}`));
      });
    } finally {
      server.close();
    }
  };
  const ca = makeCert({ commonName: 'Report CA', ca: true });
  const good = makeCert({ commonName: 'mx.good.test', dnsNames: ['mx.good.test'], issuer: ca });
  const expired = makeCert({ commonName: 'mx.good.test', dnsNames: ['mx.good.test'], issuer: ca, notBefore: new Date(Date.now() - 9e9), notAfter: new Date(Date.now() - 86_400_000) });
  const selfSigned = makeCert({ commonName: 'mx.good.test', dnsNames: ['mx.good.test'] });

  it('a certificate for another name is certificate-host-mismatch', async () => {
    assert.equal(classifyTlsFailure(await handshakeError(good, 'mx.other.test', [ca.certPem])), 'certificate-host-mismatch');
  });
  it('an expired certificate is certificate-expired', async () => {
    assert.equal(classifyTlsFailure(await handshakeError(expired, 'mx.good.test', [ca.certPem])), 'certificate-expired');
  });
  it('a self-signed or unknown-CA certificate is certificate-not-trusted', async () => {
    assert.equal(classifyTlsFailure(await handshakeError(selfSigned, 'mx.good.test', [ca.certPem])), 'certificate-not-trusted');
    assert.equal(classifyTlsFailure(await handshakeError(good, 'mx.good.test', [])), 'certificate-not-trusted');
  });
  it('a server without STARTTLS is starttls-not-supported; anything else validation-failure', () => {
    assert.equal(classifyTlsFailure('Error upgrading connection with STARTTLS'), 'starttls-not-supported');
    assert.equal(classifyTlsFailure('Error initiating TLS - socket hang up'), 'validation-failure');
  });
});
