// /api/hostname: the mail host name and the public IP behind a NAT, checked (policy + DNS through the same
// resolver the mail modules use) and saved. The first-run step and Settings both use it.
import type { FastifyInstance } from 'fastify';
import { UserError } from '../config/errors.js';
import { hostnamePolicy, parsePublicIps, publicIpsFrom, PUBLIC_IP_SETTING } from '../config/hostname.js';
import { checkHostname, DEFAULT_MAX_DOMAINS, rememberedHostnameFindings, rememberHostnameCheck, type HostnameReport } from '../ops/hostname-check.js';
import { resolverFromEnv } from '../smtp/dns.js';
import type { AdminDeps } from './http.js';

interface HostnameBody {
  hostname: string;
  /** "203.0.113.7, 2001:db8::7"; '' clears the saved public IP. */
  publicIp?: string;
}

const body = {
  type: 'object',
  required: ['hostname'],
  additionalProperties: false,
  properties: {
    hostname: { type: 'string', minLength: 1, maxLength: 300 },
    publicIp: { type: 'string', maxLength: 200 },
  },
} as const;

const positive = (text: string | undefined, fallback: number): number => {
  const n = Number(text ?? '');
  return Number.isInteger(n) && n > 0 ? n : fallback;
};

/** DNS checks one admin may have running at once (SEALPOST_HOSTNAME_CHECK_CONCURRENCY, default 2). */
export const DEFAULT_CHECK_CONCURRENCY = 2;

/**
 * Dashboard warnings about the host name: the cheap half of the check (no DNS: a name other servers cannot find
 * us by), and what the last DNS check of the name in use found (at start, or from the host name card).
 */
export function hostnameWarnings(hostname: string, settings: Parameters<typeof rememberedHostnameFindings>[0]): { code: string; message: string }[] {
  const cheap = hostnamePolicy(hostname).findings.filter((f) => f.severity === 'warn' || f.severity === 'error');
  const dns = rememberedHostnameFindings(settings, hostname).filter((f) => !cheap.some((c) => c.code === f.code));
  return [...cheap, ...dns].map((f) => ({ code: `HOSTNAME_${f.code}`, message: `Mail host name: ${f.message}` }));
}

/** The name to save, in its DNS form; a UserError (400, one sentence) for an IP literal or bad syntax. A name that is only not fully qualified may be saved (loopback-only installs). */
export function checkedHostname(input: string): string {
  const policy = hostnamePolicy(input);
  if (policy.ascii === null || policy.findings.some((f) => f.severity === 'error')) {
    throw new UserError(policy.findings[0]?.message ?? 'That is not a host name.', 'BAD_HOSTNAME');
  }
  return policy.ascii;
}

export function registerHostnameRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const { ctx, events } = deps;
  const env = ctx.config.env;
  const concurrency = positive(env.SEALPOST_HOSTNAME_CHECK_CONCURRENCY, DEFAULT_CHECK_CONCURRENCY);
  const maxDomains = positive(env.SEALPOST_HOSTNAME_CHECK_MAX_DOMAINS, DEFAULT_MAX_DOMAINS);
  let running = 0;

  /** Runs one check, bounded: each asks DNS several times, so a flood of them is refused, not queued. */
  const check = async (hostname: string, publicIps: readonly string[]): Promise<HostnameReport> => {
    if (running >= concurrency) throw new UserError(`${running} host name checks are already running; wait for them to finish, then check again.`, 'TOO_MANY_ATTEMPTS');
    running += 1;
    try {
      const domains = ctx.directory.listDomains().map((d) => d.name);
      const report = await checkHostname({ hostname, domains, publicIps, maxDomains }, resolverFromEnv(env));
      // a check of the name in use (with the public IPs in use) refreshes the dashboard's warnings
      if (hostname === ctx.config.hostname && publicIps.join(',') === savedPublicIps().join(',')) rememberHostnameCheck(ctx.directory, report);
      return report;
    } finally {
      running -= 1;
    }
  };

  const savedPublicIps = (): string[] => {
    try {
      return publicIpsFrom(env, ctx.directory.getSettings());
    } catch {
      return []; // a bad value is reported by doctor; the check then uses the interface addresses
    }
  };

  const requestedIps = (text: string | undefined): string[] => {
    if (text === undefined) return savedPublicIps();
    if (text.trim() === '') return [];
    try {
      return parsePublicIps(text, 'The public IP');
    } catch (error) {
      throw new UserError(error instanceof Error ? error.message : String(error), 'BAD_PUBLIC_IP');
    }
  };

  const view = async (): Promise<Record<string, unknown>> => {
    const saved = ctx.directory.getSettings();
    return {
      running: ctx.config.hostname,
      saved: typeof saved.hostname === 'string' ? saved.hostname : null,
      // The environment wins over the saved setting (configuration precedence): say so where it is edited.
      overriddenBy: env.SEALPOST_HOSTNAME ? 'SEALPOST_HOSTNAME' : null,
      publicIp: { saved: typeof saved[PUBLIC_IP_SETTING] === 'string' ? saved[PUBLIC_IP_SETTING] : null, overriddenBy: env.SEALPOST_PUBLIC_IP ? 'SEALPOST_PUBLIC_IP' : null, effective: savedPublicIps() },
      report: await check(ctx.config.hostname, savedPublicIps()),
    };
  };

  app.get('/api/hostname', async () => view());

  // Checks a name without saving it (the first-run step's "Check" button).
  app.post<{ Body: HostnameBody }>('/api/hostname/check', { schema: { body } }, async (request) => ({ report: await check(request.body.hostname, requestedIps(request.body.publicIp)) }));

  app.put<{ Body: HostnameBody }>('/api/hostname', { schema: { body } }, async (request) => {
    const ascii = checkedHostname(request.body.hostname);
    const publicIps = requestedIps(request.body.publicIp);
    ctx.directory.transaction(() => {
      // Saved in its DNS form (A-labels): greetings, the certificate and the DNS helper need it so.
      ctx.directory.setSetting('hostname', ascii);
      if (request.body.publicIp !== undefined) ctx.directory.setSetting(PUBLIC_IP_SETTING, publicIps.length ? publicIps.join(', ') : undefined);
    });
    events.add('settings.saved', { keys: request.body.publicIp !== undefined ? 2 : 1 });
    return { saved: ascii, restartRequired: !env.SEALPOST_HOSTNAME && ascii !== ctx.config.hostname, overriddenBy: env.SEALPOST_HOSTNAME ? 'SEALPOST_HOSTNAME' : null, report: await check(ascii, publicIps) };
  });
}
