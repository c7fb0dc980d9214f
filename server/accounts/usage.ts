// Last-known mailbox usage per alias, kept in the directory so the MX can enforce a quota while the
// mailbox file is locked (it cannot be read without the password). Message byte counts only, never
// content. Used bytes come from the open mailbox after each committed change; queued bytes grow when
// mail is sealed into the queue and shrink as the drain stores it. Both are exact in memory at once and
// written to the directory at most once a second per alias (a directory commit is an fsync: one per
// sealed or drained message would cost more than the message itself), and at once when the mailbox
// closes, a drain ends or the process stops. Reserved bytes are held (in memory) for messages being
// sealed right now: a locked alias's quota check and its reservation are one synchronous step, so
// parallel deliveries can never all pass the same check and overshoot the quota.
import type { KeyRing } from '../crypto/index.js';
import { wipe } from '../crypto/index.js';
import type { AliasId, AliasRecord, Directory } from '../directory/index.js';
import type { Logger } from '../log.js';
import type { Mailbox, MailboxId, MailboxStore } from '../mailbox/types.js';

export interface UsageSnapshot {
  readonly usedBytes: number;
  readonly queuedBytes: number;
  /** Held for deliveries being sealed right now (not yet in queuedBytes). */
  readonly reservedBytes: number;
}

/** Room taken in a locked alias's quota for one message being sealed. Exactly one of the two calls counts. */
export interface QuotaReservation {
  /** The message is durably in the sealed queue: the held bytes become queued bytes (one synchronous step). */
  sealed(): void;
  /** The message was not stored: the held bytes are free again. */
  release(): void;
}

export interface AliasUsageOptions {
  readonly directory: Directory;
  readonly mailboxes: MailboxStore;
  readonly keyRing: KeyRing;
  readonly logger: Logger;
  /** Coalesces directory writes per alias (default 1000 ms). */
  readonly writeDelayMs?: number;
}

export class AliasUsage {
  private readonly directory: Directory;
  private readonly mailboxes: MailboxStore;
  private readonly keyRing: KeyRing;
  private readonly logger: Logger;
  private readonly writeDelayMs: number;
  /** Mailbox objects seen (the store hands out the same object per file); holds no key. */
  private readonly open = new Map<string, { aliasId: AliasId; mailbox: Mailbox }>();
  /** Newest used-bytes figure not yet written to the directory, per alias. */
  private readonly dirty = new Map<AliasId, { usedBytes: number; timer: NodeJS.Timeout }>();
  private readonly unsubscribe: () => void;
  /** Bytes reserved per alias by deliveries being sealed (see reserve()). */
  private readonly reserved = new Map<AliasId, number>();
  /** Newest queued-bytes figure not yet written to the directory, per alias. */
  private readonly queuedDirty = new Map<AliasId, { queuedBytes: number; timer: NodeJS.Timeout }>();

  constructor(options: AliasUsageOptions) {
    this.directory = options.directory;
    this.mailboxes = options.mailboxes;
    this.keyRing = options.keyRing;
    this.logger = options.logger;
    this.writeDelayMs = options.writeDelayMs ?? 1000;
    this.unsubscribe = this.mailboxes.onChange((event) => this.changed(event.mailboxId));
  }

  /** Usage for a quota check: the figure in memory when fresher than the directory's, plus queued bytes. */
  lastKnown(alias: AliasRecord): UsageSnapshot {
    const stored = this.safely(() => this.directory.usageOf(alias.id), null);
    const pending = this.dirty.get(alias.id)?.usedBytes;
    const queued = this.queuedDirty.get(alias.id)?.queuedBytes;
    return { usedBytes: pending ?? stored?.usedBytes ?? 0, queuedBytes: queued ?? stored?.queuedBytes ?? 0, reservedBytes: this.reserved.get(alias.id) ?? 0 };
  }

  /**
   * Used bytes and limit from the alias's mailbox when this process already holds it open (no key needed:
   * the handle is the store's cached one); null when it is not known to be open (ask the store with the key).
   */
  openQuota(alias: AliasRecord): { usedBytes: number; limitBytes: number | null } | null {
    const entry = this.open.get(alias.mailboxId);
    if (!entry || entry.aliasId !== alias.id) return null;
    try {
      const quota = entry.mailbox.quota();
      return { usedBytes: quota.usedBytes, limitBytes: quota.limitBytes };
    } catch {
      this.open.delete(alias.mailboxId); // handle closed (locked meanwhile): forget the object
      return null;
    }
  }

  /**
   * Takes room for a message of `bytes` about to be sealed for the alias: when used + queued + reserved +
   * bytes fits the alias quota (or it has none) the bytes are reserved and a reservation returned, else
   * null. Check and reservation are synchronous (nothing can interleave); the caller must call sealed()
   * or release() exactly once.
   */
  reserve(alias: AliasRecord, bytes: number): QuotaReservation | null {
    if (alias.quotaBytes !== null) {
      const known = this.lastKnown(alias);
      if (known.usedBytes + known.queuedBytes + known.reservedBytes + Math.max(1, bytes) > alias.quotaBytes) return null;
    }
    this.reserved.set(alias.id, (this.reserved.get(alias.id) ?? 0) + bytes);
    let settled = false;
    const unhold = (): boolean => {
      if (settled) return false;
      settled = true;
      const left = (this.reserved.get(alias.id) ?? 0) - bytes;
      if (left > 0) this.reserved.set(alias.id, left);
      else this.reserved.delete(alias.id);
      return true;
    };
    return {
      sealed: () => {
        if (unhold()) this.queued(alias, bytes);
      },
      release: () => {
        unhold();
      },
    };
  }

  /** A message of `bytes` was sealed into the alias's queue. */
  queued(alias: AliasRecord, bytes: number): void {
    this.addQueued(alias.id, bytes);
  }

  /** A drained message of `bytes` is now stored in the mailbox. */
  dequeued(alias: AliasRecord, bytes: number): void {
    this.addQueued(alias.id, -bytes);
  }

  /** After a drain: an empty queue means nothing waits (corrects drift after a crash), and the usage is written now. */
  drained(alias: AliasRecord, mailbox: Mailbox, queueEmpty: boolean): void {
    this.open.set(mailbox.id, { aliasId: alias.id, mailbox });
    if (queueEmpty) {
      this.dropQueuedDirty(alias.id);
      this.safely(() => this.directory.clearQueuedBytes(alias.id), undefined);
    }
    this.measure(mailbox.id);
    this.flush(alias.id);
  }

  /** Writes the pending figures of one alias (its mailbox is closing) or of all. Synchronous. */
  flush(aliasId?: string): void {
    const ids = aliasId === undefined ? [...new Set([...this.dirty.keys(), ...this.queuedDirty.keys()])] : [aliasId as AliasId];
    for (const id of ids) {
      this.flushQueued(id);
      // Measure once more while the handle is still open (a change may be waiting to be measured).
      for (const [mailboxId, entry] of this.open) if (entry.aliasId === id) this.measure(mailboxId);
      const pending = this.dirty.get(id);
      if (!pending) continue;
      clearTimeout(pending.timer);
      this.dirty.delete(id);
      this.safely(() => this.directory.recordUsage(id, pending.usedBytes), undefined);
    }
  }

  /** Writes everything pending and stops listening (context close). */
  close(): void {
    this.flush();
    this.unsubscribe();
    this.open.clear();
  }

  /** Moves the alias's queued bytes by `delta` (never below 0) in memory; the directory follows within writeDelayMs. */
  private addQueued(aliasId: AliasId, delta: number): void {
    const previous = this.queuedDirty.get(aliasId);
    const base = previous ? previous.queuedBytes : (this.safely(() => this.directory.usageOf(aliasId), null)?.queuedBytes ?? 0);
    const queuedBytes = Math.max(0, base + Math.round(delta));
    if (previous) {
      previous.queuedBytes = queuedBytes;
      return;
    }
    const timer = setTimeout(() => this.flushQueued(aliasId), this.writeDelayMs);
    timer.unref();
    this.queuedDirty.set(aliasId, { queuedBytes, timer });
  }

  /** Writes the alias's pending queued-bytes figure (one directory commit). */
  private flushQueued(aliasId: AliasId): void {
    const pending = this.queuedDirty.get(aliasId);
    if (!pending) return;
    this.dropQueuedDirty(aliasId);
    this.safely(() => {
      // The directory only moves by deltas: the difference to what it holds now (nothing else writes it).
      const stored = this.directory.usageOf(aliasId)?.queuedBytes ?? 0;
      if (pending.queuedBytes !== stored) this.directory.addQueuedBytes(aliasId, pending.queuedBytes - stored);
    }, undefined);
  }

  private dropQueuedDirty(aliasId: AliasId): void {
    const pending = this.queuedDirty.get(aliasId);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.queuedDirty.delete(aliasId);
  }

  private changed(mailboxId: MailboxId): void {
    if (this.measure(mailboxId)) return;
    // First change seen for this mailbox in this process: find its Mailbox object (cached handle, needs the key).
    const alias = this.safely(() => this.directory.getAliasByMailboxId(mailboxId), null);
    if (!alias) return;
    const material = this.keyRing.get(alias.id);
    if (!material) return;
    this.mailboxes
      .open(mailboxId, material.mailboxKey)
      .then((mailbox) => {
        this.open.set(mailboxId, { aliasId: alias.id, mailbox });
        this.measure(mailboxId);
      })
      .catch(() => undefined) // closed or re-keyed meanwhile: the next open measures again
      .finally(() => {
        wipe(material.mailboxKey);
        wipe(material.privateKey);
      });
  }

  /** Reads quota() of a known open mailbox into the pending figures; false when it is not (or no longer) open. */
  private measure(mailboxId: string): boolean {
    const entry = this.open.get(mailboxId);
    if (!entry) return false;
    let usedBytes: number;
    try {
      usedBytes = entry.mailbox.quota().usedBytes;
    } catch {
      this.open.delete(mailboxId); // handle closed: forget the object
      return false;
    }
    const previous = this.dirty.get(entry.aliasId);
    if (previous) {
      this.dirty.set(entry.aliasId, { usedBytes, timer: previous.timer });
    } else {
      const timer = setTimeout(() => this.flush(entry.aliasId), this.writeDelayMs);
      timer.unref();
      this.dirty.set(entry.aliasId, { usedBytes, timer });
    }
    return true;
  }

  /** Usage bookkeeping must never fail a delivery or a login. */
  private safely<T>(fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (error) {
      this.logger.warn({ event: 'usage.update_failed', err: error instanceof Error ? error.name : 'error' }, 'could not update the last-known mailbox usage');
      return fallback;
    }
  }
}
