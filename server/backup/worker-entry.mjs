// Worker thread entry (plain JS): workers do not inherit tsx's loader hooks on Node 20, so register
// them here, then run one backup step from worker-ops.ts and post {result} or {error}.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
try {
  const { runWorkerRequest } = await import('./worker-ops.ts');
  parentPort?.postMessage({ result: runWorkerRequest(workerData) });
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  parentPort?.postMessage({ error: { message: e.message, name: e.name, code: e.code ?? null } });
}
