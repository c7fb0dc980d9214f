// The desktop shell's supervisor across "Restart Sealpost now": a real `bin/sealpost serve` child restarts in
// place after the admin port is moved over the API; the supervisor follows it to the new admin origin without
// counting a crash, the child's pid stays the same, and Quit still stops it cleanly (exit 0).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServerSupervisor, type ServerState } from '../../main/server-process.js';
import { dataLayout } from '../../server/config/index.js';
import { Directory } from '../../server/directory/index.js';
import { AdminClient } from '../helpers/admin-http.js';
import { freePorts } from '../helpers/ports.js';
import { SEALPOST_BIN, tempDataDir } from '../helpers/sealpost-cli.js';

const ADMIN_PASSWORD = 'saffron glacier tundra 8812';

async function waitFor<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('the supervisor follows serve to its new admin port after an in-place restart', async (t) => {
  const data = tempDataDir();
  t.after(() => data.cleanup());
  const [admin, moved] = await freePorts(2);
  // The admin port from saved settings, so the API can move it; every other listener off.
  const directory = Directory.open(dataLayout(data.dir).directoryDb, Buffer.from(data.env.SEALPOST_APP_KEY!, 'hex'));
  directory.setSetting('adminPort', admin);
  directory.close();
  const env: NodeJS.ProcessEnv = { ...data.env };
  for (const name of ['SMTP', 'SUBMISSION', 'SUBMISSIONS', 'IMAP', 'IMAPS', 'POP3', 'POP3S', 'HTTP', 'HTTPS']) env[`SEALPOST_${name}_PORT`] = '0';
  delete env.SEALPOST_ADMIN_PORT;

  const output: string[] = [];
  const states: ServerState['kind'][] = [];
  const supervisor = new ServerSupervisor({ command: () => ({ command: process.execPath, args: [SEALPOST_BIN, 'serve'], env, cwd: process.cwd() }), onOutput: (line) => output.push(line), onState: (s) => states.push(s.kind) });
  t.after(async () => {
    if (supervisor.state.kind !== 'stopped') await supervisor.stop();
  });
  const first = await supervisor.start();
  assert.equal(first.adminOrigin, `http://127.0.0.1:${admin}`);
  const pid = supervisor.pid;

  const client = new AdminClient(first.adminOrigin);
  await client.get('/api/auth/state');
  const token = /\/setup\?token=([A-Za-z0-9_-]+)/.exec(output.join('\n'))?.[1];
  assert.ok(token, output.join('\n'));
  assert.equal((await client.post('/api/auth/setup', { token, password: ADMIN_PASSWORD })).status, 200);
  assert.equal((await client.put('/api/settings', { ports: { admin: moved } })).status, 200);
  const restarted = await client.post('/api/restart');
  assert.equal(restarted.status, 200, restarted.text);

  const next = await waitFor('the new admin origin', () => supervisor.state.kind === 'running' && supervisor.state.server.adminOrigin.endsWith(`:${moved}`) && supervisor.state.server);
  assert.equal(next.adminOrigin, `http://127.0.0.1:${moved}`);
  assert.equal(supervisor.pid, pid, 'the same child: restarted in place');
  assert.ok(!states.includes('restarting'), `no crash counted: ${states.join(' → ')}`);
  assert.deepEqual(states.slice(-2), ['starting', 'running']);
  // Still signed in on the new port (the session is kept; the cookie is per host, not per port).
  const there = new AdminClient(next.adminOrigin);
  for (const [name, value] of client.cookies) there.cookies.set(name, value);
  assert.equal((await there.get('/api/settings')).status, 200);
  assert.equal(await supervisor.stop(), 0);
});
