// In-memory limits of the MX: failed RCPTs per client IP (sliding window), the tarpit delay, and accepted
// messages per envelope sender per hour (sliding window). Keys are kept only as long as they count something; sender keys are
// SHA-256 hashes so the process never holds a list of addresses longer than necessary.
import { createHash } from 'node:crypto';

/**
 * Failed RCPTs per client IP over a sliding window (in memory). Counting per IP as well as per connection
 * stops an address-guessing client that reconnects after every few refusals. At most `maxIps` IPs are
 * tracked; the oldest entries go first, so a spoofed-source flood cannot grow the map without bound.
 */
export class FailedRcptLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(
    private readonly windowMs: number,
    private readonly maxIps = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(ip: string): number[] {
    const cutoff = this.now() - this.windowMs;
    const times = (this.failures.get(ip) ?? []).filter((t) => t > cutoff);
    if (times.length) this.failures.set(ip, times);
    else this.failures.delete(ip);
    return times;
  }

  /** Records one failed RCPT from ip; returns the failures within the window, this one included. */
  record(ip: string): number {
    const times = this.recent(ip);
    times.push(this.now());
    // Keep the array small: only the count matters once it is past any sensible limit.
    if (times.length > 1000) times.splice(0, times.length - 1000);
    this.failures.delete(ip);
    this.failures.set(ip, times);
    while (this.failures.size > this.maxIps) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
    return times.length;
  }

  /** Failed RCPTs from ip within the window. */
  count(ip: string): number {
    return this.recent(ip).length;
  }
}

/** Delay before answering the n-th failed RCPT of a connection: none for the first, then growing by stepMs up to maxMs. */
export function tarpitDelayMs(failures: number, stepMs: number, maxMs = 10_000): number {
  if (failures <= 1 || stepMs <= 0) return 0;
  return Math.min(maxMs, stepMs * (failures - 1));
}

const HOUR_MS = 3_600_000;

export class SenderRateLimiter {
  private readonly accepted = new Map<string, number[]>();
  constructor(
    private readonly maxPerHour: number,
    private readonly now: () => number = Date.now,
  ) {}

  private key(sender: string): string {
    return createHash('sha256').update(sender.toLowerCase()).digest('base64url');
  }

  private window(key: string): number[] {
    const cutoff = this.now() - HOUR_MS;
    const times = (this.accepted.get(key) ?? []).filter((t) => t > cutoff);
    if (times.length) this.accepted.set(key, times);
    else this.accepted.delete(key);
    return times;
  }

  /** True when one more message from this sender is within the hourly limit. */
  allows(sender: string): boolean {
    if (this.maxPerHour <= 0) return true;
    return this.window(this.key(sender)).length < this.maxPerHour;
  }

  /** Records an accepted message. */
  record(sender: string): void {
    if (this.maxPerHour <= 0) return;
    const key = this.key(sender);
    const times = this.window(key);
    times.push(this.now());
    this.accepted.set(key, times);
  }
}
