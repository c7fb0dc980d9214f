// The alias card's junk filter switch in chromium: the checkbox "Sort likely junk into the Junk folder" shows on
// by default, unticking it turns the filter off and that persists after a reload; `sealpost junk on` over the
// running server's control socket turns it back on, which the page shows after a reload. Real `bin/sealpost
// serve`; a screenshot goes to test/e2e/screenshots/junk-filter.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, completeFirstRunSetup, launchChromium, newPage, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { closeContext, openContext } from '../../server/app.js';
import { silentLogger } from '../../server/log.js';
import { freePorts } from '../helpers/ports.js';
import { findPlaintext } from '../helpers/privacy.js';
import { runCli, startServe, tempDataDir, type ServeProcess } from '../helpers/sealpost-cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const ADMIN_PASSWORD = 'meadow copper signal 7720';
const ADDRESS = 'ruth@junk-ui.example';
const ALIAS_PASSWORD = 'copper Meadow 31 lantern quiet';

const skip = chromiumMissing;

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let browser: Browser;
let page: Page;

describe('the junk filter switch on the alias card', { skip }, () => {
  before(async () => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    const ctx = await openContext({ env: { ...data.env, SEALPOST_LOG_LEVEL: 'error' } }, { logger: silentLogger() });
    try {
      ctx.directory.addDomain('junk-ui.example');
      await ctx.accounts.createAlias(ADDRESS, ALIAS_PASSWORD);
    } finally {
      await closeContext(ctx);
    }
    const [admin] = await freePorts(1);
    const off = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s'].flatMap((name) => [`--${name}-port`, '0']);
    serve = await startServe(['--data', data.dir, '--hostname', 'mail.junk-ui.example', '--admin-port', String(admin), ...off], data.env, 1);
    browser = await launchChromium();
    page = await newPage(browser);
    await completeFirstRunSetup(page, setupLinkOf(serve), ADMIN_PASSWORD);
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    data?.cleanup();
  });

  async function openAliases(): Promise<void> {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Aliases', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Aliases' }).waitFor();
  }

  it('shows on, unticking it persists after a reload, and `sealpost junk on` over the control socket turns it back on', async () => {
    await openAliases();
    const line = page.getByTestId('junk-filter');
    const box = line.getByRole('checkbox', { name: 'Sort likely junk into the Junk folder' });
    await line.getByText(/Junk filter: on/).waitFor();
    assert.equal(await box.isChecked(), true, 'on by default');
    assert.equal(await box.isEnabled(), true);
    await page.screenshot({ path: path.join(SHOTS, 'junk-filter.png'), fullPage: true });

    await box.uncheck();
    await line.getByText(/Junk filter: off · mail stays where it arrives/).waitFor();
    await page.reload();
    await openAliases();
    await line.getByText(/Junk filter: off/).waitFor();
    assert.equal(await box.isChecked(), false, 'off persists after a reload');

    const cli = await runCli(['junk', 'on', ADDRESS, '--json', '--data', data.dir], { env: data.env });
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout), { address: ADDRESS, on: true });
    await page.reload();
    await openAliases();
    await line.getByText(/Junk filter: on/).waitFor();
    assert.equal(await box.isChecked(), true, 'on again after the CLI');

    const offCli = await runCli(['junk', 'off', ADDRESS, '--data', data.dir], { env: data.env });
    assert.equal(offCli.code, 0, offCli.stderr);
    assert.match(offCli.stdout, /ruth@junk-ui\.example: junk filter off/);
    const unknown = await runCli(['junk', 'off', 'nobody@junk-ui.example', '--data', data.dir], { env: data.env });
    assert.notEqual(unknown.code, 0);
    assert.doesNotMatch(unknown.stderr, /\n\s+at /, 'one sentence, no stack trace');

    const output = serve.output();
    await stopBrowserAndServe(browser, serve);
    browser = undefined as unknown as Browser;
    serve = undefined as unknown as ServeProcess;
    assert.deepEqual(findPlaintext(data.dir, [ALIAS_PASSWORD, ADMIN_PASSWORD], { logs: output.split('\n') }), []);
  });
});
