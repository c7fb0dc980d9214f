// The CAPABILITY list: only what works end to end. Replaces imap-core's list (which advertises XLIST,
// PLAIN-CLIENTTOKEN and no QRESYNC) and honours our loopback-only plaintext rule.
import type { ImapConnection } from '@zone-eu/wildduck/imap-core/index.js';
import { runtimeOf } from './runtime.js';
import { stateOf } from './state.js';

const COMMON = [
  'LITERAL+', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'MOVE', 'CHILDREN', 'SPECIAL-USE',
  'CONDSTORE', 'QRESYNC', 'QUOTA', 'UTF8=ACCEPT', 'ESEARCH', 'LIST-STATUS',
];

/** True when LOGIN/AUTHENTICATE may run on this connection: TLS, or plaintext from loopback. */
export function loginAllowed(connection: ImapConnection): boolean {
  return connection.secure || stateOf(connection.session).loopback;
}

export function capabilityList(connection: ImapConnection): string[] {
  const runtime = runtimeOf(connection._server);
  const caps = ['IMAP4rev1'];
  if (connection.state === 'Not Authenticated') {
    if (!connection.secure && runtime.tlsAvailable) caps.push('STARTTLS');
    if (loginAllowed(connection)) caps.push('AUTH=PLAIN', 'SASL-IR');
    else caps.push('LOGINDISABLED');
  } else if (!connection.compression) {
    caps.push('COMPRESS=DEFLATE');
  }
  caps.push(...COMMON, `APPENDLIMIT=${runtime.limits.maxMessageBytes}`);
  return caps;
}

export function sendCapabilityResponse(connection: ImapConnection): void {
  connection.send(`* CAPABILITY ${capabilityList(connection).join(' ')}`);
}
