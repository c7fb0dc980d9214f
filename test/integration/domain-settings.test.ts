// Per-domain settings as a user changes them: `sealpost domain set` (DMARC reject → Junk, catch-all)
// in a child process, and PATCH /api/domains/:name in the admin API over real HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';
import { runCli, tempDataDir } from '../helpers/sealpost-cli.js';

function assertOneLineError(result: { code: number | null; stderr: string }, message: RegExp): void {
  assert.notEqual(result.code, 0);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0] ?? '', /^error: /);
  assert.match(lines[0] ?? '', message);
}

describe('sealpost domain set', () => {
  let data: ReturnType<typeof tempDataDir>;
  const cli = (...args: string[]) => runCli([...args, '--data', data.dir], { env: data.env });
  before(async () => {
    data = tempDataDir();
    assert.equal((await cli('domain', 'add', 'example.test')).code, 0);
    assert.equal((await cli('domain', 'add', 'other.test')).code, 0);
    const alias = await runCli(['alias', 'add', 'alice@example.test', '--password-stdin', '--data', data.dir], { env: data.env, stdin: 'tidy-Orbit-9-walrus-Lantern\n' });
    assert.equal(alias.code, 0, alias.stderr);
  });
  after(() => data.cleanup());

  it('turns DMARC reject → Junk on and off, and sets and clears the catch-all', async () => {
    const on = await cli('domain', 'set', 'example.test', '--dmarc-reject-to-junk', 'on');
    assert.equal(on.code, 0, on.stderr);
    assert.equal(on.stdout, 'example.test: DMARC reject failures go to Junk; catch-all off; reports to aggregate-reports@example.test\n');
    const both = await cli('domain', 'set', 'EXAMPLE.test', '--catch-all', 'Alice@example.test', '--json');
    assert.equal(both.code, 0, both.stderr);
    assert.deepEqual(JSON.parse(both.stdout), { name: 'example.test', unicodeName: 'example.test', dmarcRejectToJunk: true, catchAll: 'alice@example.test', reportAddress: 'aggregate-reports@example.test' });
    const listed = JSON.parse((await cli('domain', 'list', '--json')).stdout) as { name: string; dmarcRejectToJunk: boolean; catchAllAliasId: string | null }[];
    const example = listed.find((d) => d.name === 'example.test');
    assert.equal(example?.dmarcRejectToJunk, true);
    assert.ok(example?.catchAllAliasId);
    assert.equal(listed.find((d) => d.name === 'other.test')?.dmarcRejectToJunk, false, 'other domains unchanged');
    assert.match((await cli('domain', 'list')).stdout, /^example\.test\t1 alias\tcatch-all\tdmarc-reject-to-junk$/m);

    const off = await cli('domain', 'set', 'example.test', '--dmarc-reject-to-junk', 'off', '--catch-all', 'off');
    assert.equal(off.code, 0, off.stderr);
    assert.equal(off.stdout, 'example.test: DMARC reject failures are refused; catch-all off; reports to aggregate-reports@example.test\n');
  });

  it('sets the aggregate-report address of a domain and puts the default back (RFC 7489 §6.3 rua)', async () => {
    const set = await cli('domain', 'set', 'example.test', '--report-address', 'DMARC');
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /reports to dmarc@example\.test\n$/);
    const back = await cli('domain', 'set', 'example.test', '--report-address', 'default');
    assert.match(back.stdout, /reports to aggregate-reports@example\.test\n$/);
    assertOneLineError(await cli('domain', 'set', 'example.test', '--report-address', 'dmarc+x'), /report address must be a plain local part/);
  });

  it('refuses bad input with one sentence', async () => {
    assertOneLineError(await cli('domain', 'set', 'example.test', '--dmarc-reject-to-junk', 'maybe'), /--dmarc-reject-to-junk takes on or off, not "maybe"/);
    assertOneLineError(await cli('domain', 'set', 'example.test'), /Nothing to change/);
    assertOneLineError(await cli('domain', 'set', 'nowhere.test', '--dmarc-reject-to-junk', 'on'), /nowhere\.test is not set up here/);
    assertOneLineError(await cli('domain', 'set', 'other.test', '--catch-all', 'alice@example.test'), /catch-all alias must belong to other\.test/);
    assertOneLineError(await cli('domain', 'set', 'example.test', '--catch-all', 'nobody@example.test'), /There is no alias nobody@example\.test/);
  });
});

describe('PATCH /api/domains/:name', () => {
  let admin: RunningAdmin;
  let client: AdminClient;
  before(async () => {
    admin = await startAdminOnly();
    client = new AdminClient(admin.base);
    await client.get('/api/auth/state');
    const token = new URL(admin.setupLink ?? '').searchParams.get('token');
    assert.equal((await client.post('/api/auth/setup', { token, password: 'correct-Horse-battery-77' })).status, 200);
    assert.equal((await client.post('/api/domains', { name: 'example.test' })).status, 201);
    await admin.ctx.accounts.createAlias('bob@example.test', 'tidy-Orbit-9-walrus-Lantern');
  });
  after(async () => {
    await admin?.stop();
  });

  it('toggles DMARC reject → Junk and the catch-all; GET shows the state', async () => {
    const initial = (await client.get('/api/domains')).json as { name: string; dmarcRejectToJunk: boolean; catchAll: string | null }[];
    assert.deepEqual(initial.map((d) => [d.name, d.dmarcRejectToJunk, d.catchAll]), [['example.test', false, null]]);
    const on = await client.patch('/api/domains/example.test', { dmarcRejectToJunk: true, catchAll: 'bob@example.test' });
    assert.equal(on.status, 200, on.text);
    assert.deepEqual([(on.json as { dmarcRejectToJunk: boolean }).dmarcRejectToJunk, (on.json as { catchAll: string }).catchAll], [true, 'bob@example.test']);
    assert.equal(admin.ctx.directory.getDomain('example.test')?.dmarcRejectToJunk, true, 'stored in the directory (what the MX reads)');
    assert.equal(admin.ctx.directory.resolveRecipient('anyone@example.test')?.address, 'bob@example.test');
    const off = await client.patch('/api/domains/example.test', { dmarcRejectToJunk: false, catchAll: null });
    assert.equal(off.status, 200, off.text);
    const listed = (await client.get('/api/domains')).json as { dmarcRejectToJunk: boolean; catchAll: string | null }[];
    assert.deepEqual([listed[0]?.dmarcRejectToJunk, listed[0]?.catchAll], [false, null]);
  });

  it('validates the body, needs CSRF, and names unknown domains', async () => {
    for (const body of [{}, { dmarcRejectToJunk: 'yes' }, { dmarc: true }, { catchAll: 5 }]) {
      const r = await client.patch('/api/domains/example.test', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status}`);
      assert.equal(typeof (r.json as { error: string }).error, 'string');
    }
    const forged = await client.request('PATCH', '/api/domains/example.test', { dmarcRejectToJunk: true }, { csrf: false });
    assert.equal(forged.status, 403);
    assert.equal(admin.ctx.directory.getDomain('example.test')?.dmarcRejectToJunk, false, 'nothing changed');
    const unknown = await client.patch('/api/domains/nowhere.test', { dmarcRejectToJunk: true });
    assert.ok(unknown.status >= 400 && unknown.status < 500, String(unknown.status));
    assert.match((unknown.json as { error: string }).error, /nowhere\.test/);
    const wrongDomain = await client.patch('/api/domains/example.test', { catchAll: 'bob@elsewhere.test' });
    assert.ok(wrongDomain.status >= 400 && wrongDomain.status < 500);
  });
});
