// SUBSCRIBE / UNSUBSCRIBE (RFC 9051 §6.3.7–§6.3.8, RFC 3501 §6.3.6–§6.3.7). The store keeps the subscription as
// a mark on the folder, so (as Dovecot 2.3 does) only an existing name can be subscribed: NO [NONEXISTENT]
// otherwise. UNSUBSCRIBE of a name that no longer exists (deleted after it was subscribed) succeeds: the
// name is not in the subscription list afterwards, which is what the client asked for.
import { MailboxError } from '../../mailbox/errors.js';
import { imapNo } from '../errors.js';
import type { CommandSpec } from '../engine/types.js';
import { publishFolderChange } from './notify.js';

export const SUBSCRIBE: CommandSpec = {
  name: 'SUBSCRIBE',
  states: ['authenticated', 'selected'],
  async run({ session, args }) {
    const path = args.mailbox();
    args.end();
    const user = session.user;
    if (!user) throw imapNo(null, 'Not logged in');
    user.mailbox.subscribe(path, true);
    publishFolderChange(session, { kind: 'subscribed', folder: user.mailbox.status(path).path });
  },
};

export const UNSUBSCRIBE: CommandSpec = {
  name: 'UNSUBSCRIBE',
  states: ['authenticated', 'selected'],
  async run({ session, args }) {
    const path = args.mailbox();
    args.end();
    const user = session.user;
    if (!user) throw imapNo(null, 'Not logged in');
    try {
      user.mailbox.subscribe(path, false);
    } catch (error) {
      if (!(error instanceof MailboxError && error.code === 'NO_SUCH_FOLDER')) throw error;
      return;
    }
    publishFolderChange(session, { kind: 'unsubscribed', folder: user.mailbox.status(path).path });
  },
};
