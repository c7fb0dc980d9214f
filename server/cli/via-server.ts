// For CLI commands: run an operation in the server on the data dir if one is running (over the control
// socket), else in this process on a freshly opened app context.
import type { ConfigFlags } from '../config/index.js';
import { runControlOp } from '../control/client.js';
import { runOp, type Emit, type OpArgs, type OpName, type OpResult } from '../control/ops.js';
import { withContext } from './common.js';

export function viaServerOrHere<K extends OpName>(flags: ConfigFlags, op: K, args: OpArgs<K>, onProgress?: Emit): Promise<OpResult<K>> {
  return runControlOp(flags, op, args, (name, a, emit) => withContext(flags, (ctx) => runOp(ctx, name, a, emit)), onProgress);
}
