// /api/hostname over real HTTP: the running name's check, a check of another name without saving it, saving
// (IDN in A-label form, refusals in one sentence), the environment override said where it is edited, the
// dashboard warning for a name that is not fully qualified, and hostile bodies and a flood of checks.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { AdminClient, startAdminOnly, type RunningAdmin } from '../helpers/admin-http.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

const ADMIN_PASSWORD = 'harbor lantern quiet 8823';
const HOST = 'mail.sealpost-test.org';
const PUBLIC_IP = '5.45.1.10';

interface Finding {
  code: string;
  severity: string;
  message: string;
}
interface Report {
  hostname: string;
  severity: string;
  findings: Finding[];
}

let admin: RunningAdmin;
let client: AdminClient;
let dns: TestDnsServer;

async function signIn(running: RunningAdmin): Promise<AdminClient> {
  const c = new AdminClient(running.base);
  await c.get('/api/auth/state');
  const token = new URL(running.setupLink ?? '').searchParams.get('token');
  assert.equal((await c.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
  return c;
}

before(async () => {
  dns = await startDnsServer({
    [HOST]: { A: [PUBLIC_IP] },
    'sealpost-test.org': { MX: [{ exchange: HOST, priority: 10 }] },
    '10.1.45.5.in-addr.arpa': { PTR: [HOST] },
  });
  // As on a fresh install: no SEALPOST_HOSTNAME, so the machine's own name (a bare label here) is in use.
  admin = await startAdminOnly({ SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DNS_TIMEOUT_MS: '1500', SEALPOST_HOSTNAME: 'vm' });
  client = await signIn(admin);
  assert.equal((await client.post('/api/domains', { name: 'sealpost-test.org' })).status, 201);
});
after(async () => {
  await admin?.stop();
  await dns?.close();
});

describe('admin host name API', () => {
  it('shows the running name with its findings, and the dashboard warns that it is not fully qualified (RFC 5321 §2.3.5)', async () => {
    const view = (await client.get('/api/hostname')).json as { running: string; overriddenBy: string | null; report: Report };
    assert.equal(view.running, 'vm');
    assert.equal(view.overriddenBy, 'SEALPOST_HOSTNAME');
    assert.equal(view.report.severity, 'warn');
    assert.deepEqual(view.report.findings.map((f) => f.code), ['NOT_FQDN']);
    const status = (await client.get('/api/status')).json as { warnings: { code: string; message: string }[] };
    const warning = status.warnings.find((w) => w.code === 'HOSTNAME_NOT_FQDN') ?? assert.fail(JSON.stringify(status.warnings));
    assert.match(warning.message, /^Mail host name: "vm" is a bare machine name/);
  });

  it('checks another name against DNS without saving it', async () => {
    const res = await client.post('/api/hostname/check', { hostname: HOST, publicIp: PUBLIC_IP });
    assert.equal(res.status, 200, res.text);
    const { report } = res.json as { report: Report };
    assert.equal(report.severity, 'ok', JSON.stringify(report.findings));
    assert.deepEqual(report.findings.map((f) => f.code), ['FQDN', 'ADDRESS', 'MX', 'PTR']);
    assert.equal(admin.ctx.directory.getSettings().hostname, undefined, 'nothing saved');

    dns.set('sealpost-test.org', { MX: [{ exchange: 'mx.elsewhere.net', priority: 10 }] });
    const wrong = (await client.post('/api/hostname/check', { hostname: HOST, publicIp: PUBLIC_IP })).json as { report: Report };
    assert.equal(wrong.report.severity, 'error');
    assert.match(wrong.report.findings.find((f) => f.code === 'MX')!.message, /points at mx\.elsewhere\.net, not at mail\.sealpost-test\.org/);
    dns.set('sealpost-test.org', { MX: [{ exchange: HOST, priority: 10 }] });
  });

  it('saves a name in its DNS form and the public IP; refuses an IP literal or a bad public IP in one sentence', async () => {
    const ip = await client.put('/api/hostname', { hostname: '203.0.113.9' });
    assert.equal(ip.status, 400);
    assert.match((ip.json as { error: string }).error, /is an IP address, not a host name/);
    // The general settings route applies the same rule.
    const viaSettings = await client.put('/api/settings', { hostname: '203.0.113.9' });
    assert.equal(viaSettings.status, 400);
    assert.match((viaSettings.json as { error: string }).error, /is an IP address, not a host name/);
    const badIp = await client.put('/api/hostname', { hostname: HOST, publicIp: 'my router' });
    assert.equal(badIp.status, 400);
    assert.match((badIp.json as { error: string }).error, /^The public IP must list this machine's public IP addresses/);

    const idn = await client.put('/api/hostname', { hostname: 'Mail.Bücher.de' });
    assert.equal(idn.status, 200, idn.text);
    assert.equal((idn.json as { saved: string }).saved, 'mail.xn--bcher-kva.de');

    const saved = await client.put('/api/hostname', { hostname: HOST, publicIp: PUBLIC_IP });
    assert.equal(saved.status, 200, saved.text);
    const body = saved.json as { saved: string; restartRequired: boolean; overriddenBy: string | null; report: Report };
    // The environment still sets the running name: saving it needs no restart, it changes nothing until unset.
    assert.deepEqual([body.saved, body.restartRequired, body.overriddenBy], [HOST, false, 'SEALPOST_HOSTNAME']);
    assert.equal(body.report.severity, 'ok');
    assert.equal(admin.ctx.directory.getSettings().hostname, HOST);
    assert.equal(admin.ctx.directory.getSettings().publicIp, PUBLIC_IP);
    const view = (await client.get('/api/hostname')).json as { saved: string; publicIp: { saved: string } };
    assert.deepEqual([view.saved, view.publicIp.saved], [HOST, PUBLIC_IP]);
    // An empty public IP clears it.
    assert.equal((await client.put('/api/hostname', { hostname: HOST, publicIp: '' })).status, 200);
    assert.equal(admin.ctx.directory.getSettings().publicIp, undefined);
  });

  it('refuses hostile bodies with a 4xx and a sentence, never a 5xx', async () => {
    const bodies: string[] = [
      JSON.stringify({ hostname: 'a'.repeat(100_000) }),
      JSON.stringify({ hostname: { nested: { deeper: [HOST] } } }),
      JSON.stringify({ hostname: [HOST] }),
      JSON.stringify({ hostname: HOST, extra: 1 }),
      JSON.stringify({ hostname: HOST, publicIp: '1.1.1.1,'.repeat(100) }),
      '{}',
      `{"hostname":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      '{"hostname": "mail.example.org"',
    ];
    for (const b of bodies) {
      for (const [method, url] of [['POST', '/api/hostname/check'], ['PUT', '/api/hostname']] as const) {
        const res = await client.request(method, url, undefined, { rawBody: b, headers: { 'content-type': 'application/json' } });
        assert.ok(res.status >= 400 && res.status < 500, `${method} ${url} ${b.slice(0, 60)} → ${res.status}`);
        assert.equal(typeof (res.json as { error?: unknown }).error, 'string');
      }
    }
    for (const name of ['mail..example.org', 'user@example.org', 'ex%61mple.org', '\u0000']) {
      const res = await client.put('/api/hostname', { hostname: name });
      assert.equal(res.status, 400, name);
      assert.doesNotMatch(res.text, /at .*\.ts:\d+/, 'no stack trace');
    }
    assert.equal(admin.ctx.directory.getSettings().hostname, HOST, 'nothing hostile was saved');
  });

  it('a fully qualified name in use whose DNS does not point here is a dashboard warning after it is checked, and clears once DNS is right', async () => {
    dns.set('mail.elsewhere-test.org', { A: ['198.51.100.7'] });
    const running = await startAdminOnly({ SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DNS_TIMEOUT_MS: '1500', SEALPOST_HOSTNAME: 'mail.elsewhere-test.org', SEALPOST_PUBLIC_IP: PUBLIC_IP });
    try {
      const c = await signIn(running);
      const warningsOf = async (): Promise<{ code: string; message: string }[]> => ((await c.get('/api/status')).json as { warnings: { code: string; message: string }[] }).warnings.filter((w) => w.code.startsWith('HOSTNAME_'));
      assert.deepEqual(await warningsOf(), [], 'a fully qualified name is not flagged before DNS was asked');
      // the host name card checks the name in use (with the public IP in use)
      const report = ((await c.post('/api/hostname/check', { hostname: 'mail.elsewhere-test.org' })).json as { report: Report }).report;
      const address = report.findings.find((f) => f.code === 'ADDRESS') ?? assert.fail(JSON.stringify(report.findings));
      const attention = report.findings.filter((f) => f.severity === 'warn' || f.severity === 'error');
      const shown = await warningsOf();
      assert.deepEqual(shown, attention.map((f) => ({ code: `HOSTNAME_${f.code}`, message: `Mail host name: ${f.message}` })));
      assert.ok(shown.some((w) => w.message === `Mail host name: ${address.message}`));
      // checking another name does not replace what the dashboard says about the name in use
      await c.post('/api/hostname/check', { hostname: HOST, publicIp: PUBLIC_IP });
      assert.deepEqual(await warningsOf(), shown);
      dns.set('mail.elsewhere-test.org', { A: [PUBLIC_IP] });
      await c.post('/api/hostname/check', { hostname: 'mail.elsewhere-test.org' });
      assert.deepEqual((await warningsOf()).filter((w) => w.code === 'HOSTNAME_ADDRESS'), []);
    } finally {
      await running.stop();
    }
  });

  it('refuses checks beyond the concurrency cap with 429 while DNS is slow, instead of queueing them', async () => {
    // A DNS "server" that never answers: each check waits for the resolver's timeout.
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const slow = await startAdminOnly({ SEALPOST_DNS_SERVERS: `127.0.0.1:${silent.address().port}`, SEALPOST_DNS_TIMEOUT_MS: '700', SEALPOST_HOSTNAME_CHECK_CONCURRENCY: '2' });
    try {
      const c = await signIn(slow);
      const results = await Promise.all(Array.from({ length: 10 }, () => c.post('/api/hostname/check', { hostname: HOST, publicIp: PUBLIC_IP })));
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 429, 429, 429, 429, 429, 429, 429, 429], JSON.stringify(statuses));
      const refused = results.find((r) => r.status === 429)!;
      assert.match((refused.json as { error: string }).error, /host name checks are already running; wait for them to finish/);
      const done = results.find((r) => r.status === 200)!.json as { report: Report };
      assert.match(done.report.findings.find((f) => f.code === 'ADDRESS')!.message, /lookup of mail\.sealpost-test\.org failed/);
    } finally {
      await slow.stop();
      silent.close();
    }
  });
});
