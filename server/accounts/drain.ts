// What the background drain of one alias's sealed queue is doing, for the admin API, the UI and
// `sealpost queue status`: counts and a state, never message data. A stalled state (over quota, error)
// is also kept in the directory, so another process (the CLI) and a restarted server can show it.
import type { AliasId, Directory } from '../directory/index.js';

/**
 * idle: nothing running (mail may still wait for the next login while locked); draining: messages are
 * moving into the mailbox; over-quota: the next message does not fit, the rest stays queued until the
 * owner deletes mail; error: the last attempt failed, retried later (and at the next login).
 */
export type DrainState = 'idle' | 'draining' | 'over-quota' | 'error';

export interface DrainProgress {
  readonly state: DrainState;
  /** Messages still sealed in the queue. */
  readonly queued: number;
  /** Messages stored by the current (or last) drain of this server process. */
  readonly drained: number;
  /** When the state began (ISO 8601); null for idle with nothing known. */
  readonly since: string | null;
  /** Error class name for state error (never a message text). */
  readonly error?: string;
}

/** A stalled drain as kept in the directory. */
export interface StalledDrain {
  readonly state: 'over-quota' | 'error';
  readonly since: string;
  readonly error?: string;
}

export const DRAIN_STALLED_PREFIX = 'accounts.drain-stalled:';

const stalledKey = (aliasId: string): string => `${DRAIN_STALLED_PREFIX}${aliasId}`;

export function readStalledDrain(directory: Directory, aliasId: AliasId | string): StalledDrain | null {
  const value = directory.getSetting(stalledKey(aliasId));
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  if ((v.state !== 'over-quota' && v.state !== 'error') || typeof v.since !== 'string') return null;
  return { state: v.state, since: v.since, ...(typeof v.error === 'string' ? { error: v.error } : {}) };
}

/** Records (or with null clears) a stalled drain; written only when it changes. */
export function writeStalledDrain(directory: Directory, aliasId: AliasId | string, stalled: StalledDrain | null): void {
  const current = readStalledDrain(directory, aliasId);
  if (stalled === null) {
    if (current !== null) directory.setSetting(stalledKey(aliasId), undefined);
    return;
  }
  if (current && current.state === stalled.state && current.error === stalled.error) return;
  directory.setSetting(stalledKey(aliasId), stalled);
}

/** Retry delay after the n-th consecutive drain error (30 s doubling, at most 15 min). */
export function drainRetryDelayMs(failures: number): number {
  return Math.min(15 * 60_000, 30_000 * 2 ** Math.max(0, failures - 1));
}

/** Human text of a drain state (CLI, logs of counts). */
export function describeDrain(progress: DrainProgress): string {
  switch (progress.state) {
    case 'draining':
      return `moving into the mailbox: ${progress.drained} stored, ${progress.queued} to go`;
    case 'over-quota':
      return `stopped: the mailbox is full; ${progress.queued} message(s) wait sealed. Delete mail (the drain resumes on its own) or raise the quota`;
    case 'error':
      return `stopped by an error (${progress.error ?? 'unknown'}); retried automatically and at the next login`;
    default:
      return progress.queued > 0 ? `${progress.queued} message(s) wait sealed until the next login` : 'nothing waiting';
  }
}
