// The Reports page in Debian's chromium against a real `bin/sealpost serve`: a Google-style DMARC report
// (.zip), a Microsoft-style one (.xml.gz) and an RFC 8460 TLS report (application/tlsrpt+gzip) are delivered
// over SMTP (nodemailer) to the domain's report address, and the page shows who sends as the domain with
// its DKIM/SPF/DMARC results and the TLS sessions per reporting organization. Screenshot:
// test/e2e/screenshots/reports.png. Afterwards no reporter address or IP is in plaintext in the data dir
// or the server's output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { chromiumMissing, completeFirstRunSetup, launchChromium, newPage, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { freePorts } from '../helpers/ports.js';
import { findPlaintext } from '../helpers/privacy.js';
import { googleReportMessage, microsoftReportMessage, tlsReportMessage } from '../helpers/report-fixtures.js';
import { runCli, startServe, tempDataDir, type ServeProcess, stopServe } from '../helpers/sealpost-cli.js';
import { sendNodemailer } from '../integration/mx-fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const ADMIN_PASSWORD = 'meadow copper signal 7720';
const DOMAIN = 'reports.example';
const RUA = `aggregate-reports@${DOMAIN}`;

const skip = chromiumMissing;

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let dns: TestDnsServer;
let browser: Browser;
let page: Page;
let smtpPort = 0;

describe('Reports page in chromium', { skip }, () => {
  before(async () => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    const added = await runCli(['domain', 'add', DOMAIN, '--data', data.dir], { env: data.env });
    assert.equal(added.code, 0, added.stderr);
    dns = await startDnsServer(); // SPF/DKIM/DMARC lookups of the reporters' domains stay on loopback
    const [smtp, adminPort] = (await freePorts(2)) as [number, number];
    smtpPort = smtp;
    const off = ['submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s'].flatMap((name) => [`--${name}-port`, '0']);
    serve = await startServe(['--data', data.dir, '--hostname', `mail.${DOMAIN}`, '--smtp-port', String(smtp), '--admin-port', String(adminPort), ...off], { ...data.env, SEALPOST_LOG_LEVEL: 'info', SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DNS_TIMEOUT_MS: '2000' }, 2);
    browser = await launchChromium();
    page = await newPage(browser, 1280);
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    await dns?.close();
    data?.cleanup();
  });

  it('signs in through the setup link', async () => {
    const link = setupLinkOf(serve);
    await completeFirstRunSetup(page, link, ADMIN_PASSWORD);
  });

  it('shows a domain with no report yet in plain words', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Reports', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Reports' }).waitFor();
    await page.getByText('No report received yet.').waitFor();
    assert.match(await page.locator('main').innerText(), new RegExp(`Reports arrive at ${RUA.replace('.', '\\.')}`));
  });

  it('shows DMARC senders and TLS sessions after Google, Microsoft and TLS-RPT reports arrive over SMTP (RFC 7489 §7.2, RFC 8460 §4)', async () => {
    const rows = [
      { ip: '203.0.113.25', count: 42, dkim: 'pass', spf: 'pass' },
      { ip: '198.51.100.7', count: 3, dkim: 'fail', spf: 'fail', disposition: 'quarantine' },
    ] as const;
    for (const [from, raw] of [
      ['noreply-dmarc-support@google.com', googleReportMessage(RUA, DOMAIN, '9876543210123456789', rows)],
      ['dmarcreport@microsoft.com', microsoftReportMessage(RUA, DOMAIN, '4c1f1b0a2e3d4c5b6a798877665544aa', [{ ip: '203.0.113.25', count: 8, dkim: 'pass', spf: 'fail' }])],
      ['tlsrpt-noreply@company-x.example', tlsReportMessage(RUA, DOMAIN, '2026-12-01T00:00:00Z_reports.example')],
    ] as const) {
      const sent = await sendNodemailer(smtpPort, { from, to: [RUA] }, raw);
      assert.match(sent.response, /^250 /);
    }
    await page.getByRole('button', { name: 'Refresh' }).click();
    const senders = page.locator('table').filter({ hasText: 'Sending server (IP)' });
    await senders.waitFor();
    const own = senders.getByRole('row').filter({ hasText: '203.0.113.25' });
    assert.match(await own.innerText(), /203\.0\.113\.25\s+50\s+50 \(100%\)\s+42 \(84%\)\s+passes\s+0 \/ 0\s+Enterprise Outlook, google\.com/);
    const stranger = senders.getByRole('row').filter({ hasText: '198.51.100.7' });
    assert.match(await stranger.innerText(), /198\.51\.100\.7\s+3\s+0 \(0%\)\s+0 \(0%\)\s+fails\s+3 \/ 0\s+google\.com/);
    const tls = page.locator('table').filter({ hasText: 'Why they failed' });
    assert.match(await tls.innerText(), /Company-X\s+5326\s+303\s+starttls-not-supported: 200, certificate-expired: 100, validation-failure: 3/);
    const main = await page.locator('main').innerText();
    assert.match(main, /53\s+messages sent as reports\.example, in 2 DMARC reports/);
    assert.match(main, /94%\s+of them passed DMARC/);
    await page.screenshot({ path: path.join(SHOTS, 'reports.png'), fullPage: true });
  });

  it('the Domains page asks for rua=mailto:<report address> in _dmarc and _smtp._tls', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Domains', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Domains' }).waitFor();
    await page.getByRole('button', { name: 'DNS records' }).click();
    await page.locator('table.records-table').waitFor();
    const text = await page.locator('table.records-table').innerText();
    assert.ok(text.includes(`rua=mailto:${RUA}`), text);
    assert.ok(text.includes(`_smtp._tls.${DOMAIN}`), text);
  });

  it('privacy: no reporter address or source IP in plaintext in the data dir or the server output', async () => {
    // The page's open connections would hold the admin listener's shutdown until they time out.
    await browser.close();
    assert.equal(await stopServe(serve), 0, serve.output());
    const needles = ['noreply-dmarc-support@google.com', 'dmarcreport@microsoft.com', 'sts-reporting@company-x.example', '203.0.113.25', '198.51.100.7', '9876543210123456789'];
    assert.deepEqual(findPlaintext(data.dir, needles, { logs: serve.output().split('\n') }), []);
    assert.match(serve.output(), /"event":"mx\.report"/, 'the output was captured');
  });
});
