// The admin API against a hostile client, over real sockets: every route the running app registered is asked
// without a session in raw, percent-encoded, doubled-slash, dot-segment and trailing-slash spellings; every
// write without the CSRF token or from a foreign Origin; foreign Host names (DNS rebinding); parallel setup
// claims; a connection flood from one address; failed sign-ins from one address against the owner's own.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { AdminRoute } from '../../server/admin/http.js';
import type { Logger } from '../../server/log.js';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';

const ADMIN_PASSWORD = 'orbit velvet canyon 4417';
const DOMAIN = 'routes.test';
const MARKER = `secret-marker@${DOMAIN}`;

interface RawResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

/** One request on a fresh connection with the path sent byte for byte (fetch would resolve dot segments). */
function raw(base: string, method: string, path: string, options: { host?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResult> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: url.hostname, port: Number(url.port), method, path, agent: false, setHost: false, headers: { host: options.host ?? url.host, ...options.headers, ...(options.body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(options.body)) } : {}) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** Captures the JSON log lines of a server (security events are asserted by their stable text). */
function captureLogs(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino<never>({ level: 'info' }, sink), lines };
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The route's URL with its parameters filled in. */
function concrete(url: string, aliasId: string): string {
  return url
    .replace(/:aliasId|:id/g, aliasId)
    .replace(/:name/g, DOMAIN)
    .replace(/:sub/g, 'abc123')
    .replace(/:generation/g, '20260101T000000Z')
    .replace(/\*/g, 'x');
}

/** The spellings of one path an attacker would try; `odd` ones are not canonical in structure. */
function spellings(path: string): { form: string; path: string; odd: boolean }[] {
  const [, first = '', rest = ''] = /^\/([^/]*)(.*)$/.exec(path) ?? [];
  const hex = (ch: string): string => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
  const secondSlash = path.indexOf('/', 1);
  const forms = [
    { form: 'raw', path, odd: false },
    { form: 'percent-encoded letter', path: `/${hex(first.charAt(0))}${first.slice(1)}${rest}`, odd: false },
    { form: 'doubled slash in front', path: `/${path}`, odd: true },
    { form: 'doubled slash inside', path: secondSlash > 0 ? `${path.slice(0, secondSlash)}/${path.slice(secondSlash)}` : `${path}//`, odd: true },
    { form: 'dot-dot segment', path: `/x/..${path}`, odd: true },
    { form: 'dot segment', path: `/.${path}`, odd: true },
    { form: 'encoded dot-dot', path: `/x/%2e%2e${path}`, odd: true },
    { form: 'trailing slash', path: `${path}/`, odd: true },
  ];
  if (secondSlash > 0) forms.push({ form: 'encoded slash', path: `${path.slice(0, secondSlash)}%2F${path.slice(secondSlash + 1)}`, odd: true });
  return forms;
}

let admin: RunningAdmin;
let owner: AdminClient;
let aliasId = '';
let routes: readonly AdminRoute[] = [];
const logs = captureLogs();

before(async () => {
  admin = await startAdminOnly({ SEALPOST_ADMIN_MAX_FAILURES: '5', SEALPOST_ADMIN_TRUST_PROXY: 'on' }, undefined, { logger: logs.logger });
  owner = new AdminClient(admin.base);
  await owner.get('/api/auth/state');
  const token = new URL(admin.setupLink ?? '').searchParams.get('token') ?? '';
  assert.equal((await owner.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
  assert.equal((await owner.post('/api/domains', { name: DOMAIN })).status, 201);
  const alias = await owner.post('/api/aliases', { address: MARKER });
  assert.equal(alias.status, 201, alias.text);
  aliasId = (alias.json as { alias?: { id: string }; id?: string }).alias?.id ?? (alias.json as { id: string }).id;
  assert.match(aliasId, /^[0-9a-f-]{36}$/);
  routes = admin.routes();
});
after(async () => admin.stop());

describe('admin routes under attack', () => {
  it('collects the routes from the running app: private API routes, public sign-in and autoconfig routes', () => {
    assert.ok(routes.length >= 40, `routes collected: ${routes.length}`);
    assert.ok(routes.some((r) => r.method === 'GET' && r.url === '/api/aliases' && !r.public));
    assert.ok(routes.some((r) => r.method === 'POST' && r.url === '/api/auth/login' && r.public));
    assert.ok(routes.some((r) => r.url === '/mail/config-v1.1.xml' && r.public && r.mailClient));
    const apiPublic = routes.filter((r) => r.url.startsWith('/api/') && r.public).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(apiPublic.sort(), ['GET /api/auth/state', 'HEAD /api/auth/state', 'POST /api/auth/login', 'POST /api/auth/setup'], 'only sign-in is public under /api');
  });

  it('answers 401 to every private route without a session, in every spelling, and never leaks private data from a public one', async () => {
    const anonymous = new AdminClient(admin.base);
    await anonymous.get('/api/auth/state'); // a valid anonymous CSRF cookie: the refusal must come from the session
    const headers = { cookie: `sp_csrf=${anonymous.csrf}`, 'x-csrf-token': anonymous.csrf, origin: admin.base };
    let asked = 0;
    for (const route of routes) {
      for (const spelling of spellings(concrete(route.url, aliasId))) {
        const body = SAFE.has(route.method) ? undefined : '{}';
        const result = await raw(admin.base, route.method, spelling.path, { headers, body });
        asked += 1;
        const what = `${route.method} ${spelling.path} (${spelling.form} of ${route.url})`;
        assert.doesNotMatch(result.text, new RegExp(MARKER.replace(/[.@]/g, '\\$&')), `${what} leaked private data`);
        // 503 is the "UI is not built" answer an odd spelling of a public page may fall through to.
        assert.ok(result.status < 500 || (result.status === 503 && (route.method === 'HEAD' || /UI is not built/.test(result.text))), `${what} → ${result.status}`);
        if (!route.public) {
          assert.equal(result.status, 401, `${what} → ${result.status} ${result.text.slice(0, 80)}`);
          if (route.method !== 'HEAD') assert.match(result.text, /"code":"UNAUTHENTICATED"/, what);
        } else if (!spelling.odd) {
          assert.notEqual(result.status, 401, `${what}: a public route stays public`);
        }
      }
    }
    assert.ok(asked >= routes.length * 8);
    const absolute = `${admin.base}/api/aliases`; // absolute-form request target (RFC 9112 section 3.2.2)
    for (const path of ['/api', '/api/', '/api/no-such-endpoint', '/%61pi/no-such', '/API/../api/aliases', '/api/aliases%3f', '/%2561pi/aliases', absolute, '/.%2e/api/aliases']) {
      const result = await raw(admin.base, 'GET', path);
      assert.doesNotMatch(result.text, /secret-marker/, path);
      if (path !== '/%2561pi/aliases') assert.equal(result.status, 401, `${path} → ${result.status}`);
    }
  });

  it('sends a signed-in owner to the same handler for a percent-encoded spelling and to no handler for a structurally odd one', async () => {
    const cookie = `sp_session=${owner.cookies.get('sp_session')}`;
    const canonical = await raw(admin.base, 'GET', '/api/aliases', { headers: { cookie } });
    assert.equal(canonical.status, 200);
    assert.match(canonical.text, /secret-marker/);
    const encoded = await raw(admin.base, 'GET', '/%61pi/aliases', { headers: { cookie } });
    assert.equal(encoded.status, 200, 'the router decodes %61 to the same route, which checked the session');
    for (const s of spellings('/api/auth/state').filter((f) => f.odd)) {
      const result = await raw(admin.base, 'GET', s.path, { headers: { cookie } });
      assert.equal(result.status, 404, `${s.form}: ${s.path} → ${result.status}`);
      assert.match(result.headers['content-type'] ?? '', /json/, `${s.path} answers as the API, not with the UI`);
    }
  });

  it('answers 403 to every write route of a signed-in owner without the CSRF token, without an Origin or from a foreign Origin', async () => {
    const writes = routes.filter((r) => !SAFE.has(r.method) && r.csrf);
    assert.ok(writes.length >= 25, `write routes: ${writes.length}`);
    const session = `sp_session=${owner.cookies.get('sp_session')}; sp_csrf=${owner.csrf}`;
    const cases: [string, Record<string, string>][] = [
      ['no CSRF token', { cookie: session, origin: admin.base }],
      ['wrong CSRF token', { cookie: session, origin: admin.base, 'x-csrf-token': 'A'.repeat(43) }],
      ['no Origin', { cookie: session, 'x-csrf-token': owner.csrf }],
      ['foreign Origin', { cookie: session, 'x-csrf-token': owner.csrf, origin: 'http://attacker.example' }],
      ['other port', { cookie: session, 'x-csrf-token': owner.csrf, origin: `http://127.0.0.1:${Number(new URL(admin.base).port) + 1}` }],
      ['https Origin on http', { cookie: session, 'x-csrf-token': owner.csrf, origin: admin.base.replace('http:', 'https:') }],
      ['opaque Origin', { cookie: session, 'x-csrf-token': owner.csrf, origin: 'null' }],
    ];
    for (const route of writes) {
      for (const [label, headers] of cases) {
        const result = await raw(admin.base, route.method, concrete(route.url, aliasId), { headers, body: '{}' });
        assert.equal(result.status, 403, `${route.method} ${route.url} with ${label} → ${result.status} ${result.text.slice(0, 80)}`);
      }
    }
    assert.equal((await owner.get(`/api/aliases/${aliasId}`)).status, 200, 'the alias is still there');
    assert.equal((await owner.post('/api/domains', { name: 'written.test' })).status, 201, 'the same write with token and Origin works');
  });

  it('refuses a Host that does not name this server with 421 before routing, and a request without Host with 400', async () => {
    for (const host of ['attacker.example', 'attacker.example:80', `evil.${DOMAIN}.attacker.example`, '10.0.0.1', 'mail.admin.test.attacker.example', 'exa mple', '[::2]']) {
      const result = await raw(admin.base, 'GET', '/api/auth/state', { host });
      assert.equal(result.status, host === 'exa mple' ? 400 : 421, `Host ${host} → ${result.status}`);
      assert.match(result.text, /"code":"BAD_HOST"/);
    }
    const port = new URL(admin.base).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'mail.admin.test', `MAIL.ADMIN.TEST.:${port}`]) {
      assert.equal((await raw(admin.base, 'GET', '/api/auth/state', { host })).status, 200, `Host ${host}`);
    }
    const noHost = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.end('GET /api/auth/state HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(noHost, /^HTTP\/1\.[01] 400 /);
    assert.ok(logs.lines.some((l) => l.includes('security http.refused ip=127.0.0.1 protocol=admin reason=bad-host')), 'logged in the stable format');
    await Promise.all(Array.from({ length: 40 }, () => raw(admin.base, 'GET', '/', { host: 'flood.attacker.example' })));
    assert.ok(logs.lines.filter((l) => l.includes('reason=bad-host')).length <= 2, 'a flood of refusals writes a bounded number of lines');
  });

  it('refuses a DNS-rebinding request (Host: attacker.example on 127.0.0.1) even with the owner\'s cookie and token', async () => {
    const port = new URL(admin.base).port;
    const host = `attacker.example:${port}`;
    const cookie = `sp_session=${owner.cookies.get('sp_session')}; sp_csrf=${owner.csrf}`;
    const read = await raw(admin.base, 'GET', '/api/aliases', { host, headers: { cookie } });
    assert.equal(read.status, 421);
    assert.doesNotMatch(read.text, /secret-marker/);
    const write = await raw(admin.base, 'POST', '/api/domains', { host, headers: { cookie, 'x-csrf-token': owner.csrf, origin: `http://${host}` }, body: JSON.stringify({ name: 'rebound.test' }) });
    assert.equal(write.status, 421);
    const forwarded = await raw(admin.base, 'GET', '/api/aliases', { host: `127.0.0.1:${port}`, headers: { cookie, 'x-forwarded-host': 'attacker.example' } });
    assert.equal(forwarded.status, 421, 'a trusted proxy\'s X-Forwarded-Host is checked too');
    assert.ok(!((await owner.get('/api/domains')).json as { name: string }[]).some((d) => d.name === 'rebound.test'), 'nothing was written');
  });

  it('lets autoconfig.<domain> and <domain> reach the mail-client routes only', async () => {
    for (const host of [`autoconfig.${DOMAIN}`, `autodiscover.${DOMAIN}`, DOMAIN, `mta-sts.${DOMAIN}`]) {
      const config = await raw(admin.base, 'GET', `/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(MARKER)}`, { host });
      assert.equal(config.status, 200, `${host} → ${config.status}`);
      for (const path of ['/api/auth/state', '/api/aliases', '/', '/setup', '/auth/token?t=x']) {
        const other = await raw(admin.base, 'GET', path, { host });
        assert.equal(other.status, 421, `${host}${path} → ${other.status}`);
      }
    }
    assert.equal((await raw(admin.base, 'GET', '/mail/config-v1.1.xml', { host: 'autoconfig.other.test' })).status, 421, 'not one of our domains');
  });

  it('keeps the owner on loopback signed in while another address fails logins until it is locked out', async () => {
    const attacker = new AdminClient(admin.base);
    await attacker.get('/api/auth/state');
    const from = { 'x-forwarded-for': '203.0.113.9' }; // SEALPOST_ADMIN_TRUST_PROXY=on: the client address a proxy reports
    for (let i = 0; i < 5; i++) assert.equal((await attacker.request('POST', '/api/auth/login', { password: `wrong guess ${i}` }, { headers: from })).status, 401);
    assert.equal((await attacker.request('POST', '/api/auth/login', { password: ADMIN_PASSWORD }, { headers: from })).status, 429, 'the attacking address waits');
    const ownerAgain = new AdminClient(admin.base);
    await ownerAgain.get('/api/auth/state');
    assert.equal((await ownerAgain.post('/api/auth/login', { password: ADMIN_PASSWORD })).status, 200, 'loopback is not locked out');
    assert.ok(logs.lines.some((l) => l.includes('security auth.failed ip=203.0.113.9 protocol=admin reason=bad-password')));
    assert.ok(logs.lines.some((l) => l.includes('security auth.lockout ip=203.0.113.9 protocol=admin reason=too-many-failures')));
    assert.ok(!logs.lines.some((l) => l.includes('wrong guess') || l.includes(ADMIN_PASSWORD)), 'no password in the log');
  });
});

describe('fresh install and connection caps', () => {
  it('lets exactly one of parallel setup claims with the right token win', async () => {
    const fresh = await startAdminOnly();
    try {
      const token = new URL(fresh.setupLink ?? '').searchParams.get('token') ?? '';
      const clients = Array.from({ length: 8 }, () => new AdminClient(fresh.base));
      await Promise.all(clients.map((c) => c.get('/api/auth/state')));
      const results = await Promise.all(clients.map((c, i) => c.post('/api/auth/setup', { token, password: `${ADMIN_PASSWORD} ${i}` })));
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 409, 409, 409, 409, 409, 409, 409], JSON.stringify(results.map((r) => r.json)));
      const winner = results.findIndex((r) => r.status === 200);
      const login = new AdminClient(fresh.base);
      await login.get('/api/auth/state');
      assert.equal((await login.post('/api/auth/login', { password: `${ADMIN_PASSWORD} ${winner}` })).status, 200, "the winner's password is the one set");
    } finally {
      await fresh.stop();
    }
  });

  it('keeps direct loopback sign-in open while a local reverse proxy relays failures from the internet (proxy not trusted)', async () => {
    const proxied = await startAdminOnly({ SEALPOST_ADMIN_MAX_FAILURES: '3' });
    try {
      const setup = new AdminClient(proxied.base);
      await setup.get('/api/auth/state');
      const token = new URL(proxied.setupLink ?? '').searchParams.get('token') ?? '';
      assert.equal((await setup.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
      const relayed = new AdminClient(proxied.base);
      await relayed.get('/api/auth/state');
      const via = { 'x-forwarded-for': '198.51.100.23' };
      for (let i = 0; i < 3; i++) assert.equal((await relayed.request('POST', '/api/auth/login', { password: `relayed guess ${i}` }, { headers: via })).status, 401);
      assert.equal((await relayed.request('POST', '/api/auth/login', { password: ADMIN_PASSWORD }, { headers: via })).status, 429, 'relayed attempts wait');
      const direct = new AdminClient(proxied.base);
      await direct.get('/api/auth/state');
      assert.equal((await direct.post('/api/auth/login', { password: ADMIN_PASSWORD })).status, 200, 'the owner on loopback is not locked out');
    } finally {
      await proxied.stop();
    }
  });

  it('closes a connection that never finishes its request headers (slowloris), freeing its slot', async () => {
    const slow = await startAdminOnly({ SEALPOST_ADMIN_HEADERS_TIMEOUT_MS: '1000', SEALPOST_ADMIN_MAX_CONNECTIONS_PER_IP: '2' });
    const port = Number(new URL(slow.base).port);
    try {
      const closedByServer = (partial: string): Promise<string> =>
        new Promise((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => partial && socket.write(partial));
          let text = '';
          const guard = setTimeout(() => {
            socket.destroy();
            reject(new Error('the server kept a connection without complete headers'));
          }, 20_000);
          socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
          socket.on('close', () => {
            clearTimeout(guard);
            resolve(text);
          });
          socket.on('error', () => undefined);
        });
      const [silent, partial] = await Promise.all([closedByServer(''), closedByServer('GET /api/auth/state HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')]);
      assert.doesNotMatch(silent, /200 OK/);
      assert.doesNotMatch(partial, /200 OK/);
      assert.equal((await raw(slow.base, 'GET', '/api/auth/state')).status, 200, 'both slots are free again');
    } finally {
      await slow.stop();
    }
  });

  it('answers 503 to connections beyond the per-IP and total caps, and serves a fresh connection once others closed', async () => {
    const capLogs = captureLogs();
    const capped = await startAdminOnly({ SEALPOST_ADMIN_MAX_CONNECTIONS_PER_IP: '4', SEALPOST_ADMIN_MAX_CONNECTIONS: '6' }, undefined, { logger: capLogs.logger });
    const held: net.Socket[] = [];
    const port = Number(new URL(capped.base).port);
    const open = (localAddress: string): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
        socket.on('error', reject);
      });
    /** The first bytes the server sends on a new idle connection (a refusal is sent at once), or '' when it stays quiet. */
    const firstWords = (socket: net.Socket): Promise<string> =>
      new Promise((resolve) => {
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
        socket.on('close', () => resolve(text));
        // A probe request: an admitted connection answers it, a refused one was already closed with the 503.
        socket.write('GET /api/auth/state HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      });
    try {
      for (let i = 0; i < 4; i++) held.push(await open('127.0.0.1'));
      const overPerIp = await firstWords(await open('127.0.0.1'));
      assert.match(overPerIp, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
      assert.match(overPerIp, /\r\nConnection: close\r\n/i);
      for (let i = 0; i < 2; i++) held.push(await open('127.0.0.2'));
      const overTotal = await firstWords(await open('127.0.0.3'));
      assert.match(overTotal, /^HTTP\/1\.1 503 /, 'the total cap holds for a new address');
      assert.ok(capLogs.lines.some((l) => l.includes('security conn.refused ip=127.0.0.1 protocol=admin reason=per-ip-cap')));
      assert.ok(capLogs.lines.some((l) => l.includes('security conn.refused ip=127.0.0.3 protocol=admin reason=total-cap')));
      for (const socket of held.splice(0)) socket.destroy();
      // The server learns of the closes asynchronously: a bounded number of tries, no clock assertions.
      let answer = '';
      for (let attempt = 0; attempt < 100 && !/^HTTP\/1\.1 200 /.test(answer); attempt++) {
        answer = await firstWords(await open('127.0.0.1'));
        if (!/^HTTP\/1\.1 200 /.test(answer)) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.match(answer, /^HTTP\/1\.1 200 /, 'a fresh connection is served after the others closed');
    } finally {
      for (const socket of held) socket.destroy();
      await capped.stop();
    }
  });
});
