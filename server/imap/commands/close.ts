// CLOSE (RFC 9051 §6.4.1): removes \Deleted messages silently (no EXPUNGE responses) unless the folder was
// opened read-only, then leaves it.
import type { CommandSpec } from '../engine/types.js';

export const CLOSE: CommandSpec = {
  name: 'CLOSE',
  states: ['selected'],
  async run({ session, args }) {
    args.end();
    const view = session.selected;
    const user = session.user;
    session.unselect();
    if (view && user && !view.readOnly) user.mailbox.expunge(view.path);
  },
};
