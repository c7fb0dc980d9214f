// STATUS (RFC 9051 §6.3.11, RFC 3501 §6.3.10) and the status items LIST-STATUS (RFC 5819) shares: MESSAGES,
// RECENT, UIDNEXT, UIDVALIDITY, UNSEEN, DELETED (RFC 9051), SIZE (RFC 8438), HIGHESTMODSEQ (RFC 7162),
// APPENDLIMIT (RFC 7889), MAILBOXID (RFC 8474) and DELETED-STORAGE (RFC 9208). Reading counters never touches
// the session's selected view, so STATUS of the selected folder cannot desynchronise it (RFC 9051 §6.3.11).
import type { FolderStatus, Mailbox } from '../../mailbox/types.js';
import { imapNo } from '../errors.js';
import type { CommandSpec, Session } from '../engine/types.js';
import { mailboxName } from '../wire/encode.js';
import { ParseError, type Cursor, type Value } from '../wire/types.js';

export const STATUS_ITEMS = [
  'MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'HIGHESTMODSEQ', 'APPENDLIMIT', 'MAILBOXID',
  'DELETED-STORAGE',
] as const;
export type StatusItem = (typeof STATUS_ITEMS)[number];

const isStatusItem = (name: string): name is StatusItem => (STATUS_ITEMS as readonly string[]).includes(name);

/**
 * `(` status-att *(SP status-att) `)`: at least one item; unknown items are a syntax error (BAD). IMAP4rev2 has no
 * \Recent (RFC 9051 Appendix E), so once a client enabled it RECENT is unknown too.
 */
export function readStatusItems(args: Cursor, rev2 = false): StatusItem[] {
  const items = args.list((c) => {
    const name = c.atom();
    if (!isStatusItem(name) || (rev2 && name === 'RECENT')) throw new ParseError('Unknown STATUS item');
    return name;
  });
  return [...new Set(items)];
}

/** RFC 7162 §3.1: asking for HIGHESTMODSEQ turns CONDSTORE on for the session. */
export function enableForItems(session: Session, items: readonly StatusItem[]): void {
  if (items.includes('HIGHESTMODSEQ')) session.enable('CONDSTORE');
}

/** Bytes of the folder's \Deleted messages (RFC 9208 §4.2.2 DELETED-STORAGE is counted in KiB of these). */
function deletedBytes(mailbox: Mailbox, status: FolderStatus): number {
  if (status.deleted === 0) return 0;
  // One pass over the folder's index (no UID list in the query, however scattered the \Deleted messages are).
  let total = 0;
  for (const meta of mailbox.listMessages(status.path)) if (meta.flags.includes('\\Deleted')) total += meta.size;
  return total;
}

/**
 * The `(item value …)` list for one folder. RECENT agrees with SELECT and SEARCH RECENT: for the folder this
 * session has selected it is the session's own \Recent set, elsewhere the messages no session has claimed yet.
 */
export function statusValues(session: Session, mailbox: Mailbox, status: FolderStatus, items: readonly StatusItem[]): Value[] {
  const out: Value[] = [];
  const selected = session.selected;
  for (const item of items) {
    let value: Value;
    switch (item) {
      case 'MESSAGES':
        value = { atom: String(status.messages) };
        break;
      case 'RECENT':
        value = { atom: String(selected && selected.path === status.path ? selected.recent.size : status.recent) };
        break;
      case 'UIDNEXT':
        value = { atom: String(status.uidNext) };
        break;
      case 'UIDVALIDITY':
        value = { atom: String(status.uidValidity) };
        break;
      case 'UNSEEN':
        value = { atom: String(status.unseen) };
        break;
      case 'DELETED':
        value = { atom: String(status.deleted) };
        break;
      case 'SIZE':
        value = { atom: String(status.size) };
        break;
      case 'HIGHESTMODSEQ':
        value = { atom: String(status.highestModseq) };
        break;
      case 'APPENDLIMIT':
        value = { atom: String(session.limits.maxMessageBytes) };
        break;
      case 'MAILBOXID':
        value = [{ atom: status.mailboxId }];
        break;
      case 'DELETED-STORAGE':
        value = { atom: String(Math.ceil(deletedBytes(mailbox, status) / 1024)) };
        break;
    }
    out.push({ atom: item }, value);
  }
  return out;
}

/** `* STATUS <name> (…)` for one selectable folder. */
export async function writeStatus(session: Session, mailbox: Mailbox, status: FolderStatus, items: readonly StatusItem[]): Promise<void> {
  const utf8 = session.enabled.has('UTF8=ACCEPT') || session.enabled.has('IMAP4rev2');
  await session.untagged('STATUS', mailboxName(status.path, utf8), statusValues(session, mailbox, status, items));
}

export const STATUS: CommandSpec = {
  name: 'STATUS',
  states: ['authenticated', 'selected'],
  capabilities: ['STATUS=SIZE'],
  async run({ session, args }) {
    const path = args.mailbox();
    args.sp();
    const items = readStatusItems(args, session.enabled.has('IMAP4rev2'));
    args.end();
    const user = session.user;
    if (!user) return { status: 'BAD', text: 'Not logged in' };
    const status = user.mailbox.status(path);
    // A name kept only for its children (RFC 3501 §6.3.4) has no status of its own.
    if (status.noselect) throw imapNo(null, 'Folder cannot be selected (\\Noselect)');
    enableForItems(session, items);
    await writeStatus(session, user.mailbox, status, items);
    // RFC 9051 §6.3.11: STATUS is meant for other mailboxes; answered anyway, with the hint Dovecot 2.3 gives (RFC 5530).
    if (session.selected?.path === status.path) return { status: 'OK', code: 'CLIENTBUG', text: 'STATUS of the selected folder completed' };
  },
};
