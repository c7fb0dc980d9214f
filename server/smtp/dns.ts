// The one DNS resolver every mail module uses (mailauth SPF/DKIM/DMARC/ARC, MX lookups for outbound
// delivery, SRS/forwarding). Servers come from SEALPOST_DNS_SERVERS ("1.1.1.1, 127.0.0.1:5353,
// [::1]:53"); empty means the system resolvers. Tests point it at a real loopback DNS server.
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { stageStart, timeStage } from '../stages.js';

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

/** Record types mailauth asks for. */
export type MailauthRrType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME' | 'NS';

export interface DnsResolver {
  /** The servers in use ("host:port"); empty = system resolvers. */
  readonly servers: readonly string[];
  resolveMx(name: string): Promise<MxRecord[]>;
  /** TXT records, each as its character-strings (join them for SPF/DKIM/DMARC values). */
  resolveTxt(name: string): Promise<string[][]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  /**
   * The `resolver` option of mailauth: (name, rrtype) → records, rejecting with ENOTFOUND/ENODATA
   * like node's dns module (mailauth maps those codes to "none" and anything else to "temperror").
   */
  readonly mailauth: (name: string, rrtype: string) => Promise<unknown[]>;
}

export interface DnsResolverOptions {
  /** "host" or "host:port" or "[v6]:port"; default: the system resolvers. */
  readonly servers?: readonly string[];
  /** Per-try timeout in ms (default 5000). */
  readonly timeoutMs?: number;
  /** Tries per server (default 2). */
  readonly tries?: number;
}

export class DnsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsConfigError';
  }
}

/** Parses SEALPOST_DNS_SERVERS; throws DnsConfigError with one clear sentence. */
export function parseDnsServers(text: string | undefined): string[] {
  if (text === undefined || text.trim() === '') return [];
  const out: string[] = [];
  for (const raw of text.split(/[\s,]+/).filter(Boolean)) {
    let host = raw;
    let port: string | null = null;
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw);
    if (v6) {
      host = v6[1] ?? '';
      port = v6[2] ?? null;
    } else if (raw.split(':').length === 2) {
      [host, port] = raw.split(':') as [string, string];
    }
    const portNumber = port === null ? 53 : Number(port);
    if (!net.isIP(host) || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
      throw new DnsConfigError(`SEALPOST_DNS_SERVERS must list IP addresses with optional ports (like "127.0.0.1:5353, 1.1.1.1"), not ${JSON.stringify(raw)}.`);
    }
    out.push(net.isIPv6(host) ? `[${host}]:${portNumber}` : `${host}:${portNumber}`);
  }
  return out;
}

/** A resolver over the given servers (or the system ones). Node's c-ares client: UDP, TCP on truncation. */
export function createResolver(options: DnsResolverOptions = {}): DnsResolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 5000, tries: options.tries ?? 2 });
  const servers = options.servers ?? [];
  if (servers.length) resolver.setServers([...servers]);

  const mailauth = async (name: string, rrtype: string): Promise<unknown[]> => {
    switch (rrtype.toUpperCase()) {
      case 'A':
        return resolver.resolve4(name);
      case 'AAAA':
        return resolver.resolve6(name);
      case 'MX':
        return resolver.resolveMx(name);
      case 'TXT':
        return resolver.resolveTxt(name);
      case 'PTR':
        return resolver.resolvePtr(name);
      case 'CNAME':
        return resolver.resolveCname(name);
      case 'NS':
        return resolver.resolveNs(name);
      default:
        throw Object.assign(new Error(`unsupported DNS record type ${rrtype}`), { code: 'ENOTIMP' });
    }
  };

  return {
    servers,
    resolveMx: (name) => resolver.resolveMx(name),
    resolveTxt: (name) => resolver.resolveTxt(name),
    resolve4: (name) => resolver.resolve4(name),
    resolve6: (name) => resolver.resolve6(name),
    mailauth,
  };
}

/** The resolver configured by the environment (SEALPOST_DNS_SERVERS, SEALPOST_DNS_TIMEOUT_MS). */
export function resolverFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): DnsResolver {
  const timeout = Number(env.SEALPOST_DNS_TIMEOUT_MS ?? '');
  return createResolver({
    servers: parseDnsServers(env.SEALPOST_DNS_SERVERS),
    ...(Number.isInteger(timeout) && timeout > 0 ? { timeoutMs: timeout } : {}),
  });
}

export interface DnsCacheOptions {
  /** How long answers are reused (ms, default 60 s). Node's resolver gives no TTLs for TXT/MX, so one cap for all. */
  readonly ttlMs?: number;
  /** How long "no such record" (NXDOMAIN/NODATA) is reused (ms, default 30 s). Temporary failures never are. */
  readonly negativeTtlMs?: number;
  /** Most names kept (oldest dropped first; default 2000). */
  readonly maxEntries?: number;
}

/**
 * A small TTL cache in front of a resolver, for the MX: SPF/DKIM/DMARC of a busy sender domain ask the
 * same names for every message. Concurrent lookups of one name share one query. Answers are copied out,
 * so a caller that sorts or edits them cannot change what the next one gets. Only for paths where a
 * minute-old answer is right: the admin "check DNS" and outbound MTA-STS keep their uncached resolver.
 */
export function withDnsCache(inner: DnsResolver, options: DnsCacheOptions = {}): DnsResolver {
  const ttlMs = options.ttlMs ?? 60_000;
  const negativeTtlMs = options.negativeTtlMs ?? 30_000;
  const maxEntries = Math.max(1, options.maxEntries ?? 2000);
  if (ttlMs <= 0) return inner;
  const entries = new Map<string, { expires: number; answer: Promise<unknown> }>();

  const cached = <T>(type: string, name: string, lookup: () => Promise<T>): Promise<T> => {
    const key = `${type.toUpperCase()} ${name.toLowerCase().replace(/\.$/, '')}`;
    const now = Date.now();
    const hit = entries.get(key);
    if (hit && hit.expires > now) return hit.answer.then((value) => structuredClone(value) as T);
    if (hit) entries.delete(key);
    const answer = timeStage(stageStart('dns.lookup'), lookup());
    const entry = { expires: now + ttlMs, answer: answer as Promise<unknown> };
    entries.set(key, entry);
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    answer.catch((error: unknown) => {
      if (entries.get(key) !== entry) return;
      if (isNoRecordError(error) && negativeTtlMs > 0) entry.expires = Date.now() + negativeTtlMs;
      else entries.delete(key);
    });
    return answer.then((value) => structuredClone(value));
  };

  return {
    servers: inner.servers,
    resolveMx: (name) => cached('MX', name, () => inner.resolveMx(name)),
    resolveTxt: (name) => cached('TXT', name, () => inner.resolveTxt(name)),
    resolve4: (name) => cached('A', name, () => inner.resolve4(name)),
    resolve6: (name) => cached('AAAA', name, () => inner.resolve6(name)),
    mailauth: (name, rrtype) => cached(rrtype, name, () => inner.mailauth(name, rrtype)),
  };
}

/** SEALPOST_DNS_CACHE_SECONDS: the MX's DNS cache lifetime (default 60; 0 turns it off). */
export function dnsCacheFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): DnsCacheOptions {
  const text = env.SEALPOST_DNS_CACHE_SECONDS;
  if (text === undefined || text.trim() === '') return {};
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) throw new DnsConfigError(`SEALPOST_DNS_CACHE_SECONDS must be a number of seconds (0 turns the cache off), not ${JSON.stringify(text)}.`);
  return { ttlMs: seconds * 1000, negativeTtlMs: Math.min(seconds * 1000, 30_000) };
}

/** True when a DNS error means "no such record" (as opposed to a temporary failure). */
export function isNoRecordError(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? (error as { code: unknown }).code : null;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}
