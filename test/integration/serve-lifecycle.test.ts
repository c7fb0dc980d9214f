// `sealpost serve`: one line per listener, every port accepts connections, SIGTERM stops it cleanly (exit 0).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { runCli, startServe, stopServe, tempDataDir } from '../helpers/sealpost-cli.js';

const LISTENERS = [
  ['smtp', '--smtp-port'],
  ['submission', '--submission-port'],
  ['submissions', '--submissions-port'],
  ['imap', '--imap-port'],
  ['imaps', '--imaps-port'],
  ['pop3', '--pop3-port'],
  ['pop3s', '--pop3s-port'],
  ['admin', '--admin-port'],
] as const;

let data: ReturnType<typeof tempDataDir>;
before(() => {
  data = tempDataDir();
});
after(() => data.cleanup());

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('sealpost serve', () => {
  it('prints one line per listener on the configured ports and stops cleanly on SIGTERM', async () => {
    const ports = await freePorts(LISTENERS.length);
    const flags = LISTENERS.flatMap(([, flag], i) => [flag, String(ports[i])]);
    const serve = await startServe(['--data', data.dir, ...flags], data.env, LISTENERS.length);
    let code: number | null = null;
    try {
      LISTENERS.forEach(([name], i) => {
        const line = serve.lines.find((l) => l.startsWith(`${name} listening on `));
        assert.ok(line, `no line for ${name} in:\n${serve.lines.join('\n')}`);
        assert.match(line, new RegExp(`^${name} listening on 127\\.0\\.0\\.1:${ports[i]} \\((plain|starttls|tls|http|https)\\)$`));
      });
      for (const port of ports) assert.ok(await connects(port), `port ${port} accepts connections`);
    } finally {
      code = await stopServe(serve);
    }
    assert.equal(code, 0, serve.output());
    for (const port of ports) assert.equal(await connects(port), false, `port ${port} closed after stop`);
  });

  it('port 0 disables a listener; a bad or busy port is one clear sentence and a non-zero exit', async () => {
    const ports = await freePorts(LISTENERS.length);
    const env = { ...data.env };
    LISTENERS.forEach(([name], i) => (env[`SEALPOST_${name.toUpperCase()}_PORT`] = String(ports[i])));
    env.SEALPOST_ADMIN_PORT = '0';
    env.SEALPOST_POP3_PORT = '0';
    env.SEALPOST_POP3S_PORT = '0';
    const serve = await startServe(['--data', data.dir], env, LISTENERS.length - 3);
    serve.child.kill('SIGINT');
    assert.equal(await serve.exited, 0);
    assert.ok(!serve.lines.some((l) => /^(admin|pop3|pop3s) listening/.test(l)), serve.lines.join('\n'));

    const bad = await runCli(['serve', '--data', data.dir, '--imap-port', '99999'], { env: data.env });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim(), 'error: --imap-port must be a port number from 0 to 65535 (0 disables the listener), not "99999".');

    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(ports[3], '127.0.0.1', resolve));
    try {
      const busy = await runCli(['serve', '--data', data.dir], { env });
      assert.notEqual(busy.code, 0);
      assert.match(busy.stderr, new RegExp(`${ports[3]}.*(already in use|EADDRINUSE)`));
      assert.ok(!/\n\s+at /.test(busy.stderr), `no stack trace:\n${busy.stderr}`);
    } finally {
      blocker.close();
    }
  });
});
