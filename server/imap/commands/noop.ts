// NOOP (RFC 9051 §6.1.2): does nothing but lets the engine report pending updates before its OK. The flush
// runs here with expunges allowed, so a change made by another session is reported by the very NOOP after it.
import type { CommandSpec } from '../engine/types.js';

export const NOOP: CommandSpec = {
  name: 'NOOP',
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run({ session, args }) {
    args.end();
    await session.flushUpdates(true);
  },
};
