// The admin API shows where each alias's sealed queue stands: GET /api/aliases and /api/status give a
// `drain` object {state, queued, drained} — draining (with progress) right after a login, over-quota when
// a full mailbox holds the rest back (plus a warning on the dashboard), idle once everything is in.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AliasRecord } from '../../server/directory/index.js';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';

const ADMIN_PASSWORD = 'harbor lantern quiet 8823';
const DOMAIN = 'drain.test';
const ALIAS_PASSWORD = 'tidy-Orbit-9-walrus-Lantern';

interface DrainView {
  state: string;
  queued: number;
  drained: number;
}

function mail(to: string, token: string, size = 600): Buffer {
  const head = Buffer.from(`From: <news@sender.test>\r\nTo: <${to}>\r\nSubject: ${token}\r\nMessage-ID: <${token}@sender.test>\r\nX-Token: ${token}\r\n\r\n`);
  return Buffer.concat([head, Buffer.from(`${'m'.repeat(Math.max(0, size - head.length - 2))}\r\n`)]);
}

let admin: RunningAdmin;
let client: AdminClient;

before(async () => {
  admin = await startAdminOnly();
  client = new AdminClient(admin.base);
  await client.get('/api/auth/state');
  const token = new URL(admin.setupLink ?? '').searchParams.get('token');
  assert.equal((await client.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
  admin.ctx.directory.addDomain(DOMAIN);
});

after(async () => {
  await admin?.stop();
});

async function drainOf(alias: AliasRecord): Promise<DrainView> {
  const r = await client.get('/api/aliases');
  assert.equal(r.status, 200, r.text);
  const found = (r.json as { id: string; queued: number; drain: DrainView }[]).find((a) => a.id === alias.id);
  assert.ok(found, 'alias listed');
  assert.equal(found.queued, found.drain.queued);
  return found.drain;
}

async function seal(alias: AliasRecord, raws: readonly Buffer[]): Promise<void> {
  const { ctx } = admin;
  for (let i = 0; i < raws.length; i += 200) {
    await ctx.queue.enqueueMany?.(raws.slice(i, i + 200).map((raw) => ({ mailboxId: alias.mailboxId, publicKey: alias.publicKey, raw, meta: { receivedAt: new Date(), folder: 'INBOX' } })));
  }
}

describe('drain progress in the admin API', () => {
  it('a large queue shows state draining with progress right after a login, then idle with every message in', async () => {
    const { ctx } = admin;
    const address = `bulk@${DOMAIN}`;
    const alias = (await ctx.accounts.createAlias(address, ALIAS_PASSWORD)).alias;
    await ctx.accounts.lock(alias.id);
    await seal(alias, Array.from({ length: 400 }, (_, i) => mail(address, `bulk${i}`)));
    assert.deepEqual(await drainOf(alias), { state: 'idle', queued: 400, drained: 0, since: null });

    const session = await ctx.accounts.authenticate(address, ALIAS_PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });
    try {
      const during = await drainOf(alias);
      assert.equal(during.state, 'draining', 'the login answered while the queue drains');
      assert.ok(during.queued > 0, JSON.stringify(during));
      assert.equal(during.drained + during.queued, 400, "stored + to go = what was sealed");
      assert.equal(await ctx.accounts.whenDrained(alias.id, 120_000), true);
      const done = await drainOf(alias);
      assert.equal(done.state, 'idle');
      assert.equal(done.queued, 0);
      assert.equal(done.drained, 400);
      assert.equal(session.mailbox.status('INBOX').messages, 400);
    } finally {
      session.release();
    }
  });

  it('a full mailbox: state over-quota with what still waits, and a dashboard warning; unlock still succeeds', async () => {
    const { ctx } = admin;
    const address = `full@${DOMAIN}`;
    const alias = (await ctx.accounts.createAlias(address, ALIAS_PASSWORD, { quotaBytes: 4000 })).alias;
    await ctx.accounts.lock(alias.id);
    await seal(alias, [mail(address, 'f1', 1500), mail(address, 'f2', 1500), mail(address, 'f3', 1500)]);

    const unlocked = await client.post(`/api/aliases/${alias.id}/unlock`, { password: ALIAS_PASSWORD });
    assert.equal(unlocked.status, 200, `the unlock answers OK although the drain stops: ${unlocked.text}`);
    assert.equal(await ctx.accounts.whenDrained(alias.id, 30_000), true);
    const drain = await drainOf(alias);
    assert.equal(drain.state, 'over-quota');
    assert.equal(drain.queued, 1, 'two fit (3000 of 4000 bytes), the third waits sealed');
    const status = await client.get('/api/status');
    const body = status.json as { aliases: { id: string; drain: DrainView }[]; warnings: { code: string; aliasId?: string; message: string }[] };
    assert.equal(body.aliases.find((a) => a.id === alias.id)?.drain.state, 'over-quota');
    const warning = body.warnings.find((w) => w.code === 'QUEUE_OVER_QUOTA' && w.aliasId === alias.id);
    assert.ok(warning, 'the dashboard warns');
    assert.match(warning.message, /the mailbox is full; 1 received message\(s\) wait sealed/);
  });
});
