// \Recent (RFC 3501 §2.3.2): "the message is 'recently' arrived in this mailbox. This session is the first
// session to have been notified about this message". Exactly one session gets \Recent for a new message:
// the store keeps a per-folder first-recent mark; a read-write session claims [mark, UIDNEXT) atomically and
// moves the mark. Until the store offers claimRecent/recentFrom, an in-process mark stands in (lost on restart).
import type { Mailbox } from '../../mailbox/types.js';

interface RecentCapable {
  claimRecent(folder: string): { from: number; to: number };
  recentFrom(folder: string): number;
}

function hasRecent(mailbox: Mailbox): mailbox is Mailbox & RecentCapable {
  const m = mailbox as Partial<RecentCapable>;
  return typeof m.claimRecent === 'function' && typeof m.recentFrom === 'function';
}

/** Fallback marks: mailbox id → folder key (path + UIDVALIDITY) → first unclaimed UID. */
const marks = new Map<string, Map<string, number>>();

function fallbackKey(mailbox: Mailbox, folder: string): { folders: Map<string, number>; key: string; uidNext: number } {
  const status = mailbox.status(folder);
  let folders = marks.get(mailbox.id);
  if (!folders) marks.set(mailbox.id, (folders = new Map()));
  return { folders, key: `${status.path.toUpperCase() === 'INBOX' ? 'INBOX' : status.path}\u0000${status.uidValidity}`, uidNext: status.uidNext };
}

/** Claims every UID in [from, to) as \Recent for the caller; later callers do not get them. */
export function claimRecent(mailbox: Mailbox, folder: string): { from: number; to: number } {
  if (hasRecent(mailbox)) return mailbox.claimRecent(folder);
  const { folders, key, uidNext } = fallbackKey(mailbox, folder);
  const from = folders.get(key) ?? 1;
  folders.set(key, Math.max(from, uidNext));
  return { from, to: Math.max(from, uidNext) };
}

/** The first UID no session has claimed yet (EXAMINE shows messages from here on as \Recent without claiming). */
export function recentFrom(mailbox: Mailbox, folder: string): number {
  if (hasRecent(mailbox)) return mailbox.recentFrom(folder);
  const { folders, key } = fallbackKey(mailbox, folder);
  return folders.get(key) ?? 1;
}
