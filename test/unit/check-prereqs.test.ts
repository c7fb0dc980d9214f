// scripts/check-prereqs.mjs, npm's preinstall: the Node.js version against package.json engines, and a C++
// toolchain when the SQLite binding must be compiled; one sentence per problem saying what to install.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
// @ts-expect-error: a plain .mjs script without type declarations (it runs before anything is installed)
import * as prereqs from '../../scripts/check-prereqs.mjs';

interface Prereqs {
  satisfies(version: string, range: string): boolean;
  needsCompile(input: { platform: string; arch: string; nodeVersion: string; env: Record<string, string | undefined> }): string | null;
  checkPrereqs(input: { nodeVersion: string; engines: string | null; platform: string; arch: string; env: Record<string, string | undefined>; onPath?: (names: string[]) => string | null }): string[];
}
const { satisfies, needsCompile, checkPrereqs } = prereqs as Prereqs;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = path.join(ROOT, 'scripts', 'check-prereqs.mjs');
const ENGINES = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

const run = (env: NodeJS.ProcessEnv): { status: number | null; stderr: string } => {
  const res = spawnSync(process.execPath, [SCRIPT], { env, encoding: 'utf8' });
  return { status: res.status, stderr: res.stderr };
};

describe('fresh-machine prerequisites (npm preinstall)', () => {
  it('package.json declares the Node.js floor the dependencies need and runs the check as preinstall', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; scripts: Record<string, string> };
    assert.equal(pkg.engines.node, '>=20.19'); // @noble/* 2.x: ">= 20.19.0"; mailauth: ">=20.18.1"
    assert.equal(pkg.scripts.preinstall, 'node scripts/check-prereqs.mjs');
  });

  it('compares versions with the engines range', () => {
    assert.equal(satisfies('v20.19.0', '>=20.19'), true);
    assert.equal(satisfies('v20.18.3', '>=20.19'), false);
    assert.equal(satisfies('v18.20.8', '>=20.19'), false);
    assert.equal(satisfies('v24.1.0', '>=20.19'), true);
    assert.equal(satisfies('v26.0.0', '>=20.19 <27'), true);
    assert.equal(satisfies('v27.0.0', '>=20.19 <27'), false);
    assert.equal(satisfies('not a version', '>=20.19'), false);
  });

  it('passes on this machine, through npm itself', () => {
    const res = spawnSync('npm', ['run', '--silent', 'preinstall'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stderr.trim(), '');
  });

  it('npm itself refuses a Node.js older than engines before it installs or compiles anything (.npmrc engine-strict)', () => {
    // A project with the same .npmrc whose floor is above this Node: what a fresh Debian 12 (Node 18) meets.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-engines-'));
    try {
      fs.copyFileSync(path.join(ROOT, '.npmrc'), path.join(dir, '.npmrc'));
      const major = Number(process.versions.node.split('.')[0]);
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'floor-check', version: '1.0.0', engines: { node: `>=${major + 1}` } }));
      const res = spawnSync('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' });
      assert.notEqual(res.status, 0);
      assert.match(res.stderr, /EBADENGINE/);
      assert.match(res.stderr, new RegExp(`Required: \\{"node":">=${major + 1}"\\}`));
      assert.equal(fs.existsSync(path.join(dir, 'node_modules')), false, 'nothing was installed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an old Node.js in one sentence naming the needed version and where to get it', () => {
    const res = run({ ...process.env, SEALPOST_PREREQS_NODE_VERSION: 'v18.19.0' }); // Debian 12's nodejs package
    assert.equal(res.status, 1);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0]!, new RegExp(`^error: Sealpost needs Node\\.js ${ENGINES} but this is v18\\.19\\.0; install Node\\.js 22 LTS from NodeSource .*then run npm install again\\.$`));
  });

  it('asks for python3, make and a C++ compiler only when the SQLite binding must be compiled', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-nopath-'));
    try {
      // A prebuilt binary exists for linux/x64 and this Node: an empty PATH is fine.
      assert.equal(run({ ...process.env, PATH: empty, npm_config_build_from_source: '' }).status, 0);
      // Told to build from source, with no tools on PATH: one sentence listing what is missing.
      const res = run({ ...process.env, PATH: empty, npm_config_build_from_source: 'true' });
      assert.equal(res.status, 1);
      assert.match(res.stderr.trim(), /^error: The SQLite module must be compiled here \(npm is set to build native modules from source\) but python3, make, a C\+\+ compiler are missing; install them \(Debian\/Ubuntu: sudo apt-get install build-essential python3\), then run npm install again\.$/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it('knows where no prebuilt binding exists, and names only the missing tools', () => {
    assert.match(needsCompile({ platform: 'linux', arch: 'riscv64', nodeVersion: 'v22.12.0', env: {} }) ?? '', /linux\/riscv64/);
    assert.match(needsCompile({ platform: 'linux', arch: 'x64', nodeVersion: 'v27.0.0', env: {} }) ?? '', /Node\.js 27/);
    assert.equal(needsCompile({ platform: 'linux', arch: 'x64', nodeVersion: 'v22.12.0', env: {} }), null);
    const onlyMake = (names: string[]): string | null => (names.includes('make') ? 'make' : null);
    const problems = checkPrereqs({ nodeVersion: 'v22.12.0', engines: ENGINES, platform: 'linux', arch: 'riscv64', env: {}, onPath: onlyMake });
    assert.deepEqual(problems.length, 1);
    assert.match(problems[0]!, /but python3, a C\+\+ compiler are missing/);
    assert.deepEqual(checkPrereqs({ nodeVersion: 'v22.12.0', engines: ENGINES, platform: 'linux', arch: 'riscv64', env: {}, onPath: (n) => n[0] ?? null }), []);
  });
});
