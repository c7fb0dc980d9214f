// Sealpost for the side-by-side benchmark: `bin/sealpost serve` on a temp data dir, the domain and the
// first alias created with the real CLI, the other benchmark aliases with the same Accounts.createAlias
// call in one process (a CLI process per alias costs seconds of start-up, not what we measure).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { closeContext, openContext } from '../../server/app.js';
import type { AppContext } from '../../server/context.js';
import { LISTENER_NAMES, PORT_SOURCES } from '../../server/config/index.js';
import { silentLogger } from '../../server/log.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/sealpost', import.meta.url));

export interface SealpostInstance {
  readonly dir: string;
  readonly pid: number;
  readonly ports: { readonly smtp: number; readonly imap: number; readonly pop3: number };
  stop(): Promise<void>;
  /** Stops and starts `serve` again on the same data dir and ports (a fresh heap). */
  restart(): Promise<void>;
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startSealpost(options: {
  dir: string;
  domain: string;
  ports: { smtp: number; imap: number; pop3: number };
  users: ReadonlyMap<string, string>;
  /** Node flags for the `serve` child, before the script (e.g. --cpu-prof). */
  execArgv?: readonly string[];
  /** Environment for the `serve` child only, over the defaults above (e.g. SEALPOST_PROFILE_STAGES). */
  extraEnv?: Readonly<Record<string, string>>;
  /**
   * Runs in-process on the data dir before every start of `serve` (the first and each restart()), while no
   * server holds it: e.g. filling a large mailbox through the store API. Must be safe to call again.
   */
  beforeServe?: (ctx: AppContext) => Promise<void>;
}): Promise<SealpostInstance> {
  const { dir, domain, ports, users } = options;
  const serveOptions = { execArgv: options.execArgv ?? [], extraEnv: options.extraEnv ?? {} };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SEALPOST_DATA: path.join(dir, 'data'),
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex'),
    SEALPOST_LOG_LEVEL: 'warn',
    SEALPOST_HOST: '127.0.0.1',
    SEALPOST_HOSTNAME: `mx.${domain}`,
    // Dovecot's LMTP does no SPF/DKIM/DMARC either; like for like.
    SEALPOST_SMTP_AUTH_CHECKS: 'off',
    SEALPOST_DNS_SERVERS: '127.0.0.1:9',
    SEALPOST_BACKUP_ENABLED: 'off',
  };
  for (const name of LISTENER_NAMES) env[PORT_SOURCES[name].env] = '0';
  env.SEALPOST_SMTP_PORT = String(ports.smtp);
  env.SEALPOST_IMAP_PORT = String(ports.imap);
  env.SEALPOST_POP3_PORT = String(ports.pop3);

  const entries = [...users];
  const [first, ...rest] = entries;
  await run(process.execPath, [BIN, 'domain', 'add', domain], { env });
  if (first) {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'alias', 'add', `${first[0]}@${domain}`, '--password-stdin'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sealpost alias add: ${err}`))));
      child.stdin.end(`${first[1]}\n`);
    });
  }
  const ctx = await openContext({ env }, { logger: silentLogger() });
  try {
    for (const [user, password] of rest) await ctx.accounts.createAlias(`${user}@${domain}`, password, { quotaBytes: null });
  } finally {
    await closeContext(ctx);
  }
  const beforeServe = async (): Promise<void> => {
    if (!options.beforeServe) return;
    const hookCtx = await openContext({ env }, { logger: silentLogger() });
    try {
      await options.beforeServe(hookCtx);
    } finally {
      await closeContext(hookCtx);
    }
  };

  await beforeServe();
  let child: ChildProcess = await serve(env, ports, serveOptions);
  const instance: SealpostInstance = {
    dir,
    get pid() {
      return child.pid!;
    },
    ports,
    async stop() {
      await stopChild(child);
    },
    async restart() {
      await stopChild(child);
      await beforeServe();
      child = await serve(env, ports, serveOptions);
    },
  };
  return instance;
}

async function serve(
  env: NodeJS.ProcessEnv,
  ports: { smtp: number; imap: number; pop3: number },
  extra: { execArgv: readonly string[]; extraEnv: Readonly<Record<string, string>> } = { execArgv: [], extraEnv: {} },
): Promise<ChildProcess> {
  const child: ChildProcess = spawn(process.execPath, [...extra.execArgv, BIN, 'serve'], { env: { ...env, ...extra.extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const deadline = Date.now() + 60_000;
  for (const port of [ports.smtp, ports.imap, ports.pop3]) {
    while (!(await connects(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`sealpost serve did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Resident set of a process, bytes. */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s*(\d+)\s*kB/m.exec(status)?.[1] ?? 0) * 1024;
}

/** Proportional set size (shared pages divided among their users), bytes. */
export function pssBytes(pid: number): number {
  try {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s*(\d+)\s*kB/m.exec(rollup)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}
