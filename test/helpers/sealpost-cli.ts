// Runs the real `bin/sealpost` in a child process (tests of the CLI and of `serve`).
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SEALPOST_BIN = fileURLToPath(new URL('../../bin/sealpost', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A temp data dir and an environment that never touches the user's keychain or data. */
export function tempDataDir(): { dir: string; env: NodeJS.ProcessEnv; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SEALPOST_DATA: dir,
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex'),
    SEALPOST_LOG_LEVEL: 'warn',
    // ManageSieve's default is its usual fixed port (4190): tests that want it pass a free one
    SEALPOST_MANAGESIEVE_PORT: '0',
  };
  return { dir, env, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `sealpost ...args` to completion, feeding stdin if given. */
export function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SEALPOST_BIN, ...args], { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

export interface ServeProcess {
  readonly child: ChildProcess;
  /** Plain (non-JSON) stdout lines so far: the "<name> listening on host:port (security)" lines. */
  readonly lines: string[];
  /** Everything on stdout/stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process exits. */
  readonly exited: Promise<number | null>;
}

/**
 * Stops `serve` with SIGTERM and resolves with its exit code. A serve that has not exited after `graceMs` is
 * killed and the call rejects with its output, so a shutdown that hangs fails its test with the reason instead
 * of holding the whole test file until the runner's timeout.
 */
export async function stopServe(serve: ServeProcess, graceMs = 60_000): Promise<number | null> {
  if (serve.child.exitCode !== null || serve.child.signalCode !== null) return serve.exited;
  serve.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  try {
    const code = await Promise.race([serve.exited, late]);
    if (code !== 'late') return code;
  } finally {
    clearTimeout(timer);
  }
  serve.child.kill('SIGKILL');
  await serve.exited;
  throw new Error(`serve did not exit within ${graceMs / 1000} s of SIGTERM; killed. Its output:\n${serve.output().slice(-8000)}`);
}

/** Starts `sealpost serve ...args` and resolves once `expectedListeners` listener lines are printed. */
export function startServe(args: readonly string[], env: NodeJS.ProcessEnv, expectedListeners: number, timeoutMs = 60_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [SEALPOST_BIN, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let all = '';
  let buffered = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not print ${expectedListeners} listeners in time:\n${all}`));
    }, timeoutMs);
    const proc: ServeProcess = { child, lines, output: () => all, exited };
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (all += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      all += d;
      buffered += d;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) if (line && !line.startsWith('{')) lines.push(line);
      if (lines.length >= expectedListeners) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (lines.length < expectedListeners) reject(new Error(`serve exited (${code}) before printing its listeners:\n${all}`));
    });
  });
}
