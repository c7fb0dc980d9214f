// LOGOUT (RFC 9051 §6.1.3): untagged BYE, tagged OK, then the server closes the connection.
import type { CommandSpec } from '../engine/types.js';

export const LOGOUT: CommandSpec = {
  name: 'LOGOUT',
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run({ session, args }) {
    args.end();
    await session.untagged('BYE', 'Sealpost logging out');
    session.close();
    return { status: 'OK', text: 'LOGOUT completed' };
  },
};
