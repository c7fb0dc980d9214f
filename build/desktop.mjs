#!/usr/bin/env node
// Launches the desktop app from this checkout with the Electron installed in node_modules (`npm run desktop`
// builds the UI, the server and the main bundle first). Electron's own CLI throws a stack when its binary is
// missing (installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1, or a failed download); this says it in one sentence.
//   node build/desktop.mjs            launch (the app's arguments follow)
//   node build/desktop.mjs --check    only check that the binary is there
//   --electron-dir DIR                the electron package to use (default: node_modules/electron)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export class ElectronMissingError extends Error {}

/**
 * The Electron binary of an installed electron package, as the package itself reports it (its install script
 * records the unpacked download in path.txt; ELECTRON_OVERRIDE_DIST_PATH points elsewhere), checked to exist.
 */
export function electronBinary(electronDir = path.join(root, 'node_modules', 'electron')) {
  const fix = 'run `node node_modules/electron/install.js` without ELECTRON_SKIP_BINARY_DOWNLOAD on a machine that can reach github.com';
  if (!fs.existsSync(path.join(electronDir, 'package.json'))) {
    throw new ElectronMissingError(`Electron is not installed in ${path.relative(root, electronDir) || electronDir}: run \`npm ci\` in the Sealpost directory.`);
  }
  let binary = '';
  try {
    const reported = createRequire(import.meta.url)(electronDir);
    if (typeof reported === 'string') binary = reported;
  } catch {}
  if (!binary || !fs.existsSync(binary)) {
    throw new ElectronMissingError(`The Electron binary is not installed (its download was skipped or failed): ${fix}.`);
  }
  return binary;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const dirFlag = args.indexOf('--electron-dir');
  const electronDir = dirFlag >= 0 ? path.resolve(args.splice(dirFlag, 2)[1] ?? '') : undefined;
  const checkOnly = args.includes('--check');
  let binary;
  try {
    binary = electronBinary(electronDir);
  } catch (error) {
    if (!(error instanceof ElectronMissingError)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  }
  if (!checkOnly) {
    // package.json "main" is dist/app/main.mjs (build/bundle-main.mjs); ELECTRON_RUN_AS_NODE from a parent
    // shell would turn the app into plain Node.
    const env = { ...process.env };
    delete env.ELECTRON_RUN_AS_NODE;
    const child = spawn(binary, [root, ...args], { stdio: 'inherit', env });
    for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
    child.once('error', (error) => {
      process.stderr.write(`error: Electron could not start (${error.message}): ${path.relative(root, binary)} must be runnable on this machine.\n`);
      process.exit(1);
    });
    child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  }
}
