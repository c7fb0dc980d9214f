// The Certificate card in chromium against a real `bin/sealpost serve` that got its certificate from a
// real ACME CA (Debian's pebble, started here): issuer, names, expiry and last renewal are shown, and the
// card is screenshotted to test/e2e/screenshots/certificate-card.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, completeFirstRunSetup, launchChromium, newPage, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { freePorts } from '../helpers/ports.js';
import { runCli, startServe, tempDataDir, type ServeProcess } from '../helpers/sealpost-cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const LISTENERS = ['imaps', 'admin', 'http', 'https'] as const;
const ADMIN_PASSWORD = 'orchard pewter lamp 4417';
const HOST = 'mail.cert-ui.test';
const DOMAIN = 'cert-ui.test';

const skip = chromiumMissing || (fs.existsSync('/usr/bin/pebble') ? false : 'pebble not installed (apt-get install pebble)');

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let dns: TestDnsServer;
let pebble: Pebble;
let browser: Browser;
let page: Page;
let base = '';

describe('Certificate card in chromium', { skip, timeout: 240_000 }, () => {
  before(async () => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    dns = await startDnsServer();
    for (const name of [HOST, `mta-sts.${DOMAIN}`, `autoconfig.${DOMAIN}`]) dns.set(name, { A: ['127.0.0.1'] });
    const ports = await freePorts(LISTENERS.length);
    const port = Object.fromEntries(LISTENERS.map((name, i) => [name, ports[i] as number])) as Record<(typeof LISTENERS)[number], number>;
    pebble = await startPebble({ dir: data.dir, dnsAddress: dns.address, httpPort: port.http, tlsPort: port.https });
    const env = {
      ...data.env,
      SEALPOST_DATA: path.join(data.dir, 'data'),
      SEALPOST_ACME: 'on',
      SEALPOST_ACME_DIRECTORY: pebble.directoryUrl,
      SEALPOST_ACME_CA_FILE: pebble.caFile,
      SEALPOST_ACME_POLL_MS: '200',
    };
    const added = await runCli(['domain', 'add', DOMAIN], { env });
    assert.equal(added.code, 0, added.stderr);
    const off = ['smtp', 'submission', 'submissions', 'imap', 'pop3', 'pop3s'].flatMap((name) => [`--${name}-port`, '0']);
    const flags = LISTENERS.flatMap((name) => [`--${name}-port`, String(port[name])]);
    serve = await startServe(['--hostname', HOST, ...off, ...flags], env, LISTENERS.length);
    base = `http://127.0.0.1:${port.admin}`;
    browser = await launchChromium();
    page = await newPage(browser, 1100);
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    await pebble?.stop();
    await dns?.close();
    data?.cleanup();
  });

  it('shows the certificate the CA issued: issuer, names, expiry and last renewal', async () => {
    const link = setupLinkOf(serve);
    await completeFirstRunSetup(page, link, ADMIN_PASSWORD);

    // The first issuance runs at start; the API says when it is done.
    interface View {
      readonly source: string;
      readonly acme: { readonly status: { readonly lastRenewal: string | null; readonly lastError: string | null } | null };
    }
    let source = '';
    for (let i = 0; i < 300 && source !== 'acme'; i++) {
      const response = await page.request.get(`${base}/api/certificate`);
      assert.equal(response.status(), 200);
      const view = (await response.json()) as View;
      if (view.acme.status?.lastError) assert.fail(`issuance failed: ${view.acme.status.lastError}\n${pebble.output().slice(-1500)}`);
      source = view.source;
      if (source !== 'acme') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(source, 'acme', 'a certificate from the CA is in use');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings', exact: true }).click();
    const card = page.getByTestId('certificate-card');
    await card.getByTestId('cert-issuer').waitFor();
    assert.match(await card.getByText('In use:').innerText(), /from the certificate authority \(ACME\)/);
    assert.match(await card.getByTestId('cert-issuer').innerText(), /Pebble/);
    assert.equal(await card.getByTestId('cert-names').innerText(), `${HOST}, mta-sts.${DOMAIN}, autoconfig.${DOMAIN}`);
    assert.notEqual(await card.getByTestId('acme-last-renewal').innerText(), 'never');
    assert.equal(await card.getByTestId('acme-last-error').innerText(), 'none');
    await card.screenshot({ path: path.join(SHOTS, 'certificate-card.png') });
  });
});
