// EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 UIDPLUS §2.1): removes \Deleted messages (only those in
// the UID set for UID EXPUNGE). The engine's flush before the tagged OK reports them as EXPUNGE (or VANISHED
// with QRESYNC), in this session's numbering.
import type { CommandSpec } from '../engine/types.js';
import { uidRanges } from '../engine/selected.js';

export const EXPUNGE: CommandSpec = {
  name: 'EXPUNGE',
  states: ['selected'],
  uid: true,
  capabilities: ['UIDPLUS'],
  async run({ session, args, uid }) {
    const view = session.selected;
    const user = session.user;
    let uids: number[] | null = null;
    if (uid) {
      const set = args.sequenceSet();
      args.end();
      uids = view ? view.resolve(set, true) : [];
    } else {
      args.end();
    }
    if (!view || !user) return { status: 'BAD', text: 'No folder selected' };
    if (view.readOnly) return { status: 'NO', code: 'READ-ONLY', text: 'Folder is read-only' };
    if (uids === null) user.mailbox.expunge(view.path);
    else if (uids.length) user.mailbox.expunge(view.path, uidRanges(uids));
  },
};
