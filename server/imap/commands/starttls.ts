// STARTTLS (RFC 3501 §6.2.1, RFC 9051 §6.2.1): tagged OK in plaintext, then the TLS handshake; bytes the client
// pipelined after the command are dropped (RFC 2595 §3.1), and the capability list changes (no LOGINDISABLED).
import type { CommandSpec } from '../engine/types.js';

export const STARTTLS: CommandSpec = {
  name: 'STARTTLS',
  states: ['not-authenticated'],
  async run({ session, args }) {
    args.end();
    if (session.secure) return { status: 'BAD', text: 'Connection is already secured' };
    if (!session.tlsAvailable) return { status: 'NO', text: 'TLS is not available' };
    await session.startTls();
    return { status: 'OK', text: 'Begin TLS negotiation now' };
  },
};
