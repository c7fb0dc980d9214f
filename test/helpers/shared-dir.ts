// Where the team's shared test material lives (the python-email corpus, bench/gen-corpus.py):
// SEALPOST_SHARED_DIR when set, else ../shared next to the repository. Tests that use it fail with a clear
// message when it is missing, because a silent skip hides a coverage gap in CI. SEALPOST_SHARED_DIR=none
// is the one explicit opt-out: those tests then skip and say why.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Reason to give when SEALPOST_SHARED_DIR=none turned the shared material off; null when it is on. */
export function sharedDirOptOut(env: NodeJS.ProcessEnv = process.env): string | null {
  return env.SEALPOST_SHARED_DIR === 'none' ? 'SEALPOST_SHARED_DIR=none: the shared test material (../shared) is switched off' : null;
}

/** The shared directory; throws a one-sentence error naming what to do when it is absent. Call after sharedDirOptOut. */
export function sharedDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.SEALPOST_SHARED_DIR;
  const dir = configured ? resolve(configured) : resolve(REPO_ROOT, '..', 'shared');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(
      `shared test material not found at ${dir}: check out the shared folder next to the repository, ` +
        'point SEALPOST_SHARED_DIR at it, or set SEALPOST_SHARED_DIR=none to skip the tests that need it',
    );
  }
  return dir;
}

/** A file or folder inside the shared directory; throws the same clear error when it is missing. */
export function sharedPath(relative: string, env: NodeJS.ProcessEnv = process.env): string {
  const path = join(sharedDir(env), relative);
  if (!existsSync(path)) throw new Error(`shared test material incomplete: ${path} is missing (SEALPOST_SHARED_DIR points at ${sharedDir(env)})`);
  return path;
}

/**
 * The shared python-email corpus (SEALPOST_SHARED_CORPUS still names its folder directly when set), every file
 * as bytes, sorted by name; throws when it is missing or empty.
 */
export function loadPythonEmailCorpus(env: NodeJS.ProcessEnv = process.env): { name: string; raw: Buffer }[] {
  const dir = env.SEALPOST_SHARED_CORPUS ? resolve(env.SEALPOST_SHARED_CORPUS) : sharedPath('corpus/python-email', env);
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')).sort() : [];
  if (!names.length) throw new Error(`the shared python-email corpus at ${dir} has no messages: restore it from the shared folder`);
  return names.map((name) => ({ name, raw: readFileSync(join(dir, name)) }));
}
