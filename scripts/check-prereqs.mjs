#!/usr/bin/env node
// Checks a fresh machine's prerequisites, one clear sentence each. Plain Node, no dependencies, so it can run
// before anything is installed: `node scripts/check-prereqs.mjs` (the Debian guide runs it first). It is also the
// npm `preinstall` script, but npm 7 and later run a project's own preinstall after its dependencies are in place,
// so there it catches what the dependency install did not already trip over.
//   - the Node.js version against package.json `engines.node` (the @noble libraries need >= 20.19; the
//     SQLite binding, better-sqlite3-multiple-ciphers 12, ships builds for Node 20 to 26);
//   - a C++ toolchain (python3, make, a C++ compiler) when the SQLite binding will have to be compiled: no
//     prebuilt binary exists for this platform/CPU/Node, or npm is told to build from source.
// SEALPOST_SKIP_PREREQS=1 skips the checks. SEALPOST_PREREQS_NODE_VERSION pretends another Node version (tests).
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Platforms and CPUs the SQLite binding publishes prebuilt binaries for (prebuild-install). */
const PREBUILT = { linux: ['x64', 'arm64', 'arm'], darwin: ['x64', 'arm64'], win32: ['x64', 'ia32', 'arm64'] };
/** Node majors the SQLite binding publishes prebuilt binaries for (its own engines field). */
const PREBUILT_NODE_MAJORS = [20, 22, 23, 24, 25, 26];

/** [major, minor, patch] of "v20.19.1" or "20.19"; null when it is not a version. */
export function parseVersion(text) {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(String(text).trim());
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : null;
}

function compare(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Whether version satisfies a range of space-separated comparators (">=20.19 <27"), the form our engines field uses. */
export function satisfies(version, range) {
  const v = parseVersion(version);
  if (!v) return false;
  for (const part of String(range).trim().split(/\s+/).filter(Boolean)) {
    const m = /^(>=|<=|>|<|=)?v?(\d+(?:\.\d+){0,2})$/.exec(part);
    if (!m) return true; // a form we do not parse: let npm's own engines check decide
    const bound = parseVersion(m[2]);
    const c = compare(v, bound);
    const ok = { '>=': c >= 0, '<=': c <= 0, '>': c > 0, '<': c < 0, '=': c === 0 }[m[1] ?? '='];
    if (!ok) return false;
  }
  return true;
}

/** Whether the SQLite binding will be compiled here rather than downloaded prebuilt. */
export function needsCompile({ platform, arch, nodeVersion, env }) {
  const fromSource = String(env.npm_config_build_from_source ?? '').toLowerCase();
  if (fromSource === 'true' || fromSource === 'better-sqlite3-multiple-ciphers') return 'npm is set to build native modules from source';
  if (!(PREBUILT[platform] ?? []).includes(arch)) return `no prebuilt SQLite binding exists for ${platform}/${arch}`;
  const major = parseVersion(nodeVersion)?.[0];
  if (!PREBUILT_NODE_MAJORS.includes(major)) return `no prebuilt SQLite binding exists for Node.js ${major}`;
  return null;
}

/** The first of names found as an executable on PATH, or null. */
export function findOnPath(names, env, platform = process.platform) {
  const dirs = String(env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const exts = platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const name of names) {
    for (const dir of dirs) {
      for (const ext of exts) {
        try {
          accessSync(path.join(dir, name + ext), constants.X_OK);
          return name;
        } catch {
          // not here
        }
      }
    }
  }
  return null;
}

/** Every unmet prerequisite, one sentence each saying what to install; [] when all is well. */
export function checkPrereqs({ nodeVersion, engines, platform, arch, env, onPath = (names) => findOnPath(names, env, platform) }) {
  const problems = [];
  if (engines && !satisfies(nodeVersion, engines)) {
    problems.push(
      `Sealpost needs Node.js ${engines} but this is ${nodeVersion}; install Node.js 22 LTS from NodeSource (https://github.com/nodesource/distributions) or your distribution's backports, then run npm install again.`,
    );
  }
  const why = needsCompile({ platform, arch, nodeVersion, env });
  if (why) {
    const missing = [];
    if (!onPath(['python3', 'python'])) missing.push('python3');
    if (!onPath(['make', 'gmake'])) missing.push('make');
    if (!onPath(['c++', 'g++', 'clang++'])) missing.push('a C++ compiler');
    if (missing.length) {
      const debian = platform === 'linux' ? ' (Debian/Ubuntu: sudo apt-get install build-essential python3)' : platform === 'darwin' ? ' (macOS: xcode-select --install)' : '';
      problems.push(`The SQLite module must be compiled here (${why}) but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing; install them${debian}, then run npm install again.`);
    }
  }
  return problems;
}

function main() {
  if (process.env.SEALPOST_SKIP_PREREQS === '1') return 0;
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  let engines = null;
  try {
    engines = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).engines?.node ?? null;
  } catch {
    // no readable package.json: nothing to compare the version with
  }
  const problems = checkPrereqs({
    nodeVersion: process.env.SEALPOST_PREREQS_NODE_VERSION || process.version,
    engines,
    platform: process.platform,
    arch: process.arch,
    env: process.env,
  });
  for (const problem of problems) process.stderr.write(`error: ${problem}\n`);
  return problems.length ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main();
