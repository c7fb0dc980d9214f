// The alias card in chromium while a large sealed queue drains after the owner's IMAP login: a progress bar
// ("Sealed mail moving into the mailbox") shows how many are stored and how many to go, moves while it
// drains (the card reloads itself), and goes away with the queue. Real `bin/sealpost serve`, real imapflow.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launchChromium, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { closeContext, openContext } from '../../server/app.js';
import { silentLogger } from '../../server/log.js';
import { freePorts } from '../helpers/ports.js';
import { startServe, tempDataDir, type ServeProcess } from '../helpers/sealpost-cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const ADMIN_PASSWORD = 'meadow copper signal 7720';
const ADDRESS = 'bulk@drain-ui.example';
const ALIAS_PASSWORD = 'copper Meadow 31 lantern quiet';
const MESSAGES = 4000;

const skip = chromiumMissing;

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
let imapPort = 0;

describe('sealed-queue drain progress on the alias card', { skip }, () => {
  before(async () => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    // The alias and its sealed mail, made before the server starts (sealed the way the MX seals).
    const ctx = await openContext({ env: { ...data.env, SEALPOST_LOG_LEVEL: 'error' } }, { logger: silentLogger() });
    try {
      ctx.directory.addDomain('drain-ui.example');
      const { alias } = await ctx.accounts.createAlias(ADDRESS, ALIAS_PASSWORD);
      await ctx.accounts.lock(alias.id);
      for (let i = 0; i < MESSAGES; i += 500) {
        const items = Array.from({ length: Math.min(500, MESSAGES - i) }, (_, k) => ({
          mailboxId: alias.mailboxId,
          publicKey: alias.publicKey,
          raw: Buffer.from(`From: <news@sender.example>\r\nTo: <${ADDRESS}>\r\nSubject: n${i + k}\r\nMessage-ID: <n${i + k}@sender.example>\r\n\r\nbody\r\n`),
          meta: { receivedAt: new Date(), folder: 'INBOX' },
        }));
        await ctx.queue.enqueueMany?.(items);
      }
      assert.equal(ctx.queue.count(alias.mailboxId), MESSAGES);
    } finally {
      await closeContext(ctx);
    }
    const [imap, admin] = await freePorts(2);
    imapPort = imap!;
    const off = ['smtp', 'submission', 'submissions', 'imaps', 'pop3', 'pop3s'].flatMap((name) => [`--${name}-port`, '0']);
    serve = await startServe(['--data', data.dir, '--hostname', 'mail.drain-ui.example', '--imap-port', String(imap), '--admin-port', String(admin), ...off], data.env, 2);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
    const link = setupLinkOf(serve);
    await page.goto(link);
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    await page.getByLabel('Repeat the password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Set password and continue' }).click();
    await page.getByRole('button', { name: 'Skip for now' }).click(); // the first-run host name step
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    data?.cleanup();
  });

  it('shows a moving progress bar while the queue drains after an IMAP login, and nothing waiting once done', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Aliases', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Aliases' }).waitFor();
    await page.getByText(`${MESSAGES} sealed messages waiting`).waitFor();

    const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, tls: { rejectUnauthorized: false }, auth: { user: ADDRESS, pass: ALIAS_PASSWORD }, logger: false });
    await client.connect(); // LOGIN answers at once; the drain runs behind it
    try {
      await page.reload();
      const bar = page.getByRole('progressbar', { name: 'Sealed mail moving into the mailbox' });
      await bar.waitFor({ timeout: 30_000 });
      const first = Number(await bar.getAttribute('aria-valuenow'));
      const counts = /(\d+) stored, (\d+) to go$/.exec(await page.getByText(/\d+ stored, \d+ to go/).innerText());
      assert.ok(counts, 'the phase line shows stored and to go');
      assert.ok(Number(counts[2]) > 0, 'still draining');
      assert.equal(Number(counts[1]) + Number(counts[2]), MESSAGES, 'stored + to go = what was sealed');
      await page.screenshot({ path: path.join(SHOTS, '20-alias-draining.png'), fullPage: true });
      // The card reloads itself every 2 s while draining: the bar moves without a page reload.
      await page.waitForFunction(
        (before) => {
          const el = document.querySelector('[role="progressbar"][aria-label="Sealed mail moving into the mailbox"]');
          return el === null || Number(el.getAttribute('aria-valuenow')) > before;
        },
        first,
        { timeout: 60_000 },
      );
      await bar.waitFor({ state: 'detached', timeout: 300_000 });
      assert.equal(await page.getByText(/sealed messages? waiting/).count(), 0, 'nothing waits any more');
      const status = await client.status('INBOX', { messages: true });
      assert.equal(status.messages, MESSAGES);
    } finally {
      // A LOGOUT that gets no answer must not hold the file until the runner's timeout: drop the socket after 10 s.
      const timer = setTimeout(() => client.close(), 10_000);
      await client.logout().catch(() => undefined);
      clearTimeout(timer);
    }
  });
});
