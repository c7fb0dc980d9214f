// Brute-force throttling for logins: failure counters per client IP and per alias address, growing delays
// after a few failures, and a temporary lock-out. In memory (per process); counters fade after a quiet window.

export interface ThrottlePolicy {
  /** Failures (per IP or alias) answered without delay. */
  readonly freeFailures: number;
  /** First delay after the free failures; doubles with each further failure. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Failures on one alias that lock it out (from every IP) for lockMs. */
  readonly aliasLockAfter: number;
  /** Failures from one IP that lock that IP out for lockMs. */
  readonly ipLockAfter: number;
  readonly lockMs: number;
  /** A counter with no failure for this long starts again from zero. */
  readonly windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  freeFailures: 3,
  baseDelayMs: 250,
  maxDelayMs: 4000,
  aliasLockAfter: 10,
  ipLockAfter: 30,
  lockMs: 15 * 60_000,
  windowMs: 15 * 60_000,
};

interface Counter {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

const MAX_ENTRIES = 50_000;

export class LoginThrottle {
  private readonly byIp = new Map<string, Counter>();
  private readonly byAlias = new Map<string, Counter>();

  constructor(
    private readonly policy: ThrottlePolicy = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until this IP/alias may try again, or 0 when allowed. */
  lockedFor(ip: string, aliasKey: string): number {
    const t = this.now();
    const ipLeft = this.fresh(this.byIp, normalizeIp(ip), t)?.lockedUntil ?? 0;
    const aliasLeft = this.fresh(this.byAlias, aliasKey, t)?.lockedUntil ?? 0;
    return Math.max(0, ipLeft - t, aliasLeft - t);
  }

  /** Records a failure; returns the delay to wait before answering (the tarpit). */
  recordFailure(ip: string, aliasKey: string): number {
    const t = this.now();
    const ipCounter = this.bump(this.byIp, normalizeIp(ip), t, this.policy.ipLockAfter);
    const aliasCounter = this.bump(this.byAlias, aliasKey, t, this.policy.aliasLockAfter);
    const worst = Math.max(ipCounter.failures, aliasCounter.failures) - this.policy.freeFailures;
    if (worst <= 0) return 0;
    return Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (worst - 1));
  }

  /** A correct password: the alias's counter is cleared (the IP's is not, so one good account cannot launder guesses). */
  recordSuccess(aliasKey: string): void {
    this.byAlias.delete(aliasKey);
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
    if (counter.failures >= lockAfter) counter.lockedUntil = t + this.policy.lockMs;
    map.delete(key); // re-insert: Map order is then least-recently-failed first, for pruning
    map.set(key, counter);
    if (map.size > MAX_ENTRIES) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    return counter;
  }
}

/** IPv4-mapped IPv6 (::ffff:1.2.3.4) counts as the IPv4 address. */
export function normalizeIp(ip: string): string {
  const lower = ip.trim().toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower || 'unknown';
}
