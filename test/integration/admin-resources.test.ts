// Admin API resources over real HTTP on a temp data dir: domains (records + live DNS check against a loopback
// DNS server), aliases (password once, quota, enable, lock/unlock, remember, forwards, webhooks, password
// change job, delete), backups (run, verify, restore, export download), remotes against s3rver (add, test,
// push, list, restore), settings, logs, autoconfig, and that nothing personal lands in the data dir in clear.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';
import { findPlaintext } from '../helpers/privacy.js';
import { startS3rver, type S3rver } from './remote-fixture.js';

const ADMIN_PASSWORD = 'harbor lantern quiet 8823';
const DOMAIN = 'resources.test';
const ADDRESS = `alice@${DOMAIN}`;

let admin: RunningAdmin;
let client: AdminClient;
let dns: TestDnsServer;
let s3: S3rver;
let aliasId = '';
let generatedPassword = '';
const seen: string[] = []; // secrets that must never appear in a data-dir file

before(async () => {
  dns = await startDnsServer();
  s3 = await startS3rver('admin-bucket');
  admin = await startAdminOnly({ SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DNS_TIMEOUT_MS: '2000' });
  client = new AdminClient(admin.base);
  await client.get('/api/auth/state');
  const token = new URL(admin.setupLink ?? '').searchParams.get('token');
  assert.equal((await client.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
  seen.push(ADMIN_PASSWORD);
});
after(async () => {
  await admin?.stop();
  await dns?.close();
  await s3?.stop();
});

const json = <T>(r: { json: unknown }): T => r.json as T;

describe('admin resources', () => {
  it('adds a domain and shows the DNS records to publish; the live check reports what DNS says', async () => {
    const added = await client.post('/api/domains', { name: DOMAIN });
    assert.equal(added.status, 201, added.text);
    const body = json<{ name: string; records: { purpose: string; type: string; name: string; value: string; zone: string }[] }>(added);
    const purposes = body.records.map((r) => r.purpose);
    for (const p of ['MX', 'SPF', 'DKIM', 'DMARC', 'autoconfig', 'autodiscover', 'SRV']) assert.ok(purposes.includes(p), `record for ${p}`);
    const mx = body.records.find((r) => r.purpose === 'MX');
    assert.deepEqual([mx?.name, mx?.value, mx?.zone], [DOMAIN, '10 mail.admin.test', `${DOMAIN}. 3600 IN MX 10 mail.admin.test.`]);
    const dkim = body.records.filter((r) => r.purpose === 'DKIM');
    assert.equal(dkim.length, 2);
    assert.match(dkim[0]?.value ?? '', /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
    assert.equal((await client.post('/api/domains', { name: DOMAIN.toUpperCase() })).status, 409);

    // Publish MX, SPF and the RSA DKIM key; leave DMARC out.
    dns.set(DOMAIN, { MX: [{ exchange: 'mail.admin.test', priority: 10 }], TXT: ['v=spf1 mx -all'] });
    dns.set(dkim[0]!.name, { TXT: [dkim[0]!.value] });
    dns.set(dkim[1]!.name, { TXT: ['v=DKIM1; k=ed25519; p=somethingelse'] });
    const check = await client.get(`/api/domains/${DOMAIN}/check`);
    assert.equal(check.status, 200, check.text);
    const status = new Map(json<{ records: { purpose: string; name: string; status: string }[] }>(check).records.map((r) => [`${r.purpose}:${r.name}`, r.status]));
    assert.equal(status.get(`MX:${DOMAIN}`), 'ok');
    assert.equal(status.get(`SPF:${DOMAIN}`), 'ok');
    assert.equal(status.get(`DKIM:${dkim[0]!.name}`), 'ok');
    assert.equal(status.get(`DKIM:${dkim[1]!.name}`), 'different');
    assert.equal(status.get(`DMARC:_dmarc.${DOMAIN}`), 'missing');
    assert.equal(status.get(`SRV:_imaps._tcp.${DOMAIN}`), 'unchecked');

    const list = json<{ name: string; aliasCount: number }[]>(await client.get('/api/domains'));
    assert.deepEqual(list.map((d) => [d.name, d.aliasCount]), [[DOMAIN, 0]]);
    assert.equal((await client.get('/api/domains/nope.test/records')).status, 404);
  });

  it('adds an alias: the generated password is in that response only', async () => {
    const created = await client.post('/api/aliases', { address: ADDRESS, quotaBytes: 50 * 1024 * 1024 });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const body = json<{ alias: { id: string; displayAddress: string; unlocked: boolean; quotaBytes: number }; password: string }>(created);
    assert.equal(body.alias.displayAddress, ADDRESS);
    assert.equal(body.alias.unlocked, false);
    assert.equal(body.alias.quotaBytes, 50 * 1024 * 1024);
    assert.ok(body.password.length >= 20);
    aliasId = body.alias.id;
    generatedPassword = body.password;
    seen.push(generatedPassword);
    const listed = await client.get('/api/aliases');
    assert.ok(!listed.text.includes(generatedPassword), 'never listed again');
    assert.equal((await client.post('/api/aliases', { address: ADDRESS })).status, 409);
    const weak = await client.post('/api/aliases', { address: `bob@${DOMAIN}`, password: 'bob' });
    assert.equal(weak.status, 400);
  });

  it('changes enable, quota (needs the key), lock/unlock and remember-on-this-device', async () => {
    const disabled = await client.patch(`/api/aliases/${aliasId}`, { enabled: false });
    assert.equal(json<{ enabled: boolean }>(disabled).enabled, false);
    assert.equal(json<{ enabled: boolean }>(await client.patch(`/api/aliases/${aliasId}`, { enabled: true })).enabled, true);

    const lockedQuota = await client.patch(`/api/aliases/${aliasId}`, { quotaBytes: 10 * 1024 * 1024 });
    assert.equal(lockedQuota.status, 409);
    assert.match(json<{ error: string }>(lockedQuota).error, /locked; enter its password/);
    const wrong = await client.post(`/api/aliases/${aliasId}/unlock`, { password: 'not the password at all' });
    assert.equal(wrong.status, 403);
    const unlocked = await client.post(`/api/aliases/${aliasId}/unlock`, { password: generatedPassword });
    assert.equal(json<{ unlocked: boolean }>(unlocked).unlocked, true);
    const quota = await client.patch(`/api/aliases/${aliasId}`, { quotaBytes: 10 * 1024 * 1024 });
    assert.equal(quota.status, 200, quota.text);
    assert.equal(json<{ quotaBytes: number }>(quota).quotaBytes, 10 * 1024 * 1024);

    const remembered = await client.patch(`/api/aliases/${aliasId}`, { remember: true });
    assert.equal(json<{ remember: boolean }>(remembered).remember, true);
    const locked = await client.post(`/api/aliases/${aliasId}/lock`);
    assert.equal(json<{ unlocked: boolean }>(locked).unlocked, false);
    assert.equal(json<{ remember: boolean }>(await client.patch(`/api/aliases/${aliasId}`, { remember: false })).remember, false);
  });

  it('manages forwards and webhooks', async () => {
    const fwd = await client.post(`/api/aliases/${aliasId}/forwards`, { target: 'Elsewhere@Example.org', keepCopy: false });
    assert.equal(fwd.status, 201);
    const forward = json<{ id: number; target: string; keepCopy: boolean }>(fwd);
    assert.deepEqual([forward.target, forward.keepCopy], ['elsewhere@example.org', false]);
    assert.equal((await client.post(`/api/aliases/${aliasId}/forwards`, { target: ADDRESS })).status, 400);
    const hook = json<{ id: number; url: string; secret: string }>(await client.post(`/api/aliases/${aliasId}/webhooks`, { url: 'https://hooks.example/new' }));
    assert.ok(hook.secret.length >= 20);
    assert.equal((await client.post(`/api/aliases/${aliasId}/webhooks`, { url: 'ftp://nope.example/x' })).status, 400);
    // Targets on this machine, the LAN or cloud metadata are refused when added, with the reason (nothing is dialled).
    for (const url of ['http://127.0.0.1:9/x', 'http://2130706433/x', 'http://[::ffff:7f00:1]/x', 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.8/x', 'http://localhost/x', 'https://user:pw@hooks.example/x']) {
      const refused = await client.post(`/api/aliases/${aliasId}/webhooks`, { url });
      assert.equal(refused.status, 400, url);
      assert.match(json<{ error: string }>(refused).error, /webhook URL/, url);
    }
    for (const target of ['pal@[127.0.0.1]', 'pal@[169.254.169.254]', 'pal@localhost', 'pal@mail.localhost']) {
      assert.equal((await client.post(`/api/aliases/${aliasId}/forwards`, { target })).status, 400, target);
    }
    const local = await client.post(`/api/aliases/${aliasId}/forwards`, { target: 'pal@mail.localhost' });
    assert.match(json<{ error: string }>(local).error, /forwarding target names this machine/);
    const view = json<{ forwards: unknown[]; webhooks: unknown[] }>(await client.get(`/api/aliases/${aliasId}`));
    assert.equal(view.forwards.length, 1);
    assert.equal(view.webhooks.length, 1);
    assert.equal((await client.delete(`/api/aliases/${aliasId}/forwards/${forward.id}`)).status, 200);
    assert.equal((await client.delete(`/api/aliases/${aliasId}/forwards/${forward.id}`)).status, 404);
    assert.equal((await client.delete(`/api/aliases/${aliasId}/webhooks/${hook.id}`)).status, 200);
  });

  it('changes the alias password as a job; the new generated password is handed out once', async () => {
    const started = await client.post(`/api/aliases/${aliasId}/password`, {});
    assert.equal(started.status, 409, 'locked and no current password');
    const job = json<{ job: { id: string } }>(await client.post(`/api/aliases/${aliasId}/password`, { currentPassword: generatedPassword })).job;
    const done = await client.waitJob(job.id);
    assert.equal(done.state, 'done', done.error ?? '');
    const secret = done.secret?.password ?? '';
    assert.ok(secret.length >= 20);
    assert.equal(json<{ secret?: unknown }>(await client.get(`/api/jobs/${job.id}`)).secret, undefined, 'only once');
    seen.push(secret);
    assert.equal((await client.post(`/api/aliases/${aliasId}/unlock`, { password: generatedPassword })).status, 403, 'the old password no longer opens it');
    generatedPassword = secret;
    assert.equal((await client.post(`/api/aliases/${aliasId}/unlock`, { password: generatedPassword })).status, 200);
  });

  it('backs up with progress, lists, verifies, restores and exports a download', async () => {
    const run = json<{ job: { id: string } }>(await client.post('/api/backups/run', {})).job;
    const done = await client.waitJob(run.id);
    assert.equal(done.state, 'done', done.error ?? '');
    assert.deepEqual([done.progress.done, done.progress.total], [1, 1]);
    const groups = json<{ aliasId: string; generations: { id: string; verified: boolean; location: string }[] }[]>(await client.get('/api/backups'));
    const generation = groups[0]?.generations[0];
    assert.ok(generation, 'one generation');
    assert.equal(generation.verified, true, 'the alias was unlocked: snapshotted with its key');
    const verify = json<{ intact: boolean; decrypts: boolean; problem: null }>(await client.post(`/api/backups/${aliasId}/${generation.id}/verify`, {}));
    assert.deepEqual([verify.intact, verify.decrypts, verify.problem], [true, true, null]);
    assert.equal((await client.post(`/api/backups/${aliasId}/20990101T000000.000Z/verify`, {})).status, 404);

    const restore = json<{ job: { id: string } }>(await client.post(`/api/backups/${aliasId}/${generation.id}/restore`, {})).job;
    const restored = await client.waitJob(restore.id);
    assert.equal(restored.state, 'done', restored.error ?? '');
    assert.equal((restored.result as { mode: string }).mode, 'replace');

    assert.equal((await client.post(`/api/backups/${aliasId}/export`, { password: 'wrong password here!' })).status, 403);
    const exp = json<{ job: { id: string } }>(await client.post(`/api/backups/${aliasId}/export`, { password: generatedPassword })).job;
    const exported = await client.waitJob(exp.id);
    assert.equal(exported.state, 'done', exported.error ?? '');
    const { download, name } = exported.result as { download: string; name: string };
    const file = await client.get(download);
    assert.equal(file.status, 200);
    assert.match(file.headers.get('content-disposition') ?? '', new RegExp(`attachment; filename="${name}"`));
    assert.ok(file.body.length > 4096);
    assert.notEqual(file.body.subarray(0, 15).toString('latin1'), 'SQLite format 3', 'the export is encrypted');
    assert.equal((await client.get(download)).status, 404, 'one download only');
  });

  it('adds an S3 remote (s3rver), tests it, pushes with a job and lists the remote generations', async () => {
    const bad = await client.post('/api/remotes', { name: 'lab', kind: 's3', bucket: s3.bucket, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    assert.equal(bad.status, 400, 'an S3 remote needs an endpoint');
    const added = await client.post('/api/remotes', { name: 'lab', kind: 's3', bucket: s3.bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secret, endpoint: s3.endpoint });
    assert.equal(added.status, 201, added.text);
    assert.ok(!added.text.includes('"secretAccessKey"'));
    const test = await client.post('/api/remotes/lab/test');
    assert.equal(test.status, 200, test.text);
    const push = json<{ job: { id: string } }>(await client.post('/api/remotes/lab/push', {})).job;
    const pushed = await client.waitJob(push.id);
    assert.equal(pushed.state, 'done', pushed.error ?? '');
    assert.ok((pushed.result as { uploaded: number }).uploaded >= 1);
    const remote = json<{ id: string; location: string }[]>(await client.get(`/api/remotes/lab/backups/${aliasId}`));
    assert.ok(remote.length >= 1);
    assert.equal(remote[0]?.location, 'remote:lab');
    assert.equal((await client.post('/api/remotes/nope/test')).status, 404);

    // s3rver checks access key ids (not SigV4 signatures): a wrong key id is what it refuses.
    const wrongKey = await client.post('/api/remotes', { name: 'bad', kind: 's3', bucket: s3.bucket, accessKeyId: 'WRONGKEY', secretAccessKey: s3.secret, endpoint: s3.endpoint });
    assert.equal(wrongKey.status, 201);
    const failed = await client.post('/api/remotes/bad/test');
    assert.equal(failed.status, 502);
    assert.match(json<{ error: string }>(failed).error, /refused the credentials/);
    assert.equal((await client.delete('/api/remotes/bad')).status, 200);
  });

  it('saves settings (validated as a whole), relay and TLS choice', async () => {
    const before = json<{ running: { ports: { admin: number } } }>(await client.get('/api/settings'));
    assert.ok(before.running.ports.admin > 0);
    const saved = await client.put('/api/settings', { hostname: 'mx.resources.test', ports: { imap: 1143 }, backup: { time: '03:15', retention: '5d,2w,6m' } });
    assert.equal(saved.status, 200, saved.text);
    const body = json<{ restartRequired: boolean; backup: { time: string; retentionText: string }; saved: { hostname: string } }>(saved);
    assert.equal(body.restartRequired, true);
    assert.deepEqual([body.backup.time, body.backup.retentionText, body.saved.hostname], ['03:15', '5d,2w,6m', 'mx.resources.test']);
    const relay = await client.put('/api/settings/relay', { host: 'smtp.relay.test', port: 587, tls: 'starttls', username: 'relayuser', password: 'relay-secret-9911' });
    assert.equal(relay.status, 200, relay.text);
    seen.push('relay-secret-9911');
    assert.equal(json<{ relay: { host: string } }>(await client.get('/api/settings')).relay.host, 'smtp.relay.test');
    assert.equal((await client.delete('/api/settings/relay')).status, 200);
    assert.equal((await client.post('/api/settings/tls', { mode: 'self-signed' })).status, 200);
  });

  it('serves Thunderbird autoconfig and Outlook autodiscover publicly, and the Apple profile to the admin only', async () => {
    const anonymous = new AdminClient(admin.base);
    for (const url of [`/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(ADDRESS)}`, `/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(ADDRESS)}`]) {
      const xml = await anonymous.get(url);
      assert.equal(xml.status, 200);
      assert.match(xml.headers.get('content-type') ?? '', /application\/xml/);
      assert.match(xml.text, /<clientConfig version="1\.1">/);
      assert.match(xml.text, /<hostname>mail\.admin\.test<\/hostname>/);
      assert.match(xml.text, /<incomingServer type="imap">[\s\S]*?<port>1993<\/port>\s*<socketType>SSL<\/socketType>/);
      assert.match(xml.text, /<username>%EMAILADDRESS%<\/username>/);
    }
    assert.equal((await anonymous.get('/mail/config-v1.1.xml?emailaddress=someone%40other.example')).status, 404);
    const outlook = await anonymous.request('POST', '/autodiscover/autodiscover.xml', undefined, {
      csrf: false,
      headers: { 'content-type': 'text/xml' },
      rawBody: `<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>${ADDRESS}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`,
    });
    assert.equal(outlook.status, 200, outlook.text);
    assert.match(outlook.text, /<Type>IMAP<\/Type>\s*<Server>mail\.admin\.test<\/Server>\s*<Port>1993<\/Port>/);
    assert.match(outlook.text, new RegExp(`<LoginName>${ADDRESS}</LoginName>`));
    assert.equal((await anonymous.get(`/api/aliases/${aliasId}/mobileconfig`)).status, 401);
    const profile = await client.get(`/api/aliases/${aliasId}/mobileconfig`);
    assert.equal(profile.status, 200);
    assert.equal(profile.headers.get('content-type'), 'application/x-apple-aspen-config');
    assert.match(profile.text, /<key>PayloadType<\/key><string>com\.apple\.mail\.managed<\/string>/);
    assert.match(profile.text, new RegExp(`<key>EmailAddress</key><string>${ADDRESS}</string>`));
    assert.ok(!profile.text.includes(generatedPassword));
  });

  it('shows status with storage, last backup and warnings, and logs without secrets', async () => {
    const status = json<{ aliases: { id: string; lastBackup: string | null; usedBytes: number; quotaBytes: number }[]; warnings: { code: string }[]; services: { name: string; port: number }[] }>(await client.get('/api/status'));
    const alias = status.aliases.find((a) => a.id === aliasId);
    assert.ok(alias?.lastBackup, 'last backup shown');
    assert.equal(alias?.quotaBytes, 10 * 1024 * 1024);
    assert.ok(!status.warnings.some((w) => w.code === 'NO_RECENT_BACKUP'), 'backed up just now');
    assert.deepEqual(status.services.map((s) => s.name), ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'managesieve', 'admin', 'http', 'https']);
    const logs = await client.get('/api/logs?limit=500');
    const events = json<{ event: string }[]>(logs).map((e) => e.event);
    for (const e of ['admin.setup_done', 'domain.added', 'alias.created', 'alias.password_changed', 'backup.run', 'remote.pushed']) assert.ok(events.includes(e), `log has ${e}`);
    for (const secret of seen) assert.ok(!logs.text.includes(secret), 'no secret in the logs');
  });

  it('deletes an alias only after the address is typed; its mailbox file goes with it', async () => {
    const mailboxFiles = fs.readdirSync(path.join(admin.dataDir, 'mailboxes')).filter((f) => f.endsWith('.sqlite'));
    assert.equal(mailboxFiles.length, 1);
    const wrong = await client.delete(`/api/aliases/${aliasId}`, { confirm: `bob@${DOMAIN}` });
    assert.equal(wrong.status, 400);
    assert.match(json<{ error: string }>(wrong).error, /Type the address/);
    assert.equal((await client.delete(`/api/aliases/${aliasId}`, { confirm: ADDRESS.toUpperCase() })).status, 200);
    assert.equal(fs.readdirSync(path.join(admin.dataDir, 'mailboxes')).filter((f) => f.endsWith('.sqlite')).length, 0);
    assert.equal((await client.get(`/api/aliases/${aliasId}`)).status, 404);
    assert.equal((await client.delete(`/api/domains/${DOMAIN}`)).status, 200);
  });

  it('left no address or password in clear in any file of the data dir', () => {
    assert.deepEqual(findPlaintext(admin.dataDir, [...seen, ADDRESS, 'resources.test', 'elsewhere@example.org']), []);
  });
});
