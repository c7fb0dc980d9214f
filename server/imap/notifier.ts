// Live updates: the store emits a change event after every committed write; each session of that mailbox
// with the folder selected pulls the journal (changesSince) through imap-core's notifier interface, which
// turns the entries into EXISTS / EXPUNGE / FETCH (at once while IDLE, otherwise with the next command).
import type { ImapNotifier, ImapSession, ImapUpdate } from '@zone-eu/wildduck/imap-core/index.js';
import type { Logger } from '../log.js';
import type { MailboxChangeEvent, MailboxStore } from '../mailbox/types.js';
import { errorSummary } from './errors.js';
import { SelectedFolder, asSelected, stateOf } from './state.js';

type Listener = (message?: { command: string; mailbox?: { toString(): string }; reason?: string }) => void;

const samePath = (a: string, b: string): boolean => a === b || (a.toUpperCase() === 'INBOX' && b.toUpperCase() === 'INBOX');

export class MailboxNotifier implements ImapNotifier {
  /** mailbox id → session → listener */
  private readonly listeners = new Map<string, Map<ImapSession, Listener>>();
  private readonly unsubscribe: () => void;

  constructor(
    store: Pick<MailboxStore, 'onChange'>,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = store.onChange((event) => this.dispatch(event));
  }

  addListener(session: ImapSession, listener: Listener): void {
    const user = stateOf(session).user;
    if (!user) return;
    let sessions = this.listeners.get(user.mailbox.id);
    if (!sessions) this.listeners.set(user.mailbox.id, (sessions = new Map()));
    sessions.set(session, listener);
  }

  removeListener(session: ImapSession): void {
    for (const [id, sessions] of this.listeners) {
      if (sessions.delete(session) && sessions.size === 0) this.listeners.delete(id);
    }
  }

  /** Journal entries after modifyIndex for the selected folder, in imap-core's update shape. */
  getUpdates(mailbox: { toString(): string }, modifyIndex: number, callback: (err: Error | null, updates?: ImapUpdate[]) => void): void {
    let updates: ImapUpdate[];
    try {
      const folder = asSelected(mailbox);
      const selected = folder.session.selected;
      const uidList = selected ? selected.uidList : [];
      const largestKnown = uidList.length ? (uidList[uidList.length - 1] as number) : 0;
      updates = [];
      for (const change of folder.mailbox.changesSince(folder.path, modifyIndex)) {
        const own = folder.ownModseqs.delete(change.modseq);
        if (change.kind === 'append') {
          // UIDs only grow: anything at or below the largest known UID was already in the SELECT list.
          if (change.uid > largestKnown) updates.push({ command: 'EXISTS', uid: change.uid, modseq: change.modseq });
        } else if (change.kind === 'expunge') {
          updates.push({ command: 'EXPUNGE', uid: change.uid, modseq: change.modseq });
        } else {
          updates.push({
            command: 'FETCH',
            uid: change.uid,
            modseq: change.modseq,
            flags: [...change.flags],
            ...(own ? { ignore: folder.session.id } : {}),
          });
        }
      }
    } catch (error) {
      this.logger.warn({ err: errorSummary(error) }, 'IMAP live update failed');
      callback(null, []);
      return;
    }
    callback(null, updates);
  }

  /** Tells sessions that have the deleted folder selected (other than `except`) to disconnect. */
  drop(mailboxId: string, folderKey: string, except: ImapSession): void {
    const sessions = this.listeners.get(mailboxId);
    if (!sessions) return;
    for (const [session, listener] of sessions) {
      if (session === except) continue;
      this.call(listener, { command: 'DROP', mailbox: { toString: () => folderKey } });
    }
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  private dispatch(event: MailboxChangeEvent): void {
    const sessions = this.listeners.get(event.mailboxId);
    if (!sessions) return;
    for (const [session, listener] of sessions) {
      const selected = session.selected;
      if (!selected) continue;
      const path = selected.mailbox instanceof SelectedFolder ? selected.mailbox.path : selected.path;
      if (!samePath(path, event.folder)) continue;
      this.call(listener);
    }
  }

  private call(listener: Listener, message?: Parameters<Listener>[0]): void {
    // Deferred: the store emits inside its write path; imap-core must not run inside it.
    setImmediate(() => {
      try {
        listener(message);
      } catch (error) {
        this.logger.error({ err: errorSummary(error) }, 'IMAP notification listener failed');
      }
    });
  }
}
