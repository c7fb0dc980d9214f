// ENABLE (RFC 5161; RFC 9051 §6.3.1): CONDSTORE, QRESYNC (implies CONDSTORE, RFC 7162 §3.2.3), UTF8=ACCEPT
// (RFC 6855), IMAP4rev2. Unknown names are ignored; `* ENABLED` lists what this command turned on.
import type { CommandSpec, Enabled } from '../engine/types.js';

const KNOWN: readonly Enabled[] = ['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4rev2'];

export const ENABLE: CommandSpec = {
  name: 'ENABLE',
  states: ['authenticated'],
  capabilities: ['ENABLE', 'UTF8=ACCEPT'],
  async run({ session, args }) {
    const names: string[] = [args.atom(true)];
    while (!args.atEnd()) {
      args.sp();
      names.push(args.atom(true));
    }
    const turnedOn: string[] = [];
    for (const name of names) {
      const known = KNOWN.find((k) => k.toUpperCase() === name.toUpperCase());
      if (!known || session.enabled.has(known) || turnedOn.includes(known)) continue;
      session.enable(known);
      turnedOn.push(known);
    }
    await session.untagged('ENABLED', ...turnedOn);
  },
};
