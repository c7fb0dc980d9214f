// The shared corpus generator beside the repository: SEALPOST_SHARED_DIR when set, else ../shared.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Path of gen-corpus.py in the shared folder, or null when that folder is not there. */
export function genCorpusScript(env: NodeJS.ProcessEnv = process.env): string | null {
  const dir = env.SEALPOST_SHARED_DIR && env.SEALPOST_SHARED_DIR !== 'none' ? resolve(env.SEALPOST_SHARED_DIR) : resolve(REPO_ROOT, '..', 'shared');
  const script = join(dir, 'bench', 'gen-corpus.py');
  return existsSync(script) ? script : null;
}
