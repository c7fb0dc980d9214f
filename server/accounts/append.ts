// Appending one delivered or drained message to an open mailbox: the folder it was routed to (INBOX when
// that folder is gone), idempotently when the caller has a stable key (a queue item id).
import { NoSuchFolder } from '../mailbox/errors.js';
import type { AppendOptions, AppendResult, Mailbox } from '../mailbox/types.js';
import type { QueuedDeliveryMeta } from './types.js';

/** The store's idempotent append (not part of the Mailbox contract, so detected at run time). */
interface IdempotentAppend {
  appendOnce(folder: string, raw: Buffer, options: AppendOptions & { readonly dedupeKey: string }): Promise<AppendResult>;
}

function hasAppendOnce(mailbox: Mailbox): mailbox is Mailbox & IdempotentAppend {
  return typeof (mailbox as Partial<IdempotentAppend>).appendOnce === 'function';
}

/** Appends raw and returns its UID; with dedupeKey a retried append stores nothing twice. */
export async function appendTo(mailbox: Mailbox, raw: Buffer, meta: QueuedDeliveryMeta, dedupeKey?: string): Promise<number> {
  const options = { flags: meta.flags, internalDate: meta.receivedAt };
  const append = (folder: string): Promise<AppendResult> =>
    dedupeKey && hasAppendOnce(mailbox) ? mailbox.appendOnce(folder, raw, { ...options, dedupeKey }) : mailbox.append(folder, raw, options);
  const folder = meta.folder ?? 'INBOX';
  try {
    return (await append(folder)).uid;
  } catch (error) {
    // A folder deleted since the message was routed there: INBOX rather than losing it.
    if (error instanceof NoSuchFolder && folder !== 'INBOX') return (await append('INBOX')).uid;
    throw error;
  }
}
