// sealpost doctor: checks a data dir without changing it — permissions, app-key source, the directory,
// ports (telling the running Sealpost's own from conflicts), the mail host name and its DNS, rclone, TLS,
// and that no mailbox/queue file is readable without its key.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Command } from 'commander';
import { LISTENER_NAMES, dataLayout, loadConfig, resolveDataDir, type SealpostConfig } from '../config/index.js';
import { Directory } from '../directory/index.js';
import { loadAppKey } from '../keychain/index.js';
import { adminExposureWarning, adminTlsEnabled } from '../admin/exposure.js';
import { callServer } from '../control/client.js';
import { hostnamePolicy, publicIpsFrom } from '../config/hostname.js';
import { checkHostname, DEFAULT_MAX_DOMAINS, type HostnameFinding } from '../ops/hostname-check.js';
import { resolverFromEnv } from '../smtp/dns.js';
import { listeningPortsOf } from './own-ports.js';
import { rcloneVersion } from '../remote/index.js';
import { openSqlite } from '../sqlite.js';
import { printJson, withDataOption, type DataOptions } from './common.js';
import { checkCertificate } from './doctor-certs.js';
import { ACME_STATUS_SETTING } from '../config/acme.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  readonly status: CheckStatus;
  readonly check: string;
  readonly message: string;
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

export function doctorCommand(): Command {
  return withDataOption(new Command('doctor').description('check the data dir, keys, ports and tools; exits 1 if a check fails'))
    .option('--json', 'print the checks as JSON')
    .option('--no-dns', 'skip the DNS checks of the mail host name (A/AAAA, MX, reverse DNS)')
    .action(async (options: DataOptions & { json?: boolean; dns: boolean }) => {
      const checks = await runDoctor({ data: options.data }, process.env, { dns: options.dns });
      if (options.json) printJson(checks);
      else for (const c of checks) process.stdout.write(`${c.status.padEnd(4)}  ${c.check}: ${c.message}\n`);
      if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
    });
}

export async function runDoctor(flags: { data?: string }, env: NodeJS.ProcessEnv = process.env, options: { dns?: boolean } = {}): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (status: CheckStatus, check: string, message: string): void => {
    checks.push({ status, check, message });
  };
  const paths = dataLayout(resolveDataDir(env, flags));

  if (!fs.existsSync(paths.root)) {
    add('fail', 'data dir', `${paths.root} does not exist yet (it is created by "sealpost serve" or "sealpost domain add").`);
    return checks;
  }
  checkPermissions(paths.root, add);

  let config: SealpostConfig | null = null;
  let adminTls = false;
  let domainNames: string[] = [];
  let settings: Record<string, unknown> = {};
  let acmeStatus: unknown = undefined;
  if (!fs.existsSync(paths.directoryDb)) {
    add('warn', 'directory', 'sealpost.db does not exist yet; nothing to check inside the data dir.');
    // The app key is created together with sealpost.db; checking it now would create one.
  } else {
    try {
      const appKey = await loadAppKey(paths.root, { ...env });
      const where = appKey.source === 'env' ? 'SEALPOST_APP_KEY' : appKey.source === 'keychain' ? 'the OS keychain (service "sealpost")' : 'a key file in the data dir';
      if (appKey.warning) add('warn', 'app key', `from ${where}. ${appKey.warning}`);
      else add('ok', 'app key', `from ${where}.`);
      try {
        const directory = Directory.open(paths.directoryDb, appKey.key);
        try {
          const domains = directory.listDomains().length;
          const aliases = directory.listAliases().length;
          add('ok', 'directory', `sealpost.db opens with the app key (${domains} domain${domains === 1 ? '' : 's'}, ${aliases} alias${aliases === 1 ? '' : 'es'}).`);
          settings = directory.getSettings();
          domainNames = directory.listDomains().map((d) => d.name);
          config = loadConfig({ env, flags, settings });
          adminTls = adminTlsEnabled(env, directory);
          acmeStatus = directory.getSetting(ACME_STATUS_SETTING);
        } finally {
          directory.close();
        }
      } catch (error) {
        add('fail', 'directory', error instanceof Error ? error.message : String(error));
      }
    } catch (error) {
      add('fail', 'app key', error instanceof Error ? error.message : String(error));
    }
  }

  try {
    config ??= loadConfig({ env, flags });
  } catch (error) {
    add('fail', 'config', error instanceof Error ? error.message : String(error));
  }
  // A running server answers on the control socket; CLI changes are then made by it (server/control).
  const running = await runningServer(paths.root);
  if (running) add('ok', 'server', `a Sealpost server (pid ${running.pid}) is running on this data dir; mailbox changes from the CLI are done by it.`);
  if (config) await checkPorts(config, add, running);
  const exposure = config ? adminExposureWarning(config.host, config.ports.admin, adminTls) : null;
  if (exposure) add('warn', 'admin', exposure);
  if (config) await checkHostnameDns(config, domainNames, settings, env, add, options.dns !== false);

  await checkRclone(add, env);
  checkTls(paths.tlsDir, config, add);
  if (config) checkCertificate(paths.tlsDir, config, acmeStatus, add);
  checkEncryptedFiles(paths, add);
  return checks;
}

function checkPermissions(root: string, add: (s: CheckStatus, c: string, m: string) => void): void {
  const loose: string[] = [];
  const visit = (file: string, depth: number): void => {
    const stat = fs.lstatSync(file);
    if ((stat.mode & 0o077) !== 0) loose.push(`${path.relative(root, file) || '.'} (${(stat.mode & 0o777).toString(8)})`);
    if (stat.isDirectory() && depth < 2) for (const name of fs.readdirSync(file)) visit(path.join(file, name), depth + 1);
  };
  try {
    visit(root, 0);
  } catch (error) {
    add('fail', 'permissions', `cannot read ${root}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`);
    return;
  }
  const owner = fs.statSync(root).uid;
  if (typeof process.getuid === 'function' && owner !== process.getuid()) {
    add('warn', 'permissions', `${root} belongs to uid ${owner}, not to the user running this command.`);
  }
  if (loose.length === 0) add('ok', 'permissions', `${root} and its files are private to their owner.`);
  else add('warn', 'permissions', `readable by group or others: ${loose.slice(0, 5).join(', ')}${loose.length > 5 ? ` and ${loose.length - 5} more` : ''}; run: chmod -R go-rwx ${root}`);
}

function portFree(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(null)));
  });
}

interface RunningServer {
  readonly pid: number;
  /** Its listening TCP ports, or null when /proc cannot tell (then every busy configured port is taken to be its). */
  readonly ports: Set<number> | null;
}

/** The Sealpost serving this data dir, asked over its control socket, with the ports it listens on. */
async function runningServer(dataDir: string): Promise<RunningServer | null> {
  try {
    const answer = await callServer(dataDir, 'ping', {});
    if (!answer) return null;
    return { pid: answer.result.pid, ports: listeningPortsOf(answer.result.pid) };
  } catch {
    return null; // no server, or a socket that is not ours: the port check reports conflicts as they are
  }
}

async function checkPorts(config: SealpostConfig, add: (s: CheckStatus, c: string, m: string) => void, running: RunningServer | null): Promise<void> {
  const busy: string[] = [];
  const free: string[] = [];
  const ours: string[] = [];
  const disabled: string[] = [];
  for (const name of LISTENER_NAMES) {
    const port = config.ports[name];
    if (port === 0) {
      disabled.push(name);
      continue;
    }
    const problem = await portFree(config.host, port);
    if (problem === null) free.push(`${name} ${port}`);
    else if (problem === 'EADDRINUSE' && running && (running.ports === null || running.ports.has(port))) ours.push(`${name} ${port}`);
    else busy.push(`${name} ${port} (${problem === 'EADDRINUSE' ? 'in use by another program' : problem})`);
  }
  const parts = [
    ...(ours.length ? [`in use by this Sealpost (pid ${running?.pid}): ${ours.join(', ')}`] : []),
    ...(free.length ? [`free: ${free.join(', ')}`] : []),
    ...(disabled.length ? [`disabled: ${disabled.join(', ')}`] : []),
  ];
  if (busy.length) add('warn', 'ports', `on ${config.host}, not available: ${busy.join(', ')}${parts.length ? `; ${parts.join('; ')}` : ''}; stop the other program or give the listener another port.`);
  else add('ok', 'ports', `on ${config.host}, ${parts.join('; ')}.`);
}

const FINDING_CHECK: Readonly<Record<string, string>> = { ADDRESS: 'host name dns', ADDRESS_PRIVATE: 'host name dns', MX: 'mx', PTR: 'reverse dns' };

/** The mail host name: its policy always, its DNS (A/AAAA here, MX per domain, FCrDNS) unless --no-dns. */
async function checkHostnameDns(config: SealpostConfig, domains: readonly string[], settings: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv, add: (s: CheckStatus, c: string, m: string) => void, dns: boolean): Promise<void> {
  let publicIps: string[] = [];
  try {
    publicIps = publicIpsFrom(env, settings);
  } catch (error) {
    add('fail', 'host name', error instanceof Error ? error.message : String(error));
  }
  const maxDomains = Number(env.SEALPOST_HOSTNAME_CHECK_MAX_DOMAINS ?? '');
  const input = { hostname: config.hostname, domains: dns ? domains : [], publicIps, maxDomains: Number.isInteger(maxDomains) && maxDomains > 0 ? maxDomains : DEFAULT_MAX_DOMAINS };
  let report: { readonly findings: readonly HostnameFinding[] };
  try {
    report = dns ? await checkHostname(input, resolverFromEnv(env)) : hostnamePolicy(config.hostname);
  } catch (error) {
    // A malformed SEALPOST_DNS_SERVERS: one sentence, and the policy half still runs.
    add('fail', 'host name dns', error instanceof Error ? error.message : String(error));
    report = hostnamePolicy(config.hostname);
  }
  const status = (f: HostnameFinding): CheckStatus => (f.severity === 'error' ? 'fail' : f.severity === 'warn' ? 'warn' : 'ok');
  for (const finding of report.findings) add(status(finding), FINDING_CHECK[finding.code] ?? 'host name', finding.message);
  if (!dns) add('ok', 'host name dns', 'not checked (--no-dns).');
}

async function checkRclone(add: (s: CheckStatus, c: string, m: string) => void, env: NodeJS.ProcessEnv): Promise<void> {
  // The same lookup the remote sync uses (SEALPOST_RCLONE, then the bundled binary, then PATH).
  const info = await rcloneVersion(env);
  if (info) {
    add('ok', 'rclone', `${info.version} at ${info.path}.`);
    return;
  }
  if (env.SEALPOST_RCLONE) add('warn', 'rclone', `SEALPOST_RCLONE=${env.SEALPOST_RCLONE} is not an rclone that runs: remote backup sync (R2/S3) is unavailable.`);
  else add('warn', 'rclone', 'not found: remote backup sync (R2/S3) is unavailable; install rclone (e.g. apt-get install rclone).');
}

function checkTls(tlsDir: string, config: SealpostConfig | null, add: (s: CheckStatus, c: string, m: string) => void): void {
  const certFile = config?.tls.certPath ?? path.join(tlsDir, 'cert.pem');
  if (!fs.existsSync(certFile)) {
    add('warn', 'tls', config?.tls.certPath ? `${certFile} does not exist.` : 'no certificate yet (a self-signed one is made at the first "sealpost serve").');
    return;
  }
  try {
    const cert = new X509Certificate(fs.readFileSync(certFile));
    const days = Math.floor((Date.parse(cert.validTo) - Date.now()) / 86_400_000);
    const what = config?.tls.certPath ? 'your certificate' : 'self-signed certificate';
    if (days < 0) add('fail', 'tls', `${what} expired on ${cert.validTo}.`);
    else if (days < 14) add('warn', 'tls', `${what} expires in ${days} days.`);
    else add('ok', 'tls', `${what} for ${cert.subject.replace(/\n/g, ', ')}, valid for ${days} more days.`);
  } catch (error) {
    add('fail', 'tls', `cannot read ${certFile}: ${error instanceof Error ? error.message : String(error)}.`);
  }
}

/** Each mailbox/queue file and sealpost.db must show no SQLite header and refuse to open without a key. */
function checkEncryptedFiles(paths: ReturnType<typeof dataLayout>, add: (s: CheckStatus, c: string, m: string) => void): void {
  const files: string[] = [];
  if (fs.existsSync(paths.directoryDb)) files.push(paths.directoryDb);
  for (const dir of [paths.mailboxesDir, paths.queueDir]) {
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) if (name.endsWith('.sqlite')) files.push(path.join(dir, name));
  }
  if (fs.existsSync(paths.outboundDb)) files.push(paths.outboundDb);
  const readable: string[] = [];
  for (const file of files) {
    if (readableWithoutKey(file)) readable.push(path.relative(paths.root, file));
  }
  const mailboxes = files.filter((f) => f.startsWith(paths.mailboxesDir)).length;
  if (readable.length) add('fail', 'encryption', `readable without a key: ${readable.join(', ')}.`);
  else add('ok', 'encryption', `${files.length} database file${files.length === 1 ? '' : 's'} (${mailboxes} mailbox${mailboxes === 1 ? '' : 'es'}) unreadable without their keys.`);
}

export function readableWithoutKey(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(16);
    const n = fs.readSync(fd, head, 0, 16, 0);
    if (n === 0) return false; // empty file: nothing to read
    if (head.subarray(0, n).equals(SQLITE_HEADER.subarray(0, n))) return true;
  } finally {
    fs.closeSync(fd);
  }
  // The header looks random; confirm SQLite itself refuses it ("file is not a database").
  try {
    openSqlite(file, { key: null, profile: 'copy', readonly: true }).close();
    return true;
  } catch {
    return false;
  }
}
