// Composition root: reads the configuration, opens the data dir (app key, directory, TLS, mailbox store,
// sealed queue, key ring, accounts), starts every service and stops them cleanly. No singletons elsewhere.
import { Accounts, appPasswordLimitsFromEnv, loginThrottleFromEnv, SieveFilter, sieveLimitsFromEnv } from './accounts/index.js';
import { createJunkFilter } from './accounts/junk-filter.js';
import { dataLayout, ensureDataDir, loadConfig, resolveDataDir, type ConfigSources, type SealpostConfig } from './config/index.js';
import { hostnamePolicy, needsAttention, publicIpsFrom } from './config/hostname.js';
import { TlsMaterial } from './config/tls.js';
import type { AppContext, Listener, Service } from './context.js';
import { KeyRing, wipe, type KdfParams } from './crypto/index.js';
import { Directory } from './directory/index.js';
import { loadAppKey } from './keychain/index.js';
import { createLogger, type Logger } from './log.js';
import { junkSettingsFromEnv } from './junk/index.js';
import { mailboxCompressionFromEnv, mailboxReadersFromEnv, openMailboxStore } from './mailbox/index.js';
import { mimeLimitsFromEnv } from './mime/limits.js';
import { ListenError } from './net.js';
import type { OutboundPort, OutboundService, RestartPort } from './ports.js';
import { attentionFindings, checkHostname, rememberHostnameCheck } from './ops/hostname-check.js';
import { openSealedQueue } from './queue/index.js';
import { resolverFromEnv } from './smtp/dns.js';
import { createOutboundService, openOutboundQueue } from './smtp/outbound/service.js';

export interface OpenContextOptions {
  /** Defaults to a pino logger on stdout at the configured level. */
  readonly logger?: Logger;
  /** KDF cost for new aliases (tests may lower it; production uses DEFAULT_KDF). */
  readonly kdf?: KdfParams;
  /** The `serve` loop's restart (the owner's "Restart Sealpost now"); absent elsewhere. */
  readonly restart?: RestartPort;
}

/** Opens everything a service or CLI command needs. Close it with closeContext. */
export async function openContext(sources: ConfigSources = {}, options: OpenContextOptions = {}): Promise<AppContext> {
  const env = sources.env ?? process.env;
  // Boot config: everything that cannot come from saved settings (data dir, log level) — validated early.
  const boot = loadConfig({ env, flags: sources.flags });
  const logger = options.logger ?? createLogger({ level: boot.logLevel });
  const paths = dataLayout(resolveDataDir(env, sources.flags));
  ensureDataDir(paths);
  const appKey = await loadAppKey(paths.root, { ...env });
  const directory = Directory.open(paths.directoryDb, appKey.key);
  const opened: { close(): unknown }[] = [directory];
  try {
    const config: SealpostConfig = loadConfig({ env, flags: sources.flags, settings: directory.getSettings() });
    const tls = await TlsMaterial.open({ tlsDir: paths.tlsDir, hostname: config.hostname, certPath: config.tls.certPath, keyPath: config.tls.keyPath, logger });
    opened.push(tls);
    const junk = junkSettingsFromEnv(env); // SEALPOST_JUNK_*
    const compression = mailboxCompressionFromEnv(env); // SEALPOST_MAILBOX_COMPRESSION
    const readerThreads = mailboxReadersFromEnv(env); // SEALPOST_MAILBOX_READERS
    const mailboxes = openMailboxStore(paths.root, { logger, junkLimits: junk.limits, compression, readerThreads });
    opened.push({ close: () => mailboxes.closeAll() });
    const queue = openSealedQueue(paths.root, appKey.key, { logger });
    opened.push(queue);
    // The ring's onDrop closes the mailbox through Accounts, which needs the ring: bind late.
    let accounts: Accounts | null = null;
    const keyRing = new KeyRing({ onDrop: (aliasId) => accounts?.handleKeysDropped(aliasId) });
    let outboundPort: OutboundPort | null = null;
    // Delivery filters in order: the junk classifier first, then the owner's Sieve script (it sees X-Sealpost-Junk).
    const junkFilter = createJunkFilter({ settings: junk, authservId: config.hostname, logger, aliasOn: (id) => directory.junkFilterOn(id) });
    const sieve = new SieveFilter({ outbound: () => outboundPort, hostname: config.hostname, logger, limits: sieveLimitsFromEnv(env) }); // SEALPOST_SIEVE_*
    accounts = new Accounts({
      directory, mailboxes, keyRing, queue, logger, kdf: options.kdf,
      throttle: loginThrottleFromEnv(env), // SEALPOST_LOGIN_*
      appPasswords: appPasswordLimitsFromEnv(env), // SEALPOST_APP_PASSWORD*
      deliveryFilters: [junkFilter, sieve],
    });
    const outbound = openOutboundQueue({ paths, appKey: appKey.key, logger, hostname: config.hostname, env, directory, accounts: () => accounts });
    opened.push(outbound);
    const port = outboundPortOf(outbound);
    outboundPort = port;
    if (appKey.warning) logger.warn({ event: 'app_key.file_fallback' }, appKey.warning);
    return {
      config,
      logger,
      paths,
      appKey: appKey.key,
      appKeyInfo: { source: appKey.source, warning: appKey.warning },
      directory,
      accounts,
      mailboxes,
      queue,
      keyRing,
      tls,
      outbound,
      outboundPort: port,
      ...(options.restart ? { restart: options.restart } : {}),
    };
  } catch (error) {
    for (const resource of opened.reverse()) await Promise.resolve(resource.close()).catch(() => undefined);
    throw error;
  }
}

/** The port engines queue outgoing mail through (submission, forwarding, later IMAP/POP3 and ops). */
function outboundPortOf(outbound: OutboundService): OutboundPort {
  return {
    enqueue: (message) => outbound.enqueue(message),
    drop: (id) => outbound.drop(id),
    dkimSign: (raw, domain) => outbound.dkim.sign(raw, domain),
  };
}

/** Drops every key, closes mailbox handles, the queue, the directory and the TLS watcher. */
export async function closeContext(ctx: AppContext): Promise<void> {
  ctx.keyRing.dropAll();
  await ctx.mailboxes.closeAll();
  await Promise.resolve(ctx.queue.close());
  ctx.outbound.close();
  ctx.tls.close();
  ctx.directory.close();
  wipe(ctx.appKey);
}

/**
 * The services `serve` runs, in start order, one line each. Protocol modules are imported here, lazily, so
 * one-shot CLI commands (which only need openContext) do not pay for loading every server.
 */
export async function buildServices(ctx: AppContext): Promise<Service[]> {
  // Parsing reads these per message; checking them here makes a malformed value stop serve with one sentence.
  mimeLimitsFromEnv(ctx.config.env);
  return [
    // ── services: one line each ─────────────────────────────────────────
    (await import('./control/service.js')).createControlService(ctx), // first: refuses a second serve on the data dir; CLI hand-off
    (await import('./certs/index.js')).createCertificatesService(ctx), // HTTP/HTTPS: ACME challenges, MTA-STS policy; ACME renewals
    (await import('./smtp/mx/index.js')).createMxService(ctx), // inbound MX
    (await import('./smtp/submission/index.js')).createSubmissionService(ctx),
    (await import('./imap/index.js')).createImapService(ctx), // IMAP (STARTTLS + implicit TLS)
    (await import('./pop3/index.js')).createPop3Service(ctx),
    (await import('./managesieve/index.js')).createManageSieveService(ctx), // ManageSieve: the alias's Sieve scripts
    (await import('./admin/index.js')).createAdminService(ctx), // admin API + UI + autoconfig
    createOutboundService(ctx), // outbound delivery worker
    (await import('./jobs/index.js')).createJobsService(ctx), // daily backups, retention, push to remotes
    // ── end of services ─────────────────────────────────────────────────
  ];
}

export interface RunningApp {
  readonly ctx: AppContext;
  readonly listeners: readonly Listener[];
  /** Stops services (sessions closed), then closes mailboxes and databases. Idempotent. */
  stop(): Promise<void>;
}

/** Opens the context and starts every service; if one fails to start, everything started is stopped again. */
export async function startApp(sources: ConfigSources = {}, options: OpenContextOptions = {}): Promise<RunningApp> {
  const ctx = await openContext(sources, options);
  let services: Service[];
  try {
    services = await buildServices(ctx);
  } catch (error) {
    await closeContext(ctx);
    throw error;
  }
  const started: Service[] = [];
  const listeners: Listener[] = [];
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const service of started.reverse()) {
        try {
          await service.stop();
        } catch (error) {
          ctx.logger.error({ event: 'service.stop_failed', service: service.name, err: error }, 'service did not stop cleanly');
        }
      }
      await closeContext(ctx);
      ctx.logger.info({ event: 'app.stopped' }, 'stopped');
    })();
    return stopping;
  };
  try {
    for (const service of services) {
      started.push(service);
      listeners.push(...(await service.start().catch((error: unknown) => Promise.reject(asListenError(service.name, error)))));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  // Bodies for the first FETCH are read by a thread that is already running (a CLI run leaves them unstarted).
  ctx.mailboxes.startReaders();
  ctx.logger.info({ event: 'app.started', listeners: listeners.length }, 'started');
  logHostnameFindings(ctx);
  return { ctx, listeners, stop };
}

/**
 * Never silent: a host name other servers cannot find us by is logged at every start; a fully qualified one
 * is also checked against DNS in the background (start-up never waits on DNS; SEALPOST_HOSTNAME_CHECK_AT_START=off skips it).
 */
function logHostnameFindings(ctx: AppContext): void {
  const warn = (code: string, message: string): void => ctx.logger.warn({ event: 'hostname.check', code }, message);
  const policy = hostnamePolicy(ctx.config.hostname);
  for (const finding of policy.findings.filter(needsAttention)) warn(finding.code, finding.message);
  // Under the test runner (SEALPOST_TEST=1) only when asked: a machine whose own name is fully qualified must not send test runs to the internet's DNS.
  const setting = ctx.config.env.SEALPOST_HOSTNAME_CHECK_AT_START ?? (ctx.config.env.SEALPOST_TEST === '1' ? 'off' : 'on');
  if (!policy.fqdn || /^(0|off|false|no)$/i.test(setting)) return;
  try {
    const input = { hostname: ctx.config.hostname, domains: ctx.directory.listDomains().map((d) => d.name), publicIps: publicIpsFrom(ctx.config.env, ctx.directory.getSettings()) };
    void checkHostname(input, resolverFromEnv(ctx.config.env)).then(
      (report) => {
        attentionFindings(report).forEach((f) => warn(f.code, f.message));
        rememberHostnameCheck(ctx.directory, report); // the dashboard shows them too
      },
      () => undefined,
    );
  } catch (error) {
    warn('CONFIG', error instanceof Error ? error.message : String(error)); // a malformed SEALPOST_PUBLIC_IP or SEALPOST_DNS_SERVERS
  }
}

/** A bind failure from any service becomes one sentence for the user (port taken, no permission). */
function asListenError(serviceName: string, error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof ListenError) return error;
  const { code, address, port } = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') return error;
  const where = address !== undefined && port !== undefined ? `${address}:${port}` : 'its address';
  const reason = code === 'EADDRINUSE' ? 'the port is already in use' : code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : 'the address is not available on this machine';
  return new ListenError(`Cannot open the ${serviceName} listener on ${where}: ${reason}.`);
}
