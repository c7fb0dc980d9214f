// The admin API's junk filter line (GET /api/aliases/:id/junk) over real HTTP: on/off from SEALPOST_JUNK, no
// counts while the mailbox is locked (they live inside it), the learned counts once it is unlocked.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';
import { findPlaintext } from '../helpers/privacy.js';

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
    assert.deepEqual(locked.json, { enabled: true, unlocked: false, spamMessages: null, hamMessages: null, tokens: null });

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
    assert.deepEqual(findPlaintext(admin.dataDir, ['zqadminjunk', PASSWORD]), []);
  });
});
