// CREATE, RENAME, DELETE, SUBSCRIBE, UNSUBSCRIBE, STATUS: thin translations to the folder verbs.
import type { ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import type { MailboxNotifier } from '../notifier.js';
import { imapNo } from '../errors.js';
import { decodeBinaryPath } from '../protocol.js';
import { SelectedFolder, userOf } from '../state.js';

export function folderHooks(notifier: MailboxNotifier) {
  return {
    onCreate(path: string, session: ImapSession): unknown[] {
      const folder = userOf(session).mailbox.createFolder(path);
      return [true, folder.path];
    },

    onRename(from: string, to: string, session: ImapSession): unknown[] {
      userOf(session).mailbox.renameFolder(from, to);
      return [true];
    },

    onDelete(path: string, session: ImapSession): unknown[] {
      const { mailbox } = userOf(session);
      const before = mailbox.status(path);
      mailbox.deleteFolder(path);
      // Other sessions that have it selected are told with BYE (imap-core's DROP), as the folder is gone.
      notifier.drop(mailbox.id, new SelectedFolder(mailbox, before.path, before.uidValidity, session).toString(), session);
      return [true];
    },

    onSubscribe(path: string, session: ImapSession): unknown[] {
      userOf(session).mailbox.subscribe(path, true);
      return [true];
    },

    onUnsubscribe(path: string, session: ImapSession): unknown[] {
      userOf(session).mailbox.subscribe(decodeBinaryPath(path), false);
      return [true];
    },

    onStatus(path: string, session: ImapSession): unknown[] {
      const status = userOf(session).mailbox.status(path);
      if (status.noselect) throw imapNo(null, 'Folder cannot be selected (\\Noselect)');
      return [
        {
          messages: status.messages,
          uidNext: status.uidNext,
          uidValidity: status.uidValidity,
          unseen: status.unseen,
          highestModseq: status.highestModseq,
        },
      ];
    },
  };
}
