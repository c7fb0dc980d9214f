// The "App passwords" section of an alias card in chromium: the owner makes one for a device, sees it once
// (with a copy button), it logs in over IMAP, shows as used, and after "Revoke" + confirmation it is gone and
// refused. Real `bin/sealpost serve`, real imapflow; a screenshot goes to test/e2e/screenshots/app-passwords.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, completeFirstRunSetup, launchChromium, newPage, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { closeContext, openContext } from '../../server/app.js';
import { silentLogger } from '../../server/log.js';
import { freePorts } from '../helpers/ports.js';
import { findPlaintext } from '../helpers/privacy.js';
import { startServe, tempDataDir, type ServeProcess } from '../helpers/sealpost-cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const ADMIN_PASSWORD = 'meadow copper signal 7720';
const ADDRESS = 'mia@apppw-ui.example';
const ALIAS_PASSWORD = 'copper Meadow 31 lantern quiet';
const DEVICE = 'Garden tablet';

const skip = chromiumMissing;

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
let imapPort = 0;

async function imapWorks(pass: string): Promise<boolean> {
  const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, doSTARTTLS: false, auth: { user: ADDRESS, pass }, logger: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.logout();
    return true;
  } catch {
    return false;
  }
}

describe('app passwords on the alias card', { skip }, () => {
  before(async () => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    const ctx = await openContext({ env: { ...data.env, SEALPOST_LOG_LEVEL: 'error' } }, { logger: silentLogger() });
    try {
      ctx.directory.addDomain('apppw-ui.example');
      await ctx.accounts.createAlias(ADDRESS, ALIAS_PASSWORD);
    } finally {
      await closeContext(ctx);
    }
    const [imap, admin] = await freePorts(2);
    imapPort = imap!;
    const off = ['smtp', 'submission', 'submissions', 'imaps', 'pop3', 'pop3s'].flatMap((name) => [`--${name}-port`, '0']);
    serve = await startServe(['--data', data.dir, '--hostname', 'mail.apppw-ui.example', '--imap-port', String(imap), '--admin-port', String(admin), ...off], data.env, 2);
    browser = await launchChromium();
    page = await newPage(browser);
    await completeFirstRunSetup(page, setupLinkOf(serve), ADMIN_PASSWORD);
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    data?.cleanup();
  });

  it('creates one (shown once with a copy button), it logs in, then Revoke with confirmation removes it and it is refused', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Aliases', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Aliases' }).waitFor();
    await page.getByText('Manage').click();
    const section = page.getByTestId('app-passwords');
    await section.getByRole('heading', { name: 'App passwords' }).waitFor();
    await section.getByText('No app passwords yet.').waitFor();

    // Locked mailbox: the mailbox password field above is what lets the server make one.
    await page.getByLabel('Mailbox password (to unlock, or for the actions below)').fill(ALIAS_PASSWORD);
    await section.getByLabel('Device name (for example “Phone”)').fill(DEVICE);
    await section.getByRole('button', { name: 'Create app password' }).click();
    const shown = section.getByTestId('secret-value');
    await shown.waitFor();
    const password = (await shown.innerText()).trim();
    assert.match(password, /^[a-z]{4}(-[a-z]{4}){6}$/, 'groups of lowercase letters');
    await section.getByRole('button', { name: 'Copy password: copy to clipboard' }).waitFor();
    await section.getByRole('cell', { name: DEVICE, exact: true }).waitFor();
    await section.getByRole('cell', { name: 'never', exact: true }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'app-passwords.png'), fullPage: true });

    assert.equal(await imapWorks(password), true, 'the new app password logs in over IMAP');
    await page.reload();
    await page.getByText('Manage').click();
    await section.getByText(/from 127\.0\.0\.1/).waitFor();
    assert.equal(await section.getByTestId('secret-value').count(), 0, 'shown once: gone after a reload');

    await section.getByRole('button', { name: `Revoke ${DEVICE}` }).click();
    await section.getByText(`Revoke “${DEVICE}”? Its mail apps are signed out at once.`).waitFor();
    await section.getByRole('button', { name: 'Yes, revoke' }).click();
    await section.getByText('No app passwords yet.').waitFor();
    assert.equal(await imapWorks(password), false, 'refused once revoked');
    assert.equal(await imapWorks(ALIAS_PASSWORD), true, 'the mailbox password still works');

    const output = serve.output();
    await stopBrowserAndServe(browser, serve);
    browser = undefined as unknown as Browser;
    serve = undefined as unknown as ServeProcess;
    assert.deepEqual(findPlaintext(data.dir, [password, password.replace(/-/g, ''), DEVICE, ALIAS_PASSWORD], { logs: output.split('\n') }), []);
  });
});
