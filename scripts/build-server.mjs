#!/usr/bin/env node
// Precompiles the server (what bin/sealpost runs) with esbuild into dist/server/, so the CLI and `serve`
// start without tsx compiling TypeScript at every launch. bin/sealpost runs dist/server/cli.js only while
// dist/server/build-info.json still matches every source file it was built from (mtime + size);
// otherwise it falls back to tsx on the sources, so a stale or missing build is never run.
//   node scripts/build-server.mjs            build
//   node scripts/build-server.mjs --if-stale build only when missing or stale (pretest)
//   node scripts/build-server.mjs --prepare  like --if-stale, and never fail (npm `prepare` after install, `pretest`):
//                                            a tree that does not bundle (an unresolved import) still runs through tsx
//
// Layout traps (why dist/server/ and these names):
//  - Sources find files two levels up from server/<area>/ (`../../package.json`, `../../renderer/dist`,
//    `../../resources/bin`): every output file sits in dist/server/, also two levels below the root.
//  - server/mime/pool.ts starts `new URL('./worker.js', import.meta.url)` → the entry named "worker"; likewise
//    server/queue/row-opener.ts → "unseal-worker" and server/mailbox/readers.ts → "reader-worker" (server/worker-thread.ts).
//  - server/backup/worker.ts starts `./worker-entry.mjs` → built separately with the .mjs extension;
//    its `register()` of tsx becomes a no-op (the built worker is plain JS).
//  - npm packages stay external (native modules, wildduck's require() of its own files).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'dist', 'server');
const infoFile = path.join(outDir, 'build-info.json');
const args = process.argv.slice(2);
const prepare = args.includes('--prepare');
const ifStale = prepare || args.includes('--if-stale');

/** Same test as bin/sealpost: every recorded input still has its recorded mtime and size. */
function isFresh() {
  try {
    const info = JSON.parse(readFileSync(infoFile, 'utf8'));
    if (!existsSync(path.join(outDir, info.entry))) return false;
    return Object.entries(info.inputs).every(([file, rec]) => {
      const st = statSync(path.join(root, file));
      return st.mtimeMs === rec.mtimeMs && st.size === rec.size;
    });
  } catch {
    return false;
  }
}

const tsxStub = {
  name: 'tsx-stub',
  setup(build) {
    build.onResolve({ filter: /^tsx\/esm\/api$/ }, () => ({ path: 'tsx-esm-api', namespace: 'tsx-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'tsx-stub' }, () => ({ contents: 'export function register() {}', loader: 'js' }));
  },
};

async function build() {
  const { build: esbuild } = await import('esbuild');
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const common = {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    outdir: tmp,
  };
  // Dynamic import()s become separate chunks: what a command does not use is never loaded.
  const main = await esbuild({ ...common, entryPoints: { cli: 'server/cli/main.ts', worker: 'server/mime/worker.ts', 'unseal-worker': 'server/queue/unseal-worker.ts', 'reader-worker': 'server/mailbox/reader-worker.ts' }, splitting: true, chunkNames: '[name]-[hash]' });
  const backupWorker = await esbuild({ ...common, entryPoints: { 'worker-entry': 'server/backup/worker-entry.mjs' }, outExtension: { '.js': '.mjs' }, plugins: [tsxStub] });
  const inputs = {};
  for (const result of [main, backupWorker]) {
    for (const file of Object.keys(result.metafile.inputs)) {
      if (file.includes('node_modules/') || file.startsWith('tsx-stub:')) continue;
      const st = statSync(path.join(root, file));
      inputs[file] = { mtimeMs: st.mtimeMs, size: st.size };
    }
  }
  writeFileSync(path.join(tmp, 'build-info.json'), `${JSON.stringify({ entry: 'cli.js', builtAt: new Date().toISOString(), inputs }, null, 1)}\n`);
  // Trap: chunks must stay in dist/server/ itself (not a sub-folder): their code resolves ../../ and ./worker.js from its own URL.
  // Trap: a running `serve` loads chunks lazily, by the names its cli.js knew. Never delete the old build
  // under it: move the new files in one by one (chunk names carry a content hash, so an old process keeps
  // finding its own), the fixed-name entries and build-info.json last, and prune chunks older than a day.
  mkdirSync(outDir, { recursive: true });
  const fixed = new Set(['cli.js', 'cli.js.map', 'worker.js', 'worker.js.map', 'unseal-worker.js', 'unseal-worker.js.map', 'worker-entry.mjs', 'worker-entry.mjs.map', 'build-info.json']);
  const names = readdirSync(tmp);
  for (const name of [...names.filter((n) => !fixed.has(n)), ...names.filter((n) => fixed.has(n) && n !== 'build-info.json'), 'build-info.json']) {
    renameSync(path.join(tmp, name), path.join(outDir, name));
  }
  rmSync(tmp, { recursive: true, force: true });
  const dayAgo = Date.now() - 86_400_000;
  for (const name of readdirSync(outDir)) {
    if (fixed.has(name) || names.includes(name)) continue;
    const file = path.join(outDir, name);
    if (statSync(file).mtimeMs < dayAgo) rmSync(file, { force: true });
  }
  return Object.keys(inputs).length;
}

if (ifStale && isFresh()) process.exit(0);
try {
  const started = Date.now();
  const count = await build();
  process.stderr.write(`built dist/server from ${count} sources in ${Date.now() - started} ms\n`);
} catch (error) {
  if (!prepare) throw error;
  // Installing must not fail because of this: bin/sealpost then runs the sources through tsx.
  process.stderr.write(`warning: could not precompile the server (bin/sealpost will use tsx): ${error instanceof Error ? error.message : String(error)}\n`);
}
