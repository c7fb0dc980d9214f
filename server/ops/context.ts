// What an owner operation needs from the running process. A structural subset of AppContext (server/context.ts),
// so the server, a one-shot CLI context and a test context all satisfy it without adapters.
import type { AppContext } from '../context.js';

/**
 * The narrow context of server/ops: directory (aliases, settings), accounts (unlock, re-key, lock, remove),
 * mailboxes (open stores), queue (sealed queue counts), keyRing (unlocked keys), appKey + config.env (backups,
 * remote targets through rclone), paths (the data dir) and logger (the one audit line per operation).
 */
export type OpsContext = Pick<AppContext, 'config' | 'logger' | 'paths' | 'appKey' | 'directory' | 'accounts' | 'mailboxes' | 'queue' | 'keyRing'>;

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
