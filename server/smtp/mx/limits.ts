// In-memory limits of the MX: connections per client IP and accepted messages per envelope sender
// per hour (sliding window). Keys are kept only as long as they count something; sender keys are
// SHA-256 hashes so the process never holds a list of addresses longer than necessary.
import { createHash } from 'node:crypto';

export class ConnectionCounter {
  private readonly open = new Map<string, number>();
  constructor(private readonly maxPerIp: number) {}

  /** Counts a new connection; false when the IP is at its limit (the connection is not counted). */
  acquire(ip: string): boolean {
    const current = this.open.get(ip) ?? 0;
    if (this.maxPerIp > 0 && current >= this.maxPerIp) return false;
    this.open.set(ip, current + 1);
    return true;
  }

  release(ip: string): void {
    const current = this.open.get(ip) ?? 0;
    if (current <= 1) this.open.delete(ip);
    else this.open.set(ip, current - 1);
  }

  count(ip: string): number {
    return this.open.get(ip) ?? 0;
  }
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
