// Mail rules and the automatic reply in chromium: the owner unlocks an alias, adds a rule (folder name with quotes
// and unicode) and an automatic reply, and a real ManageSieve client (GETSCRIPT over TCP) reads back the script
// the page made. A script a mail app wrote over ManageSieve is shown as text and replaced only after asking.
// Real `bin/sealpost serve`; screenshots test/e2e/screenshots/mail-rules.png and vacation.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, completeFirstRunSetup, launchChromium, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { closeContext, openContext } from '../../server/app.js';
import { silentLogger } from '../../server/log.js';
import { findPlaintext } from '../helpers/privacy.js';
import { freePorts } from '../helpers/ports.js';
import { startServe, tempDataDir, type ServeProcess } from '../helpers/sealpost-cli.js';
import { LineClient } from '../helpers/starttls-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const ADMIN_PASSWORD = 'meadow copper signal 7720';
const ADDRESS = 'rules@rules-ui.example';
const ALIAS_PASSWORD = 'copper Meadow 31 lantern quiet';
const FOLDER = 'Receipts "2026" — Ærø';
const REPLY_TEXT = 'I am walking the Pennine Way until Sunday.';

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
let sievePort = 0;

/** A logged-in ManageSieve session (AUTHENTICATE PLAIN in plaintext: the client is on loopback). */
async function sieve(): Promise<{ send(command: string): Promise<string[]>; close(): void }> {
  const client = await LineClient.connect(sievePort);
  const response = async (): Promise<string[]> => {
    const out: string[] = [];
    for (;;) {
      const line = await client.readLine();
      if (line === null) throw new Error(`closed; got ${JSON.stringify(out)}`);
      const literal = /^\{(\d+)\}$/.exec(line);
      if (literal) {
        let content = '';
        while (Buffer.byteLength(content, 'latin1') < Number(literal[1])) content += `${await client.readLine()}\r\n`;
        out.push(Buffer.from(content.slice(0, Number(literal[1])), 'latin1').toString('utf8'));
        continue;
      }
      if (line === '' && out.length) continue;
      out.push(line);
      if (/^(OK|NO|BYE)\b/.test(line)) return out;
    }
  };
  await response();
  const send = async (command: string): Promise<string[]> => {
    client.write(command);
    return response();
  };
  assert.match((await send(`AUTHENTICATE "PLAIN" "${Buffer.from(`\0${ADDRESS}\0${ALIAS_PASSWORD}`).toString('base64')}"\r\n`)).at(-1)!, /^OK/);
  return { send, close: () => client.close() };
}

describe('mail rules and automatic reply in the admin UI', { skip: chromiumMissing }, () => {
  before(async () => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    const ctx = await openContext({ env: { ...data.env, SEALPOST_LOG_LEVEL: 'error' } }, { logger: silentLogger() });
    try {
      ctx.directory.addDomain('rules-ui.example');
      await ctx.accounts.createAlias(ADDRESS, ALIAS_PASSWORD);
    } finally {
      await closeContext(ctx);
    }
    const [admin, managesieve] = await freePorts(2);
    sievePort = managesieve!;
    const off = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s'].flatMap((name) => [`--${name}-port`, '0']);
    serve = await startServe(['--data', data.dir, '--hostname', 'mail.rules-ui.example', '--admin-port', String(admin), '--managesieve-port', String(managesieve), ...off], { ...data.env, SEALPOST_LOG_LEVEL: 'debug' }, 2);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 1100 } })).newPage();
    await completeFirstRunSetup(page, setupLinkOf(serve), ADMIN_PASSWORD);
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    data?.cleanup();
  });

  it('asks to unlock first, then saves a rule the Sieve way (GETSCRIPT shows it)', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Aliases', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Aliases' }).waitFor();
    await page.getByText('Manage').first().click();
    await page.getByText('Unlock the mailbox to edit its rules').waitFor();
    await page.getByLabel('Mailbox password (to unlock, or for the actions below)').fill(ALIAS_PASSWORD);
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    await page.getByText('No rules: all mail goes to the inbox.').waitFor();

    await page.getByRole('button', { name: 'Add a rule' }).click();
    await page.getByLabel('Rule 1: if').selectOption('subject');
    await page.getByLabel('Rule 1: how').selectOption('contains');
    await page.getByLabel('Rule 1: text').fill('Invoice');
    await page.getByLabel('Rule 1: then').selectOption('move');
    await page.getByLabel('Rule 1: folder').fill(FOLDER);
    await page.getByLabel('and skip the rules below').check();
    await page.getByRole('button', { name: 'Save rules' }).click();
    await page.getByText('Saved. New mail follows these rules from now on.').waitFor();
    await page.getByRole('region', { name: 'Mail rules and automatic reply', exact: true }).screenshot({ path: path.join(SHOTS, 'mail-rules.png') });

    const client = await sieve();
    try {
      assert.deepEqual(await client.send('LISTSCRIPTS\r\n'), ['"sealpost" ACTIVE', 'OK "Listscripts completed"']);
      const [script] = await client.send('GETSCRIPT "sealpost"\r\n');
      assert.match(script!, /^require \["fileinto"\];$/m);
      assert.ok(script!.includes(`if header :contains "subject" "Invoice" {\r\n  fileinto "Receipts \\"2026\\" — Ærø";\r\n  stop;\r\n}`), script);
    } finally {
      client.close();
    }
  });

  it('saves an automatic reply with the rules in the same script', async () => {
    await page.getByLabel('Send an automatic reply to people who write to this address').check();
    await page.getByLabel('Reply subject (optional)').fill('Away this week');
    await page.getByLabel('Reply text').fill(REPLY_TEXT);
    await page.getByLabel('Days before the same person gets the reply again').fill('5');
    await page.getByRole('button', { name: 'Save automatic reply' }).click();
    await page.getByText('Automatic reply saved.').waitFor();
    await page.getByRole('region', { name: 'Automatic reply', exact: true }).screenshot({ path: path.join(SHOTS, 'vacation.png') });

    const client = await sieve();
    try {
      const [script] = await client.send('GETSCRIPT "sealpost"\r\n');
      assert.match(script!, /^require \["fileinto", "vacation"\];$/m);
      assert.ok(script!.includes(`vacation :days 5 :subject "Away this week" "${REPLY_TEXT}";`), script);
      assert.ok(script!.indexOf('vacation :days') < script!.indexOf('if header'), 'the reply runs before any rule can stop');
    } finally {
      client.close();
    }
  });

  it('shows a script a mail app wrote as text, and replaces it only after asking', async () => {
    const client = await sieve();
    try {
      assert.match((await client.send('PUTSCRIPT "sealpost" "keep; # from a mail app"\r\n')).at(-1)!, /^OK/);
    } finally {
      client.close();
    }
    await page.reload();
    await page.getByText('Manage').first().click();
    await page.getByText('These rules were changed by a mail app.').waitFor();
    assert.equal(await page.getByLabel('Rules in use now').innerText(), 'keep; # from a mail app');
    await page.getByRole('button', { name: 'Add a rule' }).click();
    await page.getByLabel('Rule 1: text').fill('Newsletter');
    await page.getByLabel('Rule 1: then').selectOption('read');
    await page.getByRole('button', { name: 'Save rules' }).click();
    await page.getByText('The rules were changed by a mail app; saving here replaces that version.').waitFor();
    await page.getByRole('button', { name: 'Replace them with what is shown here' }).click();
    await page.getByText('Saved. New mail follows these rules from now on.').waitFor();
    const again = await sieve();
    try {
      const [script] = await again.send('GETSCRIPT "sealpost"\r\n');
      assert.ok(script!.includes('addflag "\\\\Seen";'), script);
    } finally {
      again.close();
    }
  });

  it('privacy: no rule text, reply text or password in plaintext in the data dir or the server output', () => {
    assert.deepEqual(findPlaintext(data.dir, [REPLY_TEXT, 'Receipts', 'Newsletter', ALIAS_PASSWORD], { logs: serve.output().split('\n'), exclude: (f) => f.endsWith('.pem') }), []);
  });
});
