// sealpost install-service: writes a systemd unit that runs `bin/sealpost serve` as a dedicated user with the
// sandboxing systemd offers, and the one capability that lets it bind ports below 1024 without root.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { UserError } from '../config/index.js';

export const DEFAULT_UNIT_PATH = '/etc/systemd/system/sealpost.service';
export const DEFAULT_SERVICE_DATA = '/var/lib/sealpost';
export const DEFAULT_ENV_FILE = '/etc/sealpost/sealpost.env';

/** The standard mail ports a service on the internet listens on (RFC 5321, RFC 8314, RFC 9051, RFC 1939). */
export const STANDARD_PORTS = {
  SEALPOST_SMTP_PORT: 25,
  SEALPOST_SUBMISSION_PORT: 587,
  SEALPOST_SUBMISSIONS_PORT: 465,
  SEALPOST_IMAP_PORT: 143,
  SEALPOST_IMAPS_PORT: 993,
  SEALPOST_POP3_PORT: 110,
  SEALPOST_POP3S_PORT: 995,
} as const;

export interface UnitOptions {
  /** The account the service runs as (created by the admin: useradd --system). */
  readonly user: string;
  /** SEALPOST_DATA of the service; the only path it may write. */
  readonly dataDir: string;
  /** The Node.js binary. */
  readonly node: string;
  /** The Sealpost checkout or install (holds bin/sealpost). */
  readonly appDir: string;
  /** Address every listener binds to. */
  readonly host: string;
  /** Listen on 25/587/465/143/993/110/995 instead of the unprivileged defaults. */
  readonly standardPorts: boolean;
  /** Optional environment file (SEALPOST_APP_KEY, SEALPOST_HOSTNAME…), read when present. */
  readonly envFile: string;
}

// systemd unit values are not shell, but whitespace, quotes, backslashes, % (specifiers) and $ (variables)
// change their meaning; such paths are refused rather than escaped.
const SAFE_PATH = /^\/[A-Za-z0-9._/+@-]*$/;
const SAFE_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const SAFE_HOST = /^[A-Za-z0-9.:-]{1,253}$/;

function checkPath(value: string, option: string): string {
  if (!SAFE_PATH.test(value) || value.includes('/../') || value.endsWith('/..')) {
    throw new UserError(`${option} must be an absolute path of letters, digits and . _ - + @ / only, not ${JSON.stringify(value.slice(0, 100))}.`, 'BAD_OPTION', { hint: 'Choose a plain absolute path such as /var/lib/sealpost.' });
  }
  return path.normalize(value);
}

/** Paths under /home, /root or /run/user are hidden by ProtectHome=yes; they get read-only access instead. */
const underHome = (p: string): boolean => /^\/(home|root|run\/user)(\/|$)/.test(p);

/** The unit text. Pure: validates its input (one sentence per problem) and returns the file. */
export function systemdUnit(options: UnitOptions): string {
  if (!SAFE_USER.test(options.user)) throw new UserError(`--user must be a system user name (lower-case letters, digits, _ and -), not ${JSON.stringify(options.user.slice(0, 40))}.`, 'BAD_OPTION');
  if (!SAFE_HOST.test(options.host)) throw new UserError(`--host must be an IP address or host name to listen on, not ${JSON.stringify(options.host.slice(0, 100))}.`, 'BAD_OPTION');
  const dataDir = checkPath(options.dataDir, '--data-dir');
  const node = checkPath(options.node, '--node');
  const appDir = checkPath(options.appDir, '--app-dir');
  const envFile = checkPath(options.envFile, '--env-file');
  if (dataDir === '/' || /^\/(usr|etc|bin|sbin|lib|lib64|boot|proc|sys|dev)(\/|$)/.test(dataDir)) {
    throw new UserError(`--data-dir ${dataDir} is a system directory; give the service its own, such as ${DEFAULT_SERVICE_DATA}.`, 'BAD_OPTION');
  }
  const home = underHome(appDir) || underHome(node);
  const ports = options.standardPorts ? Object.entries(STANDARD_PORTS).map(([name, port]) => `Environment=${name}=${port}`) : [];
  return [
    '# Written by `sealpost install-service`. Reload with: systemctl daemon-reload',
    '[Unit]',
    'Description=Sealpost mail appliance (MX, submission, IMAP, POP3, admin)',
    'Documentation=file://' + path.join(appDir, 'docs', 'debian-home-server.md'),
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${options.user}`,
    `Group=${options.user}`,
    `ExecStart=${node} ${path.join(appDir, 'bin', 'sealpost')} serve`,
    `WorkingDirectory=${dataDir}`,
    'Restart=on-failure',
    'RestartSec=5s',
    // serve stops its sessions and closes the mailboxes on SIGTERM; give it time before SIGKILL.
    'TimeoutStopSec=60s',
    `Environment=SEALPOST_DATA=${dataDir}`,
    `Environment=SEALPOST_HOST=${options.host}`,
    // No desktop keychain on a server: the app key comes from SEALPOST_APP_KEY (env file) or a 0600 key file.
    'Environment=SEALPOST_KEYCHAIN=off',
    'Environment=NODE_ENV=production',
    ...ports,
    `EnvironmentFile=-${envFile}`,
    'UMask=0077',
    '',
    '# Ports below 1024 without root: this one capability, nothing else.',
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
    'AmbientCapabilities=CAP_NET_BIND_SERVICE',
    'NoNewPrivileges=yes',
    '',
    '# Sandbox: the whole file system is read-only except the data dir.',
    'ProtectSystem=strict',
    `ReadWritePaths=${dataDir}`,
    home ? '# The app lives under a home directory: read-only there instead of hidden.' : null,
    home ? 'ProtectHome=read-only' : 'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallErrorNumber=EPERM',
    '# MemoryDenyWriteExecute=yes is left out on purpose: the V8 JIT needs writable+executable pages.',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ]
    .filter((line): line is string => line !== null)
    .join('\n');
}

/** Writes the unit to target; refuses with one sentence when it exists (unless force) or cannot be written. */
export function writeUnit(target: string, text: string, force: boolean): void {
  const file = path.resolve(target);
  let exists = false;
  try {
    const stat = fs.lstatSync(file);
    exists = true;
    if (!stat.isFile()) throw new UserError(`${file} exists and is not a regular file; choose another --path.`, 'UNIT_EXISTS');
  } catch (error) {
    if (error instanceof UserError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`Cannot look at ${file} (${(error as NodeJS.ErrnoException).code}); choose another --path.`, 'UNIT_UNWRITABLE');
  }
  if (exists && !force) throw new UserError(`${file} already exists; add --force to replace it, or --print to see the new unit first.`, 'UNIT_EXISTS');
  const dir = path.dirname(file);
  try {
    fs.accessSync(exists ? file : dir, fs.constants.W_OK);
  } catch {
    throw new UserError(`Cannot write ${file}: ${exists ? 'the file' : `the directory ${dir}`} is not writable by this user; run the command with sudo, or use --print and copy the unit there yourself.`, 'UNIT_UNWRITABLE');
  }
  // Write beside it and rename, so a half-written unit is never what systemd reads.
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(temp, text, { mode: 0o644, flag: 'wx' });
    fs.chmodSync(temp, 0o644); // a unit is world-readable (systemd and `systemctl cat`); it holds no secret
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw new UserError(`Cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}); run the command with sudo, or use --print.`, 'UNIT_UNWRITABLE');
  }
}

const APP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface InstallServiceFlags {
  path: string;
  print?: boolean;
  force?: boolean;
  user: string;
  dataDir: string;
  node: string;
  appDir: string;
  host: string;
  standardPorts: boolean;
  envFile: string;
}

export function installServiceCommand(): Command {
  return new Command('install-service')
    .description('write a hardened systemd unit that runs "sealpost serve" as a dedicated user')
    .addOption(new Option('--path <file>', 'where to write the unit').default(DEFAULT_UNIT_PATH))
    .option('--print', 'print the unit on stdout instead of writing it')
    .option('--force', 'replace an existing unit file')
    .addOption(new Option('--user <name>', 'the system user the service runs as').default('sealpost'))
    .addOption(new Option('--data-dir <dir>', "the service's data dir (SEALPOST_DATA)").default(DEFAULT_SERVICE_DATA))
    .addOption(new Option('--node <file>', 'the Node.js binary').default(process.execPath))
    .addOption(new Option('--app-dir <dir>', 'the Sealpost install holding bin/sealpost').default(APP_DIR))
    .addOption(new Option('--host <address>', 'address every listener binds to (SEALPOST_HOST)').default('0.0.0.0'))
    .option('--no-standard-ports', 'keep the unprivileged default ports (2525, 1587…) instead of 25/587/465/143/993/110/995')
    .addOption(new Option('--env-file <file>', 'environment file read when present (SEALPOST_APP_KEY, SEALPOST_HOSTNAME…)').default(DEFAULT_ENV_FILE))
    .action((flags: InstallServiceFlags) => {
      const text = systemdUnit({ user: flags.user, dataDir: flags.dataDir, node: flags.node, appDir: flags.appDir, host: flags.host, standardPorts: flags.standardPorts, envFile: flags.envFile });
      if (flags.print) {
        process.stdout.write(text);
        return;
      }
      writeUnit(flags.path, text, flags.force === true);
      process.stdout.write(
        [
          `Wrote ${path.resolve(flags.path)}. Next:`,
          `  useradd --system --home-dir ${flags.dataDir} --shell /usr/sbin/nologin ${flags.user}   (once)`,
          `  install -d -m 0700 -o ${flags.user} -g ${flags.user} ${flags.dataDir}`,
          '  systemctl daemon-reload && systemctl enable --now sealpost',
          '  journalctl -u sealpost -f   (the first start prints the one-time admin setup link)',
          '',
        ].join('\n'),
      );
    });
}
