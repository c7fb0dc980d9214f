// server/stages.ts in a real child process: with SEALPOST_PROFILE_STAGES it records count, total and max per
// stage and writes them on exit; SIGUSR2 clears them; without the variable it records nothing, writes nothing
// and hands every value back untouched.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StagesFile } from '../../server/stages.js';

const STAGES = fileURLToPath(new URL('../../server/stages.ts', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-stages-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs `body` as an ES module with stageStart/timeStage/stagesEnabled imported; resolves with its stdout and exit code. */
function child(body: string, env: Record<string, string>, onOutput?: (out: string, pid: number) => void): Promise<{ out: string; code: number | null }> {
  const script = `import { stageStart, timeStage, stagesEnabled } from ${JSON.stringify(STAGES)};\n${body}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, SEALPOST_PROFILE_STAGES: '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    onOutput?.(out, proc.pid!);
  });
  return new Promise((resolve) => proc.on('exit', (code) => resolve({ out, code })));
}

test('records count, total and max per stage and writes them on exit', async () => {
  const file = path.join(dir, 'stages.json');
  const { out, code } = await child(
    `
    for (let i = 0; i < 3; i++) await timeStage(stageStart('test.wait'), new Promise((r) => setTimeout(r, 5)));
    const same = timeStage(stageStart('imap.cmd.', 'FETCH'), 42);
    const failed = await timeStage(stageStart('test.fail'), Promise.reject(new Error('no'))).catch((e) => e.message);
    console.log(JSON.stringify({ stagesEnabled, same, failed }));
    process.exit(0);
    `,
    { SEALPOST_PROFILE_STAGES: file },
  );
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), { stagesEnabled: true, same: 42, failed: 'no' });
  const written = JSON.parse(fs.readFileSync(file, 'utf8')) as StagesFile;
  assert.equal(written.epoch, 0);
  assert.deepEqual(Object.keys(written.stages).sort(), ['imap.cmd.FETCH', 'test.fail', 'test.wait']);
  const wait = written.stages['test.wait']!;
  assert.equal(wait.count, 3);
  assert.ok(wait.totalMs > 0 && wait.maxMs > 0 && wait.maxMs <= wait.totalMs);
  assert.equal(written.stages['imap.cmd.FETCH']!.count, 1);
  assert.equal(written.stages['test.fail']!.count, 1);
  assert.deepEqual(fs.readdirSync(dir), ['stages.json'], 'no temp file left behind');
});

test('SIGUSR2 clears the totals and writes the cleared file at once', async () => {
  const file = path.join(dir, 'stages.json');
  const { code } = await child(
    `
    await timeStage(stageStart('before'), Promise.resolve());
    const keepAlive = setInterval(() => undefined, 1000);
    const cleared = new Promise((r) => process.once('SIGUSR2', () => setImmediate(r)));
    console.log('ready');
    await cleared;
    clearInterval(keepAlive);
    await timeStage(stageStart('after'), Promise.resolve());
    process.exit(0);
    `,
    { SEALPOST_PROFILE_STAGES: file },
    (out, pid) => {
      if (out === 'ready\n') process.kill(pid, 'SIGUSR2');
    },
  );
  assert.equal(code, 0);
  const written = JSON.parse(fs.readFileSync(file, 'utf8')) as StagesFile;
  assert.equal(written.epoch, 1);
  assert.deepEqual(Object.keys(written.stages), ['after']);
});

test('off without SEALPOST_PROFILE_STAGES: one shared no-op, values handed back as they are, nothing written', async () => {
  const { out, code } = await child(
    `
    const p = Promise.resolve(1);
    const result = {
      stagesEnabled,
      sharedStop: stageStart('a') === stageStart('b', 'c'),
      samePromise: timeStage(stageStart('x'), p) === p,
      value: timeStage(stageStart('y'), 7),
    };
    console.log(JSON.stringify(result));
    process.exit(0);
    `,
    {},
  );
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), { stagesEnabled: false, sharedStop: true, samePromise: true, value: 7 });
  assert.deepEqual(fs.readdirSync(dir), []);
});
