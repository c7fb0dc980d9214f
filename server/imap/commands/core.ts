// Command specs of this group; commands/index.ts joins the groups into the engine's table.
import type { CommandSpec } from '../engine/types.js';
import { AUTHENTICATE } from './authenticate.js';
import { CAPABILITY } from './capability.js';
import { CHECK } from './check.js';
import { CLOSE } from './close.js';
import { COMPRESS } from './compress.js';
import { ENABLE } from './enable.js';
import { EXPUNGE } from './expunge.js';
import { ID } from './id.js';
import { IDLE } from './idle.js';
import { LOGIN } from './login.js';
import { LOGOUT } from './logout.js';
import { NAMESPACE } from './namespace.js';
import { NOOP } from './noop.js';
import { EXAMINE, SELECT } from './select.js';
import { STARTTLS } from './starttls.js';
import { UNSELECT } from './unselect.js';

export const CORE_COMMANDS: readonly CommandSpec[] = [
  CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ID, ENABLE, COMPRESS, NAMESPACE, SELECT, EXAMINE, CLOSE, UNSELECT,
  CHECK, EXPUNGE, IDLE,
];
