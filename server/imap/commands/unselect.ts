// UNSELECT (RFC 3691, RFC 9051 §6.4.2): leaves the folder without expunging.
import type { CommandSpec } from '../engine/types.js';

export const UNSELECT: CommandSpec = {
  name: 'UNSELECT',
  states: ['selected'],
  capabilities: ['UNSELECT'],
  async run({ session, args }) {
    args.end();
    session.unselect();
  },
};
