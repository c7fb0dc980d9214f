// Configuration: defaults < saved settings (directory db) < SEALPOST_* environment < command-line flags.
// The data dir, log level and key sources cannot come from saved settings: they are needed to open the db.
import os from 'node:os';
import path from 'node:path';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import { ConfigError } from './errors.js';
import { defaultDataDir } from './paths.js';

export { UserError, ConfigError, isUserError } from './errors.js';
export { dataLayout, defaultDataDir, ensureDataDir, type DataLayout } from './paths.js';

export type Env = Readonly<Record<string, string | undefined>>;

export const LISTENER_NAMES = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'managesieve', 'admin', 'http', 'https'] as const;
export type ListenerName = (typeof LISTENER_NAMES)[number];
export type Ports = { readonly [K in ListenerName]: number };

export const DEFAULT_PORTS: Ports = {
  smtp: 2525,
  submission: 1587,
  submissions: 1465,
  imap: 1143,
  imaps: 1993,
  pop3: 1110,
  pop3s: 1995,
  // ManageSieve (RFC 5804): its usual port 4190 needs no privileges.
  managesieve: 4190,
  admin: 7080,
  // ACME challenges and the MTA-STS policy (server/certs/): off unless set; public CAs dial 80 and 443.
  http: 0,
  https: 0,
};

/** How each listener is named in the environment, on the command line and in saved settings. */
export const PORT_SOURCES: { readonly [K in ListenerName]: { env: string; flag: string; setting: string } } = {
  smtp: { env: 'SEALPOST_SMTP_PORT', flag: '--smtp-port', setting: 'smtpPort' },
  submission: { env: 'SEALPOST_SUBMISSION_PORT', flag: '--submission-port', setting: 'submissionPort' },
  submissions: { env: 'SEALPOST_SUBMISSIONS_PORT', flag: '--submissions-port', setting: 'submissionsPort' },
  imap: { env: 'SEALPOST_IMAP_PORT', flag: '--imap-port', setting: 'imapPort' },
  imaps: { env: 'SEALPOST_IMAPS_PORT', flag: '--imaps-port', setting: 'imapsPort' },
  pop3: { env: 'SEALPOST_POP3_PORT', flag: '--pop3-port', setting: 'pop3Port' },
  pop3s: { env: 'SEALPOST_POP3S_PORT', flag: '--pop3s-port', setting: 'pop3sPort' },
  managesieve: { env: 'SEALPOST_MANAGESIEVE_PORT', flag: '--managesieve-port', setting: 'managesievePort' },
  admin: { env: 'SEALPOST_ADMIN_PORT', flag: '--admin-port', setting: 'adminPort' },
  http: { env: 'SEALPOST_HTTP_PORT', flag: '--http-port', setting: 'httpPort' },
  https: { env: 'SEALPOST_HTTPS_PORT', flag: '--https-port', setting: 'httpsPort' },
};

/** Saved-setting keys (settings table) that feed the configuration. */
export const CONFIG_SETTING_KEYS = ['host', 'hostname', 'publicIp', 'tlsCert', 'tlsKey', ...LISTENER_NAMES.map((n) => PORT_SOURCES[n].setting)] as const;

export interface SealpostConfig {
  readonly dataDir: string;
  /** Address every listener binds to. */
  readonly host: string;
  /** Host name in greetings and the self-signed certificate. */
  readonly hostname: string;
  /** Port per listener; 0 = disabled. */
  readonly ports: Ports;
  readonly logLevel: LogLevel;
  /** The user's own certificate and key (PEM paths); null = the self-signed pair in tls/. */
  readonly tls: { readonly certPath: string | null; readonly keyPath: string | null };
  /** The environment the config was read from; key sources (SEALPOST_APP_KEY, SEALPOST_KEYCHAIN) read it too. */
  readonly env: Env;
}

/** Values given on the command line (commander's camelCase option names); all optional strings. */
export interface ConfigFlags {
  readonly data?: string;
  readonly host?: string;
  readonly hostname?: string;
  readonly logLevel?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly smtpPort?: string;
  readonly submissionPort?: string;
  readonly submissionsPort?: string;
  readonly imapPort?: string;
  readonly imapsPort?: string;
  readonly pop3Port?: string;
  readonly pop3sPort?: string;
  readonly managesievePort?: string;
  readonly adminPort?: string;
  readonly httpPort?: string;
  readonly httpsPort?: string;
}

export interface ConfigSources {
  readonly env?: Env;
  readonly flags?: ConfigFlags;
  /** Saved settings from the directory (key → JSON value). */
  readonly settings?: Readonly<Record<string, unknown>>;
}

const FLAG_KEY: { readonly [K in ListenerName]: keyof ConfigFlags } = {
  smtp: 'smtpPort',
  submission: 'submissionPort',
  submissions: 'submissionsPort',
  imap: 'imapPort',
  imaps: 'imapsPort',
  pop3: 'pop3Port',
  pop3s: 'pop3sPort',
  managesieve: 'managesievePort',
  admin: 'adminPort',
  http: 'httpPort',
  https: 'httpsPort',
};

interface Picked {
  readonly value: unknown;
  readonly source: string;
}

/** The highest-precedence value present: flag, then env, then saved setting. */
function pick(flag: string | undefined, flagName: string, env: Env, envName: string, settings: Readonly<Record<string, unknown>>, settingName: string): Picked | null {
  if (flag !== undefined) return { value: flag, source: flagName };
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: envName };
  if (settingName in settings && settings[settingName] !== null && settings[settingName] !== undefined) {
    return { value: settings[settingName], source: `saved setting ${settingName}` };
  }
  return null;
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

export function parsePort(value: unknown, source: string): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${source} must be a port number from 0 to 65535 (0 disables the listener), not ${show(value)}.`);
  }
  return port;
}

function parseText(value: unknown, source: string, what: string): string {
  if (typeof value !== 'string' || value.trim() === '' || /\s/.test(value.trim())) {
    throw new ConfigError(`${source} must be ${what}, not ${show(value)}.`);
  }
  return value.trim();
}

function parseLogLevel(value: unknown, source: string): LogLevel {
  const level = typeof value === 'string' ? value.trim().toLowerCase() : '';
  const found = LOG_LEVELS.find((l) => l === level);
  if (!found) throw new ConfigError(`${source} must be one of ${LOG_LEVELS.join(', ')}, not ${show(value)}.`);
  return found;
}

/** The data dir from --data, else SEALPOST_DATA, else the OS user-data dir. Saved settings cannot move it. */
export function resolveDataDir(env: Env = process.env, flags: ConfigFlags = {}): string {
  const chosen = flags.data ?? (env.SEALPOST_DATA ? env.SEALPOST_DATA : undefined);
  if (chosen !== undefined && chosen.trim() === '') throw new ConfigError('--data must name a directory.');
  return path.resolve(chosen ?? defaultDataDir(env));
}

export function defaultHostname(): string {
  try {
    return os.hostname() || 'localhost';
  } catch {
    return 'localhost';
  }
}

/** Builds and validates the configuration; throws ConfigError with one clear sentence. Pure apart from os.hostname(). */
export function loadConfig(sources: ConfigSources = {}): SealpostConfig {
  const env = sources.env ?? process.env;
  const flags = sources.flags ?? {};
  const settings = sources.settings ?? {};

  const ports = {} as { [K in ListenerName]: number };
  for (const name of LISTENER_NAMES) {
    const src = PORT_SOURCES[name];
    const picked = pick(flags[FLAG_KEY[name]], src.flag, env, src.env, settings, src.setting);
    ports[name] = picked ? parsePort(picked.value, picked.source) : DEFAULT_PORTS[name];
  }
  const seen = new Map<number, ListenerName>();
  for (const name of LISTENER_NAMES) {
    const port = ports[name];
    if (port === 0) continue;
    const other = seen.get(port);
    if (other) {
      throw new ConfigError(`The ${other} and ${name} listeners are both set to port ${port}; give each its own port (or 0 to disable one).`);
    }
    seen.set(port, name);
  }

  const hostPicked = pick(flags.host, '--host', env, 'SEALPOST_HOST', settings, 'host');
  const host = hostPicked ? parseText(hostPicked.value, hostPicked.source, 'an IP address or host name to listen on') : '127.0.0.1';
  const hostnamePicked = pick(flags.hostname, '--hostname', env, 'SEALPOST_HOSTNAME', settings, 'hostname');
  const hostname = hostnamePicked ? parseText(hostnamePicked.value, hostnamePicked.source, 'a host name') : defaultHostname();
  const levelPicked = pick(flags.logLevel, '--log-level', env, 'SEALPOST_LOG_LEVEL', {}, '');
  const logLevel = levelPicked ? parseLogLevel(levelPicked.value, levelPicked.source) : 'info';
  const certPicked = pick(flags.tlsCert, '--tls-cert', env, 'SEALPOST_TLS_CERT', settings, 'tlsCert');
  const keyPicked = pick(flags.tlsKey, '--tls-key', env, 'SEALPOST_TLS_KEY', settings, 'tlsKey');
  const certPath = certPicked ? path.resolve(parseText(certPicked.value, certPicked.source, 'a file path')) : null;
  const keyPath = keyPicked ? path.resolve(parseText(keyPicked.value, keyPicked.source, 'a file path')) : null;
  if ((certPath === null) !== (keyPath === null)) {
    throw new ConfigError('A TLS certificate and its private key must be given together (SEALPOST_TLS_CERT and SEALPOST_TLS_KEY).');
  }

  return {
    dataDir: resolveDataDir(env, flags),
    host,
    hostname,
    ports,
    logLevel,
    tls: { certPath, keyPath },
    env,
  };
}
