// A Sealpost instance for the reliability tests: the real `bin/sealpost serve` in a child process on a
// temp data dir, with a domain and aliases created through the real CLI, restartable (kill -9 and start
// again on the same ports), every line it printed kept for the privacy sweep.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import Database from 'better-sqlite3-multiple-ciphers';
import { LISTENER_NAMES, PORT_SOURCES, dataLayout } from '../../server/config/index.js';
import { deriveAliasKeys } from '../../server/crypto/index.js';
import { Directory } from '../../server/directory/index.js';
import { closeContext, openContext } from '../../server/app.js';
import { silentLogger } from '../../server/log.js';
import { freePorts } from './ports.js';
import { SEALPOST_BIN, runCli, type CliResult } from './sealpost-cli.js';

export const RELIABILITY_DOMAIN = 'rel.sealpost.test';

export interface Ports {
  readonly smtp: number;
  readonly imap: number;
  readonly pop3: number;
}

export interface Instance {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly ports: Ports;
  /** Every stdout/stderr line of every `serve` run so far (JSON logs and listener lines). */
  readonly logs: string[];
  /** address → password of every alias created. */
  readonly passwords: Map<string, string>;
  cli(args: readonly string[], stdin?: string): Promise<CliResult>;
  /** Through the real CLI (`sealpost alias add --password-stdin`); ~3 s per call, so setup uses addAliasesInProcess. */
  addAlias(address: string, password?: string): Promise<string>;
  /** Starts `serve` and resolves once its listeners are up. */
  start(): Promise<ChildProcess>;
  /** SIGKILL (default) or SIGTERM; resolves once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  readonly child: ChildProcess | null;
  cleanup(): Promise<void>;
}

export interface InstanceOptions {
  readonly aliases?: readonly string[];
  readonly env?: Record<string, string>;
  /** Data dir to use (e.g. on a tmpfs); default: a new temp dir. */
  readonly dir?: string;
  readonly logLevel?: string;
}

/** A strong, test-unique password (the privacy sweep looks for it). */
export function newPassword(): string {
  return `Pw-${crypto.randomBytes(9).toString('base64url')}-pw`;
}

export async function createInstance(options: InstanceOptions = {}): Promise<Instance> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-rel-'));
  const [smtp, imap, pop3] = await freePorts(3);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SEALPOST_TEST: '1',
    SEALPOST_DATA: dir,
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_APP_KEY: crypto.randomBytes(32).toString('hex'),
    SEALPOST_LOG_LEVEL: options.logLevel ?? 'info',
    SEALPOST_HOST: '127.0.0.1',
    SEALPOST_HOSTNAME: `mx.${RELIABILITY_DOMAIN}`,
    SEALPOST_SMTP_AUTH_CHECKS: 'off',
    // Nothing in these tests leaves the machine; an unroutable resolver keeps any lookup local and fast.
    SEALPOST_DNS_SERVERS: '127.0.0.1:9',
    SEALPOST_DNS_TIMEOUT_MS: '500',
    SEALPOST_BACKUP_ENABLED: 'off',
  };
  for (const name of LISTENER_NAMES) env[PORT_SOURCES[name].env] = '0';
  env.SEALPOST_SMTP_PORT = String(smtp);
  env.SEALPOST_IMAP_PORT = String(imap);
  env.SEALPOST_POP3_PORT = String(pop3);
  Object.assign(env, options.env ?? {});

  const logs: string[] = [];
  const passwords = new Map<string, string>();
  let child: ChildProcess | null = null;

  const cli = (args: readonly string[], stdin?: string): Promise<CliResult> => runCli(['--data', dir, ...args], { env, stdin, timeoutMs: 120_000 });

  const instance: Instance = {
    dir,
    env,
    ports: { smtp, imap, pop3 },
    logs,
    passwords,
    cli,
    get child() {
      return child;
    },
    async addAlias(address, password = newPassword()) {
      const result = await cli(['alias', 'add', address, '--password-stdin'], `${password}\n`);
      if (result.code !== 0) throw new Error(`alias add ${address} failed: ${result.stderr}`);
      passwords.set(address, password);
      return password;
    },
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error('already running');
      const proc = spawn(process.execPath, [SEALPOST_BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let partial = '';
      const onData = (d: Buffer): void => {
        partial += d.toString('utf8');
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        logs.push(...parts.filter(Boolean));
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      // Ready when all three ports accept connections.
      const deadline = Date.now() + 60_000;
      for (const port of [smtp, imap, pop3]) {
        for (;;) {
          if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`serve exited early:\n${logs.slice(-20).join('\n')}`);
          if (await connects(port)) break;
          if (Date.now() > deadline) {
            proc.kill('SIGKILL');
            await exited;
            throw new Error(`serve did not open port ${port}:\n${logs.slice(-20).join('\n')}`);
          }
          await sleep(50);
        }
      }
      return proc;
    },
    async stop(signal = 'SIGKILL') {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
    async cleanup() {
      await instance.stop('SIGKILL');
      if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  const domain = await cli(['domain', 'add', RELIABILITY_DOMAIN]);
  if (domain.code !== 0) throw new Error(`domain add failed: ${domain.stderr}`);
  await addAliasesInProcess(instance, options.aliases ?? []);
  return instance;
}

/**
 * Creates aliases with the same call the CLI makes (Accounts.createAlias), in this process and one
 * context: a CLI process per alias costs ~3 s of start-up. The server must not be running.
 */
export async function addAliasesInProcess(instance: Instance, addresses: readonly string[]): Promise<void> {
  if (addresses.length === 0) return;
  const ctx = await openContext({ env: { ...instance.env, SEALPOST_LOG_LEVEL: 'error' } }, { logger: silentLogger() });
  try {
    for (const address of addresses) {
      const password = newPassword();
      await ctx.accounts.createAlias(address, password, { quotaBytes: null });
      instance.passwords.set(address, password);
    }
  } finally {
    await closeContext(ctx);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function connects(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** One SMTP connection (nodemailer), reused for many messages; send resolves on the server's 250. */
export function smtpTransport(port: number): nodemailer.Transporter {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: 1,
    maxMessages: Infinity,
    name: 'client.rel.test',
    connectionTimeout: 10_000,
    socketTimeout: 30_000,
  });
}

/** The Message-ID header of a raw message (tests give every message a unique one). */
export function messageIdOf(raw: Buffer | string): string {
  const text = typeof raw === 'string' ? raw : raw.subarray(0, 64 * 1024).toString('latin1');
  return /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(text)?.[1] ?? '';
}

/** A small unique message; its subject, token and Message-ID are returned for the checks and the privacy sweep. */
export function tinyMessage(to: string, label: string): { raw: Buffer; messageId: string; subject: string; token: string } {
  const token = `zr${crypto.randomBytes(5).toString('hex')}`;
  const subject = `Relsubj ${label} ${crypto.randomBytes(4).toString('hex')}`;
  const messageId = `<${crypto.randomUUID()}@sender.rel.test>`;
  const raw = Buffer.from(
    `From: Sender Person <sender@sender.rel.test>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: ${messageId}\r\n` +
      `Date: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
      `Hello, the secret word is ${token} and nothing else.\r\n`,
  );
  return { raw, messageId, subject, token };
}

/** PRAGMA integrity_check of an SQLite file encrypted with chacha20 under a raw 32-byte key ('ok' when sound). */
export function integrityCheck(file: string, rawKey: Buffer): string {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma("cipher='chacha20'");
    db.pragma(`key="x'${rawKey.toString('hex')}'"`);
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

/**
 * With the server stopped: the directory opens under the app key and every alias's mailbox file opens
 * under the key its password derives and passes integrity_check. Returns one line per problem (none = sound).
 */
export async function checkIntegrity(instance: Instance): Promise<string[]> {
  const problems: string[] = [];
  const layout = dataLayout(instance.dir);
  const appKey = Buffer.from(String(instance.env.SEALPOST_APP_KEY), 'hex');
  const directory = Directory.open(layout.directoryDb, appKey);
  try {
    for (const alias of directory.listAliases()) {
      const password = instance.passwords.get(alias.displayAddress) ?? instance.passwords.get(alias.address);
      if (password === undefined) {
        problems.push(`no password known for alias ${alias.id}`);
        continue;
      }
      const keys = await deriveAliasKeys(password, alias.salt, alias.kdf);
      const file = layout.mailboxFile(alias.mailboxId);
      if (!fs.existsSync(file)) {
        problems.push(`mailbox file of ${alias.id} is missing`);
        continue;
      }
      try {
        const result = integrityCheck(file, keys.mailboxKey);
        if (result !== 'ok') problems.push(`mailbox ${alias.mailboxId}: ${result}`);
      } catch (error) {
        problems.push(`mailbox ${alias.mailboxId} does not open: ${(error as Error).message}`);
      }
    }
  } finally {
    directory.close();
  }
  return problems;
}

/** Logs in over IMAP (imapflow) and returns the Message-IDs in each folder (missing folder → []). */
export async function messageIdsByFolder(port: number, user: string, password: string, folders: readonly string[] = ['INBOX']): Promise<Map<string, string[]>> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user, pass: password }, logger: false });
  await client.connect();
  const out = new Map<string, string[]>();
  try {
    const existing = new Set((await client.list()).map((f) => f.path));
    for (const folder of folders) {
      const ids: string[] = [];
      if (existing.has(folder)) {
        const lock = await client.getMailboxLock(folder);
        try {
          for await (const msg of client.fetch('1:*', { envelope: true }, { uid: true })) ids.push(msg.envelope?.messageId ?? '');
        } catch (error) {
          // an empty folder: FETCH 1:* is a BAD in some servers; imapflow throws
          if (client.mailbox && typeof client.mailbox === 'object' && client.mailbox.exists > 0) throw error;
        } finally {
          lock.release();
        }
      }
      out.set(folder, ids);
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
  return out;
}

/** Asserting helper: ids seen more than once. */
export function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const id of ids) (seen.has(id) ? twice : seen).add(id);
  return [...twice];
}
