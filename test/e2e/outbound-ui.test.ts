// The "Outgoing mail" page end to end in Debian's chromium against a real `bin/sealpost serve` that delivers
// to a real SMTP peer on loopback (smtp-server, found through a real DNS server): a message answered 451
// twice is retried from the page until it is delivered, and the page shows its three attempts; another one
// is cancelled from the page. Screenshot: test/e2e/screenshots/outbound-history.png.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, completeFirstRunSetup, launchChromium, newPage, setupLinkOf, stopBrowserAndServe } from '../helpers/browser.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { freePorts, listenerPortsEnv } from '../helpers/ports.js';
import { findPlaintext } from '../helpers/privacy.js';
import { startServe, tempDataDir, type ServeProcess } from '../helpers/sealpost-cli.js';
import { createResolver } from '../../server/smtp/dns.js';
import { OutboundQueue } from '../../server/smtp/outbound/index.js';
import { silentLogger } from '../../server/log.js';
import { createSelfSigned } from '../../server/config/tls.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = path.join(ROOT, 'test', 'e2e', 'screenshots');
const ADMIN_PASSWORD = 'harbour willow engine 3391';
const FLAKY = 'june.flaky@flaky.test';
const NEVER = 'kurt.never@never.test';
const SUBJECT = 'Beekeeping club minutes 6620';

const skip = chromiumMissing;

describe('Outgoing mail page in chromium', { skip }, () => {
  let data: ReturnType<typeof tempDataDir>;
  let serve: ServeProcess;
  let dns: TestDnsServer;
  let sink: SmtpSink;
  let reader: OutboundQueue;
  let browser: Browser;
  let page: Page;
  const ids = { flaky: '', never: '' };
  const flakyReplies = [451, 451];

  /** Opens a message's details again until its status reads `status`. */
  async function detailsUntil(id: string, status: string): Promise<void> {
    const end = Date.now() + 30_000;
    for (;;) {
      await page.getByRole('button', { name: 'Refresh', exact: true }).click();
      await page.locator(`tr[data-id="${id}"]`).getByRole('button', { name: 'Details' }).click();
      const shown = await page.getByTestId('outgoing-status').innerText();
      if (shown === status) return;
      if (Date.now() > end) throw new Error(`status ${shown}, not ${status}`);
      await page.waitForTimeout(100);
    }
  }

  before(async () => {
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { stdio: 'inherit' });
    assert.equal(built.status, 0, 'the UI builds');
    fs.mkdirSync(SHOTS, { recursive: true });
    data = tempDataDir();
    dns = await startDnsServer({
      'flaky.test': { MX: [{ exchange: 'mx.peer.test', priority: 10 }] },
      'never.test': { MX: [{ exchange: 'mx.peer.test', priority: 10 }] },
      'mx.peer.test': { A: ['127.0.0.1'] },
    });
    sink = await startSmtpSink({ tls: createSelfSigned('mx.peer.test'), rejectMessage: (m) => (m.rcptTo.includes(NEVER) ? 451 : m.rcptTo.includes(FLAKY) ? (flakyReplies.shift() ?? null) : null) });
    const appKey = Buffer.from(String(data.env.SEALPOST_APP_KEY), 'hex');
    const open = (): OutboundQueue =>
      new OutboundQueue({ file: path.join(data.dir, 'outbound.sqlite'), appKey, logger: silentLogger(), hostname: 'mail.sender.test', resolver: createResolver({ servers: [dns.address] }) });
    const queue = open();
    const message = (to: string): Buffer => Buffer.from(`From: alice@sender.test\r\nTo: ${to}\r\nSubject: ${SUBJECT}\r\n\r\nThe hives wintered well.\r\n`);
    ids.flaky = await queue.enqueue({ from: 'alice@sender.test', to: [FLAKY], raw: message(FLAKY), kind: 'submission' });
    ids.never = await queue.enqueue({ from: 'alice@sender.test', to: [NEVER], raw: message(NEVER), kind: 'submission' });
    queue.close();
    reader = open();

    const [adminPort] = await freePorts(1);
    serve = await startServe(
      ['--data', data.dir, '--hostname', 'mail.sender.test'],
      {
        ...data.env,
        ...listenerPortsEnv(['admin'], [adminPort as number]),
        SEALPOST_DNS_SERVERS: dns.address,
        SEALPOST_OUTBOUND_MX_PORT: String(sink.port),
        SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on', // the test MX resolves to the loopback peer
        SEALPOST_OUTBOUND_RETRY_BASE_MS: '3600000', // only "Retry now" brings another attempt
        SEALPOST_OUTBOUND_POLL_MS: '50',
      },
      1,
    );
    browser = await launchChromium();
    page = await newPage(browser, 1280);

    const link = setupLinkOf(serve);
    await completeFirstRunSetup(page, link, ADMIN_PASSWORD);
    // both messages have had their first attempt (451) before the page is looked at
    const end = Date.now() + 30_000;
    while (!((reader.historyOf(ids.flaky)?.attempts ?? 0) >= 1 && reader.historyOf(ids.flaky)?.status === 'waiting' && (reader.historyOf(ids.never)?.attempts ?? 0) >= 1 && reader.historyOf(ids.never)?.status === 'waiting')) {
      if (Date.now() > end) throw new Error('no first attempt');
      await new Promise((r) => setTimeout(r, 25));
    }
  });

  after(async () => {
    await stopBrowserAndServe(browser, serve);
    reader?.close();
    await sink?.close();
    await dns?.close();
    data?.cleanup();
  });

  it('lists the waiting messages; Retry now twice delivers the one answered 451 twice, and its three attempts are shown with STARTTLS (RFC 5321 §4.5.4.1, RFC 3207)', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Outgoing mail', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Outgoing mail' }).waitFor();
    const rows = page.getByTestId('outgoing-row');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 2);
    assert.match(await page.locator(`tr[data-id="${ids.flaky}"]`).innerText(), /alice@sender\.test\s+1\s+Waiting to retry\s+1\s+in \d+ min/);

    await page.locator(`tr[data-id="${ids.flaky}"]`).getByRole('button', { name: 'Details' }).click();
    const detail = page.getByTestId('outgoing-detail');
    await detail.waitFor();
    await detail.getByRole('button', { name: 'Retry now' }).click();
    assert.match(await page.getByTestId('outgoing-notice').innerText(), /Trying 1 recipient\(s\) again now/);
    const until2 = Date.now() + 30_000;
    while ((reader.historyOf(ids.flaky)?.recipientList[0]?.history.length ?? 0) < 2 || reader.historyOf(ids.flaky)?.status !== 'waiting') {
      if (Date.now() > until2) throw new Error('no second attempt');
      await new Promise((r) => setTimeout(r, 25));
    }
    await detailsUntil(ids.flaky, 'Waiting to retry');
    await detail.getByRole('button', { name: 'Retry now' }).click();
    await detailsUntil(ids.flaky, 'Delivered');

    const attempts = detail.getByTestId('attempts').getByRole('row');
    assert.equal(await attempts.count(), 4, 'a header and three attempts');
    const text = await detail.getByTestId('attempts').innerText();
    assert.equal(text.match(/Temporary failure\s+451 /g)?.length, 2, text);
    assert.match(text, /Delivered\s+250 /);
    // STARTTLS with the peer's self-signed certificate: encrypted, not checked (no MTA-STS policy asks for it)
    assert.equal(text.match(/mx\.peer\.test \(127\.0\.0\.1\)\s+Encrypted \(TLS 1\.[23]\), certificate not checked/g)?.length, 3, text);
    assert.match(await detail.innerText(), /message text deleted/);
    assert.equal(await detail.getByRole('button', { name: 'Retry now' }).count(), 0, 'no actions on a delivered message');
    assert.equal(sink.messages.length, 1);
    await page.screenshot({ path: path.join(SHOTS, 'outbound-history.png'), fullPage: true });
  });

  it('Cancel sending asks once, then gives up on the message without a bounce', async () => {
    await page.locator(`tr[data-id="${ids.never}"]`).getByRole('button', { name: 'Details' }).click();
    const detail = page.getByTestId('outgoing-detail');
    await detail.getByRole('heading', { name: /Message from/ }).waitFor();
    await detail.getByRole('button', { name: 'Cancel sending' }).click();
    await detail.getByText('Give up on this message? No bounce is sent.').waitFor();
    await detail.getByRole('button', { name: 'Yes, stop sending' }).click();
    await page.getByTestId('outgoing-notice').filter({ hasText: /Stopped: 1 recipient/ }).waitFor();
    // the details reload after the notice: wait for them before reading the status
    await page.getByTestId('outgoing-status').filter({ hasText: 'Cancelled' }).waitFor();
    assert.equal(await page.getByTestId('outgoing-status').innerText(), 'Cancelled');
    assert.equal(reader.historyOf(ids.never)?.status, 'cancelled');
    assert.match(await page.locator(`tr[data-id="${ids.never}"]`).innerText(), /Cancelled/);
    await page.screenshot({ path: path.join(SHOTS, 'outbound-cancelled.png'), fullPage: true });
  });

  it('leaves no subject, text or recipient address in plaintext in the data dir or the server output', () => {
    assert.deepEqual(findPlaintext(data.dir, [SUBJECT, 'hives wintered', FLAKY, NEVER], { logs: serve.output().split('\n') }), []);
  });
});
