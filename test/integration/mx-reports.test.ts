// Aggregate reports received over SMTP by a running MX (real sockets: nodemailer and Python smtplib) and read
// back through the admin API: Google's zip and Microsoft's gzip DMARC reports and an RFC 8460 TLS report land
// parsed per domain without any alias; duplicates are acknowledged once; hostile reports get 550 5.6.0 with
// the reason; the DNS helper publishes the report address; and no reporter address or IP is left in
// plaintext in the data dir or the logs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { pino } from 'pino';
import { createMxService } from '../../server/smtp/mx/index.js';
import type { Service } from '../../server/context.js';
import { REDACT_PATHS } from '../../server/log.js';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { freePorts, listenerPortsEnv } from '../helpers/ports.js';
import { findPlaintext } from '../helpers/privacy.js';
import { DEFAULT_REPORT_LIMITS, parseDmarcXml } from '../../server/reports/index.js';
import { BEGIN, END, googleDmarcXml, googleReportMessage, microsoftReportMessage, reportMessage, tlsReportMessage, type FixtureRow } from '../helpers/report-fixtures.js';
import { sendNodemailer, sendSmtplib, smtpDialogue } from './mx-fixture.js';

const DOMAIN = 'sealpost.test';
const OTHER = 'other.test';
const RUA = `aggregate-reports@${DOMAIN}`;
const ADMIN_PASSWORD = 'orbit velvet canyon 4417';
const GOOGLE_ROWS: FixtureRow[] = [
  { ip: '203.0.113.25', count: 42, dkim: 'pass', spf: 'pass' },
  { ip: '198.51.100.7', count: 3, dkim: 'fail', spf: 'fail', disposition: 'quarantine' },
];
const MICROSOFT_ROWS: FixtureRow[] = [
  { ip: '203.0.113.25', count: 8, dkim: 'pass', spf: 'fail' },
  { ip: '192.0.2.99', count: 5, dkim: 'fail', spf: 'fail', disposition: 'reject' },
];

interface Summary {
  domain: string;
  reportAddress: string;
  dmarc: { reports: number; messages: number; dmarcPass: number; sources: { sourceIp: string; messages: number; dkimPass: number; spfPass: number; dmarcPass: number; quarantined: number; rejected: number; reporters: string[] }[] };
  tls: { reports: number; successful: number; failed: number; orgs: { org: string; successful: number; failed: number; failureTypes: { type: string; sessions: number }[] }[] };
  recent: { kind: string; org: string; reportId: string }[];
}

describe('aggregate reports received by the MX', () => {
  let dns: TestDnsServer;
  let admin: RunningAdmin;
  let mx: Service;
  let port: number;
  const client = (): AdminClient => new AdminClient(admin.base);
  let api: AdminClient;
  const logs: string[] = [];

  const summary = async (domain = DOMAIN): Promise<Summary> => {
    const response = await api.get(`/api/reports/${domain}`);
    assert.equal(response.status, 200, response.text);
    return response.json as Summary;
  };
  const send = (to: string[], raw: Buffer, from = 'noreply-dmarc-support@google.com') => sendNodemailer(port, { from, to }, raw);

  before(async () => {
    dns = await startDnsServer({
      [`_dmarc.${DOMAIN}`]: { TXT: [`v=DMARC1; p=quarantine; rua=mailto:${RUA}`] },
      [`_smtp._tls.${DOMAIN}`]: { TXT: [`v=TLSRPTv1; rua=mailto:${RUA}`] },
      [`_dmarc.${OTHER}`]: { TXT: ['v=DMARC1; p=none; rua=mailto:someone@elsewhere.example'] },
    });
    const [smtpPort] = await freePorts(1);
    const smtpEnv = Object.fromEntries(Object.entries(listenerPortsEnv(['smtp'], [smtpPort as number])).filter(([, v]) => v !== '0'));
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const logger = pino({ level: 'debug', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, sink);
    admin = await startAdminOnly({ ...smtpEnv, SEALPOST_HOST: '127.0.0.1', SEALPOST_HOSTNAME: `mx.${DOMAIN}`, SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DNS_TIMEOUT_MS: '2000' }, undefined, { logger });
    admin.ctx.directory.addDomain(DOMAIN);
    admin.ctx.directory.addDomain(OTHER);
    // A report from a year before the retention period, stored before the MX starts: the start removes it.
    const stale = googleDmarcXml(DOMAIN, 'stale-1', GOOGLE_ROWS).replace(String(BEGIN), String(BEGIN - 400 * 86400)).replace(String(END), String(END - 400 * 86400));
    const staleReport = parseDmarcXml(stale, DEFAULT_REPORT_LIMITS);
    assert.equal(admin.ctx.directory.reports.store(DOMAIN, staleReport, staleReport.end, 180), 'stored');
    mx = createMxService(admin.ctx);
    const [listener] = await mx.start();
    assert.deepEqual(admin.ctx.directory.reports.counts(), { dmarc: 0, tls: 0 }, 'the expired report went at start');
    port = listener?.port ?? 0;
    api = client();
    await api.get('/api/auth/state'); // the CSRF cookie, as the page gets it
    const token = new URL(admin.setupLink ?? '').searchParams.get('token');
    assert.equal((await api.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
  });

  after(async () => {
    await mx?.stop();
    await admin?.stop();
    await dns?.close();
  });

  test('Google (.zip), Microsoft (.xml.gz) and TLS-RPT (application/tlsrpt+gzip) reports to the rua address are acknowledged with 250 without any alias (RFC 7489 §7.2.1.1, RFC 8460 §5.3)', async () => {
    assert.equal(admin.ctx.directory.listAliases().length, 0, 'no alias exists');
    const google = await send([RUA], googleReportMessage(RUA, DOMAIN, '17236851029384751234', GOOGLE_ROWS));
    assert.match(google.response, /^250 /);
    const microsoft = await sendSmtplib(port, 'dmarcreport@microsoft.com', [RUA], microsoftReportMessage(RUA, DOMAIN, 'e5b1c9d7a3f04b5c8d2e6f7a8b9c0d1e', MICROSOFT_ROWS));
    assert.deepEqual(microsoft, { ok: true, refused: {} });
    const tls = await send([RUA], tlsReportMessage(RUA, DOMAIN, '2026-12-01T00:00:00Z_sealpost.test'), 'tlsrpt-noreply@company-x.example');
    assert.match(tls.response, /^250 /);
  });

  test('the admin API shows who sends as the domain (per source IP, DKIM/SPF/DMARC) and TLS sessions per reporting organization', async () => {
    const s = await summary();
    assert.equal(s.reportAddress, RUA);
    assert.equal(s.dmarc.reports, 2);
    assert.equal(s.dmarc.messages, 42 + 3 + 8 + 5);
    assert.equal(s.dmarc.dmarcPass, 42 + 8);
    const byIp = new Map(s.dmarc.sources.map((x) => [x.sourceIp, x]));
    assert.deepEqual(byIp.get('203.0.113.25'), { sourceIp: '203.0.113.25', messages: 50, dkimPass: 50, spfPass: 42, dmarcPass: 50, quarantined: 0, rejected: 0, reporters: ['Enterprise Outlook', 'google.com'] });
    assert.deepEqual(byIp.get('198.51.100.7'), { sourceIp: '198.51.100.7', messages: 3, dkimPass: 0, spfPass: 0, dmarcPass: 0, quarantined: 3, rejected: 0, reporters: ['google.com'] });
    assert.equal(byIp.get('192.0.2.99')?.rejected, 5);
    assert.equal(s.dmarc.sources[0]?.sourceIp, '203.0.113.25', 'the biggest sender first');
    assert.equal(s.tls.reports, 1);
    assert.deepEqual(s.tls.orgs, [
      {
        org: 'Company-X',
        successful: 5326,
        failed: 303,
        failureTypes: [
          { type: 'starttls-not-supported', sessions: 200 },
          { type: 'certificate-expired', sessions: 100 },
          { type: 'validation-failure', sessions: 3 },
        ],
      },
    ]);
    assert.deepEqual(s.recent.map((r) => r.kind).sort(), ['dmarc', 'dmarc', 'tls']);
    const all = (await api.get('/api/reports')).json as { retentionDays: number; domains: Summary[] };
    assert.equal(all.retentionDays, 180);
    assert.deepEqual(all.domains.map((d) => [d.domain, d.dmarc.reports]), [[OTHER, 0], [DOMAIN, 2]]);
  });

  test('a report sent twice (same org and report id) is acknowledged and stored once', async () => {
    const again = await send([RUA], googleReportMessage(RUA, DOMAIN, '17236851029384751234', GOOGLE_ROWS));
    assert.match(again.response, /^250 /);
    const s = await summary();
    assert.equal(s.dmarc.reports, 2);
    assert.equal(s.dmarc.messages, 58);
    assert.ok(logs.some((l) => l.includes('"event":"mx.report"') && l.includes('"outcome":"duplicate"')));
  });

  test('hostile reports are refused with 550 5.6.0 and the reason, and nothing is stored (RFC 3463 §3.7: media error)', async () => {
    const bomb = reportMessage({ from: 'r@reporter.test', to: RUA, subject: 'r', attachments: [{ contentType: 'application/gzip', filename: 'r.xml.gz', data: zlib.gzipSync(Buffer.alloc(17 * 1024 * 1024, 0x20)) }] });
    const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]><feedback>&lol2;</feedback>`;
    const dtd = reportMessage({ from: 'r@reporter.test', to: RUA, subject: 'r', attachments: [{ contentType: 'text/xml', filename: 'r.xml', data: Buffer.from(laughs) }] });
    const pdf = reportMessage({ from: 'r@reporter.test', to: RUA, subject: 'r', attachments: [{ contentType: 'application/pdf', filename: 'r.pdf', data: Buffer.from('%PDF-1.4') }] });
    const badJson = reportMessage({ from: 'r@reporter.test', to: RUA, subject: 'r', reportType: 'tlsrpt', attachments: [{ contentType: 'application/tlsrpt+json', filename: 'r.json', data: Buffer.from('{"organization-name": ') }] });
    const foreign = googleReportMessage(RUA, 'victim.example', 'foreign-1', GOOGLE_ROWS);
    const cases: [Buffer, RegExp][] = [
      [bomb, /decompressed/],
      [dtd, /document type/],
      [pdf, /carries no report/],
      [badJson, /not valid JSON/],
      [foreign, /victim\.example/],
    ];
    for (const [raw, reason] of cases) {
      const result = await sendSmtplib(port, 'r@reporter.test', [RUA], raw);
      assert.equal(result.ok, false);
      assert.equal(result.code, 550);
      assert.match(result.error ?? '', /^5\.6\.0 Report not accepted: /);
      assert.match(result.error ?? '', reason);
    }
    assert.equal((await summary()).dmarc.reports, 2, 'nothing more stored');
    assert.ok(!logs.some((l) => /Error|stack/.test(l) && l.includes('mx.handler_failed')), 'no handler crashed');
  });

  test('hostile: a bounded flood of 12 parallel gzip bombs gets 550 5.6.0 each, and a real report right after still gets 250', async () => {
    const bomb = reportMessage({ from: 'r@reporter.test', to: RUA, subject: 'r', attachments: [{ contentType: 'application/gzip', filename: 'r.xml.gz', data: zlib.gzipSync(Buffer.alloc(17 * 1024 * 1024, 0x20)) }] });
    const results = await Promise.all(Array.from({ length: 12 }, () => sendSmtplib(port, 'r@reporter.test', [RUA], bomb)));
    assert.deepEqual(results.map((r) => r.code), Array.from({ length: 12 }, () => 550));
    const real = await send([RUA], googleReportMessage(RUA, DOMAIN, 'after-flood-1', GOOGLE_ROWS));
    assert.match(real.response, /^250 /);
    assert.equal((await summary()).dmarc.reports, 3);
  });

  test('a message to the report address and to a mailbox is delivered to the mailbox even when its report is unusable', async () => {
    const { alias } = await admin.ctx.accounts.createAlias(`postmaster@${DOMAIN}`, 'tidy-Orbit-9-walrus-Lantern');
    const pdf = reportMessage({ from: 'r@reporter.test', to: RUA, subject: 'r', attachments: [{ contentType: 'application/pdf', filename: 'r.pdf', data: Buffer.from('%PDF-1.4') }] });
    const result = await sendSmtplib(port, 'r@reporter.test', [RUA, `postmaster@${DOMAIN}`], pdf);
    assert.deepEqual(result, { ok: true, refused: {} });
    assert.equal(admin.ctx.accounts.queuedCount(alias), 1, 'sealed for the locked mailbox');
    assert.ok(logs.some((l) => l.includes('"event":"mx.report_refused"') && l.includes('"reason":"no-report"') && l.includes('"skipped":true')));
  });

  test('an unknown local part is still refused 550 5.1.1; the report address is per domain and can be changed', async () => {
    const replies = await smtpDialogue(port, ['EHLO r.test', 'MAIL FROM:<r@reporter.test>', `RCPT TO:<nobody@${DOMAIN}>`, `RCPT TO:<${RUA.replace('@', '+x@')}>`, 'QUIT']);
    assert.match(replies[3] ?? '', /^550 5\.1\.1/);
    assert.match(replies[4] ?? '', /^250 /, '+tag of the report address is the report address');
    const changed = await api.patch(`/api/domains/${DOMAIN}`, { reportLocalPart: 'dmarc' });
    assert.equal(changed.status, 200, changed.text);
    assert.equal((changed.json as { reportAddress: string }).reportAddress, `dmarc@${DOMAIN}`);
    assert.equal((await api.patch(`/api/domains/${DOMAIN}`, { reportLocalPart: 'a b+c' })).status, 400);
    const stored = await send([`dmarc@${DOMAIN}`], microsoftReportMessage(`dmarc@${DOMAIN}`, DOMAIN, 'after-change-1', MICROSOFT_ROWS));
    assert.match(stored.response, /^250 /);
    assert.equal((await summary()).dmarc.reports, 4);
    const old = await smtpDialogue(port, ['EHLO r.test', 'MAIL FROM:<r@reporter.test>', `RCPT TO:<${RUA}>`, 'QUIT']);
    assert.match(old[3] ?? '', /^550 5\.1\.1/, 'the old address is an ordinary (unknown) recipient again');
    assert.equal((await api.patch(`/api/domains/${DOMAIN}`, { reportLocalPart: null })).status, 200);
  });

  test('the DNS helper asks for rua=mailto:<report address> in _dmarc and _smtp._tls, and the check sees whether it is published (RFC 7489 §6.3, RFC 8460 §3)', async () => {
    const records = ((await api.get(`/api/domains/${DOMAIN}/records`)).json as { records: { purpose: string; name: string; value: string }[] }).records;
    const dmarc = records.find((r) => r.purpose === 'DMARC');
    const tlsrpt = records.find((r) => r.purpose === 'TLSRPT');
    assert.equal(dmarc?.name, `_dmarc.${DOMAIN}`);
    assert.match(dmarc?.value ?? '', new RegExp(`rua=mailto:${RUA}`));
    assert.equal(tlsrpt?.name, `_smtp._tls.${DOMAIN}`);
    assert.equal(tlsrpt?.value, `v=TLSRPTv1; rua=mailto:${RUA}`);
    const check = async (domain: string): Promise<Map<string, string>> => {
      const body = (await api.get(`/api/domains/${domain}/check`)).json as { records: { purpose: string; status: string }[] };
      return new Map(body.records.map((r) => [r.purpose, r.status]));
    };
    const ours = await check(DOMAIN);
    assert.equal(ours.get('DMARC'), 'ok');
    assert.equal(ours.get('TLSRPT'), 'ok');
    const other = await check(OTHER);
    assert.equal(other.get('DMARC'), 'different', 'a DMARC record sending reports elsewhere is flagged');
    assert.equal(other.get('TLSRPT'), 'missing');
  });

  test('privacy: no reporter address, source IP or org contact is in plaintext in the data dir or the logs', () => {
    const needles = ['noreply-dmarc-support@google.com', 'dmarcreport@microsoft.com', 'sts-reporting@company-x.example', '203.0.113.25', '198.51.100.7', '192.0.2.99', '2001:db8:abcd:0012::1', '17236851029384751234'];
    assert.deepEqual(findPlaintext(admin.dataDir, needles, { logs }), []);
    assert.ok(logs.some((l) => l.includes('"event":"mx.report"') && l.includes('"outcome":"stored"')), 'the sweep saw the report log lines');
  });
});
