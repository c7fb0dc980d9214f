// rclone is configured only through the environment we build: nothing inherited, no config file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseEnv, parseLogLine, findRclone, rcloneVersion } from '../../server/remote/rclone.js';
import { makeTarget, rcloneTargetEnv, endpointOf } from '../../server/remote/targets.js';

test('the child environment holds PATH, a private HOME and the target; no AWS_* or proxy from the parent', () => {
  const parent = { PATH: '/usr/bin', AWS_CA_BUNDLE: '/etc/ssl/x.pem', AWS_SECRET_ACCESS_KEY: 'leak', HTTPS_PROXY: 'http://p', HOME: '/root' };
  const target = makeTarget({ name: 'r2', kind: 'r2', bucket: 'mail-backup', accessKeyId: 'AK', accountId: '0123456789abcdef0123456789abcdef' });
  const env = { ...baseEnv(parent, '/data/tmp/rclone-x'), ...rcloneTargetEnv(target, 'SECRET') };
  assert.equal(env.RCLONE_CONFIG, '/dev/null');
  assert.equal(env.HOME, '/data/tmp/rclone-x');
  assert.equal(env.RCLONE_CONFIG_SEALPOST_PROVIDER, 'Cloudflare');
  assert.equal(env.RCLONE_CONFIG_SEALPOST_ENDPOINT, 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com');
  assert.equal(env.RCLONE_CONFIG_SEALPOST_SECRET_ACCESS_KEY, 'SECRET');
  assert.ok(!Object.keys(env).some((k) => k.startsWith('AWS_') || /proxy/i.test(k)));
  assert.equal(endpointOf(makeTarget({ name: 's3', kind: 's3', bucket: 'b1', accessKeyId: 'x', endpoint: 'https://s3.example.com/' })), 'https://s3.example.com');
});

test('target input is validated with one clear sentence', () => {
  assert.throws(() => makeTarget({ name: 'R2!', kind: 'r2', bucket: 'b1', accessKeyId: 'x', accountId: '0'.repeat(32) }), /lower-case/);
  assert.throws(() => makeTarget({ name: 'r2', kind: 'r2', bucket: 'b1', accessKeyId: 'x' }), /account id/);
  assert.throws(() => makeTarget({ name: 's3', kind: 's3', bucket: 'b1', accessKeyId: 'x' }), /endpoint/);
  assert.throws(() => makeTarget({ name: 's3', kind: 's3', bucket: 'B_1', accessKeyId: 'x', endpoint: 'https://e' }), /bucket/);
  assert.throws(() => makeTarget({ name: 's3', kind: 's3', bucket: 'b1', accessKeyId: 'x', endpoint: 'ftp://e' }), /http/);
});

test('JSON log lines become progress stats and errors', () => {
  const stats = parseLogLine('{"level":"info","msg":"...","stats":{"bytes":10,"totalBytes":20,"transfers":1,"totalTransfers":2,"errors":0,"eta":3,"speed":5}}');
  assert.deepEqual(stats?.stats, { bytes: 10, totalBytes: 20, transfers: 1, totalTransfers: 2, errors: 0, eta: 3, speed: 5 });
  assert.equal(parseLogLine('{"level":"error","msg":"SignatureDoesNotMatch"}')?.level, 'error');
  assert.equal(parseLogLine('plain text')?.level, 'raw');
  assert.equal(parseLogLine('  '), null);
});

test('SEALPOST_RCLONE wins; a wrong one is reported as missing; doctor gets the version', async () => {
  assert.equal(findRclone({ SEALPOST_RCLONE: '/nonexistent/rclone', PATH: '/usr/bin' }), null);
  const found = findRclone({ PATH: process.env.PATH });
  if (!found) return; // rclone not installed: nothing more to check
  assert.equal(findRclone({ SEALPOST_RCLONE: found }), found);
  const info = await rcloneVersion({ SEALPOST_RCLONE: found, PATH: process.env.PATH });
  assert.match(info?.version ?? '', /^v\d+\.\d+/);
});
