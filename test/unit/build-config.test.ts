// The electron-builder config (build/electron-builder.cjs), the main-process bundle and precompiled server it
// packages, and the icons it points at. electron and electron-builder are pinned devDependencies: the config
// is validated with electron-builder's own validation (its JSON schema, app-builder-lib/scheme.json), and
// the fields we rely on are checked here one by one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);

interface BuilderConfig {
  appId: string;
  productName: string;
  electronVersion?: string;
  extraMetadata: { main: string };
  directories: { output: string };
  files: string[];
  asar: boolean;
  asarUnpack: string[];
  extraResources: { from: string; to: string; filter: string[] }[];
  linux: { target: string[]; icon: string; maintainer: string; executableName: string };
  mac: { target: string[]; icon: string };
  win: { target: string[]; icon: string };
  nsis: { oneClick: boolean };
}

const config = require('../../build/electron-builder.cjs') as BuilderConfig;

/** electron-builder's globs (minimatch): `**` spans directories, `*` stays within one. */
function globMatches(glob: string, file: string): boolean {
  const pattern = glob
    .split('**')
    .map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*'))
    .join('.*');
  return new RegExp(`^${pattern}$`).test(file);
}

function included(file: string): boolean {
  const positive = config.files.filter((g) => !g.startsWith('!'));
  const negative = config.files.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  return positive.some((g) => globMatches(g, file)) && !negative.some((g) => globMatches(g, file));
}

function pngSize(file: string): { width: number; height: number } {
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG', `${file} is a PNG`);
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

interface PackageJson {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson;

test('electron and electron-builder are exact devDependencies, installed at those versions', () => {
  for (const name of ['electron', 'electron-builder']) {
    const pinned = pkg.devDependencies[name] ?? '';
    assert.match(pinned, /^\d+\.\d+\.\d+$/, `${name} is pinned to one version`);
    assert.equal(pkg.dependencies[name], undefined, `${name} is a build tool, never shipped`);
    const installed = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    assert.equal(installed.version, pinned, `node_modules/${name} matches package.json (run npm ci)`);
  }
  // electron-builder takes the version from the devDependency: one place. Electron >= 35 ships Node 22
  // (the server needs >= 20.19, build/bundle-main.mjs targets node22, the ESM main needs Electron >= 28).
  assert.equal(config.electronVersion, undefined, 'the Electron version lives in package.json only');
  assert.ok(Number(pkg.devDependencies.electron?.split('.')[0]) >= 35, pkg.devDependencies.electron);
});

test('identity and installer targets per platform', () => {
  assert.equal(config.appId, 'dev.sealpost.desktop');
  assert.equal(config.productName, 'Sealpost');
  assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
  assert.deepEqual(config.mac.target, ['dmg']);
  assert.deepEqual(config.win.target, ['nsis']);
  assert.match(config.linux.maintainer, /<[^@\s]+@[^>\s]+>/, 'the deb target needs a maintainer e-mail');
  assert.equal(config.nsis.oneClick, false, 'the installer lets the user choose where to install');
  assert.ok(config.directories.output.startsWith('dist/'), 'installers go under the git-ignored dist/');
});

/** The server files the packaged app runs (scripts/build-server.mjs writes them to dist/server/). */
const SERVER_FILES = ['dist/server/cli.js', 'dist/server/worker.js', 'dist/server/unseal-worker.js', 'dist/server/worker-entry.mjs', 'dist/server/chunk-ABCDEF12.js'];

test('the packaged app contains the precompiled server, the UI and the main bundle; no sources, tsx or tests', () => {
  for (const file of ['package.json', ...SERVER_FILES, 'renderer/dist/index.html', 'dist/app/main.mjs', 'dist/app/preload.cjs', 'resources/icons/512x512.png']) {
    assert.ok(included(file), `${file} is packaged`);
  }
  // Nothing compiles TypeScript at runtime: no sources, no launcher that could fall back to them, no tsx/esbuild.
  for (const file of ['server/app.ts', 'server/cli/main.ts', 'bin/sealpost', 'node_modules/tsx/dist/loader.mjs', 'node_modules/esbuild/bin/esbuild', 'node_modules/@esbuild/linux-x64/bin/esbuild', 'dist/server/cli.js.map', 'dist/installers/Sealpost-0.1.0-x64.AppImage']) {
    assert.ok(!included(file), `${file} is not packaged`);
  }
  for (const file of ['test/unit/build-config.test.ts', 'server/x.test.ts', 'bench/run.ts', 'main/desktop.ts', 'resources/bin/rclone']) {
    assert.ok(!included(file), `${file} is not packaged`);
  }
  assert.equal(config.extraMetadata.main, 'dist/app/main.mjs');
});

test('native modules and everything the server child loads are unpacked from asar', () => {
  assert.equal(config.asar, true);
  const unpacked = (file: string): boolean => config.asarUnpack.some((g) => globMatches(g, file));
  // Every native binary installed here (whatever the platform suffix) must sit outside the archive.
  const natives: string[] = [];
  for (const pkg of ['better-sqlite3-multiple-ciphers', '@node-rs', '@napi-rs']) {
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.node')) natives.push(path.relative(ROOT, full).split(path.sep).join('/'));
      }
    };
    walk(path.join(ROOT, 'node_modules', pkg));
  }
  assert.ok(natives.some((f) => f.includes('better_sqlite3.node')), natives.join());
  assert.ok(natives.some((f) => f.startsWith('node_modules/@node-rs/argon2-')), natives.join());
  assert.ok(natives.some((f) => f.startsWith('node_modules/@napi-rs/keyring-')), natives.join());
  for (const file of natives) assert.ok(unpacked(file), `${file} is unpacked`);
  // The child runs from app.asar.unpacked: worker threads cannot read asar.
  // package.json: the server's "type": "module" and its version (require('../../package.json')) sit beside dist/.
  for (const file of [...SERVER_FILES, 'package.json', 'node_modules/fastify/package.json', 'renderer/dist/index.html']) {
    assert.ok(unpacked(file), `${file} is unpacked`);
  }
  assert.ok(!unpacked('dist/app/main.mjs'), 'the main bundle stays in the archive');
});

test('rclone is shipped from resources/bin as an extra resource', () => {
  assert.deepEqual(config.extraResources, [{ from: 'resources/bin', to: 'bin', filter: ['rclone', 'rclone.exe'] }]);
  const gitignore = fs.readFileSync(path.join(ROOT, '.gitignore'), 'utf8');
  assert.match(gitignore, /^resources\/bin\/\*$/m, 'the staged binary is never committed');
});

test('icons exist for every platform and are what they claim to be', () => {
  const linuxDir = path.join(ROOT, config.linux.icon);
  for (const size of [16, 32, 48, 64, 128, 256, 512, 1024]) assert.deepEqual(pngSize(path.join(linuxDir, `${size}x${size}.png`)), { width: size, height: size });
  for (const [name, size] of [['tray.png', 32], ['tray@2x.png', 64], ['trayTemplate.png', 16], ['trayTemplate@2x.png', 32]] as const) {
    assert.deepEqual(pngSize(path.join(ROOT, 'resources/icons', name)), { width: size, height: size });
  }

  const icns = fs.readFileSync(path.join(ROOT, config.mac.icon));
  assert.equal(icns.subarray(0, 4).toString('latin1'), 'icns');
  assert.equal(icns.readUInt32BE(4), icns.length);
  const types: string[] = [];
  for (let at = 8; at < icns.length; at += icns.readUInt32BE(at + 4)) types.push(icns.subarray(at, at + 4).toString('latin1'));
  assert.ok(types.includes('ic09') && types.includes('ic10'), `512 and 1024 px entries: ${types.join()}`);

  const ico = fs.readFileSync(path.join(ROOT, config.win.icon));
  assert.equal(ico.readUInt16LE(2), 1, 'type icon');
  const count = ico.readUInt16LE(4);
  const widths = Array.from({ length: count }, (_, i) => ico.readUInt8(6 + 16 * i) || 256);
  assert.ok(widths.includes(256) && widths.includes(16), widths.join());
  const last = 6 + 16 * (count - 1);
  assert.equal(ico.readUInt32LE(last + 12) + ico.readUInt32LE(last + 8), ico.length, 'entries cover the file');
});

/** Asserts that every step appears in the script, in this order. */
function assertSteps(script: string, steps: readonly string[]): void {
  let at = -1;
  for (const step of steps) {
    const found = script.indexOf(step, at + 1);
    assert.ok(found > at, `"${step}" comes next in: ${script}`);
    at = found;
  }
}

test('npm run dist builds the UI, the server and main, stages rclone, then packages with the installed electron-builder', () => {
  const dist = pkg.scripts.dist ?? '';
  assertSteps(dist, ['build:ui', 'scripts/build-server.mjs', 'build/bundle-main.mjs', 'build/stage-rclone.mjs', 'electron-builder --config build/electron-builder.cjs']);
  // A full build (not --if-stale/--prepare, which fall back to tsx on failure): the package must hold a fresh server.
  assert.doesNotMatch(dist, /build-server\.mjs --(if-stale|prepare)/);
  assert.doesNotMatch(dist, /\bnpx\b/, 'no tool is fetched at build time');
  assert.ok(fs.existsSync(path.join(ROOT, 'node_modules', '.bin', 'electron-builder')), 'electron-builder runs from node_modules/.bin');
});

test('CI installs electron without its binary download (GitHub is out of reach there)', () => {
  const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
  const installs = ci.split('\n').filter((line) => /\bnpm (ci|install)\b/.test(line) && !line.trim().startsWith('#'));
  assert.ok(installs.length > 0, 'CI installs node_modules');
  for (const line of installs) assert.match(line, /ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-audit --no-fund/);
});

test('npm run desktop checks for the Electron binary, builds UI, server and main, then launches it', () => {
  const desktop = pkg.scripts.desktop ?? '';
  assertSteps(desktop, ['build/desktop.mjs --check', 'build:ui', 'scripts/build-server.mjs', 'build/bundle-main.mjs', 'build/desktop.mjs']);
  assert.doesNotMatch(desktop, /\bnpx\b/);
  assert.match(desktop, /build\/desktop\.mjs$/, 'the launch is the last step');
});

test('the main bundle is self-contained: ESM main, CommonJS preload that only needs electron', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  try {
    const { bundleMain } = (await import(pathToFileURL(path.join(ROOT, 'build', 'bundle-main.mjs')).href)) as { bundleMain(out: string): Promise<{ main: string; preload: string }> };
    const built = await bundleMain(out);
    const main = fs.readFileSync(built.main, 'utf8');
    const preload = fs.readFileSync(built.preload, 'utf8');
    assert.doesNotMatch(main, /from ["']\.{1,2}\//, 'no relative import left: our sources are inlined');
    assert.doesNotMatch(main, /from ["']electron["']/, 'electron is imported dynamically, after the facade check');
    assert.match(main, /sealpost:lock-all/);
    assert.doesNotMatch(preload, /^\s*(import|export)\s/m, 'a sandboxed preload cannot be an ES module');
    const required = [...preload.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    assert.deepEqual([...new Set(required)], ['electron']);
    assert.match(preload, /exposeInMainWorld\("sealpostDesktop"/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("electron-builder's own validation (its JSON schema) accepts the config and catches a typo", async () => {
  // The function `electron-builder` itself runs on the config before building (app-builder-lib is pinned
  // through the electron-builder devDependency; it validates against app-builder-lib/scheme.json).
  const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
    validateConfiguration(config: unknown, debugLogger: { isEnabled: boolean; add(key: string, value: unknown): void }): Promise<void>;
  };
  const debugLogger = { isEnabled: false, add: () => undefined };
  assert.ok(fs.existsSync(require.resolve('app-builder-lib/scheme.json')));
  await validateConfiguration(config, debugLogger);
  await assert.rejects(validateConfiguration({ ...config, asarUnpak: ['x'] }, debugLogger), /unknown property 'asarUnpak'/);
  await assert.rejects(validateConfiguration({ ...config, linux: { ...config.linux, target: 'AppImage', maintainr: 'x' } }, debugLogger), /maintainr/);
});
