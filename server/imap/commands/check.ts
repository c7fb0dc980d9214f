// CHECK (RFC 3501 §6.4.1; removed in RFC 9051 but kept for IMAP4rev1 clients): a checkpoint is a NOOP here
// (every write is durable when its command completes); pending updates are reported.
import type { CommandSpec } from '../engine/types.js';

export const CHECK: CommandSpec = {
  name: 'CHECK',
  states: ['selected'],
  async run({ session, args }) {
    args.end();
    await session.flushUpdates(true);
  },
};
