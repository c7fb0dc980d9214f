#!/usr/bin/env node
// Builds the admin UI (renderer/ → renderer/dist) when dist is missing or older than any UI source.
// Runs before `npm start` (prestart) and before e2e tests. `--force` always builds.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const renderer = fileURLToPath(new URL('../renderer/', import.meta.url));
const builtIndex = join(renderer, 'dist', 'index.html');
const sources = ['index.html', 'vite.config.ts', 'svelte.config.js', 'src'];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

const force = process.argv.includes('--force');
const builtAt = existsSync(builtIndex) ? statSync(builtIndex).mtimeMs : 0;
const changedAt = Math.max(...sources.map((s) => newestMtime(join(renderer, s))));
if (!force && builtAt > changedAt) process.exit(0);

const { build } = await import('vite');
process.stderr.write('building the admin UI (renderer/dist)…\n');
await build({ root: renderer, configFile: join(renderer, 'vite.config.ts'), logLevel: 'warn' });
