// Restore notifications for live sessions. IMAP/POP3 subscribe and say BYE to every session of the
// mailbox on 'replacing'; the file is swapped only after the listeners ran and the handle was closed.
import { EventEmitter } from 'node:events';

export interface MailboxReplaceEvent {
  readonly mailboxId: string;
  readonly generationId: string;
}

export interface BackupEventMap {
  /** A restore is about to swap the mailbox file: close every session of it now (BYE). */
  replacing: [MailboxReplaceEvent];
  /** The restored file is in place. */
  replaced: [MailboxReplaceEvent];
}

/**
 * One emitter per process (restores and sessions of one process share it). Listeners must not throw;
 * a throwing listener is caught and ignored so a restore is never stopped half-way by a session.
 */
export const backupEvents = new EventEmitter<BackupEventMap>();
backupEvents.setMaxListeners(100);

export function emitSafely<K extends keyof BackupEventMap>(name: K, ...args: BackupEventMap[K]): void {
  for (const listener of backupEvents.listeners(name)) {
    try {
      (listener as (...a: BackupEventMap[K]) => void)(...args);
    } catch {}
  }
}
