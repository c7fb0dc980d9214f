// The CLI a user types: backup now/list/verify, export/import with --json progress, restore --folder,
// and remote add/push/list-backups/restore against s3rver — asserting on stdout, stderr and exit codes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { findRclone } from '../../server/remote/index.js';
import { startS3rver, type S3rver } from './remote-fixture.js';
import { findPlaintext } from '../helpers/privacy.js';

const bin = fileURLToPath(new URL('../../bin/sealpost', import.meta.url));
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
const env = { ...process.env, SEALPOST_APP_KEY: randomBytes(32).toString('hex'), SEALPOST_KEYCHAIN: 'off', SEALPOST_TEST: '1' };
after(() => fs.rmSync(data, { recursive: true, force: true }));

function cli(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, '--data', data, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

async function ok(args: string[], stdin = ''): Promise<string> {
  const r = await cli(args, stdin);
  assert.equal(r.code, 0, `sealpost ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

// One scenario, few invocations: each CLI start costs a tsx boot and an argon2id unlock.
test('import, backup, list, restore a folder and push to a remote from the command line', async () => {
  await ok(['domain', 'add', 'example.test']);
  const password = (JSON.parse(await ok(['alias', 'add', 'alice@example.test', '--json'])) as { password: string }).password;
  const pw = `${password}\n`;
  const mbox = path.join(data, 'in.mbox');
  fs.writeFileSync(mbox, 'From MAILER-DAEMON Tue Jan  2 03:04:05 2024\nSubject: hello zqcli01\nMessage-ID: <1@cli>\n\nfirst zqcli01\n\nFrom MAILER-DAEMON Tue Jan  2 04:04:05 2024\nSubject: second\nMessage-ID: <2@cli>\n\nsecond zqcli02\n');

  const imported = (await ok(['import', 'alice@example.test', mbox, '--folder', 'Projects', '--json', '--password-stdin'], pw)).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(imported.filter((l) => l.event === 'progress').map((l) => l.done), [1, 2], 'one JSON progress line per message');
  assert.deepEqual({ ...imported.at(-1), folders: undefined }, { event: 'done', imported: 2, skipped: 0, folders: undefined, kind: 'mbox' });
  assert.deepEqual(imported.filter((l) => l.event === 'progress').map((l) => l.total), [2, 2], 'the total is known: the file was checked whole first');
  // The same LF mbox again: the store keeps CRLF, and duplicates are found in that form.
  assert.equal(await ok(['import', 'alice@example.test', mbox, '--folder', 'Projects', '--password-stdin'], pw), 'imported 0 message(s) into Projects (2 already there)\n');

  await ok(['backup', 'now', 'alice@example.test', '--password-stdin'], pw);
  const list = JSON.parse(await ok(['backup', 'list', 'alice@example.test', '--json'])) as Record<string, unknown>[];
  assert.equal(list.length, 1);
  assert.deepEqual(Object.keys(list[0]!).slice(0, 6), ['id', 'time', 'size', 'sha256', 'verified', 'location']);
  assert.deepEqual({ verified: list[0]!.verified, location: list[0]!.location }, { verified: true, location: 'local' });
  const generation = String(list[0]!.id);
  assert.deepEqual(findPlaintext(path.join(data, 'backups'), ['zqcli01', 'zqcli02', 'alice@example.test']), []);

  const restored = JSON.parse((await ok(['restore', 'alice@example.test', generation, '--folder', 'Projects', '--json', '--password-stdin'], pw)).trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.deepEqual({ imported: restored.imported, skipped: restored.skipped }, { imported: 0, skipped: 2 }, 'nothing was lost, nothing doubled');
  const bad = await cli(['restore', 'alice@example.test', 'yesterday', '--password-stdin'], pw);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim(), 'error: "yesterday" is not a generation id (see "backup list")');
  // A well-formed id that is not there (and no remote yet): the generation does not exist, and how to list them.
  const missing = await cli(['restore', 'alice@example.test', '20000101T000000.000Z', '--password-stdin'], pw);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim(), 'error: Generation 20000101T000000.000Z does not exist for alice@example.test: list the generations with "sealpost backup list alice@example.test".');

  if (!findRclone()) return;
  const s3: S3rver = await startS3rver('cli-bucket');
  try {
    await ok(['remote', 'add', 'r2', '--type', 'r2', '--bucket', 'cli-bucket', '--access-key-id', 'S3RVER', '--endpoint', s3.endpoint], 'S3RVER\n');
    assert.match(await ok(['remote', 'push', 'alice@example.test']), /uploaded 1, pruned 0, 1 on r2/);
    const remote = JSON.parse(await ok(['remote', 'list-backups', 'alice@example.test', '--json'])) as { id: string; location: string }[];
    assert.deepEqual(remote.map((g) => [g.id, g.location]), [[generation, 'remote:r2']]);
    const names = fs.readdirSync(s3.dataDir, { recursive: true }).map(String);
    assert.ok(!names.some((n) => n.includes('alice') || n.includes('example.test')), 'object names never carry the address');
    await ok(['remote', 'add', 'wrong', '--type', 'r2', '--bucket', 'cli-bucket', '--access-key-id', 'NOPE', '--endpoint', s3.endpoint], 'whatever\n');
    const refused = await cli(['remote', 'test', 'wrong']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trim(), 'error: Remote "wrong" refused the credentials: check the access key id and the secret (and that the key may read, write and delete in bucket "cli-bucket"), then add the remote again.');
  } finally {
    await s3.stop();
  }
});
