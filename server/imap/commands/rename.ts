// RENAME (RFC 9051 §6.3.6, RFC 3501 §6.3.5): the folder and all its inferiors get the new name (MAILBOXID kept,
// RFC 8474 §4.2); missing superior names of the target are created (unsubscribed, as CREATE's); an existing
// target (INBOX always exists) is NO [ALREADYEXISTS]. Renaming INBOX moves its messages to the new folder and
// leaves INBOX empty in place; the new folder may be below INBOX (INBOX/old), as INBOX's inferiors are not
// renamed with it. The subscription list is not changed (RFC 9051 §6.3.6: "renaming a mailbox doesn't update
// subscription information on the original name"; Dovecot 2.3 alike): the old names stay subscribed, the new ones
// are subscribed only if they already were. Renaming the selected folder (or one above it) closes it for this
// session with an untagged OK [CLOSED], since the name it selected no longer exists.
import { imapNo } from '../errors.js';
import type { CommandSpec } from '../engine/types.js';
import { canonicalPath, dropEmptyNoselectParents, folderExists, newFolderName, superiorNames } from './create.js';
import { publishFolderChange } from './notify.js';

export const RENAME: CommandSpec = {
  name: 'RENAME',
  states: ['authenticated', 'selected'],
  async run({ session, args }) {
    const from = canonicalPath(args.mailbox());
    args.sp();
    const rawTarget = args.mailbox();
    args.end();
    const user = session.user;
    if (!user) throw imapNo(null, 'Not logged in');
    const to = newFolderName(rawTarget);
    const mailbox = user.mailbox;
    if (!folderExists(mailbox, from)) throw imapNo('NONEXISTENT', 'No such folder');
    if (to === 'INBOX' || folderExists(mailbox, to)) throw imapNo('ALREADYEXISTS', 'A folder with the new name already exists');
    // Superior names the rename creates: not the source's own tree (it moves), except below INBOX, which stays.
    const moves = (p: string): boolean => from !== 'INBOX' && (p === from || p.startsWith(`${from}/`));
    const created = superiorNames(to).filter((p) => !moves(p) && !folderExists(mailbox, p));
    mailbox.renameFolder(from, to, { keepSubscriptions: true });
    if (from !== 'INBOX') dropEmptyNoselectParents(mailbox, from);
    for (const path of created) publishFolderChange(session, { kind: 'created', folder: path });
    publishFolderChange(session, from === 'INBOX' ? { kind: 'created', folder: to } : { kind: 'renamed', folder: to, oldName: from });
    const selected = session.selected;
    if (from !== 'INBOX' && selected && (selected.path === from || selected.path.startsWith(`${from}/`))) {
      session.unselect();
      await session.untagged('OK', '[CLOSED]', 'The selected folder was renamed');
    }
  },
};
