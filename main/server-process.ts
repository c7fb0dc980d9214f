// The `sealpost serve` child: spawn it, detect readiness from the listener lines it prints, restart it with
// backoff when it crashes, and stop it cleanly (SIGTERM, then SIGKILL after a timeout).
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

/** One line `serve` prints per bound listener (server/context.ts formatListener). */
export interface ServerListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly security: string;
}

/** How to start the child; asked again before every (re)start so the env can change (fresh keys, tokens). */
export interface ServerCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface RunningServer {
  readonly pid: number;
  /** http(s)://host:port of the admin UI, reachable from this machine. */
  readonly adminOrigin: string;
  readonly listeners: readonly ServerListener[];
}

export type ServerState =
  | { readonly kind: 'starting' }
  | { readonly kind: 'running'; readonly server: RunningServer }
  | { readonly kind: 'restarting'; readonly attempt: number; readonly delayMs: number; readonly reason: string }
  | { readonly kind: 'stopping' }
  | { readonly kind: 'stopped'; readonly exitCode: number | null }
  | { readonly kind: 'failed'; readonly reason: string };

export interface SupervisorOptions {
  readonly command: () => Promise<ServerCommand> | ServerCommand;
  /** Called on every state change (the tray shows it). */
  readonly onState?: (state: ServerState) => void;
  /** Every stdout/stderr line of the child (pino JSON logs and listener lines), for the parent's log. */
  readonly onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Give up waiting for the admin listener line after this long (default 60 s). */
  readonly readyTimeoutMs?: number;
  /** Wait this long after SIGTERM before SIGKILL (default 15 s). */
  readonly stopTimeoutMs?: number;
  /** First restart delay after a crash; doubles per consecutive crash up to maxBackoffMs (defaults 1 s / 30 s). */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A run that stayed up this long resets the backoff (default 60 s). */
  readonly stableMs?: number;
  /** Consecutive failed restarts before giving up with state "failed" (default 8). */
  readonly maxRestarts?: number;
}

/** What serve prints before the listener lines of an in-process restart (server/cli/serve.ts). */
const RESTART_LINE = 'sealpost restarting';
const LISTENER_LINE = /^(\S+) listening on (\[[^\]]+\]|[^\s:]+):(\d+) \(([\w-]+)\)$/;

/** Parses "admin listening on 127.0.0.1:7080 (http)"; null for any other line (pino JSON logs…). */
export function parseListenerLine(line: string): ServerListener | null {
  const match = LISTENER_LINE.exec(line.trim());
  if (!match) return null;
  const [, name, rawHost, port, security] = match as unknown as [string, string, string, string, string];
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  return { name, host, port: Number(port), security };
}

/** The origin the window loads: wildcard binds are reached over loopback. */
export function adminOriginOf(listener: ServerListener): string {
  const scheme = listener.security === 'https' || listener.security === 'tls' ? 'https' : 'http';
  let host = listener.host;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${listener.port}`;
}

interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly startedAt: number;
  server: RunningServer | null;
  /** Last lines of output, for the error the user sees when a start fails. */
  readonly tail: string[];
}

export class ServerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerStartError';
  }
}

/** Keeps one `sealpost serve` child alive until stop(). */
export class ServerSupervisor {
  private run: Run | null = null;
  private currentState: ServerState = { kind: 'stopped', exitCode: null };
  private stopping = false;
  private crashes = 0;
  /** Set once a child reached readiness: later exits are crashes (restart), not a broken setup (fail). */
  private everRan = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private waiters: { resolve: (server: RunningServer) => void; reject: (error: Error) => void }[] = [];
  private readonly options: Required<Omit<SupervisorOptions, 'onState' | 'onOutput'>> & Pick<SupervisorOptions, 'onState' | 'onOutput'>;

  constructor(options: SupervisorOptions) {
    this.options = {
      readyTimeoutMs: 60_000,
      stopTimeoutMs: 15_000,
      initialBackoffMs: 1000,
      maxBackoffMs: 30_000,
      stableMs: 60_000,
      maxRestarts: 8,
      ...options,
    };
  }

  get state(): ServerState {
    return this.currentState;
  }

  /** The pid of the current child, if one is alive. */
  get pid(): number | null {
    return this.run?.child.pid ?? null;
  }

  /** Starts the first child; resolves once it printed its admin listener, rejects if it exits or hangs first. */
  async start(): Promise<RunningServer> {
    if (this.run || this.restartTimer) return this.ready();
    this.stopping = false;
    this.crashes = 0;
    this.everRan = false;
    this.setState({ kind: 'starting' });
    const ready = this.ready();
    await this.spawnRun();
    return ready;
  }

  /** Resolves with the running server (now, or once a pending restart is up); rejects if it fails or stops. */
  ready(): Promise<RunningServer> {
    const state = this.currentState;
    if (state.kind === 'running') return Promise.resolve(state.server);
    if (state.kind === 'failed') return Promise.reject(new ServerStartError(state.reason));
    if (this.stopping && state.kind === 'stopped') return Promise.reject(new ServerStartError('The server was stopped.'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** SIGTERM, wait up to stopTimeoutMs, then SIGKILL. Resolves with the child's exit code (null if killed). */
  async stop(): Promise<number | null> {
    this.stopping = true;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
    const run = this.run;
    if (!run) {
      this.setState({ kind: 'stopped', exitCode: null });
      this.rejectWaiters(new ServerStartError('The server was stopped.'));
      return null;
    }
    this.setState({ kind: 'stopping' });
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGTERM');
    const timer = setTimeout(() => run.child.kill('SIGKILL'), this.options.stopTimeoutMs);
    const code = await run.exited;
    clearTimeout(timer);
    return code;
  }

  private async spawnRun(): Promise<void> {
    this.setState({ kind: 'starting' });
    let command: ServerCommand;
    try {
      command = await this.options.command();
    } catch (error) {
      this.fail(`Could not prepare the server: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (this.stopping) return;
    const child = spawn(command.command, [...command.args], { env: command.env, cwd: command.cwd, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const run: Run = { child, exited, startedAt: Date.now(), server: null, tail: [] };
    this.run = run;
    let listeners: ServerListener[] = [];
    const readyTimer = setTimeout(() => {
      if (run.server) return;
      run.tail.push(`(no admin listener after ${Math.round(this.options.readyTimeoutMs / 1000)} s)`);
      child.kill('SIGKILL');
    }, this.options.readyTimeoutMs);

    const remember = (line: string, stream: 'stdout' | 'stderr'): void => {
      run.tail.push(line);
      if (run.tail.length > 20) run.tail.shift();
      this.options.onOutput?.(line, stream);
    };
    readline.createInterface({ input: child.stderr! }).on('line', (line) => remember(line, 'stderr'));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line, 'stdout');
      // serve restarted itself in place (the owner's "Restart Sealpost now"): the listener lines that follow
      // are the new ones, and the admin origin may have moved.
      if (line.trim() === RESTART_LINE && run.server) {
        run.server = null;
        listeners = [];
        if (!this.stopping) this.setState({ kind: 'starting' });
        return;
      }
      const listener = parseListenerLine(line);
      if (!listener || run.server) return;
      listeners.push(listener);
      // serve prints its listener lines only after every service started, so the admin line means ready.
      if (listener.name !== 'admin') return;
      clearTimeout(readyTimer);
      run.server = { pid: child.pid ?? -1, adminOrigin: adminOriginOf(listener), listeners };
      if (this.stopping) return;
      this.setState({ kind: 'running', server: run.server });
      for (const waiter of this.waiters.splice(0)) waiter.resolve(run.server);
    });
    child.once('error', (error) => remember(`could not start ${command.command}: ${error.message}`, 'stderr'));
    void exited.then((code) => {
      clearTimeout(readyTimer);
      this.onExit(run, code);
    });
  }

  private onExit(run: Run, code: number | null): void {
    if (this.run !== run) return;
    this.run = null;
    if (this.stopping) {
      this.setState({ kind: 'stopped', exitCode: code });
      this.rejectWaiters(new ServerStartError('The server was stopped.'));
      return;
    }
    const signal = run.child.signalCode;
    const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
    const detail = lastError(run.tail);
    if (!this.everRan) {
      // The very first start failed (port taken, bad config, wrong key): retrying will not help; say why.
      this.fail(`The mail server could not start (${why}).${detail ? ` ${detail}` : ''}`);
      return;
    }
    if (run.server && Date.now() - run.startedAt >= this.options.stableMs) this.crashes = 0;
    this.crashes += 1;
    if (this.crashes > this.options.maxRestarts) {
      this.fail(`The mail server keeps stopping (${why}); gave up after ${this.options.maxRestarts} restarts.${detail ? ` ${detail}` : ''}`);
      return;
    }
    const delayMs = Math.min(this.options.maxBackoffMs, this.options.initialBackoffMs * 2 ** (this.crashes - 1));
    this.setState({ kind: 'restarting', attempt: this.crashes, delayMs, reason: why });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      void this.spawnRun();
    }, delayMs);
  }

  private fail(reason: string): void {
    this.setState({ kind: 'failed', reason });
    this.rejectWaiters(new ServerStartError(reason));
  }

  private rejectWaiters(error: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  private setState(state: ServerState): void {
    if (state.kind === 'running') this.everRan = true;
    this.currentState = state;
    this.options.onState?.(state);
  }
}

/** The most useful line of a failed start: the last plain-text line, or the last JSON log's msg. */
function lastError(tail: readonly string[]): string {
  for (let i = tail.length - 1; i >= 0; i--) {
    const line = (tail[i] ?? '').trim();
    if (!line) continue;
    if (!line.startsWith('{')) return line.slice(0, 300);
    try {
      const parsed: unknown = JSON.parse(line);
      const msg = (parsed as { msg?: unknown }).msg;
      const level = (parsed as { level?: unknown }).level;
      if (typeof msg === 'string' && typeof level === 'number' && level >= 50) return msg.slice(0, 300);
    } catch {}
  }
  return '';
}
