// `npm run dist` for real, short of the Electron download: the installed electron-builder packages this
// checkout with build/electron-builder.cjs into an unpacked Linux app (`--linux dir`), with a stand-in for the
// Electron runtime (electronDist; the real one comes from GitHub) and without the native rebuild for
// Electron's ABI (it fetches Electron's headers). Then the packaged server is started exactly as the app
// starts it (main/server-command.ts), from the packaged files only: no checkout, no tsx, no sources.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serverCommand } from '../../main/server-command.js';
import { ServerSupervisor } from '../../main/server-process.js';
import { freePorts } from '../helpers/ports.js';

const execFileAsync = promisify(execFile);
const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PORT_ENV = ['SEALPOST_SMTP_PORT', 'SEALPOST_SUBMISSION_PORT', 'SEALPOST_SUBMISSIONS_PORT', 'SEALPOST_IMAP_PORT', 'SEALPOST_IMAPS_PORT', 'SEALPOST_POP3_PORT', 'SEALPOST_POP3S_PORT', 'SEALPOST_MANAGESIEVE_PORT', 'SEALPOST_ADMIN_PORT'];

/** Runs a node script of this checkout (the build steps `npm run dist` runs before electron-builder). */
async function node(...args: string[]): Promise<void> {
  await execFileAsync(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
}

/** Every path inside an asar archive, read with electron-builder's own asar package. */
function asarList(archive: string): string[] {
  const asar = require('@electron/asar') as { listPackage(archive: string, options: object): string[] };
  return asar.listPackage(archive, {}).map((entry) => entry.split(path.sep).join('/'));
}

test('electron-builder packages the precompiled server, and the packaged server runs on its own', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-package-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // The steps of `npm run dist` before electron-builder (the UI and the server only when stale; rclone is not
  // needed: extraResources of a missing folder are skipped).
  await node('scripts/build-ui.mjs');
  await node('scripts/build-server.mjs', '--if-stale');
  await node('build/bundle-main.mjs');
  const fakeElectron = path.join(dir, 'electron-dist');
  fs.mkdirSync(fakeElectron);
  fs.writeFileSync(path.join(fakeElectron, 'electron'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const output = path.join(dir, 'out');
  const builder = path.join(ROOT, 'node_modules', '.bin', 'electron-builder');
  const env = { ...process.env, NO_UPDATE_NOTIFIER: '1', ELECTRON_BUILDER_CACHE: path.join(dir, 'cache') };
  await execFileAsync(builder, ['--config', 'build/electron-builder.cjs', '--linux', 'dir', `-c.electronDist=${fakeElectron}`, '-c.npmRebuild=false', `-c.directories.output=${output}`], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });

  const resources = path.join(output, 'linux-unpacked', 'resources');
  const unpacked = path.join(resources, 'app.asar.unpacked');
  assert.ok(fs.existsSync(path.join(output, 'linux-unpacked', 'sealpost-desktop')), 'the executable is renamed as configured');
  const archived = asarList(path.join(resources, 'app.asar'));
  for (const file of ['/package.json', '/dist/app/main.mjs', '/dist/app/preload.cjs', '/dist/server/cli.js', '/renderer/dist/index.html', '/resources/icons/512x512.png']) {
    assert.ok(archived.includes(file), `${file} is packaged`);
  }
  assert.deepEqual(archived.filter((f) => /^\/(server|bin|main|test|bench|node_modules\/(tsx|esbuild|@esbuild|electron|electron-builder|typescript))(\/|$)/.test(f)), [], 'no sources, tests, tsx, esbuild or build tools');
  assert.deepEqual(archived.filter((f) => !f.startsWith('/node_modules/') && /\.(map|ts)$/.test(f)), [], 'none of our source maps or TypeScript');
  // What the server child reads is really on disk, beside the archive.
  for (const file of ['package.json', 'dist/server/cli.js', 'dist/server/worker.js', 'dist/server/unseal-worker.js', 'dist/server/worker-entry.mjs', 'renderer/dist/index.html', 'node_modules/fastify/package.json']) {
    assert.ok(fs.existsSync(path.join(unpacked, file)), `${file} is unpacked`);
  }
  assert.ok(!fs.existsSync(path.join(unpacked, 'dist', 'app', 'main.mjs')), 'the main bundle stays in the archive');

  // The packaged server, started the way the app starts it (node stands in for Electron in Node mode).
  const dataDir = path.join(dir, 'data');
  const ports = await freePorts(PORT_ENV.length);
  const serverEnv: NodeJS.ProcessEnv = { ...process.env, SEALPOST_KEYCHAIN: 'off', SEALPOST_LOG_LEVEL: 'warn' };
  delete serverEnv.SEALPOST_APP_KEY;
  PORT_ENV.forEach((name, i) => (serverEnv[name] = String(ports[i])));
  const command = serverCommand({ isPackaged: true, appPath: path.join(resources, 'app.asar'), resourcesPath: resources, execPath: process.execPath, dataDir, appKeyHex: null, env: serverEnv });
  assert.deepEqual(command.args, [path.join(unpacked, 'dist', 'server', 'cli.js'), 'serve']);
  const lines: string[] = [];
  const supervisor = new ServerSupervisor({ command: () => command, onOutput: (line) => lines.push(line) });
  t.after(() => supervisor.stop());
  const server = await supervisor.start();
  const page = await fetch(`${server.adminOrigin}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  assert.equal(await supervisor.stop(), 0);
  assert.ok(!lines.some((line) => /tsx|ERR_MODULE_NOT_FOUND|ERR_UNKNOWN_FILE_EXTENSION/.test(line)), lines.join('\n'));
});
