#!/usr/bin/env node
// Bundles the Electron main process and preload from main/*.ts with esbuild (a dependency of tsx, so it is
// always installed): dist/app/main.mjs (ESM; Electron >= 28 loads ESM mains) and dist/app/preload.cjs
// (CommonJS: sandboxed preloads cannot be ES modules). npm packages stay external — electron-builder ships
// node_modules — so native modules are loaded from app.asar.unpacked, never inlined.
//   node build/bundle-main.mjs [--out DIR]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Electron 38 embeds Node 22: target it so nothing newer than it supports is emitted. */
export const NODE_TARGET = 'node22';

export async function bundleMain(outDir = path.join(root, 'dist', 'app')) {
  const common = { absWorkingDir: root, bundle: true, platform: 'node', target: NODE_TARGET, packages: 'external', external: ['electron'], sourcemap: false, logLevel: 'warning' };
  await build({ ...common, entryPoints: ['main/index.ts'], format: 'esm', outfile: path.join(outDir, 'main.mjs') });
  await build({ ...common, entryPoints: ['main/preload.ts'], format: 'cjs', outfile: path.join(outDir, 'preload.cjs') });
  return { main: path.join(outDir, 'main.mjs'), preload: path.join(outDir, 'preload.cjs') };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const flag = process.argv.indexOf('--out');
  const out = await bundleMain(flag > 0 ? path.resolve(process.argv[flag + 1]) : undefined);
  console.log(`bundled ${path.relative(root, out.main)} and ${path.relative(root, out.preload)}`);
}
