// Command specs of this group; commands/index.ts joins the groups into the engine's table.
import type { CommandSpec } from '../engine/types.js';
import { SEARCH_COMMAND } from './search-command.js';
import { CANCELUPDATE_COMMAND } from './search-context.js';

export const SEARCH_COMMANDS: readonly CommandSpec[] = [SEARCH_COMMAND, CANCELUPDATE_COMMAND];
