// MOVE / UID MOVE (RFC 6851): the messages go to the target folder and leave the selected one in one store
// transaction. RFC 6851 §3.3 (and §4.3 for UIDPLUS): `* OK [COPYUID …]` comes before the EXPUNGE (or VANISHED
// with QRESYNC) responses, which come before the tagged OK. Moving into the selected folder itself is allowed
// (the messages get new UIDs: EXISTS and EXPUNGE both follow).
import type { CommandSpec } from '../engine/types.js';
import { checkDestination, mailboxOf, packUids, readCopyArguments, refusal, uidRanges } from './copy.js';

export const moveCommand: CommandSpec = {
  name: 'MOVE',
  states: ['selected'],
  uid: true,
  capabilities: ['MOVE'],
  async run(ctx) {
    const { uids, target } = readCopyArguments(ctx);
    const { session } = ctx;
    const view = session.selected!;
    // MOVE expunges from the source, which EXAMINE does not allow (RFC 6851 §3.3: MOVE is COPY + STORE \Deleted + EXPUNGE).
    if (view.readOnly) return { status: 'NO', code: 'READ-ONLY', text: 'Folder is open read-only' };
    const missing = checkDestination(session, target);
    if (missing) return missing;
    if (uids.length === 0) return { status: 'OK', text: 'No messages moved' };
    let result;
    try {
      result = mailboxOf(session).move(view.path, uidRanges(uids), target);
    } catch (error) {
      return refusal(error, 'folder');
    }
    if (result.mapping.length === 0) return { status: 'OK', text: 'No messages moved' };
    const sources = packUids(result.mapping.map((m) => m[0]));
    const targets = packUids(result.mapping.map((m) => m[1]));
    await session.untagged(`OK [COPYUID ${result.uidValidity} ${sources} ${targets}] Moved`);
    // The expunges (and, for a move into the selected folder, the EXISTS) now, after COPYUID.
    await session.flushUpdates(true);
    return { status: 'OK', text: 'MOVE completed' };
  },
};
