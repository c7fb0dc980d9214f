// What an owner operation needs from the running process, member by member. AppContext (server/context.ts) has
// these members with these types, so the server, a one-shot CLI context and a test context all satisfy it.
import type { Accounts, SealedQueuePort } from '../accounts/index.js';
import type { DataLayout, SealpostConfig } from '../config/index.js';
import type { KeyRing } from '../crypto/index.js';
import type { Directory } from '../directory/index.js';
import type { Logger } from '../log.js';
import type { MailboxStore } from '../mailbox/types.js';

export interface OpsContext {
  /** Settings; `env` selects the backup schedule and the remote targets' rclone. */
  readonly config: SealpostConfig;
  /** Where the audit line of each operation goes. */
  readonly logger: Logger;
  /** The data dir: mailboxes, backups, secrets. */
  readonly paths: DataLayout;
  /** Encrypts the queue and directory snapshots and remote credentials. Never logged. */
  readonly appKey: Buffer;
  /** Aliases, settings, forwards. */
  readonly directory: Directory;
  /** Unlock (throttled), re-key, lock, remove. */
  readonly accounts: Accounts;
  /** Open encrypted stores (quota, export, import, restore). */
  readonly mailboxes: MailboxStore;
  /** The sealed queue. */
  readonly queue: SealedQueuePort;
  /** Keys of unlocked aliases. */
  readonly keyRing: KeyRing;
}

/** Who asked: the CLI (over the control socket or in its own process), the admin API, or the scheduler. */
export type OpsCaller = 'cli' | 'admin' | 'scheduler';

/** One progress event. `transfer` events count messages (import, export, folder restore); the others name a phase. */
export interface OpsProgress {
  /** What is happening now, in words the UI shows. */
  readonly phase: string;
  readonly done: number;
  /** null when the total is not known yet. */
  readonly total: number | null;
  readonly transfer?: boolean;
  readonly imported?: number;
  readonly skipped?: number;
  readonly folder?: string;
}

/** How an operation was invoked: the caller (audit line, login throttling) and where its progress goes. */
export interface OpsCall {
  readonly via: OpsCaller;
  /** The client's address for login throttling ('local' for the CLI and the scheduler). */
  readonly ip: string;
  readonly onProgress?: (progress: OpsProgress) => void;
}

export const SCHEDULER_CALL: OpsCall = { via: 'scheduler', ip: 'local' };
