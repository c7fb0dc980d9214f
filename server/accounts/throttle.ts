// Brute-force throttling for logins, keyed so that an attacker cannot lock the owner out: failures are counted
// per (client IP, alias) pair and per client IP, with growing delays and then a lock-out of that pair (or of
// that IP, when it guesses across many aliases). Loopback clients and the IPs an alias's owner has logged in
// from recently are never locked out by failures from elsewhere; many IPs failing on one alias only slow
// down logins to it from IPs it has never succeeded from. In memory (per process); counters fade after a
// quiet window.
import { onOffFromEnv, wholeNumbersFromEnv, type NumericSetting } from '../config/env-values.js';
import { isLoopbackAddress, normalizeIp as normalizeNetIp } from '../net.js';

export interface ThrottlePolicy {
  /** Failures (per pair or IP) answered without delay. */
  readonly freeFailures: number;
  /** First delay after the free failures; doubles with each further failure. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Failures from one IP on one alias that lock that (IP, alias) pair for lockMs. */
  readonly pairLockAfter: number;
  /** Failures from one IP across all aliases that lock that IP out for lockMs. */
  readonly ipLockAfter: number;
  readonly lockMs: number;
  /** A counter with no failure for this long starts again from zero. */
  readonly windowMs: number;
  /** Failures on one alias from all IPs after which logins to it from unknown IPs are delayed (never locked). */
  readonly aliasSlowAfter: number;
  /** How long an IP the owner logged in from stays trusted for that alias (in memory; a restart forgets it). */
  readonly trustMs: number;
  /** Loopback clients (and the local CLI) are never delayed or locked. Off behind a local proxy. */
  readonly exemptLoopback: boolean;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  freeFailures: 3,
  baseDelayMs: 250,
  maxDelayMs: 4000,
  pairLockAfter: 10,
  ipLockAfter: 30,
  lockMs: 15 * 60_000,
  windowMs: 15 * 60_000,
  aliasSlowAfter: 20,
  trustMs: 30 * 24 * 3600_000,
  exemptLoopback: true,
};

/** What a refused login was refused for (the security log's reason). */
export type LockoutScope = 'pair' | 'ip';

export interface LockState {
  /** Milliseconds until this IP may try this alias again; 0 when allowed. */
  readonly lockedForMs: number;
  readonly scope: LockoutScope | null;
  /** Delay before the password is even checked (a distributed attack on the alias, unknown IP); 0 otherwise. */
  readonly slowdownMs: number;
}

export interface FailureOutcome {
  /** The delay to wait before answering (the tarpit). */
  readonly delayMs: number;
  /** Failures counted for this (IP, alias) pair in the current window. */
  readonly pairFailures: number;
  /** Set when this failure started a lock-out. */
  readonly locked: LockoutScope | null;
}

interface Counter {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

const MAX_ENTRIES = 50_000;
/** Trusted IPs kept per alias (most recent first out when full). */
const MAX_TRUSTED_PER_ALIAS = 16;

/** Whether a client is exempt from the throttle: loopback (and the local CLI, ip "local") when the policy says so. */
export function isThrottleExempt(ip: string, policy: Pick<ThrottlePolicy, 'exemptLoopback'>): boolean {
  return policy.exemptLoopback && (ip === 'local' || isLoopbackAddress(ip));
}

export class LoginThrottle {
  private readonly byPair = new Map<string, Counter>();
  private readonly byIp = new Map<string, Counter>();
  private readonly byAlias = new Map<string, Counter>();
  /** alias → (IP → last successful login). */
  private readonly trusted = new Map<string, Map<string, number>>();

  constructor(
    private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether this IP may try this alias now, and how long to hold the attempt first. */
  check(ip: string, aliasKey: string): LockState {
    const client = normalizeIp(ip);
    if (isThrottleExempt(client, this.policy)) return { lockedForMs: 0, scope: null, slowdownMs: 0 };
    const t = this.now();
    const pairLeft = (this.fresh(this.byPair, pairKey(client, aliasKey), t)?.lockedUntil ?? 0) - t;
    const ipLeft = (this.fresh(this.byIp, client, t)?.lockedUntil ?? 0) - t;
    const lockedForMs = Math.max(0, pairLeft, ipLeft);
    const scope = lockedForMs === 0 ? null : pairLeft >= ipLeft ? 'pair' : 'ip';
    let slowdownMs = 0;
    if (!this.isTrusted(client, aliasKey, t)) {
      const aliasFailures = this.fresh(this.byAlias, aliasKey, t)?.failures ?? 0;
      slowdownMs = this.delayAfter(aliasFailures - this.policy.aliasSlowAfter + 1);
    }
    return { lockedForMs, scope, slowdownMs };
  }

  /** Milliseconds until this IP may try this alias again, or 0 when allowed. */
  lockedFor(ip: string, aliasKey: string): number {
    return this.check(ip, aliasKey).lockedForMs;
  }

  /** Records a failure of this IP on this alias; returns the tarpit delay and whether a lock-out began. */
  recordFailure(ip: string, aliasKey: string): FailureOutcome {
    const client = normalizeIp(ip);
    if (isThrottleExempt(client, this.policy)) return { delayMs: 0, pairFailures: 0, locked: null };
    const t = this.now();
    const pair = this.bump(this.byPair, pairKey(client, aliasKey), t, this.policy.pairLockAfter);
    const byIp = this.bump(this.byIp, client, t, this.policy.ipLockAfter);
    this.bump(this.byAlias, aliasKey, t, Number.POSITIVE_INFINITY); // never locks: only slows unknown IPs
    const locked = pair.lockedUntil > t && pair.failures === this.policy.pairLockAfter ? 'pair' : byIp.lockedUntil > t && byIp.failures === this.policy.ipLockAfter ? 'ip' : null;
    return { delayMs: this.delayAfter(Math.max(pair.failures, byIp.failures) - this.policy.freeFailures), pairFailures: pair.failures, locked };
  }

  /**
   * A correct password: the pair's counter is cleared and the IP is trusted for this alias for trustMs (the
   * IP's own counter is not cleared, so one good account cannot launder guesses on others).
   */
  recordSuccess(ip: string, aliasKey: string): void {
    const client = normalizeIp(ip);
    const t = this.now();
    this.byPair.delete(pairKey(client, aliasKey));
    let ips = this.trusted.get(aliasKey);
    if (!ips) {
      ips = new Map();
      this.trusted.set(aliasKey, ips);
      if (this.trusted.size > MAX_ENTRIES) {
        const oldest = this.trusted.keys().next().value;
        if (oldest !== undefined) this.trusted.delete(oldest);
      }
    }
    ips.delete(client);
    ips.set(client, t);
    if (ips.size > MAX_TRUSTED_PER_ALIAS) {
      const oldest = ips.keys().next().value;
      if (oldest !== undefined) ips.delete(oldest);
    }
  }

  /** Whether the owner logged in to this alias from this IP within trustMs. */
  isTrusted(ip: string, aliasKey: string, t: number = this.now()): boolean {
    const at = this.trusted.get(aliasKey)?.get(normalizeIp(ip));
    return at !== undefined && t - at <= this.policy.trustMs;
  }

  /** 0 for n <= 0, else baseDelayMs doubling per step up to maxDelayMs. */
  private delayAfter(n: number): number {
    if (n <= 0) return 0;
    return Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** Math.min(n - 1, 30));
  }

  private fresh(map: Map<string, Counter>, key: string, t: number): Counter | undefined {
    const counter = map.get(key);
    if (!counter) return undefined;
    if (counter.lockedUntil <= t && t - counter.lastFailure > this.policy.windowMs) {
      map.delete(key);
      return undefined;
    }
    return counter;
  }

  private bump(map: Map<string, Counter>, key: string, t: number, lockAfter: number): Counter {
    const counter = this.fresh(map, key, t) ?? { failures: 0, lastFailure: t, lockedUntil: 0 };
    counter.failures++;
    counter.lastFailure = t;
    if (counter.failures >= lockAfter && counter.lockedUntil <= t) counter.lockedUntil = t + this.policy.lockMs;
    map.delete(key); // re-insert: Map order is then least-recently-failed first, for pruning
    map.set(key, counter);
    if (map.size > MAX_ENTRIES) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    return counter;
  }
}

function pairKey(ip: string, aliasKey: string): string {
  return `${ip}\u0000${aliasKey}`;
}

/** IPv4-mapped IPv6 (::ffff:1.2.3.4) counts as the IPv4 address; an empty IP is "unknown". */
export function normalizeIp(ip: string): string {
  return normalizeNetIp(ip).toLowerCase() || 'unknown';
}

type Env = Readonly<Record<string, string | undefined>>;

type NumericKey = Exclude<keyof ThrottlePolicy, 'exemptLoopback'>;

/** Variable → policy field, with the smallest value that still makes sense. */
export const LOGIN_THROTTLE_ENV: readonly NumericSetting<NumericKey>[] = [
  { env: 'SEALPOST_LOGIN_FREE_FAILURES', key: 'freeFailures', min: 0 },
  { env: 'SEALPOST_LOGIN_BASE_DELAY_MS', key: 'baseDelayMs', min: 0 },
  { env: 'SEALPOST_LOGIN_MAX_DELAY_MS', key: 'maxDelayMs', min: 0 },
  { env: 'SEALPOST_LOGIN_PAIR_LOCK_AFTER', key: 'pairLockAfter', min: 1 },
  { env: 'SEALPOST_LOGIN_IP_LOCK_AFTER', key: 'ipLockAfter', min: 1 },
  { env: 'SEALPOST_LOGIN_LOCK_MS', key: 'lockMs', min: 1000 },
  { env: 'SEALPOST_LOGIN_WINDOW_MS', key: 'windowMs', min: 1000 },
  { env: 'SEALPOST_LOGIN_ALIAS_SLOW_AFTER', key: 'aliasSlowAfter', min: 1 },
  { env: 'SEALPOST_LOGIN_TRUST_MS', key: 'trustMs', min: 0 },
];

export const LOGIN_EXEMPT_LOOPBACK_ENV = 'SEALPOST_LOGIN_EXEMPT_LOOPBACK';

/** The login throttle policy from SEALPOST_LOGIN_* (unset or empty keeps the default); throws ConfigError naming a bad variable. */
export function loginThrottleFromEnv(env: Env): ThrottlePolicy {
  const out = wholeNumbersFromEnv(env, LOGIN_THROTTLE_ENV, DEFAULT_THROTTLE);
  const exemptLoopback = onOffFromEnv(env, LOGIN_EXEMPT_LOOPBACK_ENV, DEFAULT_THROTTLE.exemptLoopback);
  return { ...out, exemptLoopback };
}
