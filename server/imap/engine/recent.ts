// \Recent (RFC 3501 §2.3.2): "the message is 'recently' arrived in this mailbox. This session is the first
// session to have been notified about this message". Exactly one session gets \Recent for a new message: the
// store keeps a per-folder first-recent mark in the mailbox file; a read-write session claims [mark, UIDNEXT)
// atomically and moves the mark; a read-only one (EXAMINE) only looks at it.
import type { Mailbox } from '../../mailbox/types.js';

/** Claims every UID in [from, to) as \Recent for the caller; later callers do not get them. */
export function claimRecent(mailbox: Mailbox, folder: string): { from: number; to: number } {
  return mailbox.claimRecent(folder);
}

/** The first UID no session has claimed yet (EXAMINE shows messages from here on as \Recent without claiming). */
export function recentFrom(mailbox: Mailbox, folder: string): number {
  return mailbox.recentFrom(folder);
}
