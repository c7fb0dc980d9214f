// The alias's mail rules over the admin API (real HTTP, real encrypted mailbox): a locked mailbox says to unlock
// it; the form saves as the active script "sealpost" and reads back; scripts are stored only when the Sieve
// checker accepts them; the active one cannot be deleted; hostile bodies get 400 in words, never a crash.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AliasRecord } from '../../server/directory/index.js';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';
import { findPlaintext } from '../helpers/privacy.js';

const ADMIN_PASSWORD = 'harbor lantern quiet 8823';
const ALIAS_PASSWORD = 'tidy-Orbit-9-walrus-Lantern';
const SECRET = 'porcupine-lullaby-5521';

let admin: RunningAdmin;
let client: AdminClient;
let alias: AliasRecord;

before(async () => {
  admin = await startAdminOnly();
  client = new AdminClient(admin.base);
  await client.get('/api/auth/state');
  const token = new URL(admin.setupLink ?? '').searchParams.get('token');
  assert.equal((await client.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
  admin.ctx.directory.addDomain('rules.test');
  alias = (await admin.ctx.accounts.createAlias('rules@rules.test', ALIAS_PASSWORD)).alias;
});

after(async () => {
  await admin?.stop();
});

const form = {
  rules: [{ field: 'header', header: 'List-Id', match: 'contains', value: SECRET, action: 'move', folder: 'Lists \\ "x"', stop: true }],
  vacation: { enabled: true, subject: 'Away', text: `Back soon ${SECRET}`, days: 4 },
};

describe('mail rules over the admin API', () => {
  it('a locked mailbox answers 409 "unlock the mailbox to edit its rules"', async () => {
    await admin.ctx.accounts.lock(alias.id);
    const r = await client.get(`/api/aliases/${alias.id}/rules`);
    assert.equal(r.status, 409);
    assert.match((r.json as { error: string }).error, /unlock the mailbox to edit its rules/);
    assert.equal((await client.post(`/api/aliases/${alias.id}/unlock`, { password: ALIAS_PASSWORD })).status, 200);
  });

  it('the form saves as the active script "sealpost" and reads back into the form', async () => {
    const r = await client.put(`/api/aliases/${alias.id}/rules/form`, { form });
    assert.equal(r.status, 200, r.text);
    const view = r.json as { scripts: { name: string; active: boolean }[]; form: unknown; foreign: boolean; activeText: unknown };
    assert.deepEqual(view.scripts.map((s) => [s.name, s.active]), [['sealpost', true]]);
    assert.deepEqual(view.form, form);
    assert.equal(view.foreign, false);
    assert.equal(view.activeText, null);
    const script = (await client.get(`/api/aliases/${alias.id}/rules/scripts/sealpost`)).json as { content: string };
    assert.ok(script.content.includes('fileinto "Lists \\\\ \\"x\\"";'), script.content);
  });

  it('a script is stored only when the Sieve checker accepts it (400 with its line); the active one cannot be deleted', async () => {
    const bad = await client.put(`/api/aliases/${alias.id}/rules/scripts/mine`, { content: 'keep;\nfileinto "x";\n' });
    assert.equal(bad.status, 400);
    assert.match((bad.json as { error: string }).error, /line 2/);
    assert.equal((await client.put(`/api/aliases/${alias.id}/rules/scripts/mine`, { content: 'keep;\n', activate: true })).status, 200);
    const view = (await client.get(`/api/aliases/${alias.id}/rules`)).json as { activeText: { name: string; content: string } | null };
    assert.deepEqual(view.activeText, { name: 'mine', content: 'keep;\n' }, 'a script of another name is shown as text');
    const refused = await client.delete(`/api/aliases/${alias.id}/rules/scripts/mine`);
    assert.equal(refused.status, 400);
    assert.match((refused.json as { error: string }).error, /active script cannot be deleted/);
    assert.equal((await client.post(`/api/aliases/${alias.id}/rules/off`)).status, 200);
    assert.equal((await client.delete(`/api/aliases/${alias.id}/rules/scripts/mine`)).status, 200);
    assert.equal((await client.get(`/api/aliases/${alias.id}/rules/scripts/mine`)).status, 404);
  });

  it('a "sealpost" script changed elsewhere is replaced only with overwrite', async () => {
    assert.equal((await client.put(`/api/aliases/${alias.id}/rules/scripts/sealpost`, { content: 'keep;\n' })).status, 200);
    assert.equal(((await client.get(`/api/aliases/${alias.id}/rules`)).json as { foreign: boolean }).foreign, true);
    const refused = await client.put(`/api/aliases/${alias.id}/rules/form`, { form });
    assert.equal(refused.status, 400);
    assert.equal((refused.json as { code: string }).code, 'RULES_CHANGED_ELSEWHERE');
    assert.equal((await client.put(`/api/aliases/${alias.id}/rules/form`, { form, overwrite: true })).status, 200);
  });

  it('hostile: bad names, unknown fields, too many rules, multi-line values and an oversized script get 400', async () => {
    const base = `/api/aliases/${alias.id}/rules`;
    const tooMany = { ...form, rules: Array.from({ length: 51 }, () => form.rules[0]) };
    const cases: [string, string, unknown][] = [
      ['PUT', `${base}/form`, { form: tooMany }],
      ['PUT', `${base}/form`, { form: { ...form, rules: [{ ...form.rules[0], value: 'a\r\nstop;' }] } }],
      ['PUT', `${base}/form`, { form: { ...form, rules: [{ ...form.rules[0], header: 'Bad: name' }] } }],
      ['PUT', `${base}/form`, { form: { ...form, rules: [{ ...form.rules[0], action: 'execute' }] } }],
      ['PUT', `${base}/form`, { form: { ...form, extra: true } }],
      ['PUT', `${base}/form`, { form: { ...form, vacation: { ...form.vacation, days: 100000 } } }],
      ['PUT', `${base}/scripts/${encodeURIComponent('tab\there')}`, { content: 'keep;' }],
      ['PUT', `${base}/scripts/big`, { content: `# ${'x'.repeat(70 * 1024)}\nkeep;` }],
      ['PUT', `${base}/scripts/deep`, { content: `${'if true {'.repeat(5000)}${'}'.repeat(5000)}` }],
    ];
    for (const [method, url, body] of cases) {
      const r = await client.request(method, url, body);
      assert.equal(r.status, 400, `${url} ${r.text.slice(0, 200)}`);
      assert.equal(typeof (r.json as { error: string }).error, 'string');
      assert.doesNotMatch(r.text, /at .*\.ts:\d+/, 'no stack trace');
    }
  });

  it('privacy: no rule or reply text in plaintext in the data dir', () => {
    assert.deepEqual(findPlaintext(admin.dataDir, [SECRET, ALIAS_PASSWORD], { exclude: (f) => f.endsWith('.pem') }), []);
  });
});
