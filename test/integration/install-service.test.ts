// `sealpost install-service`: the systemd unit it writes (hardening directives, the one capability for
// ports below 1024, the environment), checked by systemd's own `systemd-analyze verify`; refusals for an
// existing or unwritable target and for paths that would change the unit's meaning.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemdUnit } from '../../server/cli/install-service.js';
import { runCli } from '../helpers/sealpost-cli.js';

const ANALYZE = '/usr/bin/systemd-analyze';
let dir: string;

const directives = (unit: string): Map<string, string[]> => {
  const out = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
};

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-unit-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('sealpost install-service', () => {
  it('prints a unit that runs serve as a dedicated user with systemd hardening (systemd.exec(5))', async () => {
    const printed = await runCli(['install-service', '--print', '--app-dir', '/opt/sealpost', '--node', process.execPath, '--data-dir', '/var/lib/sealpost']);
    assert.equal(printed.code, 0, printed.stderr);
    const d = directives(printed.stdout);
    assert.deepEqual(d.get('ExecStart'), [`${process.execPath} /opt/sealpost/bin/sealpost serve`]);
    assert.deepEqual(d.get('User'), ['sealpost']);
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ReadWritePaths', '/var/lib/sealpost'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['PrivateDevices', 'yes'],
      ['ProtectKernelTunables', 'yes'],
      ['ProtectKernelModules', 'yes'],
      ['ProtectKernelLogs', 'yes'],
      ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
      ['SystemCallFilter', '@system-service'],
      ['LockPersonality', 'yes'],
      ['CapabilityBoundingSet', 'CAP_NET_BIND_SERVICE'],
      ['AmbientCapabilities', 'CAP_NET_BIND_SERVICE'],
      ['UMask', '0077'],
      ['Restart', 'on-failure'],
    ] as const) {
      assert.deepEqual(d.get(key), [value], key);
    }
    assert.equal(d.has('MemoryDenyWriteExecute'), false, 'V8 needs W+X pages: MemoryDenyWriteExecute would kill node');
    const env = d.get('Environment') ?? [];
    for (const e of ['SEALPOST_DATA=/var/lib/sealpost', 'SEALPOST_HOST=0.0.0.0', 'SEALPOST_KEYCHAIN=off', 'SEALPOST_SMTP_PORT=25', 'SEALPOST_SUBMISSION_PORT=587', 'SEALPOST_SUBMISSIONS_PORT=465', 'SEALPOST_IMAPS_PORT=993', 'SEALPOST_POP3S_PORT=995']) {
      assert.ok(env.includes(e), `${e} in ${env.join(' ')}`);
    }
    assert.deepEqual(d.get('EnvironmentFile'), ['-/etc/sealpost/sealpost.env']);
  });

  it('keeps the unprivileged ports with --no-standard-ports, and relaxes ProtectHome for an app under /home', () => {
    const unit = systemdUnit({ user: 'mail-svc', dataDir: '/srv/mail', node: '/home/me/.nvm/node', appDir: '/home/me/sealpost', host: '127.0.0.1', standardPorts: false, envFile: '/etc/sealpost/env' });
    const d = directives(unit);
    assert.ok(!(d.get('Environment') ?? []).some((e) => e.includes('_PORT=')));
    assert.deepEqual(d.get('ProtectHome'), ['read-only']);
    assert.deepEqual(d.get('User'), ['mail-svc']);
  });

  it('systemd-analyze verify accepts the written unit without a warning', { skip: fs.existsSync(ANALYZE) ? false : 'systemd-analyze is not installed (apt-get install systemd)' }, async () => {
    const target = path.join(dir, 'sealpost.service');
    const written = await runCli(['install-service', '--path', target, '--app-dir', '/opt/sealpost', '--node', process.execPath]);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /^Wrote .*sealpost\.service\. Next:/);
    assert.equal(fs.statSync(target).mode & 0o777, 0o644);
    const verify = spawnSync(ANALYZE, ['verify', target], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    // verify exits 0 on unknown keys and bad values but names them on stderr: none may concern our file.
    assert.equal(verify.stderr.split('\n').filter((l) => l.includes('sealpost.service')).join('\n'), '');
  });

  it('refuses to replace an existing unit without --force, in one sentence, and replaces it with --force', async () => {
    const target = path.join(dir, 'existing.service');
    fs.writeFileSync(target, '# mine\n');
    const refused = await runCli(['install-service', '--path', target]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /existing\.service already exists; add --force to replace it/);
    assert.equal(refused.stderr.trim().split('\n').length, 1);
    assert.equal(fs.readFileSync(target, 'utf8'), '# mine\n');
    const forced = await runCli(['install-service', '--path', target, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(fs.readFileSync(target, 'utf8'), /^ExecStart=/m);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temp file left');
  });

  it('refuses a target it cannot write with what to do instead', async () => {
    const res = await runCli(['install-service', '--path', '/proc/sealpost-test.service']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /Cannot write \/proc\/sealpost-test\.service.*(sudo|--print)/);
    const dirTarget = await runCli(['install-service', '--path', dir]);
    assert.equal(dirTarget.code, 1);
    assert.match(dirTarget.stderr, /is not a regular file; choose another --path/);
  });

  it('refuses paths and names that would inject directives or specifiers into the unit', async () => {
    const base = { user: 'sealpost', dataDir: '/var/lib/sealpost', node: '/usr/bin/node', appDir: '/opt/sealpost', host: '0.0.0.0', standardPorts: true, envFile: '/etc/sealpost/env' };
    for (const [key, value, option] of [
      ['dataDir', '/var/lib/sealpost\nExecStartPre=/bin/sh -c id', '--data-dir'],
      ['dataDir', '/var/lib/my mail', '--data-dir'],
      ['dataDir', 'relative/dir', '--data-dir'],
      ['dataDir', '/var/lib/%h', '--data-dir'],
      ['dataDir', '/var/lib/../../etc', '--data-dir'],
      ['dataDir', '/etc', '--data-dir'],
      ['appDir', '/opt/$HOME', '--app-dir'],
      ['envFile', '/etc/"x"', '--env-file'],
      ['user', 'root\nUser=root', '--user'],
      ['host', '0.0.0.0 ; rm', '--host'],
    ] as const) {
      assert.throws(() => systemdUnit({ ...base, [key]: value }), (error: Error) => error.message.startsWith(`${option} `) && !error.message.includes('\n'), `${key}=${JSON.stringify(value)}`);
    }
    const res = await runCli(['install-service', '--print', '--data-dir', '/var/lib/sealpost\nExecStartPre=/bin/sh -c id']);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^error: --data-dir must be an absolute path/);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  });
});
