// CAPABILITY (RFC 9051 §6.1.1): the list for the connection's current state.
import type { CommandSpec } from '../engine/types.js';

export const CAPABILITY: CommandSpec = {
  name: 'CAPABILITY',
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run({ session, args }) {
    args.end();
    await session.untagged('CAPABILITY', ...session.capabilities());
  },
};
