// MTA-STS (RFC 8461) for direct delivery: the policy id comes from `_mta-sts.<domain>` TXT (through our
// resolver), the policy file over HTTPS from `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
// The URL template is configurable (SEALPOST_MTA_STS_URL, `{domain}` placeholder) so tests can serve
// policies from a loopback HTTP server. An unfetchable policy is treated as "no policy" (RFC 8461 §5:
// a sender without a cached policy proceeds as if none existed).
import { resolvePolicy, parsePolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import type { DnsResolver } from '../dns.js';

export const DEFAULT_MTA_STS_URL = 'https://mta-sts.{domain}/.well-known/mta-sts.txt';

export interface MtaStsPolicy {
  readonly id: string;
  readonly mode: 'enforce' | 'testing' | 'none';
  readonly mx: readonly string[];
  readonly expires: number;
}

export class MtaSts {
  private readonly cache = new Map<string, MtaStsPolicy>();

  constructor(
    private readonly resolver: DnsResolver,
    private readonly urlTemplate: string = DEFAULT_MTA_STS_URL,
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
      const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(this.timeoutMs) });
      if (res.status !== 200) return null;
      const text = (await res.text()).slice(0, 64 * 1024);
      const parsed = parsePolicy(text);
      const maxAge = typeof parsed.maxAge === 'number' && parsed.maxAge > 0 ? Math.min(parsed.maxAge, 31_557_600) : 86_400;
      return { id, mode: parsed.mode, mx: parsed.mx ?? [], expires: now + maxAge * 1000 };
    } catch {
      return null;
    }
  }
}

/** True when the MX host name is allowed by the policy (wildcards as in RFC 8461 §4.1). */
export function mxAllowed(policy: MtaStsPolicy, mxHost: string): boolean {
  return validateMx(mxHost, { mode: policy.mode, mx: [...policy.mx] }).valid;
}
