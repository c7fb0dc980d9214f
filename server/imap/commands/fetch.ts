// Command specs of this group; commands/index.ts joins the groups into the engine's table.
// FETCH and STORE (and their UID forms): reading messages and changing their flags.
import type { CommandSpec } from '../engine/types.js';
import { fetchCommand } from './fetch-command.js';
import { storeCommand } from './store.js';

export const FETCH_COMMANDS: readonly CommandSpec[] = [fetchCommand, storeCommand];
