// NAMESPACE (RFC 2342, RFC 9051 §6.3.10): one personal namespace, no prefix, "/" as hierarchy delimiter.
import type { CommandSpec } from '../engine/types.js';

export const NAMESPACE: CommandSpec = {
  name: 'NAMESPACE',
  states: ['authenticated', 'selected'],
  capabilities: ['NAMESPACE'],
  async run({ session, args }) {
    args.end();
    await session.untagged('NAMESPACE', [[{ string: '' }, { string: '/' }]], null, null);
  },
};
