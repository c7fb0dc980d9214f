// DELETE (RFC 9051 §6.3.5, RFC 3501 §6.3.4): INBOX cannot be deleted; a folder with inferior names loses its
// messages and stays as a \Noselect name; deleting a \Noselect name that still has inferiors is refused (store
// rules); a \Noselect name whose last inferior goes is removed with it. Deleting the folder this session has
// selected closes it for this session: it returns to the authenticated state and says so with an untagged
// OK [CLOSED] (RFC 9051 §7.1), instead of being dropped by the next update.
import { imapNo } from '../errors.js';
import type { CommandSpec } from '../engine/types.js';
import { dropEmptyNoselectParents, oneMailboxArgument } from './create.js';
import { publishFolderChange } from './notify.js';

export const DELETE: CommandSpec = {
  name: 'DELETE',
  states: ['authenticated', 'selected'],
  async run({ session, args }) {
    const { path, mailbox } = oneMailboxArgument({ session, args });
    if (path === 'INBOX') throw imapNo('CANNOT', 'INBOX cannot be deleted');
    mailbox.deleteFolder(path);
    dropEmptyNoselectParents(mailbox, path);
    publishFolderChange(session, { kind: 'deleted', folder: path });
    if (session.selected?.path === path) {
      session.unselect();
      await session.untagged('OK', '[CLOSED]', 'The selected folder was deleted');
    }
  },
};
