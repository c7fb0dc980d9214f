// LOGIN (RFC 9051 §6.2.3): user and password as astrings. Without TLS (and off loopback) the server advertises
// LOGINDISABLED and refuses with [PRIVACYREQUIRED] (RFC 5530 §3) before looking at the credentials.
import type { CommandSpec } from '../engine/types.js';

export const LOGIN: CommandSpec = {
  name: 'LOGIN',
  states: ['not-authenticated'],
  role: 'auth',
  async run({ session, args }) {
    const user = args.astring();
    args.sp();
    const password = args.astring();
    args.end();
    if (!session.loginAllowed) return { status: 'BAD', code: 'PRIVACYREQUIRED', text: 'Run STARTTLS first' };
    await session.authenticate(user.toString('utf8'), password.toString('utf8'), 'LOGIN');
    return { status: 'OK', code: `CAPABILITY ${session.capabilities().join(' ')}`, text: 'Logged in' };
  },
};
