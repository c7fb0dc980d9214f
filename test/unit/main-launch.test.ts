// build/desktop.mjs, the launcher behind `npm run desktop`: it finds the Electron binary through the installed
// electron package and, when the binary is missing (ELECTRON_SKIP_BINARY_DOWNLOAD, a failed download), says so
// in one sentence with what to do: never Electron's own stack trace. Temp electron packages stand in for
// node_modules/electron so this never launches a window.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LAUNCHER = path.join(ROOT, 'build', 'desktop.mjs');

interface Launcher {
  electronBinary(electronDir?: string): string;
  ElectronMissingError: new (message: string) => Error;
}
const launcher = (await import(pathToFileURL(LAUNCHER).href)) as Launcher;

/** A copy of the installed electron package's code (no binary): what ELECTRON_SKIP_BINARY_DOWNLOAD=1 leaves. */
function electronPackage(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-electron-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const file of ['package.json', 'index.js']) fs.copyFileSync(path.join(ROOT, 'node_modules', 'electron', file), path.join(dir, file));
  return dir;
}

async function runLauncher(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.ELECTRON_OVERRIDE_DIST_PATH;
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [LAUNCHER, ...args], { cwd: ROOT, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

test('a skipped binary download: one sentence naming the fix, exit 1, no stack', async (t) => {
  const dir = electronPackage(t);
  assert.throws(() => launcher.electronBinary(dir), (error: Error) => error instanceof launcher.ElectronMissingError && /binary is not installed/.test(error.message));
  for (const args of [['--check'], []]) {
    const result = await runLauncher([...args, '--electron-dir', dir]);
    assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', /^error: The Electron binary is not installed .*: run `node node_modules\/electron\/install\.js` without ELECTRON_SKIP_BINARY_DOWNLOAD on a machine that can reach github\.com\.$/);
    assert.doesNotMatch(result.stderr, /\n\s+at |Error:/, 'no stack trace');
  }
});

test('path.txt naming a binary that is not there is the same missing binary', async (t) => {
  const dir = electronPackage(t);
  fs.writeFileSync(path.join(dir, 'path.txt'), 'electron');
  assert.throws(() => launcher.electronBinary(dir), launcher.ElectronMissingError);
  const result = await runLauncher(['--check', '--electron-dir', dir]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^error: The Electron binary is not installed/);
});

test('no electron package at all: run npm ci', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-electron-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const result = await runLauncher(['--check', '--electron-dir', path.join(dir, 'electron')]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^error: Electron is not installed in .*: run `npm ci` in the Sealpost directory\.\n$/);
});

test('an installed binary is found where the electron package says it is', async (t) => {
  const dir = electronPackage(t);
  fs.mkdirSync(path.join(dir, 'dist'));
  fs.writeFileSync(path.join(dir, 'dist', 'electron'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'path.txt'), 'electron');
  assert.equal(launcher.electronBinary(dir), path.join(dir, 'dist', 'electron'));
  const result = await runLauncher(['--check', '--electron-dir', dir]);
  assert.deepEqual(result, { code: 0, stdout: '', stderr: '' });
});

test('launch: the binary gets the checkout root (package.json main is the bundle) and its exit code is passed on', async (t) => {
  const dir = electronPackage(t);
  const seen = path.join(dir, 'seen.txt');
  fs.mkdirSync(path.join(dir, 'dist'));
  fs.writeFileSync(path.join(dir, 'dist', 'electron'), `#!/bin/sh\nprintf '%s\\n' "$@" "run-as-node=$ELECTRON_RUN_AS_NODE" > '${seen}'\nexit 3\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'path.txt'), 'electron');
  process.env.ELECTRON_RUN_AS_NODE = '1';
  t.after(() => delete process.env.ELECTRON_RUN_AS_NODE);
  const result = await runLauncher(['--electron-dir', dir, '--inspect-app']);
  assert.equal(result.code, 3);
  assert.deepEqual(fs.readFileSync(seen, 'utf8').split('\n'), [path.resolve(ROOT), '--inspect-app', 'run-as-node=', '']);
});

test('the default is node_modules/electron: its binary is found, or its absence reported as such', () => {
  const installed = fs.existsSync(path.join(ROOT, 'node_modules', 'electron', 'path.txt'));
  if (installed) {
    assert.ok(fs.existsSync(launcher.electronBinary()));
  } else {
    // CI and this build machine install with ELECTRON_SKIP_BINARY_DOWNLOAD=1.
    assert.throws(() => launcher.electronBinary(), (error: Error) => error instanceof launcher.ElectronMissingError && /binary is not installed/.test(error.message));
  }
});
