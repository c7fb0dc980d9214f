// IDLE (RFC 2177, RFC 9051 §6.3.13): `+ idling`, then every change in the selected folder is reported the moment
// it happens, until the client sends DONE; anything else is BAD. The engine ends an IDLE that lasts longer
// than limits.idleTimeoutMs with BYE.
import type { CommandSpec } from '../engine/types.js';

export const IDLE: CommandSpec = {
  name: 'IDLE',
  states: ['authenticated', 'selected'],
  capabilities: ['IDLE'],
  async run({ session, args }) {
    args.end();
    const line = await session.idle();
    if (line.toString('latin1').toUpperCase() !== 'DONE') return { status: 'BAD', text: 'Expected DONE' };
    return { status: 'OK', text: 'IDLE terminated' };
  },
};
