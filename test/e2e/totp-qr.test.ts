// Authenticator app enrolment in Debian's chromium against a real `bin/sealpost serve`: Settings shows the
// otpauth:// URI as a QR code image above the key; a screenshot of that image (test/e2e/screenshots/totp-qr.png)
// is decoded with jsQR and must read back as exactly the URI the API returned and the page shows (issuer,
// account, key). Then two-step sign-in is turned on with a code computed from the key, the login asks for a
// code, a fresh one signs in, and the key is nowhere in the server's output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { totpAt } from '../../server/admin/totp.js';
import { chromiumMissing, completeFirstRunSetup, launchChromium, newPage, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { freePorts } from '../helpers/ports.js';
import { decodeQrPng } from '../helpers/qr.js';
import { startServe, tempDataDir, type ServeProcess } from '../helpers/sealpost-cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const ADMIN_PASSWORD = 'meadow copper signal 7720';
const HOST = 'mail.totp-test.org';

const skip = chromiumMissing;

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
/** What POST /api/auth/totp/begin answered, as the page received it. */
let begun: { secret: string; uri: string; qrSvg: string } | null = null;

describe('authenticator app enrolment with a QR code (chromium)', { skip }, () => {
  before(async () => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    const [adminPort] = (await freePorts(1)) as [number];
    const off = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s'].flatMap((name) => [`--${name}-port`, '0']);
    // debug logging: the most the server ever writes, so the "key not in the output" check covers it all
    serve = await startServe(['--data', data.dir, '--hostname', HOST, '--admin-port', String(adminPort), ...off], { ...data.env, SEALPOST_LOG_LEVEL: 'debug' }, 1);
    browser = await launchChromium();
    page = await newPage(browser, 1100);
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    data?.cleanup();
  });

  it('signs in through the setup link', async () => {
    const link = setupLinkOf(serve);
    await completeFirstRunSetup(page, link, ADMIN_PASSWORD);
  });

  it('Settings shows a QR code that reads back as the otpauth URI, above the key to type in', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByRole('heading', { level: 3, name: 'Two-step sign-in (authenticator app)' }).waitFor();
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/auth/totp/begin') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const response = await answer;
    assert.equal(response.status(), 200);
    begun = (await response.json()) as { secret: string; uri: string; qrSvg: string };

    const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
    await qr.waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="totp-qr"]');
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    const src = (await qr.getAttribute('src')) ?? '';
    assert.ok(src.startsWith('data:image/svg+xml;base64,'), src.slice(0, 40));
    assert.equal(Buffer.from(src.slice('data:image/svg+xml;base64,'.length), 'base64').toString('utf8'), begun.qrSvg, 'the image is the server\'s SVG');

    // The key and the link stay on the page as text, below the QR code.
    const shownSecret = (await page.getByTestId('totp-secret').textContent())?.trim();
    assert.equal(shownSecret, begun.secret);
    const shownUri = (await page.locator('code', { hasText: 'otpauth://' }).textContent())?.trim();
    assert.equal(shownUri, begun.uri);
    const qrBox = await qr.boundingBox();
    const keyBox = await page.getByTestId('totp-secret').boundingBox();
    assert.ok(qrBox && keyBox && qrBox.y + qrBox.height <= keyBox.y, 'the QR code is above the key');

    // What an authenticator app's camera would read: decode a screenshot of the image element.
    const shot = await qr.screenshot({ path: path.join(SHOTS, 'totp-qr.png') });
    const decoded = decodeQrPng(shot);
    assert.ok(decoded, 'jsQR finds a QR code in the screenshot');
    assert.equal(decoded, begun.uri);
    assert.equal(decoded, shownUri);
    const parsed = new URL(decoded);
    assert.equal(parsed.protocol, 'otpauth:');
    assert.equal(parsed.host, 'totp');
    assert.equal(decodeURIComponent(parsed.pathname), `/Sealpost:admin@${HOST}`);
    assert.equal(parsed.searchParams.get('issuer'), 'Sealpost');
    assert.equal(parsed.searchParams.get('secret'), shownSecret);
    await page.screenshot({ path: path.join(SHOTS, 'totp-enrolment.png'), fullPage: true });
  });

  it('turns two-step sign-in on with a code from the key; sign-in then asks for a code', async () => {
    assert.ok(begun, 'enrolment started');
    await page.getByLabel('Code from the app').fill(totpAt(begun.secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByLabel('Admin password to turn it off').waitFor();
    assert.equal(await page.getByTestId('totp-qr').count(), 0, 'the QR code is gone once enrolled');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in to Sealpost' }).waitFor();
    const code = page.getByLabel('Authenticator code');
    await code.waitFor();
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    // the enabling code spent this 30 s step; the next step's code is within the accepted drift
    await code.fill(totpAt(begun.secret, Date.now() + 30_000));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  });

  it('the key is not in the server output', () => {
    assert.ok(begun);
    assert.ok(!serve.output().includes(begun.secret), 'the TOTP key is not logged');
  });
});
