// The Settings page in Debian's chromium against a real `bin/sealpost serve`: plain words only (no internal
// key names), a field set by a SEALPOST_* variable greyed out with the variable's name and no restart prompt
// for it, the mail switches and the alias's "save a copy to Sent" saved from the page, and "Restart Sealpost
// now": after a new IMAP port a real client connects there; after a new admin port the page follows to it,
// still signed in. Screenshot: test/e2e/screenshots/settings-plain-words.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import type { Browser, Page } from 'playwright-core';
import { dataLayout } from '../../server/config/index.js';
import { Directory } from '../../server/directory/index.js';
import { chromiumMissing, completeFirstRunSetup, launchChromium, newPage, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { freePorts } from '../helpers/ports.js';
import { findPlaintext } from '../helpers/privacy.js';
import { runCli, startServe, tempDataDir, type ServeProcess } from '../helpers/sealpost-cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const ADMIN_PASSWORD = 'harbor violet kettle 3391';
const DOMAIN = 'plainwords.test';
const ALICE = `alice@${DOMAIN}`;
const ALIAS_PASSWORD = 'ochre falcon murmur 6620';
/** Names of the code, never of the page: setting keys, API fields, camelCase identifiers. */
const INTERNAL = /pop3DeleteToTrash|submissionAllowDomainSenders|saveSentCopy|restartRequired|pendingRestart|\b(ports|backup)\.[a-z0-9]+\b|\b[a-z]+[A-Z][A-Za-z]*\b/;

const skip = chromiumMissing;

let data: ReturnType<typeof tempDataDir>;
let serve: ServeProcess;
let browser: Browser;
let page: Page;
let ports: { smtp: number; submission: number; imap: number; pop3: number; admin: number; newImap: number; newAdmin: number };

/** Sends an API request from the page (its cookie and CSRF token), as the UI does. */
function pageApi<T>(method: string, url: string, body?: unknown): Promise<{ status: number; json: T }> {
  return page.evaluate(
    async ([m, u, b]) => {
      const csrf = decodeURIComponent(document.cookie.split('; ').find((c) => c.startsWith('sp_csrf='))?.slice(8) ?? '');
      const r = await fetch(u as string, { method: m as string, headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: b === undefined ? undefined : JSON.stringify(b) });
      return { status: r.status, json: (await r.json()) as never };
    },
    [method, url, body] as const,
  );
}

async function openSettings(): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  await page.getByRole('heading', { level: 2, name: 'Mail', exact: true }).waitFor();
}

describe('Settings in plain words, environment overrides and the restart button (chromium)', { skip }, () => {
  before(async () => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    const [smtp, submission, imap, pop3, admin, newImap, newAdmin] = await freePorts(7);
    ports = { smtp: smtp!, submission: submission!, imap: imap!, pop3: pop3!, admin: admin!, newImap: newImap!, newAdmin: newAdmin! };
    const cli = (args: string[], stdin?: string): ReturnType<typeof runCli> => runCli([...args, '--data', data.dir], { env: data.env, ...(stdin ? { stdin } : {}) });
    assert.equal((await cli(['domain', 'add', DOMAIN])).code, 0);
    assert.equal((await cli(['alias', 'add', ALICE, '--password-stdin'], `${ALIAS_PASSWORD}\n`)).code, 0);
    // IMAP and admin from saved settings (the page may change them); POP3 from the environment (it may not).
    const directory = Directory.open(dataLayout(data.dir).directoryDb, Buffer.from(data.env.SEALPOST_APP_KEY!, 'hex'));
    directory.setSetting('imapPort', ports.imap);
    directory.setSetting('adminPort', ports.admin);
    directory.close();
    const env: NodeJS.ProcessEnv = {
      ...data.env,
      SEALPOST_SMTP_PORT: String(ports.smtp),
      SEALPOST_SUBMISSION_PORT: String(ports.submission),
      SEALPOST_POP3_PORT: String(ports.pop3),
      SEALPOST_SUBMISSIONS_PORT: '0',
      SEALPOST_IMAPS_PORT: '0',
      SEALPOST_POP3S_PORT: '0',
      SEALPOST_HTTP_PORT: '0',
      SEALPOST_HTTPS_PORT: '0',
      SEALPOST_HOSTNAME: 'mail.plainwords.test',
      SEALPOST_LOG_LEVEL: 'info', // the audit lines
    };
    delete env.SEALPOST_IMAP_PORT;
    delete env.SEALPOST_ADMIN_PORT;
    serve = await startServe(['--data', data.dir], env, 5);
    browser = await launchChromium();
    page = await newPage(browser, 1100);
    await completeFirstRunSetup(page, setupLinkOf(serve), ADMIN_PASSWORD);
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    data?.cleanup();
  });

  it('a port set by SEALPOST_POP3_PORT is greyed out with the variable named, and never asks for a restart', async () => {
    await openSettings();
    const field = page.getByRole('spinbutton', { name: 'Reading mail, POP3 (STARTTLS) port' });
    assert.equal(await field.isDisabled(), true);
    assert.equal(await page.getByTestId('env-ports.pop3').innerText(), 'Set by SEALPOST_POP3_PORT in the environment; change it there.');
    assert.equal(await page.getByRole('spinbutton', { name: 'Reading mail, IMAP (STARTTLS) port' }).isDisabled(), false);

    // Saving a value for it anyway (as an old page or a script might) changes nothing that a restart would apply.
    const saved = await pageApi<{ restartRequired: boolean; pendingRestart: boolean; overrides: Record<string, string> }>('PUT', '/api/settings', { ports: { pop3: ports.pop3 + 1 } });
    assert.equal(saved.status, 200);
    assert.deepEqual([saved.json.restartRequired, saved.json.pendingRestart, saved.json.overrides['ports.pop3']], [false, false, 'SEALPOST_POP3_PORT']);
    await page.reload();
    await page.getByRole('heading', { level: 2, name: 'Mail', exact: true }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Restart needed' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Restart Sealpost now' }).count(), 0);
  });

  it('the mail switches are saved from the page and apply at once (the CLI sees them)', async () => {
    const trash = page.getByRole('checkbox', { name: 'Mail deleted by a POP3 app goes to Trash' });
    assert.equal(await trash.isChecked(), false);
    await trash.check();
    await page.getByText('Saved: “Mail deleted by a POP3 app goes to Trash” is on. It applies at once.').waitFor();
    const shown = await runCli(['settings', 'show', '--json', '--data', data.dir], { env: data.env });
    assert.deepEqual((JSON.parse(shown.stdout) as { settings: { name: string; on: boolean }[] }).settings.map((r) => [r.name, r.on]), [['pop3-delete-to-trash', true], ['send-as-domain', false]]);
    assert.equal(await page.getByRole('heading', { name: 'Restart needed' }).count(), 0, 'a switch needs no restart');
  });

  it('an incoming-mail limit saved from the page waits for a restart (and says so)', async () => {
    const size = page.getByRole('spinbutton', { name: 'Largest incoming message (MiB)' });
    assert.equal(await size.inputValue(), '50');
    await size.fill('20');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Saved. Restart Sealpost for the new limits to apply to incoming mail.').waitFor();
    await page.getByRole('heading', { name: 'Restart needed' }).waitFor();
    const limits = await pageApi<{ mailLimits: { key: string; value: number }[] }>('GET', '/api/settings');
    assert.equal(limits.json.mailLimits.find((l) => l.key === 'smtpMaxSize')?.value, 20 * 1024 * 1024);
  });

  it('the whole page speaks plain words: no internal key names (screenshot settings-plain-words.png)', async () => {
    await page.screenshot({ path: path.join(SHOTS, 'settings-plain-words.png'), fullPage: true });
    const text = await page.locator('main').innerText();
    const hits = text.split('\n').filter((line) => INTERNAL.test(line.replace(/SEALPOST_[A-Z0-9_]+/g, '')));
    assert.deepEqual(hits, []);
    for (const help of ['move it to the Trash folder instead of deleting it for good', 'may send from any other address at example.org']) assert.ok(text.includes(help), help);
  });

  it('an alias keeps a copy of sent mail once its switch is on (Aliases page)', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Aliases', exact: true }).click();
    await page.getByText('Manage').first().click();
    const sent = page.getByRole('checkbox', { name: 'Save a copy of sent mail to the Sent folder' });
    await sent.check();
    await page.waitForFunction(async () => {
      const list = (await (await fetch('/api/aliases')).json()) as { saveSentCopy: boolean }[];
      return list[0]?.saveSentCopy === true;
    });
    assert.equal(await sent.isChecked(), true);
    assert.match(serve.output(), /"event":"op\.sent_copy","via":"admin","outcome":"ok"/);
  });

  it('a new IMAP port: "Restart Sealpost now" restarts, the page reconnects, and imapflow connects on the new port', async () => {
    await openSettings();
    await page.getByRole('spinbutton', { name: 'Reading mail, IMAP (STARTTLS) port' }).fill(String(ports.newImap));
    await page.getByRole('button', { name: 'Save network settings' }).click();
    await page.getByText('Saved. Restart Sealpost for the new ports and names to take effect.').waitFor();
    await page.getByRole('heading', { name: 'Restart needed' }).waitFor();
    await page.getByRole('button', { name: 'Restart Sealpost now' }).click();
    await page.getByText('Sealpost restarted with the saved settings.').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByRole('spinbutton', { name: 'Reading mail, IMAP (STARTTLS) port' }).inputValue(), String(ports.newImap));
    const client = new ImapFlow({ host: '127.0.0.1', port: ports.newImap, secure: false, doSTARTTLS: false, auth: { user: ALICE, pass: ALIAS_PASSWORD }, logger: false });
    await client.connect();
    assert.equal((await client.mailboxOpen('INBOX')).path, 'INBOX');
    await client.logout();
  });

  it('a new admin port: the page shows the new address and follows to it, still signed in', async () => {
    await page.getByRole('spinbutton', { name: 'This admin page port' }).fill(String(ports.newAdmin));
    await page.getByRole('button', { name: 'Save network settings' }).click();
    await page.getByRole('button', { name: 'Restart Sealpost now' }).click();
    const origin = `http://127.0.0.1:${ports.newAdmin}`;
    await page.waitForURL(`${origin}/settings`, { timeout: 60_000 });
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    assert.equal(await page.getByRole('spinbutton', { name: 'This admin page port' }).inputValue(), String(ports.newAdmin));
    assert.equal(serve.child.exitCode, null, 'one process throughout');
  });

  it('no password in plaintext in the data dir or the log', () => {
    assert.deepEqual(findPlaintext(data.dir, [ADMIN_PASSWORD, ALIAS_PASSWORD]), []);
    assert.equal(serve.output().includes(ALIAS_PASSWORD), false);
  });
});
