// Worker thread entry (plain JS): workers do not inherit tsx's loader hooks on Node 20, so register
// them here, then answer {id, request} messages one at a time with {id, result} or {id, error}.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const ops = import('./worker-ops.ts');
parentPort?.on('message', async ({ id, request }) => {
  try {
    const { runWorkerRequest } = await ops;
    parentPort?.postMessage({ id, result: runWorkerRequest(request) });
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    parentPort?.postMessage({ id, error: { message: e.message, name: e.name, code: e.code ?? null } });
  }
});
