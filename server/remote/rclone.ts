// The rclone child: found via SEALPOST_RCLONE, then resources/bin/rclone, then PATH; configured only
// through an environment we build from nothing (no config file, no inherited AWS_* / proxies).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type Env = Readonly<Record<string, string | undefined>>;

const BUNDLED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../resources/bin', process.platform === 'win32' ? 'rclone.exe' : 'rclone');

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Path of the rclone binary, or null. SEALPOST_RCLONE wins even when wrong (then null: a clear doctor error). */
export function findRclone(env: Env = process.env): string | null {
  const configured = env.SEALPOST_RCLONE;
  if (configured) return executable(configured) ? path.resolve(configured) : null;
  if (executable(BUNDLED)) return BUNDLED;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, process.platform === 'win32' ? 'rclone.exe' : 'rclone');
    if (executable(candidate)) return candidate;
  }
  return null;
}

export interface RcloneInfo {
  readonly path: string;
  /** e.g. "v1.60.1-DEV" */
  readonly version: string;
}

/** For `doctor`: where rclone is and its version, or null when none is found or it does not run. */
export async function rcloneVersion(env: Env = process.env): Promise<RcloneInfo | null> {
  const bin = findRclone(env);
  if (!bin) return null;
  return new Promise((resolve) => {
    execFile(bin, ['version'], { env: baseEnv(env, os.tmpdir()), timeout: 10_000 }, (err, stdout) => {
      const m = /rclone\s+(v\S+)/.exec(String(stdout));
      resolve(err || !m ? null : { path: bin, version: m[1] as string });
    });
  });
}

/** PATH (for rclone's own helpers), HOME and TMPDIR in a private temp dir, no config file. Nothing else inherited. */
export function baseEnv(parent: Env, home: string): Record<string, string> {
  return {
    PATH: parent.PATH || '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    TMPDIR: home,
    RCLONE_CONFIG: '/dev/null',
  };
}

/** One line of `--use-json-log` output. */
export interface RcloneLogLine {
  readonly level: string;
  readonly msg: string;
  readonly object?: string;
  readonly stats?: RcloneStats;
}

export interface RcloneStats {
  readonly bytes: number;
  readonly totalBytes: number;
  readonly transfers: number;
  readonly totalTransfers: number;
  readonly errors: number;
  readonly eta: number | null;
  readonly speed: number;
}

export interface RcloneRun {
  readonly code: number | null;
  readonly stdout: Buffer;
  /** Error-level log messages, in order. */
  readonly errors: string[];
  readonly timedOut: boolean;
}

export interface RcloneRunOptions {
  readonly bin: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly stdin?: Buffer;
  readonly onLog?: (line: RcloneLogLine) => void;
  /** Hard wall-clock limit for the whole command (rclone's own timeouts cover each connection). */
  readonly killAfterMs?: number;
}

/** Parses one stderr line of --use-json-log; non-JSON lines become level "raw". */
export function parseLogLine(text: string): RcloneLogLine | null {
  const trimmed = text.trim();
  if (!trimmed) return null;
  try {
    const v = JSON.parse(trimmed) as Record<string, unknown>;
    const s = v.stats as Record<string, unknown> | undefined;
    return {
      level: String(v.level ?? 'info'),
      msg: String(v.msg ?? ''),
      ...(typeof v.object === 'string' ? { object: v.object } : {}),
      ...(s
        ? {
            stats: {
              bytes: Number(s.bytes ?? 0),
              totalBytes: Number(s.totalBytes ?? 0),
              transfers: Number(s.transfers ?? 0),
              totalTransfers: Number(s.totalTransfers ?? 0),
              errors: Number(s.errors ?? 0),
              eta: typeof s.eta === 'number' ? s.eta : null,
              speed: Number(s.speed ?? 0),
            },
          }
        : {}),
    };
  } catch {
    return { level: 'raw', msg: trimmed };
  }
}

export function runRclone(options: RcloneRunOptions): Promise<RcloneRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.bin, [...options.args], { env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const errors: string[] = [];
    let pending = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.killAfterMs ?? 10 * 60_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      pending += c;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = parseLogLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        if (!line) continue;
        if (line.level === 'error' || line.level === 'critical' || line.level === 'raw') errors.push(line.msg);
        options.onLog?.(line);
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = parseLogLine(pending);
      if (last && (last.level === 'error' || last.level === 'raw')) errors.push(last.msg);
      resolve({ code, stdout: Buffer.concat(out), errors, timedOut });
    });
    child.stdin.on('error', () => {});
    if (options.stdin) child.stdin.end(options.stdin);
    else child.stdin.end();
  });
}
