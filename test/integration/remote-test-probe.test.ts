// `sealpost remote test` writes, reads back and deletes a probe object through the real rclone against a
// loopback s3rver, and names what failed — credentials, bucket, network — in one sentence with what to do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { findRclone } from '../../server/remote/index.js';
import { regularFilesUnder } from '../helpers/privacy.js';
import { runCli, tempDataDir } from '../helpers/sealpost-cli.js';
import { startS3rver, type S3rver } from './remote-fixture.js';

const rclone = findRclone();
let s3: S3rver;
const data = tempDataDir();

before(async () => {
  if (rclone) s3 = await startS3rver();
});
after(async () => {
  await s3?.stop();
  data.cleanup();
});

/** A port on 127.0.0.1 that nothing listens on: bound by the OS, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sealpost = (args: string[], stdin = ''): ReturnType<typeof runCli> => runCli(['--data', data.dir, ...args], { env: data.env, stdin });

async function addRemote(name: string, options: { bucket?: string; accessKeyId?: string; endpoint?: string; secret?: string; v2Auth?: boolean }): Promise<void> {
  const r = await sealpost(
    ['remote', 'add', name, '--type', 's3', '--bucket', options.bucket ?? s3.bucket, '--access-key-id', options.accessKeyId ?? s3.accessKeyId, '--endpoint', options.endpoint ?? s3.endpoint, ...(options.v2Auth ? ['--v2-auth'] : [])],
    `${options.secret ?? s3.secret}\n`,
  );
  assert.equal(r.code, 0, r.stderr);
}

/** One line on stderr, no stack frame, non-zero exit; returns that line. */
function oneLineError(r: { code: number | null; stderr: string }): string {
  assert.notEqual(r.code, 0);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  return lines[0] as string;
}

test('remote test against a working bucket writes, reads back and deletes its probe: ok, and no probe object is left', { skip: rclone ? false : 'rclone not installed' }, async () => {
  await addRemote('good', {});
  const r = await sealpost(['remote', 'test', 'good', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ok: true, target: 'good', objects: 0 });
  assert.deepEqual(regularFilesUnder(s3.dataDir).filter((f) => f.includes('sealpost-probe')), [], 'the probe object was deleted');
  const text = await sealpost(['remote', 'test', 'good']);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, 'remote good: ok (a probe object was written, read back and deleted; 0 object(s) under its prefix)\n');
});

test('remote test names what failed: a bucket that does not exist, wrong keys, a wrong secret, a refused connection', { skip: rclone ? false : 'rclone not installed' }, async () => {
  const port = await closedPort();
  await addRemote('nobucket', { bucket: 'no-such-bucket' });
  await addRemote('badkey', { accessKeyId: 'WRONGKEY' });
  // s3rver verifies SigV2 signatures (not SigV4), so a wrong secret is shown with --v2-auth.
  await addRemote('badsecret', { secret: 'not-the-secret', v2Auth: true });
  await addRemote('refused', { endpoint: `http://127.0.0.1:${port}` });
  const cases: [string, RegExp][] = [
    ['nobucket', /^error: Bucket "no-such-bucket" does not exist on remote "nobucket" \(http:\/\/127\.0\.0\.1:\d+\): create it, or add the remote again with the right --bucket\.$/],
    ['badkey', /^error: Remote "badkey" refused the credentials: check the access key id and the secret .*then add the remote again\.$/],
    ['badsecret', /^error: Remote "badsecret" refused the credentials: check the access key id and the secret/],
    ['refused', new RegExp(`^error: Cannot reach remote "refused" at http://127\\.0\\.0\\.1:${port} \\(connection refused\\): check the endpoint URL and that the service is up and reachable from this machine\\.$`)],
  ];
  for (const [name, expected] of cases) {
    const line = oneLineError(await sealpost(['remote', 'test', name]));
    assert.match(line, expected, name);
  }
  assert.equal(fs.existsSync(`${s3.dataDir}/no-such-bucket`), false, 'the test never creates a bucket');
});

test('restoring a generation that exists neither here nor on the remote says so and how to list them, not "No remote is configured"', { skip: rclone ? false : 'rclone not installed' }, async () => {
  assert.equal((await sealpost(['domain', 'add', 'example.test'])).code, 0);
  const added = await sealpost(['alias', 'add', 'probe@example.test', '--json']);
  assert.equal(added.code, 0, added.stderr);
  const { password } = JSON.parse(added.stdout) as { password: string };
  const line = oneLineError(await sealpost(['restore', 'probe@example.test', '20240101T000000.000Z', '--target', 'good', '--password-stdin'], `${password}\n`));
  assert.equal(line, 'error: Generation 20240101T000000.000Z does not exist for probe@example.test here or on the remote: list the generations with "sealpost backup list probe@example.test --remote".');
});
