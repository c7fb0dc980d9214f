// SELECT / EXAMINE: the folder's UID list and counters; the handle we return comes back to every later hook.
import type { ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import { imapNo } from '../errors.js';
import { SelectedFolder, userOf } from '../state.js';

const SYSTEM_FLAG = /^\\/;

export function selectHooks() {
  return {
    onOpen(path: string, session: ImapSession): unknown[] {
      const { mailbox } = userOf(session);
      // Read the counters first: a change committed later is then reported as a live update, never lost.
      const status = mailbox.status(path);
      // A name kept only for its child folders (DELETE of a parent, RFC 3501 6.3.4) holds no messages.
      if (status.noselect) throw imapNo(null, 'Folder cannot be selected (\\Noselect)');
      const messages = mailbox.listMessages(status.path);
      const keywords = new Set<string>();
      for (const m of messages) for (const flag of m.flags) if (!SYSTEM_FLAG.test(flag)) keywords.add(flag);
      return [
        {
          _id: new SelectedFolder(mailbox, status.path, status.uidValidity, session),
          uidList: messages.map((m) => m.uid),
          modifyIndex: status.highestModseq,
          uidValidity: status.uidValidity,
          uidNext: status.uidNext,
          flags: [...keywords].sort(),
        },
      ];
    },
  };
}
