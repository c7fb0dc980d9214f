// The admin API's junk filter line (GET /api/aliases/:id/junk) over real HTTP: on/off from SEALPOST_JUNK, no
// counts while the mailbox is locked (they live inside it), the learned counts once it is unlocked; the alias's own
// switch (PATCH { on }) and the hostile bodies it refuses.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';
import { findPlaintext } from '../helpers/privacy.js';
import type { AliasId } from '../../server/directory/index.js';

const ADMIN_PASSWORD = 'harbor lantern quiet 8823';
const ADDRESS = 'alice@junk-admin.test';
const PASSWORD = 'tidy-Orbit-9-walrus-Lantern';

let admin: RunningAdmin;
let client: AdminClient;
let aliasId = '';

before(async () => {
  admin = await startAdminOnly();
  client = new AdminClient(admin.base);
  await client.get('/api/auth/state');
  const token = new URL(admin.setupLink ?? '').searchParams.get('token');
  assert.equal((await client.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
  assert.equal((await client.post('/api/domains', { name: 'junk-admin.test' })).status, 201);
  const created = await client.post('/api/aliases', { address: ADDRESS, password: PASSWORD });
  assert.equal(created.status, 201, created.text);
  aliasId = (created.json as { alias: { id: string } }).alias.id;
});
after(() => admin?.stop());

describe('admin: junk filter line', () => {
  it('shows no counts while locked and the learned counts once unlocked', async () => {
    await client.post(`/api/aliases/${aliasId}/lock`);
    const locked = await client.get(`/api/aliases/${aliasId}/junk`);
    assert.equal(locked.status, 200, locked.text);
    assert.deepEqual(locked.json, { enabled: true, aliasOn: true, offForAll: false, unlocked: false, spamMessages: null, hamMessages: null, tokens: null });

    assert.equal((await client.post(`/api/aliases/${aliasId}/unlock`, { password: PASSWORD })).status, 200);
    const alias = admin.ctx.directory.getAliasById(aliasId)!;
    const material = admin.ctx.keyRing.get(alias.id)!;
    const mailbox = await admin.ctx.mailboxes.open(alias.mailboxId, material.mailboxKey);
    await mailbox.append('Junk', Buffer.from('Subject: zqadminjunk prize\r\n\r\nzqadminjunk claim your prize now\r\n'));
    await mailbox.junkTrain('Junk', [[1, Infinity]], true);
    const unlocked = await client.get(`/api/aliases/${aliasId}/junk`);
    const view = unlocked.json as { enabled: boolean; unlocked: boolean; spamMessages: number; hamMessages: number; tokens: number };
    assert.deepEqual([view.enabled, view.unlocked, view.spamMessages, view.hamMessages], [true, true, 1, 0]);
    assert.ok(view.tokens > 3);
    assert.equal((await client.get('/api/aliases/00000000-0000-4000-8000-000000000000/junk')).status, 404);
  });

  it('PATCH { on } turns the alias\'s switch off and on; the GET shows it', async () => {
    const off = await client.request('PATCH', `/api/aliases/${aliasId}/junk`, { on: false });
    assert.equal(off.status, 200, off.text);
    assert.deepEqual([(off.json as { enabled: boolean }).enabled, (off.json as { aliasOn: boolean }).aliasOn], [false, false]);
    assert.equal(admin.ctx.directory.junkFilterOn(aliasId as AliasId), false);
    const read = (await client.get(`/api/aliases/${aliasId}/junk`)).json as { enabled: boolean; aliasOn: boolean; offForAll: boolean };
    assert.deepEqual([read.enabled, read.aliasOn, read.offForAll], [false, false, false]);
    const on = await client.request('PATCH', `/api/aliases/${aliasId}/junk`, { on: true });
    assert.equal(on.status, 200, on.text);
    assert.equal((on.json as { aliasOn: boolean }).aliasOn, true);
    assert.equal(admin.ctx.directory.junkFilterOn(aliasId as AliasId), true);
  });

  it('hostile: bad types, unknown fields, huge and broken bodies, an unknown alias and a missing CSRF token change nothing', async () => {
    await client.request('PATCH', `/api/aliases/${aliasId}/junk`, { on: false });
    const url = `/api/aliases/${aliasId}/junk`;
    for (const body of [{ on: 'true' }, { on: 1 }, { on: null }, {}, { on: true, extra: 1 }, [true], 'on']) {
      const result = await client.request('PATCH', url, body);
      assert.equal(result.status, 400, `${JSON.stringify(body)} → ${result.status}`);
      assert.doesNotMatch(result.text, /\n\s+at /, 'no stack trace');
    }
    const broken = await client.request('PATCH', url, undefined, { rawBody: '{"on": tru', headers: { 'content-type': 'application/json' } });
    assert.equal(broken.status, 400);
    const huge = await client.request('PATCH', url, undefined, { rawBody: `{"on": true, "x": "${'a'.repeat(3_000_000)}"}`, headers: { 'content-type': 'application/json' } });
    assert.ok(huge.status === 400 || huge.status === 413, `huge body → ${huge.status}`);
    const deep = await client.request('PATCH', url, undefined, { rawBody: `${'{"on":'.repeat(5000)}true${'}'.repeat(5000)}`, headers: { 'content-type': 'application/json' } });
    assert.equal(deep.status, 400);
    assert.equal((await client.request('PATCH', '/api/aliases/00000000-0000-4000-8000-000000000000/junk', { on: true })).status, 404);
    assert.equal((await client.request('PATCH', url, { on: true }, { csrf: false })).status, 403);
    assert.equal((await client.request('PATCH', url, { on: true }, { csrf: 'not-the-token' })).status, 403);
    assert.equal((await client.request('PATCH', url, { on: true }, { origin: 'https://evil.example' })).status, 403);
    assert.equal(admin.ctx.directory.junkFilterOn(aliasId as AliasId), false, 'still off after every refused request');
    await client.request('PATCH', url, { on: true });
  });

  it('SEALPOST_JUNK=off wins over the switch: off for every alias', async () => {
    const offAll = await startAdminOnly({ SEALPOST_JUNK: 'off' });
    try {
      const c = new AdminClient(offAll.base);
      await c.get('/api/auth/state');
      const token = new URL(offAll.setupLink ?? '').searchParams.get('token');
      assert.equal((await c.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
      assert.equal((await c.post('/api/domains', { name: 'junk-admin.test' })).status, 201);
      const id = ((await c.post('/api/aliases', { address: ADDRESS, password: PASSWORD })).json as { alias: { id: string } }).alias.id;
      const view = (await c.get(`/api/aliases/${id}/junk`)).json as { enabled: boolean; aliasOn: boolean; offForAll: boolean };
      assert.deepEqual([view.enabled, view.aliasOn, view.offForAll], [false, true, true]);
    } finally {
      await offAll.stop();
    }
  });

  it('privacy: no trained word nor password is readable in the data dir', () => {
    assert.deepEqual(findPlaintext(admin.dataDir, ['zqadminjunk', PASSWORD]), []);
  });
});
