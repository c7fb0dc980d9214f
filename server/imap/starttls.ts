// STARTTLS (RFC 3501 §6.2.1) done here instead of by imap-core: the reader that held the plaintext input is
// retired (anything the client pipelined behind STARTTLS is dropped, never run inside the TLS session), a new
// reader only ever sees bytes from the TLS socket, and the handshake goes through the server's _upgrade,
// which is bounded by the TLS handshake timeout (server.ts).
import type net from 'node:net';
import type { ImapConnection, ImapStreamCommand } from '@zone-eu/wildduck/imap-core/index.js';
import { guardInput } from './guards.js';
import { ImapReader } from './reader.js';
import type { ImapRuntime } from './runtime.js';
import type { ConnectionState } from './state.js';

/** imap-core's "wrap this accepted socket in TLS" (SNI, our certificate), with our handshake timeout around it. */
export type TlsUpgrade = (socket: net.Socket, callback: (err: Error | null, secured?: net.Socket) => void) => void;

/** Upgrades a connection whose STARTTLS was just answered OK. */
export function upgradeToTls(connection: ImapConnection, state: ConnectionState | null, runtime: ImapRuntime): void {
  const retired = connection._parser;
  const raw = connection._socket as net.Socket;
  if (!retired || connection._closing || connection._closed) {
    connection.close(true);
    return;
  }
  raw.unpipe(retired);
  connection.writeStream.unpipe(raw);
  connection._upgrading = true;
  // Whatever the retired reader still holds arrived in plaintext after STARTTLS: it is read and dropped.
  // A dropped line that announced a literal is refused, so the reader does not wait for its bytes.
  retired.oncommand = (command: ImapStreamCommand, callback?: (err?: Error | null) => void): void =>
    callback?.(command.final ? null : new Error('input dropped'));
  const reader = new ImapReader();
  reader.oncommand = connection._onCommand.bind(connection);
  connection._parser = reader;
  if (state) guardInput(connection, state, runtime.limits, runtime.logger);

  raw.removeAllListeners();
  raw.on('error', (error: Error) => connection._onError(error));
  // A client that goes away during the handshake: the session is cleaned up like any other.
  raw.once('close', () => connection._onClose());
  const upgrade = (connection._server as unknown as { _upgrade: TlsUpgrade })._upgrade;
  upgrade.call(connection._server, raw, (err, secured) => {
    if (err || !secured) {
      connection._upgrading = false;
      connection.close(true);
      return;
    }
    if (connection._closing || connection._closed) {
      secured.destroy();
      return;
    }
    connection.secure = true;
    connection._socket = secured;
    connection._upgrading = false;
    if (state) state.starttlsPending = false;
    secured.on('close', () => connection._onClose());
    secured.on('error', (error: Error) => connection._onError(error));
    secured.setTimeout(runtime.limits.socketTimeoutMs, () => connection._onTimeout());
    secured.pipe(reader);
    connection.writeStream.pipe(secured);
  });
}
