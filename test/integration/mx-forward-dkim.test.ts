// A forwarded message leaves with our DKIM signature for the alias domain on top, and the original
// sender's signature below it still verifies: checked with mailauth at the receiving sink against the
// loopback DNS that publishes both keys.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dkimVerify } from 'mailauth';
import type { AppContext } from '../../server/context.js';
import { createResolver } from '../../server/smtp/dns.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, sendNodemailer, senderZones, signed, startMxApp, type MxApp } from './mx-fixture.js';

describe('forwarded mail DKIM', () => {
  let app: MxApp;
  let ctx: AppContext;
  let sink: SmtpSink;
  const key = makeDkimKey('good.test');

  before(async () => {
    sink = await startSmtpSink();
    app = await startMxApp({
      zones: { ...senderZones(key), 'elsewhere.test': { MX: [{ exchange: 'mx.elsewhere.test', priority: 5 }] }, 'mx.elsewhere.test': { A: ['127.0.0.1'] } },
      env: { SEALPOST_OUTBOUND_MX_PORT: String(sink.port), SEALPOST_OUTBOUND_POLL_MS: '50', SEALPOST_OUTBOUND_ALLOW_LOOPBACK: 'on' },
    });
    ctx = app.running.ctx;
    ctx.directory.addDomain(LOCAL_DOMAIN);
    for (const record of ctx.outbound.dkim.ensure(LOCAL_DOMAIN).records) app.dns.set(record.name, { TXT: [record.value] });
    const fwd = (await ctx.accounts.createAlias(`fwd@${LOCAL_DOMAIN}`, PASSWORD)).alias;
    ctx.directory.addForward(fwd.id, 'friend@elsewhere.test', false);
  });

  after(async () => {
    await app?.stop();
    await sink?.close();
  });

  test('the forward carries our signatures (rsa + ed25519) on top of the intact original one; all verify', async () => {
    const original = await signed(message({ from: 'news@good.test', to: `fwd@${LOCAL_DOMAIN}`, subject: 'Signed twice', body: 'Forward me, signed.' }), key);
    await sendNodemailer(app.port('smtp'), { from: 'news@good.test', to: [`fwd@${LOCAL_DOMAIN}`] }, original);
    const [received] = await sink.waitFor(1);
    assert.ok(received);
    const text = received.raw.toString('latin1');
    assert.ok(received.raw.subarray(received.raw.length - original.length).equals(original), 'original bytes (with its signature) unchanged at the end');
    const ours = text.slice(0, text.length - original.length);
    assert.match(ours, /^DKIM-Signature: [^]*d=sealpost\.test/, 'our signature first');
    assert.match(ours, /a=ed25519-sha256/);
    assert.match(ours, /X-Sealpost-Loop: /);

    const verdict = await dkimVerify(received.raw, { resolver: createResolver({ servers: [app.dns.address] }).mailauth as never });
    const results = verdict.results.map((r) => `${r.signingDomain}/${r.status.result}`);
    assert.deepEqual(results.filter((r) => r.startsWith('sealpost.test/')), ['sealpost.test/pass', 'sealpost.test/pass']);
    assert.deepEqual(results.filter((r) => r.startsWith('good.test/')), ['good.test/pass'], 'the original signature still verifies');
  });

  test('a domain without DKIM keys forwards unsigned by us (original kept)', async () => {
    ctx.directory.addDomain('nokeys.test');
    const alias = (await ctx.accounts.createAlias('plain@nokeys.test', PASSWORD)).alias;
    ctx.directory.addForward(alias.id, 'friend2@elsewhere.test', false);
    const before = sink.messages.length;
    const original = await signed(message({ from: 'news@good.test', to: 'plain@nokeys.test', subject: 'Unsigned by us', body: 'x' }), key);
    await sendNodemailer(app.port('smtp'), { from: 'news@good.test', to: ['plain@nokeys.test'] }, original);
    const received = (await sink.waitFor(before + 1))[before];
    const head = received?.raw.toString('latin1').slice(0, (received?.raw.length ?? 0) - original.length) ?? '';
    assert.doesNotMatch(head, /DKIM-Signature/);
    assert.match(head, /^X-Sealpost-Loop: /);
  });
});
