// SUBSCRIBE / UNSUBSCRIBE (RFC 9051 §6.3.7–§6.3.8, RFC 3501 §6.3.6–§6.3.7). The subscription list is the store's
// own list of names, which keeps a name after its folder is deleted or renamed (RFC 3501 §6.3.6: the server MUST
// NOT remove it unilaterally). SUBSCRIBE validates its argument as RFC 9051 §6.3.7 allows and Dovecot 2.3 does:
// a name with no folder is NO [NONEXISTENT], unless it is in the list already (then OK: "already subscribed").
// UNSUBSCRIBE removes any listed name, folder or not, and of a name that is not subscribed answers OK (RFC 9051
// §6.3.8 "or if the mailbox is not subscribed"; Dovecot 2.3 alike).
import { MailboxError } from '../../mailbox/errors.js';
import type { CommandSpec } from '../engine/types.js';
import { oneMailboxArgument } from './create.js';
import { publishFolderChange } from './notify.js';

export const SUBSCRIBE: CommandSpec = {
  name: 'SUBSCRIBE',
  states: ['authenticated', 'selected'],
  async run({ session, args }) {
    const { path, mailbox } = oneMailboxArgument({ session, args });
    mailbox.subscribe(path, true);
    publishFolderChange(session, { kind: 'subscribed', folder: path });
  },
};

export const UNSUBSCRIBE: CommandSpec = {
  name: 'UNSUBSCRIBE',
  states: ['authenticated', 'selected'],
  async run({ session, args }) {
    const { path, mailbox } = oneMailboxArgument({ session, args });
    try {
      mailbox.subscribe(path, false);
    } catch (error) {
      // Neither a folder nor a listed name: it is not subscribed, which is what the client asked for.
      if (!(error instanceof MailboxError && error.code === 'NO_SUCH_FOLDER')) throw error;
      return;
    }
    publishFolderChange(session, { kind: 'unsubscribed', folder: path });
  },
};
