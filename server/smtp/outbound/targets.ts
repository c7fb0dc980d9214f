// Where Sealpost may connect on its own initiative (webhooks, forwards, direct delivery): never this
// machine, the LAN, link-local (cloud metadata) or reserved addresses, unless the owner allows LAN or
// loopback targets explicitly. Names are resolved by our resolver and the addresses checked right before
// the socket is opened (a `lookup` hook, or the MX address we dial), so a DNS answer that changes between
// "add webhook" and "deliver" (rebinding) cannot slip past the check. The relay (smarthost) is the owner's
// explicit choice and is not subject to this policy.
import type { LookupAddress, LookupOptions } from 'node:dns';
import net from 'node:net';
import { ConfigError } from '../../config/errors.js';
import { addressClass, normalizeIp, outboundAddressRefusal } from '../../net.js';
import type { DnsResolver } from '../dns.js';

export interface OutboundTargetPolicy {
  /** Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) may be dialled (SEALPOST_OUTBOUND_ALLOW_PRIVATE). */
  readonly allowPrivate: boolean;
  /** Loopback (127/8, ::1) may be dialled (SEALPOST_OUTBOUND_ALLOW_LOOPBACK): a receiver on this very host. */
  readonly allowLoopback: boolean;
}

/** The default: only public addresses. */
export const PUBLIC_TARGETS_ONLY: OutboundTargetPolicy = Object.freeze({ allowPrivate: false, allowLoopback: false });

export const ALLOW_PRIVATE_ENV = 'SEALPOST_OUTBOUND_ALLOW_PRIVATE';
export const ALLOW_LOOPBACK_ENV = 'SEALPOST_OUTBOUND_ALLOW_LOOPBACK';

function onOff(env: Readonly<Record<string, string | undefined>>, name: string): boolean {
  const text = env[name]?.trim();
  if (text === undefined || text === '') return false;
  if (/^(on|true|1|yes)$/i.test(text)) return true;
  if (/^(off|false|0|no)$/i.test(text)) return false;
  throw new ConfigError(`${name} must be on or off, not ${JSON.stringify(text)}.`);
}

/** The policy from SEALPOST_OUTBOUND_ALLOW_PRIVATE and SEALPOST_OUTBOUND_ALLOW_LOOPBACK (both off by default). */
export function targetPolicyFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): OutboundTargetPolicy {
  return { allowPrivate: onOff(env, ALLOW_PRIVATE_ENV), allowLoopback: onOff(env, ALLOW_LOOPBACK_ENV) };
}

/** Why `ip` may not be dialled under `policy` ("a loopback address (this machine)"…), or null when it may. */
export function targetAddressRefusal(ip: string, policy: OutboundTargetPolicy): string | null {
  if (policy.allowLoopback && addressClass(ip) === 'loopback') return null;
  return outboundAddressRefusal(ip, { allowPrivate: policy.allowPrivate });
}

/** The one sentence a log, a webhook delivery log or a DSN carries for a refused target. */
export function refusedTargetMessage(host: string, ip: string, reason: string): string {
  const via = normalizeIp(host) === normalizeIp(ip) ? `${ip} is` : `${host} resolves to ${ip},`;
  return `refused: ${via} ${reason}; Sealpost does not connect there (see ${ALLOW_PRIVATE_ENV})`;
}

/** A connection Sealpost refused to open because of the target policy (never retried). */
export class TargetRefusedError extends Error {
  readonly code = 'ETARGETREFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefusedError';
  }
}

/** A host name or IP literal as written in a URL or an address ("[::1]" → "::1"). */
function bareHost(host: string): string {
  const h = host.trim();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

export interface CheckedAddresses {
  /** Addresses that may be dialled, in the resolver's order (IPv4 first). */
  readonly allowed: readonly { readonly address: string; readonly family: 4 | 6 }[];
  /** The first refusal, as a full sentence, when some address was refused. */
  readonly refusal: string | null;
}

/**
 * Resolves `host` (A, then AAAA) through our resolver, or takes it as it is when it is an IP literal, and
 * splits the answers into allowed addresses and the first refusal. DNS errors reject as they came.
 */
export async function resolveTarget(resolver: DnsResolver, host: string, policy: OutboundTargetPolicy, family: 0 | 4 | 6 = 0): Promise<CheckedAddresses> {
  const name = bareHost(host);
  let candidates: { address: string; family: 4 | 6 }[];
  if (net.isIP(name)) {
    candidates = [{ address: name, family: net.isIPv6(name) ? 6 : 4 }];
  } else {
    const [v4, v6] = await Promise.allSettled([family === 6 ? Promise.resolve([]) : resolver.resolve4(name), family === 4 ? Promise.resolve([]) : resolver.resolve6(name)]);
    candidates = [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 as const })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 as const })) : []),
    ];
    if (!candidates.length) {
      const failure = v4.status === 'rejected' ? v4.reason : v6.status === 'rejected' ? v6.reason : null;
      throw failure ?? Object.assign(new Error(`${name} has no address`), { code: 'ENOTFOUND' });
    }
  }
  let refusal: string | null = null;
  const allowed: { address: string; family: 4 | 6 }[] = [];
  for (const candidate of candidates) {
    const why = targetAddressRefusal(candidate.address, policy);
    if (why === null) allowed.push(candidate);
    else refusal ??= refusedTargetMessage(name, candidate.address, why);
  }
  return { allowed, refusal };
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request / net.connect: resolves through our resolver and hands the socket only
 * addresses the policy allows (the check happens at connect time, on the address actually dialled). When
 * every address is refused it fails with a TargetRefusedError and no connection is made.
 */
export function guardedLookup(resolver: DnsResolver, policy: OutboundTargetPolicy): (hostname: string, options: LookupOptions, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    const family = options.family === 4 || options.family === 6 ? options.family : 0;
    resolveTarget(resolver, hostname, policy, family).then(
      ({ allowed, refusal }) => {
        const first = allowed[0];
        if (!first) return callback(new TargetRefusedError(refusal ?? `refused: ${hostname} has no address`), '', 4);
        if (options.all) return callback(null, allowed.map((a) => ({ address: a.address, family: a.family })));
        callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), '', 4),
    );
  };
}

/**
 * Checks a webhook URL when it is added (pure: no DNS): http or https only, no user name or password in it,
 * and a host that is not an IP literal the policy refuses (decimal, octal and hex IPv4 forms included, as
 * WHATWG URL parsing turns them into dotted quads). Returns why it is refused, or null. Names are checked
 * again, resolved, on every delivery.
 */
export function webhookUrlRefusal(url: string, policy: OutboundTargetPolicy = PUBLIC_TARGETS_ONLY): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'The webhook URL is not a valid URL.';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'The webhook URL must start with https:// or http://.';
  if (parsed.username || parsed.password) return 'The webhook URL must not contain a user name or password; verify the X-Sealpost-Signature header instead.';
  const host = bareHost(parsed.hostname);
  if (!host) return 'The webhook URL has no host.';
  if (net.isIP(host)) {
    const why = targetAddressRefusal(host, policy);
    if (why) return `The webhook URL points to ${why}; Sealpost does not post there (see ${ALLOW_PRIVATE_ENV}).`;
  }
  if (isLocalName(host) && !policy.allowLoopback) return `The webhook URL names this machine (${host}); Sealpost does not post there.`;
  return null;
}

/**
 * Checks a forwarding target address when it is added (pure: no DNS): an address literal domain
 * (user@[10.0.0.1], RFC 5321 §4.1.3) the policy refuses, or "localhost", is refused. Returns why, or null.
 */
export function forwardTargetRefusal(address: string, policy: OutboundTargetPolicy = PUBLIC_TARGETS_ONLY): string | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return 'The forwarding target must be an address like name@example.org.';
  const domain = address.slice(at + 1).trim();
  const literal = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(domain);
  if (literal) {
    const ip = literal[1] ?? '';
    if (!net.isIP(ip)) return 'The forwarding target has an invalid address literal.';
    const why = targetAddressRefusal(ip, policy);
    if (why) return `The forwarding target points to ${why}; Sealpost does not deliver there (see ${ALLOW_PRIVATE_ENV}).`;
    return null;
  }
  if (isLocalName(domain) && !policy.allowLoopback) return `The forwarding target names this machine (${domain}); Sealpost does not deliver there.`;
  return null;
}

function isLocalName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}
