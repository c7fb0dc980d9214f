// The electron-builder config (build/electron-builder.cjs), the main-process bundle it packages and the icons
// it points at. electron-builder is not installed (too heavy for CI's npm ci), so this checks every field we
// rely on ourselves; with electron-builder's own JSON schema at hand (SEALPOST_EB_SCHEMA=path/to/scheme.json,
// or app-builder-lib installed) it also validates against that.
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
  electronVersion: string;
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

test('identity, Electron version and installer targets per platform', () => {
  assert.equal(config.appId, 'dev.sealpost.desktop');
  assert.equal(config.productName, 'Sealpost');
  // Electron >= 35 ships Node 22 (the server needs >= 20.19, the ESM main needs Electron >= 28).
  assert.ok(Number(config.electronVersion.split('.')[0]) >= 35, config.electronVersion);
  assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
  assert.deepEqual(config.mac.target, ['dmg']);
  assert.deepEqual(config.win.target, ['nsis']);
  assert.match(config.linux.maintainer, /<[^@\s]+@[^>\s]+>/, 'the deb target needs a maintainer e-mail');
  assert.equal(config.nsis.oneClick, false, 'the installer lets the user choose where to install');
  assert.ok(config.directories.output.startsWith('dist/'), 'installers go under the git-ignored dist/');
});

test('the packaged app contains the server, the UI and the main bundle, not tests', () => {
  for (const file of ['package.json', 'bin/sealpost', 'server/app.ts', 'server/cli/main.ts', 'renderer/dist/index.html', 'dist/app/main.mjs', 'dist/app/preload.cjs', 'resources/icons/512x512.png']) {
    assert.ok(included(file), `${file} is packaged`);
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
  // The child runs from app.asar.unpacked: tsx's loader thread and worker threads cannot read asar.
  for (const file of ['bin/sealpost', 'server/mime/worker.ts', 'node_modules/tsx/dist/loader.mjs', 'node_modules/esbuild/bin/esbuild', 'renderer/dist/index.html']) {
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

test('npm run dist builds the UI, bundles main, stages rclone, then packages with this config', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const dist = pkg.scripts.dist ?? '';
  const steps = ['build:ui', 'build/bundle-main.mjs', 'build/stage-rclone.mjs', 'electron-builder'];
  let at = -1;
  for (const step of steps) {
    const found = dist.indexOf(step);
    assert.ok(found > at, `"${step}" comes next in: ${dist}`);
    at = found;
  }
  assert.match(dist, /--config build\/electron-builder\.cjs/);
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

test("electron-builder's JSON schema accepts the config", async (t) => {
  let schemaFile = process.env.SEALPOST_EB_SCHEMA ?? '';
  if (!schemaFile) {
    try {
      schemaFile = require.resolve('app-builder-lib/scheme.json');
    } catch {}
  }
  if (!schemaFile || !fs.existsSync(schemaFile)) {
    t.skip('no electron-builder schema here (set SEALPOST_EB_SCHEMA to app-builder-lib/scheme.json from `npm pack app-builder-lib`)');
    return;
  }
  let Ajv: new (options: object) => { compile(schema: unknown): ((data: unknown) => boolean) & { errors?: { instancePath?: string; dataPath?: string; message?: string }[] | null } };
  try {
    Ajv = require('ajv') as typeof Ajv;
  } catch {
    t.skip('no ajv installed to apply the schema');
    return;
  }
  const validate = new Ajv({ allErrors: true }).compile(JSON.parse(fs.readFileSync(schemaFile, 'utf8')));
  const ok = validate(config);
  assert.ok(ok, JSON.stringify(validate.errors?.map((e) => `${e.instancePath ?? e.dataPath} ${e.message}`)));
  // The schema is strict enough to catch a typo.
  assert.equal(validate({ ...config, asarUnpak: ['x'] }), false);
});
