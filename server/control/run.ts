// For CLI commands: run an operation in the server on the data dir if one is running, else in this process.
import { withContext } from '../cli/common.js';
import type { ConfigFlags } from '../config/index.js';
import { runControlOp } from './client.js';
import { runOp, type Emit, type OpArgs, type OpName, type OpResult } from './ops.js';

export function viaServerOrHere<K extends OpName>(flags: ConfigFlags, op: K, args: OpArgs<K>, onProgress?: Emit): Promise<OpResult<K>> {
  return runControlOp(flags, op, args, (name, a, emit) => withContext(flags, (ctx) => runOp(ctx, name, a, emit)), onProgress);
}
