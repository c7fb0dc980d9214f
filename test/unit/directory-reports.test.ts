// Aggregate reports in the directory database: stored once per (kind, org, report id), summed per domain,
// dropped after the retention period, and the report address of a domain (default, changed, +tag, refused).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Directory } from '../../server/directory/index.js';
import { DEFAULT_REPORT_LIMITS, parseDmarcXml, parseTlsRptJson, type DmarcReport } from '../../server/reports/index.js';
import { googleDmarcXml, microsoftDmarcXml, tlsRptJson } from '../helpers/report-fixtures.js';

const DOMAIN = 'sealpost.test';
const DAY = 86_400_000;

describe('aggregate reports in sealpost.db', () => {
  let dir: string;
  let directory: Directory;
  const dmarc = (id: string, xml = googleDmarcXml): DmarcReport =>
    parseDmarcXml(
      xml(DOMAIN, id, [
        { ip: '203.0.113.25', count: 10, dkim: 'pass', spf: 'fail' },
        { ip: '198.51.100.7', count: 2, dkim: 'fail', spf: 'fail', disposition: 'reject' },
      ]),
      DEFAULT_REPORT_LIMITS,
    );

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-reports-'));
    directory = Directory.open(path.join(dir, 'sealpost.db'), crypto.randomBytes(32));
    directory.addDomain(DOMAIN);
  });
  after(() => {
    directory.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an empty domain has an empty summary', () => {
    const s = directory.reports.summary(DOMAIN);
    assert.deepEqual([s.dmarc.reports, s.dmarc.messages, s.dmarc.sources.length, s.tls.reports, s.tls.orgs.length, s.recent.length], [0, 0, 0, 0, 0, 0]);
  });

  it('stores a report once per (kind, org, report id) and sums rows per source IP (RFC 7489 §7.2: one report id per reporter)', () => {
    const received = new Date(dmarc('x').end.getTime() + DAY);
    assert.equal(directory.reports.store(DOMAIN, dmarc('g-1'), received, 180), 'stored');
    assert.equal(directory.reports.store(DOMAIN, dmarc('g-1'), received, 180), 'duplicate');
    assert.equal(directory.reports.store(DOMAIN, dmarc('g-1', microsoftDmarcXml), received, 180), 'stored', 'the same id from another org is another report');
    assert.equal(directory.reports.store(DOMAIN, parseTlsRptJson(tlsRptJson(DOMAIN, 'g-1'), DEFAULT_REPORT_LIMITS), received, 180), 'stored', 'and so is a TLS report with that id');
    const s = directory.reports.summary(DOMAIN);
    assert.equal(s.dmarc.reports, 2);
    assert.equal(s.dmarc.messages, 24);
    assert.equal(s.dmarc.dmarcPass, 20);
    assert.deepEqual(s.dmarc.sources.map((x) => [x.sourceIp, x.messages, x.dkimPass, x.spfPass, x.dmarcPass, x.rejected, x.reporters.join('|')]), [
      ['203.0.113.25', 20, 20, 0, 20, 0, 'Enterprise Outlook|google.com'],
      ['198.51.100.7', 4, 0, 0, 0, 4, 'Enterprise Outlook|google.com'],
    ]);
    assert.equal(s.tls.reports, 1);
    assert.equal(s.tls.failed, 303);
    assert.deepEqual(directory.reports.counts(), { dmarc: 2, tls: 1 });
  });

  it('drops reports whose period ended more than the retention period ago, when the next report is stored', () => {
    const report = dmarc('late-1');
    const muchLater = new Date(report.end.getTime() + 31 * DAY);
    assert.equal(directory.reports.store(DOMAIN, report, muchLater, 30), 'stored');
    assert.deepEqual(directory.reports.counts(), { dmarc: 1, tls: 0 }, 'the older reports (ended 31 days before) are gone; the new one stays');
    assert.deepEqual(directory.reports.summary(DOMAIN).dmarc.sources.map((x) => x.messages), [10, 2], 'their rows went with them');
  });

  it('the report address is aggregate-reports@ by default, +tag included, and can be changed per domain', () => {
    assert.equal(directory.reportDomainOf(`aggregate-reports@${DOMAIN}`), DOMAIN);
    assert.equal(directory.reportDomainOf(`Aggregate-Reports+google@${DOMAIN.toUpperCase()}`), DOMAIN);
    assert.equal(directory.reportDomainOf('aggregate-reports@elsewhere.test'), null, 'not one of our domains');
    directory.setReportLocalPart(DOMAIN, 'DMARC');
    assert.equal(directory.getDomain(DOMAIN)?.reportLocalPart, 'dmarc');
    assert.equal(directory.reportDomainOf(`dmarc@${DOMAIN}`), DOMAIN);
    assert.equal(directory.reportDomainOf(`aggregate-reports@${DOMAIN}`), null);
    for (const bad of ['a b', 'x+y', '.dot', 'a..b', '', 'ü']) assert.throws(() => directory.setReportLocalPart(DOMAIN, bad), /plain local part/);
    directory.setReportLocalPart(DOMAIN, null);
    assert.equal(directory.reportDomainOf(`aggregate-reports@${DOMAIN}`), DOMAIN);
  });
});
