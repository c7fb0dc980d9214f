// SPF, DKIM, DMARC and ARC through mailauth, with DNS from our one resolver module. Produces the
// headers to prepend (Authentication-Results, Received-SPF) and the DMARC verdict the MX acts on.
import { authenticate } from 'mailauth';
import type { DnsResolver } from '../dns.js';

/** What the MX does with the message because of DMARC. */
export type DmarcAction = 'deliver' | 'junk' | 'reject';

export interface AuthVerdict {
  /** Header lines (CRLF-terminated) to prepend to the message. */
  readonly headers: string;
  readonly spf: string;
  readonly dkim: string;
  readonly dmarc: string;
  readonly arc: string;
  /** 'reject' only when DMARC failed and the sender domain's policy is p=reject (pct 100). */
  readonly dmarcAction: DmarcAction;
}

export interface AuthInput {
  readonly raw: Buffer;
  readonly ip: string;
  readonly helo: string;
  /** Envelope sender ('' for the null sender). */
  readonly sender: string;
  /** Our host name, the authserv-id of Authentication-Results. */
  readonly mta: string;
  readonly resolver: DnsResolver;
}

function resultOf(status: unknown): string {
  if (typeof status === 'object' && status !== null && 'result' in status) {
    const result = (status as { result: unknown }).result;
    if (typeof result === 'string') return result;
  }
  return 'none';
}

/** Runs every check; DNS failures become temperror results (mailauth's own behaviour), never throws for them. */
export async function checkAuthentication(input: AuthInput): Promise<AuthVerdict> {
  const result = await authenticate(input.raw, {
    ip: input.ip,
    helo: input.helo,
    // mailauth falls back to postmaster@helo for the null sender, as RFC 7208 says.
    sender: input.sender,
    mta: input.mta,
    resolver: input.resolver.mailauth as (name: string, rrtype: string) => Promise<string[]>,
    disableBimi: true,
  });

  const dkimResults = result.dkim?.results ?? [];
  const dkim = dkimResults.length ? (dkimResults.some((r) => resultOf(r.status) === 'pass') ? 'pass' : resultOf(dkimResults[0]?.status)) : 'none';
  const spf = result.spf ? resultOf(result.spf.status) : 'none';
  const arc = result.arc ? resultOf(result.arc.status) : 'none';
  const dmarcResult = result.dmarc || null;
  const dmarc = dmarcResult ? resultOf(dmarcResult.status) : 'none';

  let dmarcAction: DmarcAction = 'deliver';
  if (dmarcResult && dmarc === 'fail') {
    const policy = (dmarcResult.policy || dmarcResult.p || 'none').toLowerCase();
    const pct = typeof dmarcResult.pct === 'number' ? dmarcResult.pct : 100;
    // A partial rollout (pct < 100) is treated one step softer, as receivers commonly do.
    if (policy === 'reject') dmarcAction = pct >= 100 ? 'reject' : 'junk';
    else if (policy === 'quarantine') dmarcAction = 'junk';
  }

  return { headers: result.headers, spf, dkim, dmarc, arc, dmarcAction };
}
