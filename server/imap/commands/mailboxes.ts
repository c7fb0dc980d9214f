// Command specs of this group; commands/index.ts joins the groups into the engine's table.
import type { CommandSpec } from '../engine/types.js';
import { CREATE } from './create.js';
import { DELETE } from './delete.js';
import { LIST, LSUB } from './list.js';
import { NOTIFY } from './notify.js';
import { GETQUOTA, GETQUOTAROOT, SETQUOTA } from './quota.js';
import { RENAME } from './rename.js';
import { STATUS } from './status.js';
import { SUBSCRIBE, UNSUBSCRIBE } from './subscribe.js';

export const MAILBOXES_COMMANDS: readonly CommandSpec[] = [
  LIST, LSUB, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, GETQUOTAROOT, GETQUOTA, SETQUOTA, NOTIFY,
];
