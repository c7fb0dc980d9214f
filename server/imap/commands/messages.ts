// Command specs of this group; commands/index.ts joins the groups into the engine's table.
import type { CommandSpec } from '../engine/types.js';

export const MESSAGES_COMMANDS: readonly CommandSpec[] = [];
