// The first-run host name step and the host name warning in Debian's chromium, against a real
// `bin/sealpost serve` that starts with the machine's bare name (as a fresh install does): serve warns in
// its log, setup asks for the name and checks it against a dns2 server on 127.0.0.1, the dashboard keeps
// warning until a restart, Settings shows the saved name. Screenshots in test/e2e/screenshots/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launchChromium, newPage, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { freePorts } from '../helpers/ports.js';
import { startServe, tempDataDir, type ServeProcess } from '../helpers/sealpost-cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const LISTENERS = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'admin'] as const;
const ADMIN_PASSWORD = 'meadow copper signal 7720';
const HOST = 'mail.sealpost-test.org';
const PUBLIC_IP = '5.45.1.10';
const BARE = 'sealpostbox'; // the machine's own name on a fresh install: a bare label

const skip = chromiumMissing;

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let dns: TestDnsServer;
let browser: Browser;
let page: Page;

describe('host name in the admin UI (chromium)', { skip }, () => {
  before(async () => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    dns = await startDnsServer({ [HOST]: { A: [PUBLIC_IP] }, '10.1.45.5.in-addr.arpa': { PTR: [HOST] } });
    const ports = await freePorts(LISTENERS.length);
    const flags = LISTENERS.flatMap((name, i) => [`--${name}-port`, String(ports[i])]);
    const env: NodeJS.ProcessEnv = { ...data.env, SEALPOST_LOG_LEVEL: 'warn', SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DNS_TIMEOUT_MS: '2000' };
    delete env.SEALPOST_HOSTNAME;
    delete env.SEALPOST_PUBLIC_IP;
    serve = await startServe(['--data', data.dir, '--hostname', BARE, ...flags], env, LISTENERS.length);
    browser = await launchChromium();
    page = await newPage(browser, 1100);
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    await dns?.close();
    data?.cleanup();
  });

  it('serve warns in its log at start that the host name is not fully qualified', () => {
    const line = serve
      .output()
      .split('\n')
      .find((l) => l.includes('"event":"hostname.check"'));
    assert.ok(line, `a hostname.check warning in:\n${serve.output()}`);
    const entry = JSON.parse(line) as { level: number; code: string; msg: string };
    assert.equal(entry.level, 40);
    assert.equal(entry.code, 'NOT_FQDN');
    assert.match(entry.msg, /"sealpostbox" is a bare machine name/);
  });

  it('first run: after the admin password, asks for the host name, checks it against DNS and saves it', async () => {
    const link = setupLinkOf(serve);
    await page.goto(link);
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    await page.getByLabel('Repeat the password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Set password and continue' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your mail host name' }).waitFor();

    // The name in use is shown with what is wrong with it.
    const name = page.getByRole('textbox', { name: 'Mail host name' });
    const findings = page.getByTestId('hostname-findings');
    // the findings come with the name from /api/hostname: once they show, the field is filled
    await findings.getByText(`"${BARE}" is a bare machine name`).waitFor();
    assert.equal(await name.inputValue(), BARE);
    assert.equal(await findings.locator('li[data-severity="warn"]').count(), 1);

    // A name whose A record points at the public IP given for the NAT, with a matching PTR: all green.
    await name.fill(HOST);
    await page.getByLabel('Public IP address').fill(PUBLIC_IP);
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await findings.getByText(`${HOST} points to ${PUBLIC_IP}, an address of this machine.`).waitFor();
    await findings.getByText(`${PUBLIC_IP}'s reverse DNS is ${HOST} and resolves back to it.`).waitFor();
    await page.getByRole('heading', { name: `${HOST} looks right` }).waitFor();
    assert.equal(await findings.locator('li[data-severity="warn"], li[data-severity="error"]').count(), 0);
    assert.ok(dns.queries.some((q) => q.name === HOST && q.type === 'A'), 'the check asked the test DNS server');
    await page.screenshot({ path: path.join(SHOTS, 'first-run-hostname.png'), fullPage: true });

    await page.getByRole('button', { name: 'Save host name' }).click();
    await page.getByText(`Saved as ${HOST}. Restart Sealpost`).waitFor();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  });

  it('the dashboard warns about the host name in use until a restart, and Settings shows the saved one', async () => {
    const warnings = page.getByTestId('warnings');
    await warnings.getByText(`Mail host name: "${BARE}" is a bare machine name`).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'hostname-warning-dashboard.png'), fullPage: true });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByRole('heading', { level: 2, name: 'Mail host name' }).waitFor();
    await page.waitForFunction((host) => (document.querySelector('#hn-name') as HTMLInputElement | null)?.value === host, HOST);
    assert.equal(await page.getByLabel('Public IP address').inputValue(), PUBLIC_IP);
    await page.getByRole('note').getByText(`In use now: ${BARE}.`).waitFor();

    // A typo in Settings is refused in one sentence and nothing changes.
    await page.getByRole('textbox', { name: 'Mail host name' }).fill('mail..sealpost-test.org');
    await page.getByRole('button', { name: 'Save host name' }).click();
    await page.getByRole('alert').getByText(/is not a valid host name: it has an empty part/).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'hostname-settings.png'), fullPage: true });
  });
});
