// What the browser tests share: chromium started the same way, and the admin UI's first-run setup gone
// through when setup is not what a test checks (set the admin password, skip the host name step).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { stopServe, type ServeProcess } from './sealpost-cli.js';

export async function completeFirstRunSetup(page: Page, setupLink: string, adminPassword: string): Promise<void> {
  await page.goto(setupLink);
  await page.getByLabel('Admin password').fill(adminPassword);
  await page.getByLabel('Repeat the password').fill(adminPassword);
  await page.getByRole('button', { name: 'Set password and continue' }).click();
  // the host name step has its own test (hostname-ui.test.ts)
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
}

/** Debian's chromium, or SEALPOST_CHROMIUM. */
export const CHROMIUM = process.env.SEALPOST_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The skip reason of a browser test when chromium is not installed, else false. */
export const chromiumMissing: string | false = fs.existsSync(CHROMIUM) ? false : `chromium not found at ${CHROMIUM} (apt-get install chromium)`;

/** Starts headless chromium with the settings every browser test uses (no network of its own, no GPU). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A fresh page of its own context, `width` pixels wide. */
export async function newPage(browser: Browser, width = 1280): Promise<Page> {
  return (await browser.newContext({ viewport: { width, height: 900 } })).newPage();
}

/** The first-run setup link `serve` printed; fails the test with serve's output when there is none. */
export function setupLinkOf(serve: Pick<ServeProcess, 'output'>): string {
  const link = /(http:\/\/127\.0\.0\.1:\d+\/setup\?token=[A-Za-z0-9_-]+)/.exec(serve.output())?.[1];
  assert.ok(link, `setup link in the output:\n${serve.output()}`);
  return link;
}

/** Closes chromium first (else serve waits ~65 s on its open connections), then stops serve: it must exit 0. */
export async function stopBrowserAndServe(browser: Browser | undefined, serve: ServeProcess | undefined): Promise<void> {
  await browser?.close();
  if (!serve) return;
  assert.equal(await stopServe(serve), 0, serve.output());
}
