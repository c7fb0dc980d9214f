// REPLACE / UID REPLACE (RFC 8508): stores a new message (APPEND's arguments, CATENATE included, §4.2) in a
// target folder and expunges one message of the selected folder (§3.4). Responses (§4.3 and the §3 examples):
// `* OK [APPENDUID …]`, then EXISTS (when the target is the selected folder) and EXPUNGE or VANISHED for the
// replaced message, then the tagged OK. The store has no replace verb: the quota is checked for the new message
// with the old one still present (§3.4 asks for the net usage), and append + expunge are two transactions.
import type { AppendResult } from '../../mailbox/types.js';
import type { CommandSpec } from '../engine/types.js';
import { errorSummary } from '../errors.js';
import { STAR } from '../wire/types.js';
import { messageBytes, readAppendMessage, storeMessages } from './append.js';
import { checkDestination, mailboxOf, refusal } from './copy.js';

export const replaceCommand: CommandSpec = {
  name: 'REPLACE',
  messageLiterals: true,
  states: ['selected'],
  uid: true,
  capabilities: ['REPLACE'],
  async run({ session, args, uid }) {
    // seq-number / uid: nz-number or `*` (RFC 9051 seq-number).
    let number: number;
    if (args.peek() === '*') {
      args.expect('*');
      number = STAR;
    } else {
      number = args.nzNumber();
    }
    args.sp();
    const target = args.mailbox();
    args.sp();
    const message = readAppendMessage(args, session, { left: session.limits.maxLiteralsPerCommand });
    args.end();

    const view = session.selected!;
    // A sequence number beyond the mailbox is BAD (resolve throws); a UID that is gone is skipped.
    const old = view.resolve({ kind: 'set', ranges: [[number, number]] }, uid)[0];
    // Expunging the old message needs a writable selection (RFC 8508 §3.4, §4.1: the rights of STORE and EXPUNGE).
    if (view.readOnly) return { status: 'NO', code: 'READ-ONLY', text: 'Folder is open read-only' };
    if (old === undefined) return { status: 'NO', text: 'No such message' };
    const missing = checkDestination(session, target);
    if (missing) return missing;

    const mailbox = mailboxOf(session);
    let appended: AppendResult;
    try {
      if (mailbox.listMessages(view.path, [[old, old]]).length === 0) return { status: 'NO', text: 'No such message' };
      const raw = await messageBytes(message, session);
      appended = (await storeMessages(session, target, [{ raw, flags: message.flags, internalDate: message.internalDate }]))[0] as AppendResult;
    } catch (error) {
      return refusal(error, 'destination');
    }
    await session.untagged(`OK [APPENDUID ${appended.uidValidity} ${appended.uid}] Replacement message stored`);
    try {
      // The store has no "replace" verb: \Deleted on exactly this UID, then UID EXPUNGE of it. The flag change
      // is this session's own and is not echoed before the EXPUNGE.
      const marked = mailbox.store(view.path, [[old, old]], 'add', ['\\Deleted']);
      for (const change of marked.updated) session.ownChange(change.modseq);
      mailbox.expunge(view.path, [[old, old]]);
    } catch (error) {
      // The new message is stored (and reported); the old one stays. Say so rather than claim a replace.
      session.logger.warn({ err: errorSummary(error) }, 'IMAP REPLACE could not expunge the replaced message');
      return refusal(error, 'folder');
    }
    await session.flushUpdates(true);
    return { status: 'OK', text: 'REPLACE completed' };
  },
};
