// Admin API security over real HTTP: anonymous 401s, first-run setup link, cookies, CSRF, schema validation
// (400 with a sentence, never a 500 or a stack), TOTP sign-in, the desktop one-time token and login rate limits.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { totpAt } from '../../server/admin/totp.js';
import { runDoctor } from '../../server/cli/doctor.js';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';

const ADMIN_PASSWORD = 'orbit velvet canyon 4417';

const PROTECTED: [string, string][] = [
  ['GET', '/api/status'],
  ['GET', '/api/domains'],
  ['POST', '/api/domains'],
  ['GET', '/api/aliases'],
  ['POST', '/api/aliases'],
  ['GET', '/api/backups'],
  ['POST', '/api/backups/run'],
  ['GET', '/api/remotes'],
  ['POST', '/api/remotes'],
  ['GET', '/api/settings'],
  ['PUT', '/api/settings'],
  ['GET', '/api/logs'],
  ['GET', '/api/jobs'],
  ['POST', '/api/auth/logout'],
  ['POST', '/api/auth/password'],
  ['GET', '/api/aliases/00000000-0000-4000-8000-000000000000/mobileconfig'],
  ['GET', '/api/no-such-endpoint'],
];

let admin: RunningAdmin;
let client: AdminClient;

before(async () => {
  admin = await startAdminOnly({ SEALPOST_ADMIN_MAX_FAILURES: '5' });
  client = new AdminClient(admin.base);
});
after(async () => admin.stop());

function errorOf(result: { json: unknown }): string {
  const body = result.json as { error?: unknown };
  assert.equal(typeof body?.error, 'string', `JSON error body expected, got ${JSON.stringify(result.json)}`);
  return body.error as string;
}

describe('admin authentication', () => {
  it('refuses every /api resource to an anonymous caller with 401', async () => {
    const anonymous = new AdminClient(admin.base);
    for (const [method, url] of PROTECTED) {
      const result = await anonymous.request(method, url, method === 'GET' ? undefined : {});
      assert.equal(result.status, 401, `${method} ${url}`);
      assert.match(errorOf(result), /sign in/i);
    }
    const state = await anonymous.get('/api/auth/state');
    assert.equal(state.status, 200);
    assert.deepEqual({ ...(state.json as object), csrfToken: 'x' }, { setupRequired: true, authenticated: false, totpEnabled: false, csrfToken: 'x' });
  });

  it('prints a one-time setup link; a wrong token or a missing CSRF header is refused; the right one signs in', async () => {
    assert.ok(admin.setupLink, 'setup link announced');
    const link = new URL(admin.setupLink);
    assert.equal(link.origin, admin.base);
    assert.equal(link.pathname, '/setup');
    const token = link.searchParams.get('token') ?? '';
    assert.ok(token.length >= 40);

    await client.get('/api/auth/state'); // sets the sp_csrf cookie
    assert.ok(client.csrf.length >= 32);
    const noCsrf = await client.post('/api/auth/setup', { token, password: ADMIN_PASSWORD }, { csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.match(errorOf(noCsrf), /security token/);
    const wrongToken = await client.post('/api/auth/setup', { token: 'x'.repeat(43), password: ADMIN_PASSWORD });
    assert.equal(wrongToken.status, 403);
    const weak = await client.post('/api/auth/setup', { token, password: 'short' });
    assert.equal(weak.status, 400);
    assert.match(errorOf(weak), /too short/);

    const ok = await client.post('/api/auth/setup', { token, password: ADMIN_PASSWORD });
    assert.equal(ok.status, 200, ok.text);
    const cookies = ok.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith('sp_session='));
    assert.ok(session, 'session cookie set');
    assert.match(session, /HttpOnly/);
    assert.match(session, /SameSite=Strict/);
    assert.match(session, /Path=\//);
    const csrf = cookies.find((c) => c.startsWith('sp_csrf='));
    assert.ok(csrf && !/HttpOnly/.test(csrf), 'the CSRF cookie is readable by the page (double submit)');

    const status = await client.get('/api/status');
    assert.equal(status.status, 200);
    const again = await new AdminClient(admin.base).post('/api/auth/setup', { token, password: ADMIN_PASSWORD }, { csrf: 'a' });
    assert.equal(again.status, 403, 'CSRF first, and the link is spent anyway');
    const fresh = new AdminClient(admin.base);
    await fresh.get('/api/auth/state');
    const reuse = await fresh.post('/api/auth/setup', { token, password: ADMIN_PASSWORD });
    assert.equal(reuse.status, 409, 'the setup link works once');
  });

  it('checks the CSRF header on every state-changing request', async () => {
    const missing = await client.post('/api/domains', { name: 'csrf.test' }, { csrf: false });
    assert.equal(missing.status, 403);
    const wrong = await client.post('/api/domains', { name: 'csrf.test' }, { csrf: 'A'.repeat(43) });
    assert.equal(wrong.status, 403);
    // A page on another origin cannot read the cookie; guessing the header does not match the session's token.
    const stolenCookieOnly = new AdminClient(admin.base);
    stolenCookieOnly.cookies.set('sp_session', client.cookies.get('sp_session') ?? '');
    stolenCookieOnly.cookies.set('sp_csrf', 'B'.repeat(43));
    const forged = await stolenCookieOnly.post('/api/domains', { name: 'csrf.test' }, { csrf: 'B'.repeat(43) });
    assert.equal(forged.status, 403);
    assert.equal((await client.get('/api/domains')).json instanceof Array && ((await client.get('/api/domains')).json as unknown[]).length, 0, 'nothing was created');
    const ok = await client.post('/api/domains', { name: 'csrf.test' });
    assert.equal(ok.status, 201);
  });

  it('validates every body: 400 with a clear sentence, never a 500 or a stack trace', async () => {
    const cases: [string, string, unknown, RegExp, number?][] = [
      ['POST', '/api/domains', {}, /must have required property 'name'/],
      ['POST', '/api/domains', { name: 'a.test', extra: 1 }, /must NOT have additional properties/],
      ['POST', '/api/domains', { name: 42 }, /must be string/],
      ['POST', '/api/domains', { name: 'not a domain!' }, /./],
      ['POST', '/api/aliases', { address: 'x' }, /fewer than 3 characters/],
      ['POST', '/api/aliases', { address: 'someone@unknown.test' }, /not set up here/, 404],
      ['PATCH', '/api/aliases/not-a-uuid', { enabled: true }, /must match format "uuid"/],
      ['PATCH', '/api/aliases/00000000-0000-4000-8000-000000000000', {}, /fewer than 1 properties/],
      ['PATCH', '/api/aliases/00000000-0000-4000-8000-000000000000', { enabled: 'yes' }, /must be boolean/],
      ['DELETE', '/api/aliases/00000000-0000-4000-8000-000000000000/forwards/abc', undefined, /must match pattern/],
      ['POST', '/api/backups/run', { aliasId: 7 }, /must be string/],
      ['PUT', '/api/settings', { ports: { imap: 70000 } }, /must be <= 65535/],
      ['PUT', '/api/settings', { ports: { imap: 2525, smtp: 2525 } }, /both set to port 2525/],
      ['PUT', '/api/settings', { backup: { time: '25:00' } }, /must match pattern/],
      ['POST', '/api/remotes', { name: 'Bad Name', kind: 's3', bucket: 'b', accessKeyId: 'k', secretAccessKey: 's' }, /must match pattern/],
      ['POST', '/api/remotes', { name: 'ok', kind: 'ftp', bucket: 'b', accessKeyId: 'k', secretAccessKey: 's' }, /must be equal to one of the allowed values/],
      ['POST', '/api/settings/tls', { mode: 'upload', cert: 'nope', key: 'nope' }, /not a matching PEM pair/],
      ['GET', '/api/logs?limit=abc', undefined, /must match pattern/],
    ];
    for (const [method, url, body, message, status = 400] of cases) {
      const result = await client.request(method, url, body);
      assert.equal(result.status, status, `${method} ${url} ${JSON.stringify(body)} → ${result.status} ${result.text}`);
      const error = errorOf(result);
      assert.match(error, message, `${method} ${url}`);
      assert.doesNotMatch(result.text, /\n\s+at |node_modules|\.ts:\d+/, 'no stack trace');
    }
    const badJson = await client.request('POST', '/api/domains', undefined, { rawBody: '{"name":', headers: { 'content-type': 'application/json' } });
    assert.equal(badJson.status, 400);
    assert.match(errorOf(badJson), /JSON/i);
    const wrongType = await client.request('POST', '/api/domains', undefined, { rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(wrongType.status, 415);
    const huge = await client.request('POST', '/api/domains', undefined, { rawBody: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
    assert.equal(huge.status, 413);
    assert.equal((await client.get('/api/status')).status, 200, 'the server is still up');
  });

  it('turns on TOTP; sign-in then needs a fresh code (a replayed code is refused)', async () => {
    const begin = await client.post('/api/auth/totp/begin');
    assert.equal(begin.status, 200);
    const { secret, uri, qrSvg } = begin.json as { secret: string; uri: string; qrSvg: string };
    assert.match(uri, /^otpauth:\/\/totp\/Sealpost%3Aadmin%40mail\.admin\.test\?secret=[A-Z2-7]+&issuer=Sealpost/);
    // the QR code of the URI comes along as SVG markup for the UI to show as an image (decoded in admin-totp and totp-qr tests)
    assert.ok(qrSvg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"') && qrSvg.trimEnd().endsWith('</svg>'), qrSvg.slice(0, 80));
    assert.doesNotMatch(qrSvg, /<script|<foreignObject|\son\w+=|javascript:/i);
    assert.equal((await client.post('/api/auth/totp/enable', { code: '000000' })).status, 403);
    const enable = await client.post('/api/auth/totp/enable', { code: totpAt(secret) });
    assert.equal(enable.status, 200, enable.text);

    const browser = new AdminClient(admin.base);
    await browser.get('/api/auth/state');
    assert.equal(((await browser.get('/api/auth/state')).json as { totpEnabled: boolean }).totpEnabled, true);
    const noCode = await browser.post('/api/auth/login', { password: ADMIN_PASSWORD });
    assert.equal(noCode.status, 401);
    assert.match(errorOf(noCode), /6-digit code/);
    // The code used to enable TOTP has been spent in this 30 s step; the next step's code is accepted.
    const code = totpAt(secret, Date.now() + 30_000);
    const ok = await browser.post('/api/auth/login', { password: ADMIN_PASSWORD, code });
    assert.equal(ok.status, 200, ok.text);
    const replay = await new AdminClient(admin.base).get('/api/auth/state').then(async () => browser.post('/api/auth/login', { password: ADMIN_PASSWORD, code }));
    assert.equal(replay.status, 401, 'a code works once');
    assert.equal((await client.post('/api/auth/totp/disable', { password: 'wrong password here' })).status, 403);
    assert.equal((await client.post('/api/auth/totp/disable', { password: ADMIN_PASSWORD })).status, 200);
  });

  it('signs the desktop shell in with the one-time token from <data>/ui-token, once', async () => {
    const file = path.join(admin.dataDir, 'ui-token');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const token = fs.readFileSync(file, 'utf8').trim();
    const shell = new AdminClient(admin.base);
    const used = await shell.request('GET', `/auth/token?t=${token}`);
    assert.equal(used.status, 303);
    assert.equal(used.headers.get('location'), '/');
    assert.ok(shell.cookies.get('sp_session'));
    assert.equal((await shell.get('/api/status')).status, 200);
    const again = await new AdminClient(admin.base).request('GET', `/auth/token?t=${token}`);
    assert.equal(again.status, 403, 'spent');
    const next = fs.readFileSync(file, 'utf8').trim();
    assert.notEqual(next, token, 'a new token is published for the next window');
  });

  it('logs out: the session cookie no longer works', async () => {
    const other = new AdminClient(admin.base);
    await other.get('/api/auth/state');
    assert.equal((await other.post('/api/auth/login', { password: ADMIN_PASSWORD })).status, 200);
    const session = other.cookies.get('sp_session') ?? '';
    assert.equal((await other.post('/api/auth/logout')).status, 200);
    const replay = new AdminClient(admin.base);
    replay.cookies.set('sp_session', session);
    assert.equal((await replay.get('/api/status')).status, 401);
  });

  it('rate-limits failed sign-ins per client: after 5 failures even the right password waits (429 + Retry-After)', async () => {
    const attacker = new AdminClient(admin.base);
    await attacker.get('/api/auth/state');
    for (let i = 0; i < 5; i++) assert.equal((await attacker.post('/api/auth/login', { password: `guess number ${i} wrong` })).status, 401);
    const limited = await attacker.post('/api/auth/login', { password: ADMIN_PASSWORD });
    assert.equal(limited.status, 429);
    assert.match(errorOf(limited), /Too many failed attempts/);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    const token = await attacker.request('GET', '/auth/token?t=whatever-token-value');
    assert.equal(token.status, 429, 'the token endpoint shares the limit');
    assert.equal((await client.get('/api/status')).status, 200, 'signed-in sessions keep working');
  });

  it('doctor warns when the admin UI would listen on the network without TLS', async () => {
    const exposed = await runDoctor({ data: admin.dataDir }, { ...admin.env, SEALPOST_HOST: '0.0.0.0' });
    const warning = exposed.find((c) => c.check === 'admin');
    assert.equal(warning?.status, 'warn');
    assert.match(warning?.message ?? '', /listens on 0\.0\.0\.0:\d+ without TLS/);
    const local = await runDoctor({ data: admin.dataDir }, admin.env);
    assert.equal(local.find((c) => c.check === 'admin'), undefined, 'loopback: no warning');
    const withTls = await runDoctor({ data: admin.dataDir }, { ...admin.env, SEALPOST_HOST: '0.0.0.0', SEALPOST_ADMIN_TLS: 'on' });
    assert.equal(withTls.find((c) => c.check === 'admin'), undefined, 'admin TLS on: no warning');
  });
});
