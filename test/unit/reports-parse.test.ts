// Parsing aggregate reports received for our domains: the formats real reporters send (Google's zip,
// Microsoft's gzip, plain XML, the RFC 8460 TLS report) read into the fields the owner sees, and hostile
// attachments (bombs, traversal names, entity expansion, deep nesting, bad JSON, wrong types) refused
// with a reason, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { DEFAULT_REPORT_LIMITS, parseDmarcXml, parseReportMessage, parseTlsRptJson, reportLimitsFromEnv, ReportRefused, type DmarcReport, type TlsReport } from '../../server/reports/index.js';
import { safeZipEntryName } from '../../server/reports/unpack.js';
import {
  BEGIN,
  END,
  googleDmarcXml,
  googleReportMessage,
  gzip,
  microsoftDmarcXml,
  microsoftReportMessage,
  pythonZip,
  reportMessage,
  tlsReportMessage,
  tlsRptJson,
  type FixtureRow,
} from '../helpers/report-fixtures.js';

const DOMAIN = 'sealpost.test';
const TO = `aggregate-reports@${DOMAIN}`;
const ROWS: FixtureRow[] = [
  { ip: '203.0.113.25', count: 42, dkim: 'pass', spf: 'pass' },
  { ip: '198.51.100.7', count: 3, dkim: 'fail', spf: 'fail', disposition: 'quarantine' },
  { ip: '2001:db8::25', count: 1, dkim: 'pass', spf: 'fail' },
];
const limits = DEFAULT_REPORT_LIMITS;

async function refusal(work: Promise<unknown> | (() => unknown)): Promise<ReportRefused> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (error) {
    assert.ok(error instanceof ReportRefused, `expected ReportRefused, got ${String(error)}`);
    return error;
  }
  assert.fail('the report was accepted');
}

test('a Google-style DMARC report (.zip, RFC 7489 Appendix C) is read into org, domain, period and per-IP rows', async () => {
  const report = (await parseReportMessage(googleReportMessage(TO, DOMAIN, '17236851029384751234', ROWS), limits)) as DmarcReport;
  assert.equal(report.kind, 'dmarc');
  assert.equal(report.org, 'google.com');
  assert.equal(report.contact, 'noreply-dmarc-support@google.com');
  assert.equal(report.reportId, '17236851029384751234', 'a numeric report id keeps every digit');
  assert.equal(report.domain, DOMAIN);
  assert.equal(report.begin.getTime(), BEGIN * 1000);
  assert.equal(report.end.getTime(), END * 1000);
  assert.deepEqual(report.policy, { p: 'quarantine', sp: 'quarantine', pct: 100, adkim: 'r', aspf: 'r' });
  assert.deepEqual(
    report.rows.map((r) => [r.sourceIp, r.count, r.disposition, r.dkim, r.spf]),
    [
      ['203.0.113.25', 42, 'none', 'pass', 'pass'],
      ['198.51.100.7', 3, 'quarantine', 'fail', 'fail'],
      ['2001:db8::25', 1, 'none', 'pass', 'fail'],
    ],
  );
  assert.deepEqual(report.rows[0]?.dkimResults, [{ domain: DOMAIN, result: 'pass' }]);
  assert.deepEqual(report.rows[1]?.spfResults, [{ domain: DOMAIN, result: 'fail' }]);
});

test('a Microsoft-style DMARC report (.xml.gz with namespaces, RFC 7489 §7.2.1.1) is read the same way', async () => {
  const report = (await parseReportMessage(microsoftReportMessage(TO, DOMAIN, 'e5b1c9d7a3f04b5c8d2e6f7a8b9c0d1e', ROWS.slice(0, 1)), limits)) as DmarcReport;
  assert.equal(report.org, 'Enterprise Outlook');
  assert.equal(report.reportId, 'e5b1c9d7a3f04b5c8d2e6f7a8b9c0d1e');
  assert.equal(report.rows.length, 1, 'one <record> is still a list of one');
  assert.equal(report.rows[0]?.headerFrom, DOMAIN);
});

test('a plain text/xml DMARC attachment and an octet-stream named .xml.gz are read too', async () => {
  const xml = googleDmarcXml(DOMAIN, 'plain-1', ROWS);
  const plain = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'text/xml', filename: 'r.xml', data: Buffer.from(xml) }] });
  assert.equal(((await parseReportMessage(plain, limits)) as DmarcReport).rows.length, 3);
  const octet = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'application/octet-stream', filename: 'x!y!1!2.xml.gz', data: gzip(xml) }] });
  assert.equal(((await parseReportMessage(octet, limits)) as DmarcReport).reportId, 'plain-1');
});

test('the TLS report of RFC 8460 §4.7 (application/tlsrpt+gzip, §5.3) is read into sessions and failure types', async () => {
  const report = (await parseReportMessage(tlsReportMessage(TO, DOMAIN, '2026-12-01T00:00:00Z_sealpost.test'), limits)) as TlsReport;
  assert.equal(report.kind, 'tls');
  assert.equal(report.org, 'Company-X');
  assert.equal(report.domain, DOMAIN);
  assert.equal(report.begin.toISOString(), '2026-12-01T00:00:00.000Z');
  assert.equal(report.policies.length, 1);
  const [policy] = report.policies;
  assert.equal(policy?.type, 'sts');
  assert.equal(policy?.successful, 5326);
  assert.equal(policy?.failed, 303);
  assert.deepEqual(policy?.failures.map((f) => [f.resultType, f.count]), [
    ['certificate-expired', 100],
    ['starttls-not-supported', 200],
    ['validation-failure', 3],
  ]);
});

test('application/tlsrpt+json (RFC 8460 §5.3) is read without decompression', async () => {
  const message = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', reportType: 'tlsrpt', attachments: [{ contentType: 'application/tlsrpt+json', filename: 'r.json', data: Buffer.from(tlsRptJson(DOMAIN, 'json-1')) }] });
  assert.equal(((await parseReportMessage(message, limits)) as TlsReport).reportId, 'json-1');
});

test('hostile: a gzip bomb stops at the decompressed-size limit (zip bomb defence, RFC 1952 carries no trustworthy size)', async () => {
  const bomb = zlib.gzipSync(Buffer.alloc(limits.maxUncompressedBytes + 1024 * 1024, 0x20));
  assert.ok(bomb.length < 100 * 1024, 'the bomb is small on the wire');
  const message = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'application/gzip', filename: 'r.xml.gz', data: bomb }] });
  const error = await refusal(parseReportMessage(message, limits));
  assert.equal(error.code, 'too-large-uncompressed');
  assert.match(error.message, /larger than \d+ bytes once decompressed/);
});

test('hostile: a zip bomb (one deflated entry past the limit) is refused by its declared and its actual size', async () => {
  const small = { ...limits, maxUncompressedBytes: 64 * 1024 };
  const zip = pythonZip([['r.xml', Buffer.alloc(1024 * 1024, 0x20)]]);
  const message = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'application/zip', filename: 'r.zip', data: zip }] });
  assert.equal((await refusal(parseReportMessage(message, small))).code, 'too-large-uncompressed');
  // The declared size lies (patched to 10 bytes in both headers): the streamed count still stops it.
  const lying = Buffer.from(zip);
  lying.writeUInt32LE(10, 22); // local file header: uncompressed size
  const central = lying.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  lying.writeUInt32LE(10, central + 24); // central directory: uncompressed size
  const lyingMessage = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'application/zip', filename: 'r.zip', data: lying }] });
  const error = await refusal(parseReportMessage(lyingMessage, small));
  assert.ok(['too-large-uncompressed', 'zip-malformed'].includes(error.code), error.code);
});

test('hostile: a zip with many entries or a path-traversal name is refused (RFC 7489 §7.2.1.1: one report file)', async () => {
  const xml = googleDmarcXml(DOMAIN, 'z-1', ROWS);
  const many = pythonZip(Array.from({ length: 500 }, (_, i) => [`r${i}.xml`, xml] as const));
  const manyMessage = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'application/zip', filename: 'r.zip', data: many }] });
  const manyError = await refusal(parseReportMessage(manyMessage, limits));
  assert.equal(manyError.code, 'zip-entries');
  assert.match(manyError.message, /500 entries/);
  for (const name of ['../../etc/cron.d/x.xml', '/abs/r.xml', 'dir/r.xml', 'r.xml.exe']) {
    const zip = pythonZip([[name, xml]]);
    const message = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'application/zip', filename: 'r.zip', data: zip }] });
    const error = await refusal(parseReportMessage(message, limits));
    assert.ok(['zip-entry-name', 'zip-malformed'].includes(error.code), `${name}: ${error.code}`);
  }
  assert.equal(safeZipEntryName('google.com!sealpost.test!1796083200!1796169599.xml'), true);
  assert.equal(safeZipEntryName('..\\x.xml'), false);
});

test('hostile: XML with a DTD (billion laughs, external entities) is refused before parsing (RFC 7489 Appendix C has no DTD)', () => {
  const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><feedback><report_metadata><org_name>&lol2;</org_name></report_metadata></feedback>`;
  const xxe = `<?xml version="1.0"?><!doctype feedback [<!ENTITY x SYSTEM "file:///etc/passwd">]><feedback>&x;</feedback>`;
  for (const xml of [laughs, xxe]) assert.throws(() => parseDmarcXml(xml, limits), (e: unknown) => e instanceof ReportRefused && e.code === 'xml-doctype');
});

test('hostile: deeply nested XML and JSON are refused by depth, not by a stack overflow', () => {
  const deepXml = `<feedback>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</feedback>`;
  assert.throws(() => parseDmarcXml(deepXml, limits), (e: unknown) => e instanceof ReportRefused && e.code === 'too-deep');
  // A '>' or '/>' inside an attribute value does not end the tag for the depth scan.
  const disguised = `<feedback>${'<a x="/>">'.repeat(100_000)}${'</a>'.repeat(100_000)}</feedback>`;
  assert.throws(() => parseDmarcXml(disguised, limits), (e: unknown) => e instanceof ReportRefused && e.code === 'too-deep');
  const deepJson = `{"policies":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
  assert.throws(() => parseTlsRptJson(deepJson, limits), (e: unknown) => e instanceof ReportRefused && e.code === 'too-deep');
  // Brackets inside strings are not nesting.
  assert.equal(parseTlsRptJson(tlsRptJson(DOMAIN, '[[[[[[[[[[[[[[[[[[[[[[[[[[[['), limits).reportId, '[[[[[[[[[[[[[[[[[[[[[[[[[[[[');
});

test('hostile: malformed JSON, non-reports and bad rows are refused with a reason', async () => {
  assert.equal((await refusal(() => parseTlsRptJson('{"organization-name": "x", ', limits))).code, 'json-malformed');
  assert.equal((await refusal(() => parseTlsRptJson('{"organization-name": "x"}', limits))).code, 'tlsrpt-incomplete');
  assert.equal((await refusal(() => parseDmarcXml('<feedback><report_metadata></report_metadata></feedback>', limits))).code, 'dmarc-incomplete');
  assert.equal((await refusal(() => parseDmarcXml('<feedback><unclosed></feedback>', limits))).code, 'xml-malformed');
  const badDomain = googleDmarcXml('evil domain\r\n250 ok', 'b-0', []);
  assert.equal((await refusal(() => parseDmarcXml(badDomain, limits))).code, 'dmarc-bad-domain', 'nothing a reply could echo as a new SMTP line');
  assert.equal((await refusal(() => parseTlsRptJson(tlsRptJson('bad/domain', 't-0'), limits))).code, 'tlsrpt-bad-domain');
  const badIp = googleDmarcXml(DOMAIN, 'b-1', [{ ip: 'not-an-ip', count: 1, dkim: 'pass', spf: 'pass' }]);
  assert.equal((await refusal(() => parseDmarcXml(badIp, limits))).code, 'dmarc-bad-row');
  const notGzip = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'application/gzip', filename: 'r.xml.gz', data: Buffer.from('plain text, not gzip') }] });
  assert.equal((await refusal(parseReportMessage(notGzip, limits))).code, 'gzip-malformed');
});

test('hostile: a wrong content type, no attachment, or two reports in one message are refused', async () => {
  const pdf = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'application/pdf', filename: 'r.pdf', data: Buffer.from('%PDF-1.4') }] });
  const noReport = await refusal(parseReportMessage(pdf, limits));
  assert.equal(noReport.code, 'no-report');
  const xml = gzip(microsoftDmarcXml(DOMAIN, 'two', ROWS));
  const two = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'application/gzip', filename: 'a.xml.gz', data: xml }, { contentType: 'application/gzip', filename: 'b.xml.gz', data: xml }] });
  const several = await refusal(parseReportMessage(two, limits));
  assert.equal(several.code, 'several-reports');
  assert.match(several.message, /one report per message/);
});

test('hostile: more records than the limit, and an attachment over the compressed limit, are refused', async () => {
  const rows = Array.from({ length: 50 }, (_, i): FixtureRow => ({ ip: `192.0.2.${i}`, count: 1, dkim: 'pass', spf: 'pass' }));
  assert.equal((await refusal(() => parseDmarcXml(googleDmarcXml(DOMAIN, 'many', rows), { ...limits, maxRecords: 10 }))).code, 'too-many-records');
  const big = reportMessage({ from: 'r@reporter.test', to: TO, subject: 'r', attachments: [{ contentType: 'application/gzip', filename: 'a.xml.gz', data: Buffer.alloc(8192, 1) }] });
  assert.equal((await refusal(parseReportMessage(big, { ...limits, maxCompressedBytes: 1024 }))).code, 'too-large-compressed');
});

test('report limits come from SEALPOST_REPORTS_* with documented defaults, and a bad value names its variable', () => {
  assert.deepEqual(reportLimitsFromEnv({}), DEFAULT_REPORT_LIMITS);
  assert.equal(reportLimitsFromEnv({ SEALPOST_REPORTS_MAX_RECORDS: '50' }).maxRecords, 50);
  assert.equal(reportLimitsFromEnv({ SEALPOST_REPORTS_RETENTION_DAYS: '30' }).retentionDays, 30);
  assert.throws(() => reportLimitsFromEnv({ SEALPOST_REPORTS_MAX_UNCOMPRESSED_BYTES: 'lots' }), /SEALPOST_REPORTS_MAX_UNCOMPRESSED_BYTES must be a whole number/);
});
