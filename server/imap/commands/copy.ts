// COPY / UID COPY (RFC 9051 §6.4.7, RFC 3501 §6.4.7) with COPYUID (RFC 4315 §3), and the small helpers the
// message commands of this group share (UID lists ↔ store UID sets, refusals as tagged replies).
import { MailboxError } from '../../mailbox/errors.js';
import type { CommandContext, CommandSpec, Completion, Session } from '../engine/types.js';
import { uidRanges } from '../engine/selected.js';
import { ImapError, replyFor, type ErrorRole } from '../errors.js';

export { uidRanges };

/**
 * A UID list as an IMAP uid-set, keeping its order (RFC 4315 §3: the n-th source UID of COPYUID matches the
 * n-th destination UID, so runs are joined only where the list itself runs upwards by one).
 */
export function packUids(uids: readonly number[]): string {
  const parts: string[] = [];
  let start = -1;
  let end = -1;
  for (const uid of uids) {
    if (start >= 0 && uid === end + 1) {
      end = uid;
      continue;
    }
    if (start >= 0) parts.push(start === end ? `${start}` : `${start}:${end}`);
    start = uid;
    end = uid;
  }
  if (start >= 0) parts.push(start === end ? `${start}` : `${start}:${end}`);
  return parts.join(',');
}

/** A refusal the store or our own checks raised, as the tagged reply; anything else is a bug for the engine. */
export function refusal(error: unknown, role: ErrorRole): Completion {
  if (!(error instanceof ImapError) && !(error instanceof MailboxError)) throw error;
  const reply = replyFor(error, role);
  return { status: reply.response, ...(reply.code ? { code: reply.code } : {}), text: reply.message };
}

/** The logged-in user's mailbox (the engine runs these commands only in authenticated/selected states). */
export function mailboxOf(session: Session) {
  if (!session.user) throw new Error('message command without a logged-in user');
  return session.user.mailbox;
}

/**
 * Refuses a missing target folder before anything is written: `NO [TRYCREATE]` (RFC 9051 §6.3.12, §6.4.7). A
 * \Noselect name cannot hold messages either; CREATE turns it into a real folder, so TRYCREATE fits it too.
 */
export function checkDestination(session: Session, path: string): Completion | null {
  try {
    if (!mailboxOf(session).status(path).noselect) return null;
    return { status: 'NO', code: 'TRYCREATE', text: 'Destination folder cannot hold messages (\\Noselect)' };
  } catch (error) {
    return refusal(error, 'destination');
  }
}

/** `<sequence-set> SP <mailbox>` of COPY and MOVE, resolved against the selected view (ascending UIDs). */
export function readCopyArguments(ctx: CommandContext): { uids: number[]; target: string } {
  const set = ctx.args.sequenceSet();
  ctx.args.sp();
  const target = ctx.args.mailbox();
  ctx.args.end();
  const view = ctx.session.selected;
  if (!view) throw new Error('COPY/MOVE without a selected folder');
  return { uids: view.resolve(set, ctx.uid), target };
}

export const copyCommand: CommandSpec = {
  name: 'COPY',
  states: ['selected'],
  uid: true,
  async run(ctx) {
    const { uids, target } = readCopyArguments(ctx);
    const view = ctx.session.selected!;
    const missing = checkDestination(ctx.session, target);
    if (missing) return missing;
    // RFC 9051 §6.4.9: UIDs that no longer exist are no error; nothing left to copy is still OK.
    if (uids.length === 0) return { status: 'OK', text: 'No messages copied' };
    let result;
    try {
      result = mailboxOf(ctx.session).copy(view.path, uidRanges(uids), target);
    } catch (error) {
      return refusal(error, 'folder');
    }
    if (result.mapping.length === 0) return { status: 'OK', text: 'No messages copied' };
    const sources = packUids(result.mapping.map((m) => m[0]));
    const targets = packUids(result.mapping.map((m) => m[1]));
    // A copy into the selected folder is reported as EXISTS by the engine's flush before this tagged OK.
    return { status: 'OK', code: `COPYUID ${result.uidValidity} ${sources} ${targets}`, text: 'COPY completed' };
  },
};
