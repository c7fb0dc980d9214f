// MTA-STS (RFC 8461) for direct delivery: the policy id comes from `_mta-sts.<domain>` TXT (through our
// resolver), the policy file over HTTPS from `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
// The URL template is configurable (SEALPOST_MTA_STS_URL, `{domain}` placeholder) so tests can serve
// policies from a loopback HTTP server. An unfetchable policy is treated as "no policy" (RFC 8461 §5:
// a sender without a cached policy proceeds as if none existed).
// The policy host is dialled under the outbound address policy (targets.ts), like any MX: a domain cannot
// point mta-sts.<domain> at this machine, the LAN or the metadata address.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { resolvePolicy, parsePolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import type { DnsResolver } from '../dns.js';
import { guardedLookup, PUBLIC_TARGETS_ONLY, targetAddressRefusal, type OutboundTargetPolicy } from './targets.js';

const MAX_POLICY_BYTES = 64 * 1024;

/** GETs a policy file: 200 and at most 64 KiB, or null; redirects are not followed (RFC 8461 §3.3). */
function getPolicyText(url: URL, resolver: DnsResolver, targets: OutboundTargetPolicy, timeoutMs: number): Promise<string | null> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (net.isIP(host) && targetAddressRefusal(host, targets)) return Promise.resolve(null);
  const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!client) return Promise.resolve(null);
  return new Promise((resolve) => {
    const request = client.get(url, { lookup: guardedLookup(resolver, targets), agent: false, timeout: timeoutMs }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        return resolve(null);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (size < MAX_POLICY_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      response.once('end', () => resolve(Buffer.concat(chunks).subarray(0, MAX_POLICY_BYTES).toString('utf8')));
      response.once('error', () => resolve(null));
    });
    const deadline = setTimeout(() => request.destroy(), timeoutMs);
    request.once('close', () => clearTimeout(deadline));
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(null));
  });
}

export const DEFAULT_MTA_STS_URL = 'https://mta-sts.{domain}/.well-known/mta-sts.txt';

export interface MtaStsPolicy {
  readonly id: string;
  readonly mode: 'enforce' | 'testing' | 'none';
  readonly mx: readonly string[];
  /** max_age in seconds, as published (capped at one year). */
  readonly maxAge: number;
  readonly expires: number;
}

/** The policy as the lines of its file (the policy-string of a TLS report, RFC 8460 §4.3). */
export function policyLines(policy: MtaStsPolicy): string[] {
  return ['version: STSv1', `mode: ${policy.mode}`, ...policy.mx.map((mx) => `mx: ${mx}`), `max_age: ${policy.maxAge}`];
}

export class MtaSts {
  private readonly cache = new Map<string, MtaStsPolicy>();

  constructor(
    private readonly resolver: DnsResolver,
    private readonly urlTemplate: string = DEFAULT_MTA_STS_URL,
    private readonly targets: OutboundTargetPolicy = PUBLIC_TARGETS_ONLY,
    private readonly timeoutMs = 10_000,
  ) {}

  /** The domain's policy, or null when it publishes none or it cannot be fetched. */
  async policyFor(domain: string, now = Date.now()): Promise<MtaStsPolicy | null> {
    let id: string | false;
    try {
      id = await resolvePolicy(domain, { resolver: this.resolver.mailauth as never });
    } catch {
      id = false;
    }
    const cached = this.cache.get(domain);
    if (!id) return cached && cached.expires > now ? cached : null;
    if (cached && cached.id === id && cached.expires > now) return cached;
    const fetched = await this.fetchPolicy(domain, id, now);
    if (fetched) this.cache.set(domain, fetched);
    return fetched ?? (cached && cached.expires > now ? cached : null);
  }

  private async fetchPolicy(domain: string, id: string, now: number): Promise<MtaStsPolicy | null> {
    const url = this.urlTemplate.replaceAll('{domain}', encodeURIComponent(domain));
    try {
      const text = await getPolicyText(new URL(url), this.resolver, this.targets, this.timeoutMs);
      if (text === null) return null;
      const parsed = parsePolicy(text);
      const maxAge = typeof parsed.maxAge === 'number' && parsed.maxAge > 0 ? Math.min(parsed.maxAge, 31_557_600) : 86_400;
      return { id, mode: parsed.mode, mx: parsed.mx ?? [], maxAge, expires: now + maxAge * 1000 };
    } catch {
      return null;
    }
  }
}

/** True when the MX host name is allowed by the policy (wildcards as in RFC 8461 §4.1). */
export function mxAllowed(policy: MtaStsPolicy, mxHost: string): boolean {
  return validateMx(mxHost, { mode: policy.mode, mx: [...policy.mx] }).valid;
}
