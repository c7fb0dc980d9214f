// The desktop window's rules in a real browser: Debian's chromium loads the built admin UI from a real
// `serve`, with every request passed through the shell's own session rules (main/security.ts hardenSession:
// other origins cancelled, our CSP added). The token sign-in lands on the dashboard, every page renders,
// and the CSP blocks nothing the UI needs — while it does block what it should.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { AdminClient } from '../../main/admin-client.js';
import { CONTENT_SECURITY_POLICY, hardenSession } from '../../main/security.js';
import { ServerSupervisor } from '../../main/server-process.js';
import { freePorts } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/sealpost-cli.js';
import { FakeSession } from './main-fake-electron.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = process.env.SEALPOST_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PORT_ENV = ['SEALPOST_SMTP_PORT', 'SEALPOST_SUBMISSION_PORT', 'SEALPOST_SUBMISSIONS_PORT', 'SEALPOST_IMAP_PORT', 'SEALPOST_IMAPS_PORT', 'SEALPOST_POP3_PORT', 'SEALPOST_POP3S_PORT', 'SEALPOST_MANAGESIEVE_PORT', 'SEALPOST_ADMIN_PORT'];
const PAGES = ['Dashboard', 'Domains', 'Aliases', 'Backups', 'Remote sync', 'Settings', 'Logs'];
const skip = fs.existsSync(CHROMIUM) ? false : `chromium not found at ${CHROMIUM} (apt-get install chromium)`;

test('the admin UI works under the window CSP and request rules, signed in by the one-time token', { skip }, async (t) => {
  const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
  assert.equal(built.status, 0, 'the UI builds');
  const data = tempDataDir();
  t.after(data.cleanup);
  const ports = await freePorts(PORT_ENV.length);
  const env: NodeJS.ProcessEnv = { ...data.env, SEALPOST_LOG_LEVEL: 'warn' };
  delete env.SEALPOST_UI_TOKEN;
  PORT_ENV.forEach((name, i) => (env[name] = String(ports[i])));
  const supervisor = new ServerSupervisor({ command: () => ({ command: process.execPath, args: [path.join(ROOT, 'bin', 'sealpost'), 'serve'], env }), onOutput: () => undefined });
  t.after(() => supervisor.stop());
  const { adminOrigin } = await supervisor.start();

  const session = new FakeSession();
  hardenSession(session, () => adminOrigin);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  const violations: string[] = [];
  const blocked: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  page.on('pageerror', (error) => violations.push(`page error: ${error.message}`));
  // Chromium applies what Electron's session.webRequest would: the shell's own listeners decide.
  await page.route('**/*', async (route) => {
    const url = route.request().url();
    if (!session.allows(url)) {
      blocked.push(url);
      return route.abort('blockedbyclient');
    }
    const response = await route.fetch({ maxRedirects: 0 });
    const raw: Record<string, string[]> = {};
    for (const { name, value } of response.headersArray()) raw[name] = [...(raw[name] ?? []), value];
    let headers = raw;
    session.headersReceived?.({ url, responseHeaders: raw }, (r) => {
      if (r.responseHeaders) headers = r.responseHeaders;
    });
    const flat: Record<string, string> = {};
    for (const [name, values] of Object.entries(headers)) flat[name] = name.toLowerCase() === 'set-cookie' ? values.join('\n') : values.join(', ');
    await route.fulfill({ response, headers: flat });
  });

  const admin = new AdminClient({ dataDir: data.dir, origin: async () => adminOrigin });
  const shots = path.join(os.tmpdir(), `sealpost-desktop-shots-${process.pid}`);
  t.after(() => fs.rmSync(shots, { recursive: true, force: true }));
  await admin.withSignInUrl(async (url) => {
    await page.goto(url);
  });
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  const policy = await page.evaluate(async () => (await fetch('/')).headers.get('content-security-policy'));
  assert.ok(policy?.includes(CONTENT_SECURITY_POLICY), `the CSP header reaches the page: ${policy}`);
  for (const title of PAGES) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: title, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: title }).waitFor();
    await page.screenshot({ path: path.join(shots, `${title}.png`) });
  }
  assert.deepEqual(violations, [], 'the UI needs nothing the CSP forbids');

  // What the rules are for: inline script injected into the page does not run, other origins are unreachable.
  const inline = await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.__injected = true';
    document.body.append(script);
    return (window as unknown as { __injected?: boolean }).__injected === true;
  });
  assert.equal(inline, false, 'inline script is refused');
  const external = await page.evaluate(() =>
    fetch('https://example.com/collect').then(
      () => 'reached',
      () => 'failed',
    ),
  );
  assert.equal(external, 'failed');
  assert.ok(violations.some((v) => /Refused to|Content Security Policy/.test(v)), 'chromium reports the refusals');
});
