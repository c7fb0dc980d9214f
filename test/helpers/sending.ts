// A running Sealpost (startApp) on a temp data dir for the submission/outbound/POP3 tests: chosen
// listeners on free ports, the rest disabled, a cheap KDF, the app key from the environment.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { startApp, type RunningApp } from '../../server/app.js';
import type { ListenerName } from '../../server/config/index.js';
import type { KdfParams } from '../../server/crypto/index.js';
import { silentLogger } from '../../server/log.js';
import { freePorts, listenerPort, listenerPortsEnv } from './ports.js';

/** Fast argon2id parameters for tests only (production uses DEFAULT_KDF). */
export const TEST_KDF: KdfParams = Object.freeze({ algorithm: 'argon2id', memoryKiB: 256, iterations: 1, parallelism: 1 });

export const TEST_PASSWORD = 'tidy-Orbit-9-walrus-Lantern';

export interface SendingApp {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly running: RunningApp;
  readonly port: (name: ListenerName) => number;
  stop(): Promise<void>;
}

export interface SendingAppOptions {
  readonly listeners: readonly ListenerName[];
  readonly env?: Record<string, string>;
  /** Reuse a data dir (restart); default: a new temp dir. */
  readonly dir?: string;
  readonly appKeyHex?: string;
}

export async function startSendingApp(options: SendingAppOptions): Promise<SendingApp> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
  const ports = await freePorts(options.listeners.length);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    SEALPOST_TEST: '1',
    SEALPOST_DATA: dir,
    SEALPOST_APP_KEY: options.appKeyHex ?? crypto.randomBytes(32).toString('hex'),
    SEALPOST_KEYCHAIN: 'off',
    SEALPOST_HOST: '127.0.0.1',
    SEALPOST_HOSTNAME: 'mail.sender.test',
    SEALPOST_LOG_LEVEL: 'silent',
  };
  Object.assign(env, listenerPortsEnv(options.listeners, ports));
  Object.assign(env, options.env ?? {});
  const running = await startApp({ env }, { logger: silentLogger(), kdf: TEST_KDF });
  return {
    dir,
    env,
    running,
    port: (name) => listenerPort(running, name),
    stop: () => running.stop(),
  };
}

