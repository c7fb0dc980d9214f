// The engine's command table: one module per command, grouped by area (each group file lists its specs).
import type { CommandSpec } from '../engine/types.js';
import { CORE_COMMANDS } from './core.js';
import { FETCH_COMMANDS } from './fetch.js';
import { MAILBOXES_COMMANDS } from './mailboxes.js';
import { MESSAGES_COMMANDS } from './messages.js';
import { SEARCH_COMMANDS } from './search.js';
import { SORT_COMMANDS } from './sort.js';
import { THREAD_COMMANDS } from './thread.js';

export const COMMANDS: readonly CommandSpec[] = [...CORE_COMMANDS, ...MAILBOXES_COMMANDS, ...MESSAGES_COMMANDS, ...FETCH_COMMANDS, ...SEARCH_COMMANDS, ...SORT_COMMANDS, ...THREAD_COMMANDS];

/** Name → spec. Two modules claiming one name is a startup error. */
export function commandTable(): ReadonlyMap<string, CommandSpec> {
  const table = new Map<string, CommandSpec>();
  for (const spec of COMMANDS) {
    if (table.has(spec.name)) throw new Error(`two IMAP command modules claim ${spec.name}`);
    table.set(spec.name, spec);
  }
  return table;
}
