// Storing one delivered or drained message in an open mailbox: the delivery filters decide the folders (INBOX
// when a folder is gone), each copy appended idempotently when the caller has a stable key (a queue item id).
import type { AliasRecord } from '../directory/index.js';
import type { Logger } from '../log.js';
import { NoSuchFolder } from '../mailbox/errors.js';
import type { AppendOptions, AppendResult, Mailbox } from '../mailbox/types.js';
import { decideDelivery, type DeliveryFilter } from './delivery-filter.js';
import type { QueuedDeliveryMeta } from './types.js';

/** The store's idempotent append (not part of the Mailbox contract, so detected at run time). */
interface IdempotentAppend {
  appendOnce(folder: string, raw: Buffer, options: AppendOptions & { readonly dedupeKey: string }): Promise<AppendResult>;
}

function hasAppendOnce(mailbox: Mailbox): mailbox is Mailbox & IdempotentAppend {
  return typeof (mailbox as Partial<IdempotentAppend>).appendOnce === 'function';
}

/** One stored copy of a delivered message. */
export interface PlacedCopy {
  readonly folder: string;
  readonly uid: number;
}

export interface StoreTarget {
  readonly alias: AliasRecord;
  readonly mailbox: Mailbox;
  readonly filters: readonly DeliveryFilter[];
  readonly logger: Logger;
}

/**
 * Stores raw where the filters decide and returns the copies made (none when a filter discarded it). With dedupeKey
 * a retried store makes no second copy (each folder's copy has its own key).
 */
export async function storeDelivered(target: StoreTarget, raw: Buffer, meta: QueuedDeliveryMeta, dedupeKey?: string): Promise<PlacedCopy[]> {
  const { mailbox } = target;
  const decision = target.filters.length
    ? await decideDelivery(target.filters, { alias: target.alias, mailbox, meta, ...(dedupeKey ? { dedupeKey } : {}) }, raw, target.logger)
    : { raw, folders: [meta.folder ?? 'INBOX'], flags: meta.flags ?? [] };
  const options = { flags: decision.flags, internalDate: meta.receivedAt };
  const placed: PlacedCopy[] = [];
  const seen = new Set<string>();
  for (const [index, wanted] of decision.folders.entries()) {
    // The first copy keeps the plain key, so a drain retried across an upgrade still finds the copy it made.
    const key = dedupeKey && index > 0 ? `${dedupeKey}:${index}` : dedupeKey;
    const append = (folder: string): Promise<AppendResult> =>
      key && hasAppendOnce(mailbox) ? mailbox.appendOnce(folder, decision.raw, { ...options, dedupeKey: key }) : mailbox.append(folder, decision.raw, options);
    let folder = wanted;
    let result: AppendResult;
    try {
      if (seen.has(folder)) continue;
      result = await append(folder);
    } catch (error) {
      // A folder deleted since the message was routed there: INBOX rather than losing it.
      if (!(error instanceof NoSuchFolder) || folder === 'INBOX') throw error;
      folder = 'INBOX';
      if (seen.has(folder)) continue;
      result = await append(folder);
    }
    seen.add(folder);
    placed.push({ folder, uid: result.uid });
  }
  return placed;
}
