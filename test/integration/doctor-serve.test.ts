// `sealpost doctor` next to a running `sealpost serve`: the server's own ports are reported as in use by
// this Sealpost (found through the control socket's pid), not as conflicts; the mail host name and its DNS
// (a dns2 server on 127.0.0.1) are checked and each finding says what to fix.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { freePorts } from '../helpers/ports.js';
import { runCli, startServe, tempDataDir, type ServeProcess, stopServe } from '../helpers/sealpost-cli.js';

const LISTENERS = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'admin'] as const;
const HOST = 'mail.sealpost-test.org';
const PUBLIC_IP = '5.45.1.10';

let data: ReturnType<typeof tempDataDir>;
let env: NodeJS.ProcessEnv;
let dns: TestDnsServer;
let serve: ServeProcess;
let ports: number[];

interface Check {
  status: string;
  check: string;
  message: string;
}

before(async () => {
  data = tempDataDir();
  dns = await startDnsServer({
    [HOST]: { A: [PUBLIC_IP] },
    'sealpost-test.org': { MX: [{ exchange: 'mx.other-provider.net', priority: 10 }] },
  });
  ports = await freePorts(LISTENERS.length);
  env = { ...data.env, SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DNS_TIMEOUT_MS: '1500', SEALPOST_PUBLIC_IP: PUBLIC_IP, SEALPOST_HOSTNAME: HOST, SEALPOST_HOSTNAME_CHECK_AT_START: 'on' };
  LISTENERS.forEach((name, i) => (env[`SEALPOST_${name.toUpperCase()}_PORT`] = String(ports[i])));
  serve = await startServe([], env, LISTENERS.length);
  const added = await runCli(['domain', 'add', 'sealpost-test.org'], { env });
  assert.equal(added.code, 0, added.stderr);
});

after(async () => {
  if (serve) {
    await stopServe(serve);
  }
  await dns?.close();
  data?.cleanup();
});

describe('sealpost doctor with serve running', () => {
  it('serve checked its fully qualified host name against DNS after start and logged what to fix', async () => {
    // The check runs in the background after the listeners are up; wait for its line (bounded).
    let line: string | undefined;
    for (let i = 0; i < 100 && !line; i++) {
      line = serve.output().split('\n').find((l) => l.includes('"event":"hostname.check"') && l.includes('"code":"PTR"'));
      if (!line) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(line, `no PTR finding in the serve log:\n${serve.output()}`);
    const entry = JSON.parse(line) as { level: number; msg: string };
    assert.equal(entry.level, 40);
    assert.match(entry.msg, /5\.45\.1\.10 has no reverse DNS \(PTR\) record/);
    assert.ok(!serve.output().includes('"code":"ADDRESS"'), 'the A record matches the public IP: nothing logged about it');
  });

  it("reports the running server's ports as its own, not as conflicts, and the host name's DNS findings", async () => {
    const doctor = await runCli(['doctor', '--json'], { env });
    const checks = JSON.parse(doctor.stdout) as Check[];
    const one = (name: string): Check => checks.find((c) => c.check === name) ?? assert.fail(`no ${name} check in ${doctor.stdout}`);
    const server = one('server');
    assert.match(server.message, new RegExp(`pid ${serve.child.pid}\\b`));
    const portsCheck = one('ports');
    assert.equal(portsCheck.status, 'ok', portsCheck.message);
    assert.match(portsCheck.message, new RegExp(`in use by this Sealpost \\(pid ${serve.child.pid}\\): smtp ${ports[0]}, .*admin ${ports[7]}`));
    assert.doesNotMatch(portsCheck.message, /another program/);

    assert.equal(one('host name').status, 'ok');
    assert.equal(one('host name dns').status, 'ok', 'A points at the configured public IP');
    const mx = one('mx');
    assert.equal(mx.status, 'fail');
    assert.match(mx.message, /sealpost-test\.org's MX points at mx\.other-provider\.net, not at mail\.sealpost-test\.org; change it to "sealpost-test\.org\. MX 10 mail\.sealpost-test\.org\."/);
    const ptr = one('reverse dns');
    assert.equal(ptr.status, 'warn');
    assert.match(ptr.message, /5\.45\.1\.10 has no reverse DNS \(PTR\) record/);
    assert.equal(doctor.code, 1, 'a failing check makes doctor exit 1');
    assert.ok(dns.queries.some((q) => q.name === '10.1.45.5.in-addr.arpa' && q.type === 'PTR'));
  });

  it('a port taken by another program is still a conflict, named as such', async () => {
    const [spare] = await freePorts(1);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(spare, '127.0.0.1', resolve));
    try {
      // doctor with another POP3 port than serve's: that one is held by the blocker, not by Sealpost.
      const doctor = await runCli(['doctor', '--no-dns'], { env: { ...env, SEALPOST_POP3_PORT: String(spare) } });
      const line = doctor.stdout.split('\n').find((l) => l.includes('ports:')) ?? assert.fail(doctor.stdout);
      assert.match(line, new RegExp(`^warn +ports: .*pop3 ${spare} \\(in use by another program\\).*in use by this Sealpost`));
      assert.match(doctor.stdout, /host name dns: not checked \(--no-dns\)\./);
    } finally {
      blocker.close();
    }
  });

  it('a bare machine name is a warning in doctor with the fix, and asks DNS nothing', async () => {
    const before = dns.queries.length;
    const doctor = await runCli(['doctor'], { env: { ...env, SEALPOST_HOSTNAME: 'vm' } });
    assert.match(doctor.stdout, /^warn +host name: "vm" is a bare machine name, not a fully qualified one; .* vm\.example\.org\.$/m);
    assert.equal(dns.queries.length, before);
  });
});
