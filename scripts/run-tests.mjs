#!/usr/bin/env node
// Runs every *.test.ts under test/ with node:test (through tsx). Usage: run-tests.mjs [substring filters...]
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'screenshots') continue;
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(relative(root, p));
  }
};
walk(join(root, 'test'));
files.sort();
const chosen = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;
if (chosen.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// E2E tests drive the built admin UI: build it first when it is missing or stale (scripts/build-ui.mjs).
if (chosen.some((f) => f.startsWith('test/e2e/'))) {
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'build-ui.mjs')], { stdio: 'inherit', cwd: root });
  if (built.status !== 0) process.exit(built.status ?? 1);
}
// Every temp file and data dir of the run lives under one folder that is removed afterwards, so a test that
// forgets (or is killed before) its cleanup leaves nothing behind, encrypted or not.
const runTmp = mkdtempSync(join(tmpdir(), 'sealpost-test-run-'));
// tsx keeps its compile cache in os.tmpdir()/tsx-<uid>: point the run's copy at the shared one so it stays warm.
const tsxCache = `tsx-${process.getuid?.() ?? 0}`;
try {
  mkdirSync(join(tmpdir(), tsxCache), { recursive: true, mode: 0o700 });
  symlinkSync(join(tmpdir(), tsxCache), join(runTmp, tsxCache));
} catch {}
// --test-timeout also bounds each test file's own process, whatever timeout its tests declare: the longest
// file (reliability/drain-20k, about 2 minutes alone) needs more than 5 minutes when it shares the 2 cores with
// the fuzzing and kill -9 files, so a file gets 10 minutes before it counts as hung.
let result;
try {
  result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', '--test-reporter=spec', ...chosen],
    { stdio: 'inherit', cwd: root, env: { ...process.env, SEALPOST_TEST: '1', TMPDIR: runTmp } },
  );
} finally {
  try {
    rmSync(runTmp, { recursive: true, force: true }); // removes the cache link, not the cache
  } catch (error) {
    console.error(`could not remove ${runTmp}: ${error.message}`);
  }
}
process.exit(result?.status ?? 1);
