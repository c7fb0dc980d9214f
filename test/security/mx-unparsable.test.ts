// A message the parser cannot read is never answered 451 forever: for an alias with a webhook (whose JSON
// body needs a parsed message) it is still delivered as raw bytes to the mailbox, the webhook call skipped
// and logged, and the sender gets 250.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppContext } from '../../server/context.js';
import type { AliasRecord } from '../../server/directory/index.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, sendSmtplib, senderZones, startMxApp, type MxApp } from '../integration/mx-fixture.js';

describe('MX: unparsable messages', () => {
  let app: MxApp;
  let ctx: AppContext;
  let port: number;
  let hook: AliasRecord;

  before(async () => {
    app = await startMxApp({ zones: senderZones(makeDkimKey('good.test')) });
    ctx = app.running.ctx;
    port = app.port('smtp');
    ctx.directory.addDomain(LOCAL_DOMAIN);
    hook = (await ctx.accounts.createAlias(`hook@${LOCAL_DOMAIN}`, PASSWORD)).alias;
    ctx.directory.addWebhook(hook.id, 'https://hooks.example.test/incoming');
  });

  after(async () => {
    await app?.stop();
  });

  test('a header the webhook parser refuses (over its header size limit): 250, stored raw, webhook skipped and logged', async () => {
    const raw = message({ from: 'news@relay.test', to: hook.address, subject: 'x'.repeat(2_100_000), body: 'unreadable for the parser' });
    const result = await sendSmtplib(port, 'news@relay.test', [hook.address], raw);
    assert.equal(result.ok, true, JSON.stringify(result).slice(0, 300));
    assert.equal(ctx.accounts.queuedCount(hook), 1, 'sealed into the locked mailbox queue');
    assert.equal(app.logs.filter((line) => line.includes('"event":"mx.webhook_unparsable"')).length, 1);
    assert.equal(app.logs.filter((line) => line.includes('"event":"mx.accepted"')).length, 1);
  });

  test('the same alias still gets its webhook job for a readable message', async () => {
    const raw = message({ from: 'news@relay.test', to: hook.address, subject: 'fine', body: 'readable' });
    const result = await sendSmtplib(port, 'news@relay.test', [hook.address], raw);
    assert.equal(result.ok, true, JSON.stringify(result));
    const accepted = app.logs.filter((line) => line.includes('"event":"mx.accepted"')).at(-1) ?? '';
    assert.match(accepted, /"webhooks":1/);
  });
});
