// Starting a worker thread from a module beside the caller, under tsx (tests, `--sources`) and built alike.
// Under tsx the worker is a .ts file. `execArgv: ['--import', 'tsx']` is NOT enough: the worker's entry module
// loads before tsx's async loader hooks are in place (ERR_UNKNOWN_FILE_EXTENSION). So a tiny eval'd bootstrap
// registers tsx first, then imports the worker. Built code (dist/server, one flat folder: build-server.mjs names
// each worker entry after its source file) runs the .js directly.
import { Worker } from 'node:worker_threads';

/**
 * The URL of worker module `name` next to the calling module: pass the caller's `import.meta.url`. The source
 * file's base name and the built entry's name are the same (scripts/build-server.mjs).
 */
export function workerModuleUrl(name: string, callerUrl: string): URL {
  return new URL(`./${name}${callerUrl.endsWith('.ts') ? '.ts' : '.js'}`, callerUrl);
}

/** Starts the worker module at `url` (from workerModuleUrl). */
export function startModuleWorker(url: URL): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(bootstrap, { eval: true });
}
