// The admin UI end to end in Debian's chromium against a real `bin/sealpost serve` on a temp data dir:
// first-run setup via the printed link, add a domain, add an alias and read its password before it hides,
// log in over IMAP with it (imapflow), run a backup and watch its progress finish, add an s3rver remote and
// push, download the Thunderbird autoconfig. Every page is screenshotted to test/e2e/screenshots/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launchChromium, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { freePorts } from '../helpers/ports.js';
import { startServe, tempDataDir, type ServeProcess } from '../helpers/sealpost-cli.js';
import { startS3rver, type S3rver } from '../integration/remote-fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const LISTENERS = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'admin'] as const;
const ADMIN_PASSWORD = 'meadow copper signal 7720';
const DOMAIN = 'e2e.example';
const ADDRESS = `alice@${DOMAIN}`;

const skip = chromiumMissing;

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let s3: S3rver;
let dns: TestDnsServer;
let browser: Browser;
let page: Page;
let base = '';
let port: Record<(typeof LISTENERS)[number], number>;
let aliasPassword = '';

async function shot(name: string, target: Page = page): Promise<void> {
  await target.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function go(title: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: title, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: title }).waitFor();
}

describe('admin UI in chromium', { skip }, () => {
  before(async () => {
    // The suite's runner builds the UI; a direct `node --test` run builds it here.
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    s3 = await startS3rver('e2e-bucket');
    dns = await startDnsServer(); // the live DNS check asks this loopback server, never the internet
    const ports = await freePorts(LISTENERS.length);
    port = Object.fromEntries(LISTENERS.map((name, i) => [name, ports[i] as number])) as typeof port;
    const flags = LISTENERS.flatMap((name) => [`--${name}-port`, String(port[name])]);
    serve = await startServe(['--data', data.dir, '--hostname', 'mail.e2e.example', ...flags], { ...data.env, SEALPOST_LOG_LEVEL: 'warn', SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DNS_TIMEOUT_MS: '2000' }, LISTENERS.length);
    base = `http://127.0.0.1:${port.admin}`;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
    page = await context.newPage();
    await page.clock.install(); // time flows normally; lets the test jump past the password's 30 s
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    await s3?.stop();
    await dns?.close();
    data?.cleanup();
  });

  it('sets the admin password through the setup link the server printed', async () => {
    const link = setupLinkOf(serve);
    await page.goto(base);
    await page.getByRole('heading', { name: 'Welcome to Sealpost' }).waitFor();
    await shot('00-setup-without-link');
    await page.goto(link);
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    await page.getByLabel('Repeat the password').fill(ADMIN_PASSWORD);
    await shot('01-setup');
    await page.getByRole('button', { name: 'Set password and continue' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your mail host name' }).waitFor(); // checked in hostname-ui.test.ts
    await page.getByRole('button', { name: 'Skip for now' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
    await page.getByText('no warnings').or(page.getByTestId('warnings')).first().waitFor();
    await shot('02-dashboard-empty');
  });

  it('adds a domain and shows its DNS records with copy buttons', async () => {
    await go('Domains');
    await page.getByLabel('Domain name').fill(DOMAIN);
    await page.getByRole('button', { name: 'Add domain' }).click();
    const table = page.locator('table.records-table');
    await table.waitFor();
    assert.match(await table.innerText(), /MX\s+e2e\.example\s+10 mail\.e2e\.example/);
    assert.match(await table.innerText(), /v=DKIM1; k=rsa; p=/);
    assert.ok((await table.getByRole('button', { name: /copy to clipboard/ }).count()) >= 6);
    dns.set(DOMAIN, { MX: [{ exchange: 'mail.e2e.example', priority: 10 }] });
    await page.getByRole('button', { name: 'Check DNS now' }).click();
    await page.getByText(/^Checked /).waitFor();
    // The row whose type cell is MX: its value text alone could also end an SRV value whose random test port ends in 10.
    const mxRow = table.getByRole('row').filter({ has: page.getByRole('cell', { name: 'MX', exact: true }) });
    assert.equal(await mxRow.locator('.badge').innerText(), 'published');
    const spfRow = table.getByRole('row').filter({ hasText: 'v=spf1 mx -all' });
    assert.equal(await spfRow.locator('.badge').innerText(), 'missing');
    await shot('03-domains');
  });

  it('adds an alias and shows its password once, then hides it after 30 s', async () => {
    await go('Aliases');
    await page.getByLabel('Address').fill('alice');
    await page.getByRole('button', { name: 'Add alias' }).click();
    const secret = page.getByTestId('secret-value');
    await secret.waitFor({ timeout: 30_000 });
    aliasPassword = (await secret.innerText()).trim();
    assert.ok(aliasPassword.length >= 20, 'a generated password is shown');
    assert.ok(Number(await page.getByTestId('secret-countdown').innerText()) > 20);
    await shot('04-alias-password');
    await page.clock.runFor(31_000);
    await page.getByTestId('secret-hidden').waitFor();
    assert.equal(await page.getByTestId('secret-value').count(), 0, 'the password is gone from the page');
    assert.ok(!(await page.content()).includes(aliasPassword));
    await page.getByText('Manage').first().click();
    await shot('05-aliases');
  });

  it('logs in over IMAP with that password (imapflow)', async () => {
    const client = new ImapFlow({ host: '127.0.0.1', port: port.imaps, secure: true, tls: { rejectUnauthorized: false }, auth: { user: ADDRESS, pass: aliasPassword }, logger: false });
    await client.connect();
    try {
      const inbox = await client.mailboxOpen('INBOX');
      assert.equal(inbox.exists, 0);
      await client.append('INBOX', Buffer.from(`From: bob@other.example\r\nTo: ${ADDRESS}\r\nSubject: hello\r\nMessage-ID: <e2e-1@other.example>\r\n\r\nA first message.\r\n`));
      assert.equal((await client.status('INBOX', { messages: true })).messages, 1);
    } finally {
      await client.logout();
    }
  });

  it('runs a backup and shows its progress until it finishes', async () => {
    await go('Backups');
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      new MutationObserver(() => {
        for (const bar of Array.from(document.querySelectorAll('[role="progressbar"]'))) seen.push(bar.getAttribute('aria-valuenow') ?? '');
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
    });
    await page.getByRole('button', { name: 'Back up all now' }).click();
    await page.getByTestId('backup-done').waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId('backup-done').innerText(), /Backup finished: 1 new generation/);
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
    assert.ok(seen.length > 0, 'a progress bar was shown while the backup ran');
    await page.getByRole('cell', { name: /opened with the key/ }).waitFor();
    await shot('06-backups');
  });

  it('adds the s3rver remote, tests it and pushes the backup', async () => {
    await go('Remote sync');
    await page.getByLabel('Other S3-compatible').check();
    await page.getByLabel('Name', { exact: true }).fill('lab');
    await page.getByLabel('Bucket').fill(s3.bucket);
    await page.getByLabel('Endpoint URL').fill(s3.endpoint);
    await page.getByLabel('Access key id').fill(s3.accessKeyId);
    await page.getByLabel('Secret access key').fill(s3.secret);
    await page.getByRole('button', { name: 'Add remote' }).click();
    await page.getByRole('heading', { name: 'lab' }).waitFor();
    assert.equal(await page.getByTestId('remote-last-test').innerText(), 'Last test: never');
    assert.equal(await page.getByTestId('remote-last-push').innerText(), 'Last push: never');
    await page.getByRole('button', { name: 'Test' }).click();
    await page.getByTestId('remote-note').filter({ hasText: 'Connection works' }).waitFor({ timeout: 60_000 });
    // the card keeps the last test's outcome (it outlives the note: it comes from the server)
    await page.getByTestId('remote-last-test').filter({ hasText: 'worked. The bucket answered' }).waitFor();
    await page.getByRole('button', { name: 'Push now' }).click();
    await page.getByTestId('remote-note').filter({ hasText: 'Push finished' }).waitFor({ timeout: 60_000 });
    await page.getByTestId('remote-last-push').filter({ hasText: 'finished. 2 generations uploaded for 1 alias.' }).waitFor();
    // The alias's generation and the directory's (sealpost.db, made by "backup all"): a push of everything carries
    // both, from the UI as from `sealpost remote push` (one operation, server/ops/push.ts).
    assert.match(await page.getByTestId('remote-note').innerText(), /Push finished: 2 generation\(s\) uploaded for 1 alias/);
    await page.getByText('Backups on this remote').click();
    await page.getByLabel('Alias', { exact: true }).selectOption({ label: ADDRESS });
    await page.getByRole('button', { name: 'List' }).click();
    await page.getByRole('button', { name: 'Restore' }).first().waitFor();
    await shot('07-remotes');
  });

  it('downloads the Thunderbird autoconfig for the alias', async () => {
    const response = await page.request.get(`${base}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(ADDRESS)}`);
    assert.equal(response.status(), 200);
    const xml = await response.text();
    assert.match(xml, /<hostname>mail\.e2e\.example<\/hostname>/);
    assert.match(xml, new RegExp(`<port>${port.imaps}</port>\\s*<socketType>SSL</socketType>`));
    assert.match(xml, new RegExp(`<port>${port.submission}</port>\\s*<socketType>STARTTLS</socketType>`));
  });

  it('shows the dashboard chart, settings and logs, and works on a phone-sized screen', async () => {
    await go('Dashboard');
    await page.getByRole('img', { name: 'Storage per alias' }).waitFor();
    await shot('08-dashboard');
    await go('Settings');
    // The field shows at once and is filled when /api/hostname answers: wait for the value, then read it.
    const hostName = page.getByRole('textbox', { name: 'Mail host name' });
    await hostName.waitFor();
    await page
      .waitForFunction(() => (document.querySelector('#hn-name') as HTMLInputElement | null)?.value !== '', undefined, { timeout: 10_000 })
      .catch(() => undefined);
    assert.equal(await hostName.inputValue(), 'mail.e2e.example');
    await shot('09-settings');
    await go('Logs');
    await page.getByRole('cell', { name: 'alias.created' }).first().waitFor();
    assert.ok(!(await page.content()).includes(aliasPassword), 'no password in the logs');
    await shot('10-logs');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await shot('11-dashboard-phone');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('signs out and back in', async () => {
    // Signing in again returns to the page that was open: start from the Dashboard whatever ran before.
    await go('Dashboard');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Sealpost' }).waitFor();
    await page.getByLabel('Admin password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong password' }).waitFor();
    await shot('12-login-error');
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  });
});
