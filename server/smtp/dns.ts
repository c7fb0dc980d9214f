// The one DNS resolver every mail module uses (mailauth SPF/DKIM/DMARC/ARC, MX lookups for outbound
// delivery, SRS/forwarding). Servers come from SEALPOST_DNS_SERVERS ("1.1.1.1, 127.0.0.1:5353,
// [::1]:53"); empty means the system resolvers. Tests point it at a real loopback DNS server.
import { Resolver } from 'node:dns/promises';
import net from 'node:net';

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

/** True when a DNS error means "no such record" (as opposed to a temporary failure). */
export function isNoRecordError(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? (error as { code: unknown }).code : null;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}
