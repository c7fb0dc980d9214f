#!/usr/bin/env node
// Copies an rclone binary into resources/bin/ so electron-builder ships it (extraResources → <resources>/bin).
// Source, in order: --from PATH, $SEALPOST_RCLONE, the first `rclone` on PATH. Never downloads anything:
// to package another rclone version or platform, fetch and verify it yourself and pass --from.
//   node build/stage-rclone.mjs [--from /path/to/rclone] [--out DIR] [--platform win32|darwin|linux]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

class StageError extends Error {}

function option(argv, name) {
  const at = argv.indexOf(name);
  if (at < 0) return undefined;
  const value = argv[at + 1];
  if (!value || value.startsWith('--')) throw new StageError(`${name} needs a value.`);
  return value;
}

/** The first executable `name` on PATH (PATHEXT-aware on Windows), or null. */
function onPath(name, env, platform) {
  const exts = platform === 'win32' ? (env.PATHEXT || '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext.toLowerCase());
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) return candidate;
      } catch {}
    }
  }
  return null;
}

/** Stages rclone; returns { source, target, version }. Throws StageError with advice when it cannot. */
export function stageRclone({ from, out = path.join(root, 'resources', 'bin'), env = process.env, platform = process.platform } = {}) {
  const chosen = from ?? (env.SEALPOST_RCLONE || null) ?? onPath('rclone', env, platform);
  const origin = from ? '--from' : env.SEALPOST_RCLONE ? 'SEALPOST_RCLONE' : 'PATH';
  if (!chosen) throw new StageError('No rclone found: pass --from /path/to/rclone, set SEALPOST_RCLONE, or install rclone (e.g. apt-get install rclone). Nothing is downloaded.');
  let source;
  try {
    source = fs.realpathSync(chosen);
    if (!fs.statSync(source).isFile()) throw new Error('not a file');
  } catch {
    throw new StageError(`rclone from ${origin} (${chosen}) is not a file.`);
  }
  const target = path.join(out, platform === 'win32' ? 'rclone.exe' : 'rclone');
  fs.mkdirSync(out, { recursive: true });
  // Copy to a temp name and rename, so a half-copied binary is never packaged.
  const partial = `${target}.partial`;
  fs.copyFileSync(source, partial);
  fs.chmodSync(partial, 0o755);
  fs.renameSync(partial, target);
  if (platform !== process.platform) return { source, target, version: null };
  let version;
  try {
    version = execFileSync(target, ['--version'], { encoding: 'utf8', timeout: 30_000, env: { PATH: env.PATH ?? '', RCLONE_CONFIG: '/dev/null' } }).split('\n')[0].trim();
  } catch (error) {
    fs.rmSync(target, { force: true });
    throw new StageError(`${source} did not run as rclone (--version failed: ${error.message.split('\n')[0]}).`);
  }
  if (!/^rclone v\d/.test(version)) {
    fs.rmSync(target, { force: true });
    throw new StageError(`${source} is not rclone (--version printed "${version}").`);
  }
  return { source, target, version };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const argv = process.argv.slice(2);
    const outArg = option(argv, '--out');
    const staged = stageRclone({ from: option(argv, '--from'), out: outArg ? path.resolve(outArg) : undefined, platform: option(argv, '--platform') ?? process.platform });
    console.log(`staged ${staged.version ?? 'rclone (not run: other platform)'} from ${staged.source} → ${path.relative(process.cwd(), staged.target) || staged.target}`);
  } catch (error) {
    if (!(error instanceof StageError)) throw error;
    console.error(`stage-rclone: ${error.message}`);
    process.exit(1);
  }
}
