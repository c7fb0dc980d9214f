// build/stage-rclone.mjs: copies the Debian rclone (from --from, $SEALPOST_RCLONE or PATH) into a
// resources dir, executable and runnable; refuses clearly when there is none or it is not rclone.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = path.join(ROOT, 'build', 'stage-rclone.mjs');
const run = promisify(execFile);

function systemRclone(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'rclone');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

async function stage(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, ...args], { env, cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const rclone = systemRclone();

test('rclone is staged executable and runnable, from --from, $SEALPOST_RCLONE or PATH', { skip: rclone ? false : 'rclone is not installed (apt-get install rclone)' }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cleanEnv = { PATH: process.env.PATH ?? '' };
  const cases: [string, string[], NodeJS.ProcessEnv][] = [
    ['from', ['--from', rclone as string], { PATH: '' }],
    ['env', [], { PATH: '', SEALPOST_RCLONE: rclone as string }],
    ['path', [], cleanEnv],
  ];
  for (const [name, args, env] of cases) {
    const out = path.join(dir, name, 'bin');
    const result = await stage([...args, '--out', out], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^staged rclone v\d+\.\d+/);
    const target = path.join(out, 'rclone');
    assert.ok((fs.statSync(target).mode & 0o111) !== 0, 'executable');
    assert.deepEqual(fs.readdirSync(out), ['rclone'], 'no partial file left');
    const { stdout } = await run(target, ['--version'], { env: { ...cleanEnv, RCLONE_CONFIG: '/dev/null' } });
    assert.match(stdout, /^rclone v\d+\.\d+/);
    assert.equal(fs.statSync(target).size, fs.statSync(fs.realpathSync(rclone as string)).size);
  }
});

test('no rclone anywhere: a clear error and nothing staged (nothing is downloaded)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'bin');
  const result = await stage(['--out', out], { PATH: path.join(dir, 'empty') });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /No rclone found: pass --from \/path\/to\/rclone, set SEALPOST_RCLONE, or install rclone.*Nothing is downloaded\./);
  assert.equal(fs.existsSync(out), false);
});

test('a binary that is not rclone is refused and removed again', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fake = path.join(dir, 'not-rclone');
  fs.writeFileSync(fake, '#!/bin/sh\necho "hello 1.0"\n', { mode: 0o755 });
  const out = path.join(dir, 'bin');
  const result = await stage(['--from', fake, '--out', out], { PATH: process.env.PATH ?? '' });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /is not rclone \(--version printed "hello 1\.0"\)/);
  assert.deepEqual(fs.readdirSync(out), []);
  const missing = await stage(['--from', path.join(dir, 'nope'), '--out', out], { PATH: '' });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /rclone from --from \(.*nope\) is not a file\./);
});
