// Filters that decide where a delivered message goes once its mailbox is open: run for a message delivered to an
// unlocked mailbox at once and for one drained from the sealed queue at the next unlock (the server cannot read a
// sealed message before). They run in order (the junk classifier, then the owner's Sieve script), each seeing the
// decision of the ones before it. A filter that fails is logged (its name and error class, never message data) and
// skipped: the message is stored as decided so far, so a broken filter never loses mail.
import type { AliasRecord } from '../directory/index.js';
import type { Logger } from '../log.js';
import type { Mailbox } from '../mailbox/types.js';
import type { QueuedDeliveryMeta } from './types.js';

/** Where and how one delivered message is stored. */
export interface DeliveryDecision {
  /** The bytes to store: the delivered message, or it with headers a filter prepended (X-Sealpost-Junk). */
  readonly raw: Buffer;
  /** Folders to store a copy in, in order; empty means discard (nothing stored). Unknown folders fall back to INBOX. */
  readonly folders: readonly string[];
  /** Flags and keywords set on every stored copy. */
  readonly flags: readonly string[];
}

export interface DeliveryFilterInput {
  readonly alias: AliasRecord;
  /** The alias's open mailbox: filters keep their state (tokens, scripts, vacation records) inside it. */
  readonly mailbox: Mailbox;
  readonly meta: QueuedDeliveryMeta;
  /**
   * Stable key of this delivery (the sealed-queue item id) when it may be retried after a crash; a filter with an
   * outside effect (a vacation reply) uses it to act once.
   */
  readonly dedupeKey?: string;
}

export interface DeliveryFilter {
  /** Short name for logs ("junk", "sieve"). */
  readonly name: string;
  apply(input: DeliveryFilterInput, decision: DeliveryDecision): Promise<DeliveryDecision>;
}

/** The decision before any filter: the folder the message was routed to (INBOX by default) with its flags. */
export function initialDecision(raw: Buffer, meta: QueuedDeliveryMeta): DeliveryDecision {
  return { raw, folders: [meta.folder ?? 'INBOX'], flags: [...(meta.flags ?? [])] };
}

/** Runs the filters in order; a failing one is logged and skipped. */
export async function decideDelivery(
  filters: readonly DeliveryFilter[],
  input: DeliveryFilterInput,
  raw: Buffer,
  logger: Logger,
): Promise<DeliveryDecision> {
  let decision = initialDecision(raw, input.meta);
  for (const filter of filters) {
    try {
      decision = await filter.apply(input, decision);
    } catch (error) {
      logger.warn(
        { event: 'delivery.filter_failed', filter: filter.name, aliasId: input.alias.id, err: error instanceof Error ? error.name : 'unknown' },
        'a delivery filter failed; the message is stored as decided before it',
      );
    }
  }
  return decision;
}
