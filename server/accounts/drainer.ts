// The background drain of each alias's sealed queue into its unlocked mailbox: one drain per alias at a
// time, a second pass for mail sealed while the first ran, a stop over quota that resumes when the owner
// frees space, and a retry with back-off after an error. Never rejects, never fails a login.
import { wipe } from '../crypto/index.js';
import type { AliasId, AliasRecord } from '../directory/index.js';
import { OverQuota } from '../mailbox/errors.js';
import type { Mailbox, MailboxId } from '../mailbox/types.js';
import { storeDelivered } from './append.js';
import { drainRetryDelayMs, readStalledDrain, writeStalledDrain, type DrainProgress, type DrainState, type StalledDrain } from './drain.js';
import { errorName } from './errors.js';
import type { AccountsCore } from './types.js';
import { stageStart, timeStage } from '../stages.js';

/** Appends in flight while a queue drains: enough to fill the mailbox's group commit, bounded. */
export const DRAIN_CONCURRENCY = 32;

/** A drain found the alias's keys dropped (locked, removed): it stops, the rest stays queued. */
class DrainStopped extends Error {
  constructor() {
    super('the mailbox was locked during the drain');
    this.name = 'DrainStopped';
  }
}

/** One alias's drain as this process knows it. */
interface DrainRecord {
  readonly mailboxId: MailboxId;
  state: DrainState;
  drained: number;
  /** Messages waiting when the current pass began, and `drained` then: "to go" without the lag of batched row deletes. */
  passQueued: number;
  passDrained: number;
  since: Date;
  error?: string;
  /** Mailbox usage when the drain stopped over quota: a drop below it (expunge) resumes the drain. */
  usedAtStop?: number;
  /** Consecutive failed attempts (retry back-off). */
  failures: number;
  retry?: NodeJS.Timeout;
}

/** A running drain; `again` asks it for one more pass when it ends (a login or unlock while it ran). */
interface RunningDrain {
  again: boolean;
  readonly done: Promise<void>;
}

export class Drainer {
  private readonly running = new Map<string, RunningDrain>();
  private readonly records = new Map<string, DrainRecord>();
  private readonly concurrency: number;

  constructor(
    private readonly core: AccountsCore,
    concurrency = DRAIN_CONCURRENCY,
  ) {
    this.concurrency = Math.max(1, Math.floor(concurrency));
    // A drain stopped over quota resumes once the owner frees space (EXPUNGE, folder delete, move out).
    core.mailboxes.onChange((event) => this.resumeIfFreed(event.mailboxId));
  }

  /** Starts (or asks the running one for another pass) the drain of the alias's queue; never throws. */
  start(alias: AliasRecord): void {
    void this.drainQueue(alias);
  }

  /** The running drain of the alias, if any (resolves when it ends; never rejects). */
  runningDrain(aliasId: string): Promise<void> | undefined {
    return this.running.get(aliasId)?.done;
  }

  /** Number of sealed messages waiting for the alias. */
  queuedCount(alias: AliasRecord): number {
    return this.core.queue ? this.core.queue.count(alias.mailboxId) : 0;
  }

  /**
   * Where the sealed queue of an alias stands: waiting count, messages stored by the current/last drain,
   * and the state (a stall — over quota, error — is also known across processes through the directory).
   */
  status(alias: AliasRecord): DrainProgress {
    const record = this.records.get(alias.id);
    // While draining, rows are deleted in batches after their appends: count what is really still to go.
    const waiting = this.queuedCount(alias);
    const queued = record?.state === 'draining' ? Math.min(waiting, Math.max(0, record.passQueued - (record.drained - record.passDrained))) : waiting;
    if (record && record.state !== 'idle') {
      return { state: record.state, queued, drained: record.drained, since: record.since.toISOString(), ...(record.error ? { error: record.error } : {}) };
    }
    // Not running here: a stall recorded by this or another process (the CLI, before a restart).
    const stalled = queued > 0 ? this.safeStalled(alias.id) : null;
    if (stalled) return { state: stalled.state, queued, drained: 0, since: stalled.since, ...(stalled.error ? { error: stalled.error } : {}) };
    return { state: 'idle', queued, drained: record?.drained ?? 0, since: record ? record.since.toISOString() : null };
  }

  /** Resolves when no drain of the alias is running (true), or after timeoutMs (false). */
  async whenDrained(aliasId: string, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    for (;;) {
      const running = this.running.get(aliasId);
      if (!running) return true;
      if (!Number.isFinite(timeoutMs)) {
        await running.done;
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        running.done.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), Math.max(0, timeoutMs));
          timer.unref();
        }),
      ]);
      if (timer) clearTimeout(timer);
      if (timedOut) return false;
      return !this.running.has(aliasId);
    }
  }

  /** An alias removed: its drain record, retry timer and stalled state go. */
  forget(aliasId: string): void {
    const record = this.records.get(aliasId);
    if (record?.retry) clearTimeout(record.retry);
    this.records.delete(aliasId);
    this.clearStalled(aliasId);
  }

  /**
   * Moves sealed mail into the mailbox; one drain per alias at a time (a login while it runs asks it for one
   * more pass). Never rejects: over quota it stops and waits for space, other errors are logged and retried.
   */
  private drainQueue(alias: AliasRecord): Promise<void> {
    if (!this.core.queue) return Promise.resolve();
    const running = this.running.get(alias.id);
    if (running) {
      running.again = true;
      return running.done;
    }
    const record = this.records.get(alias.id);
    if (record?.retry) {
      clearTimeout(record.retry);
      record.retry = undefined;
    }
    const run: { again: boolean; done: Promise<void> } = { again: false, done: Promise.resolve() };
    run.done = (async () => {
      try {
        do {
          run.again = false;
          await timeStage(stageStart('drain.pass'), this.runDrain(alias));
        } while (run.again && this.core.keyRing.has(alias.id) && this.records.get(alias.id)?.state === 'idle');
      } finally {
        this.running.delete(alias.id);
      }
    })();
    this.running.set(alias.id, run);
    return run.done;
  }

  private async runDrain(alias: AliasRecord): Promise<void> {
    const { queue, keyRing, mailboxes, usage, logger } = this.core;
    if (!queue) return;
    const previous = this.records.get(alias.id);
    const record: DrainRecord = { mailboxId: alias.mailboxId, state: 'draining', drained: 0, passQueued: 0, passDrained: 0, since: new Date(), failures: previous?.failures ?? 0 };
    let dequeuedBytes = 0;
    const settleBytes = (): void => {
      if (dequeuedBytes > 0) usage.dequeued(alias, dequeuedBytes);
      dequeuedBytes = 0;
    };
    let mailbox: Mailbox | null = null;
    try {
      if (queue.count(alias.mailboxId) === 0) {
        record.state = 'idle';
        this.records.set(alias.id, record);
        this.clearStalled(alias.id);
        return;
      }
      this.records.set(alias.id, record);
      // Twice at most: a message sealed while the first pass ran (keys were not yet in the ring) is picked up.
      for (let pass = 0; pass < 2 && queue.count(alias.mailboxId) > 0; pass++) {
        const material = keyRing.get(alias.id);
        if (!material) throw new DrainStopped();
        record.passQueued = queue.count(alias.mailboxId);
        record.passDrained = record.drained;
        try {
          const box = await mailboxes.open(alias.mailboxId, material.mailboxKey);
          mailbox = box;
          // The drain is a run of appends: its messages share commits instead of paying one each.
          const endRun = box.expectAppends();
          try {
            await queue.drain(
              alias.mailboxId,
              material.privateKey,
              async (message) => {
                if (!keyRing.has(alias.id)) throw new DrainStopped();
                // The queue item id makes a retried drain (crash after append, before the row delete) store nothing twice.
                await timeStage(stageStart('drain.append'), storeDelivered({ alias, mailbox: box, filters: this.core.deliveryFilters, logger }, message.raw, message.meta, `queue:${message.id}`));
                record.drained++;
                dequeuedBytes += message.raw.length;
                if (record.drained % 256 === 0) settleBytes(); // one directory write per batch, not per message
              },
              { concurrency: this.concurrency },
            );
          } finally {
            endRun();
          }
        } finally {
          wipe(material.mailboxKey);
          wipe(material.privateKey);
        }
      }
      record.state = 'idle';
      record.failures = 0;
      record.since = new Date();
      this.clearStalled(alias.id);
      if (record.drained > 0) logger.info({ event: 'queue.drained', aliasId: alias.id, messages: record.drained }, 'sealed queue drained');
    } catch (error) {
      record.since = new Date();
      if (error instanceof DrainStopped || !keyRing.has(alias.id)) {
        // Locked or removed meanwhile: the rest waits for the next unlock.
        record.state = 'idle';
        logger.info({ event: 'queue.drain_stopped', aliasId: alias.id, messages: record.drained }, 'sealed queue drain stopped: the mailbox was locked');
      } else if (error instanceof OverQuota) {
        record.state = 'over-quota';
        record.usedAtStop = mailbox ? safeQuotaUsed(mailbox) : undefined;
        this.saveStalled(alias.id, { state: 'over-quota', since: record.since.toISOString() });
        logger.warn({ event: 'queue.drain_over_quota', aliasId: alias.id, messages: record.drained, left: this.queuedCount(alias) }, 'sealed queue drain stopped: the mailbox is full; the rest stays queued until mail is deleted');
      } else {
        record.state = 'error';
        record.error = errorName(error);
        record.failures++;
        this.saveStalled(alias.id, { state: 'error', since: record.since.toISOString(), error: record.error });
        const delayMs = drainRetryDelayMs(record.failures);
        logger.warn({ event: 'queue.drain_failed', aliasId: alias.id, err: record.error, messages: record.drained, retryInS: Math.round(delayMs / 1000) }, 'sealed queue drain failed; will retry');
        record.retry = setTimeout(() => {
          record.retry = undefined;
          const fresh = this.core.directory.getAliasById(alias.id);
          if (fresh && keyRing.has(alias.id)) this.start(fresh);
        }, delayMs);
        record.retry.unref();
      }
    } finally {
      settleBytes();
      if (mailbox) {
        try {
          usage.drained(alias, mailbox, queue.count(alias.mailboxId) === 0);
        } catch {
          // The mailbox closed meanwhile (locked): the figures are written when it next opens.
        }
      }
    }
  }

  /** After a change of a mailbox whose drain stopped over quota: when its usage went down, drain again. */
  private resumeIfFreed(mailboxId: MailboxId): void {
    for (const [aliasId, record] of this.records) {
      if (record.mailboxId !== mailboxId || record.state !== 'over-quota' || this.running.has(aliasId)) continue;
      const alias = this.core.directory.getAliasById(aliasId as AliasId);
      const material = this.core.keyRing.get(aliasId);
      if (!alias || !material) return;
      this.core.mailboxes
        .open(mailboxId, material.mailboxKey)
        .then((mailbox) => {
          const used = safeQuotaUsed(mailbox);
          if (used !== undefined && (record.usedAtStop === undefined || used < record.usedAtStop)) {
            this.core.logger.info({ event: 'queue.drain_resumed', aliasId }, 'space freed: the sealed queue drain resumes');
            this.start(alias);
          }
        })
        .catch(() => undefined)
        .finally(() => {
          wipe(material.mailboxKey);
          wipe(material.privateKey);
        });
      return;
    }
  }

  private safeStalled(aliasId: string): StalledDrain | null {
    try {
      return readStalledDrain(this.core.directory, aliasId);
    } catch {
      return null;
    }
  }

  private saveStalled(aliasId: string, stalled: StalledDrain | null): void {
    try {
      writeStalledDrain(this.core.directory, aliasId, stalled);
    } catch (error) {
      this.core.logger.warn({ event: 'queue.drain_state_failed', aliasId, err: errorName(error) }, 'could not record the drain state');
    }
  }

  private clearStalled(aliasId: string): void {
    this.saveStalled(aliasId, null);
  }
}

function safeQuotaUsed(mailbox: Mailbox): number | undefined {
  try {
    return mailbox.quota().usedBytes;
  } catch {
    return undefined;
  }
}
