// Delivery to an alias whether its mailbox is unlocked (append now) or locked (seal into its queue), and
// the quota reservation that keeps parallel sealed deliveries from overshooting a locked mailbox's quota.
import { wipe } from '../crypto/index.js';
import type { AliasRecord } from '../directory/index.js';
import { MailboxLocked, OverQuota, WrongKey } from '../mailbox/errors.js';
import { storeDelivered } from './append.js';
import type { AccountsCore, DeliveryOptions, DeliveryResult } from './types.js';

export class Delivery {
  constructor(private readonly core: AccountsCore) {}

  /**
   * Delivers a message for MX/DSN: appended to the folder (default INBOX) when the alias is unlocked,
   * else sealed into its queue. Durable (fsync) before it resolves. Over the quota it throws OverQuota and
   * stores nothing: unlocked, the mailbox checks inside its commit; sealed, the room is reserved in the
   * same synchronous step as the check (AliasUsage.reserve), so parallel deliveries cannot overshoot.
   */
  async deliverOrQueue(alias: AliasRecord, raw: Buffer, options: DeliveryOptions): Promise<DeliveryResult> {
    const material = this.core.keyRing.get(alias.id);
    if (material) {
      try {
        const mailbox = await this.core.mailboxes.open(alias.mailboxId, material.mailboxKey);
        const placed = await storeDelivered({ alias, mailbox, filters: this.core.deliveryFilters, logger: this.core.logger }, raw, options);
        return { stored: 'mailbox', placed, ...(placed[0] ? { uid: placed[0].uid } : {}) };
      } catch (error) {
        // Re-key, restore or lock in progress (handle closed, file under another key): nothing was written,
        // so seal it into the queue instead of refusing; the next unlock drains it.
        if (!(error instanceof MailboxLocked || error instanceof WrongKey) || !this.core.queue) throw error;
        this.core.logger.info({ event: 'delivery.queued_while_busy', aliasId: alias.id, reason: error.code }, 'mailbox busy: message sealed into the queue');
      } finally {
        wipe(material.mailboxKey);
        wipe(material.privateKey);
      }
    }
    const queue = this.core.queue;
    if (!queue) throw new Error('the sealed queue is not available');
    await this.sealWithReservation([alias], raw.length, () => queue.enqueue(alias.mailboxId, alias.publicKey, raw, options));
    return { stored: 'queue' };
  }

  /**
   * Seals one message for several locked aliases: all durable or none (needs the queue's enqueueMany),
   * each within its quota (else OverQuota and nothing stored for any).
   */
  /** Seals one message for several aliases at once; envelopeTo[i] is the RCPT TO aliases[i] was reached by. */
  async queueForMany(aliases: readonly AliasRecord[], raw: Buffer, options: DeliveryOptions, envelopeTo?: readonly string[]): Promise<void> {
    const queue = this.core.queue;
    if (!queue?.enqueueMany) throw new Error('the sealed queue cannot store one message for several aliases at once');
    const enqueueMany = queue.enqueueMany.bind(queue);
    await this.sealWithReservation(aliases, raw.length, () => enqueueMany(aliases.map((a, i) => ({ mailboxId: a.mailboxId, publicKey: a.publicKey, raw, meta: metaFor(options, envelopeTo?.[i]) }))));
  }

  /** Reserves quota room for every alias (synchronously, all or none), runs seal, then turns the room into queued bytes. */
  private async sealWithReservation(aliases: readonly AliasRecord[], bytes: number, seal: () => Promise<unknown>): Promise<void> {
    const reservations = [];
    for (const alias of aliases) {
      const reservation = this.core.usage.reserve(alias, bytes);
      if (!reservation) {
        for (const r of reservations) r.release();
        this.core.logger.info({ event: 'delivery.over_quota', aliasId: alias.id }, 'message refused: the locked mailbox would exceed its quota');
        throw new OverQuota();
      }
      reservations.push(reservation);
    }
    try {
      await seal();
    } catch (error) {
      for (const r of reservations) r.release();
      throw error;
    }
    for (const r of reservations) r.sealed();
  }
}

/** The options with the envelope recipient of one alias when several share one sealed message. */
function metaFor(options: DeliveryOptions, to: string | undefined): DeliveryOptions {
  return options.envelope && to !== undefined ? { ...options, envelope: { from: options.envelope.from, to } } : options;
}
