// AUTHENTICATE PLAIN (RFC 9051 §6.2.2, SASL PLAIN RFC 4616) with an initial response (SASL-IR, RFC 4959) or
// after an empty continuation. `*` cancels (BAD), as does invalid base64. Without TLS off loopback the client
// gets NO [PRIVACYREQUIRED] (RFC 5530) before any credentials are read.
import type { CommandSpec } from '../engine/types.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A client's base64 response: `=` is the empty response (RFC 4959 §3); null when not valid base64. */
function decode(text: string): Buffer | null {
  if (text === '=') return Buffer.alloc(0);
  if (!BASE64.test(text)) return null;
  return Buffer.from(text, 'base64');
}

export const AUTHENTICATE: CommandSpec = {
  name: 'AUTHENTICATE',
  states: ['not-authenticated'],
  role: 'auth',
  async run({ session, args }) {
    const mechanism = args.atom();
    const initial = args.trySp() ? args.atom(true) : null;
    args.end();
    if (mechanism !== 'PLAIN') return { status: 'NO', text: 'Unsupported authentication mechanism' };
    if (!session.loginAllowed) return { status: 'NO', code: 'PRIVACYREQUIRED', text: 'Run STARTTLS first' };
    const response = initial ?? (await session.continuation('')).toString('latin1');
    if (response === '*') return { status: 'BAD', text: 'AUTHENTICATE cancelled' };
    const decoded = decode(response);
    if (!decoded) return { status: 'BAD', text: 'Invalid base64 data' };
    // message = [authzid] NUL authcid NUL passwd (RFC 4616 §2)
    const parts = decoded.toString('utf8').split('\u0000');
    if (parts.length !== 3 || !parts[1] || !parts[2]) return { status: 'BAD', text: 'Invalid PLAIN response' };
    const [authzid, authcid, password] = parts as [string, string, string];
    if (authzid && authzid !== authcid) return { status: 'NO', code: 'AUTHORIZATIONFAILED', text: 'Acting as another user is not supported' };
    await session.authenticate(authcid, password, 'PLAIN');
    return { status: 'OK', code: `CAPABILITY ${session.capabilities().join(' ')}`, text: 'Logged in' };
  },
};
