// Command specs of this group; commands/index.ts joins the groups into the engine's table.
// APPEND (MULTIAPPEND, CATENATE), REPLACE, COPY and MOVE: the commands that put messages into folders.
import type { CommandSpec } from '../engine/types.js';
import { appendCommand } from './append.js';
import { copyCommand } from './copy.js';
import { moveCommand } from './move.js';
import { replaceCommand } from './replace.js';

export const MESSAGES_COMMANDS: readonly CommandSpec[] = [appendCommand, replaceCommand, copyCommand, moveCommand];
