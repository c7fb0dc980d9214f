// LOGIN and AUTHENTICATE PLAIN: accounts.authenticate verifies against the directory and unlocks the mailbox
// (cached key check, so repeat logins skip the KDF); we answer OK at once. Mail sealed while the mailbox was
// locked drains in the background and reaches this session as `* n EXISTS` (the mailbox's change events).
import type { ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import type { AliasSession, LoginContext } from '../../accounts/index.js';
import type { Logger } from '../../log.js';
import { imapNo, replyFor } from '../errors.js';
import type { ConnectionGate } from '../../net.js';
import { stateOf, type ImapUser } from '../state.js';

export type Authenticate = (address: string, password: string, context: LoginContext) => Promise<AliasSession>;

interface LoginAttempt {
  readonly method: string;
  readonly username: string;
  readonly password: string;
}

export function authHooks(authenticate: Authenticate, perAlias: ConnectionGate, logger: Logger) {
  return {
    async onAuth(login: LoginAttempt, session: ImapSession): Promise<unknown[]> {
      const state = stateOf(session);
      if (state.user) throw imapNo(null, 'Already authenticated');
      let result: AliasSession;
      try {
        result = await authenticate(login.username, login.password, { ip: state.ip, protocol: 'imap' });
      } catch (error) {
        // Log the outcome by connection id only: never the address or the password.
        logger.info({ event: 'imap.login_failed', cid: session.id, method: login.method, code: replyFor(error, 'auth').code }, 'IMAP login refused');
        throw error;
      }
      const aliasId = String(result.alias.id);
      if (state.connection._closing || state.connection._closed) {
        result.release();
        throw imapNo('UNAVAILABLE', 'Connection closed');
      }
      if (perAlias.admit(aliasId) !== null) {
        result.release();
        logger.warn({ event: 'imap.alias_connection_limit', cid: session.id, aliasId }, 'too many IMAP sessions for one alias');
        throw imapNo('UNAVAILABLE', 'Too many connections for this account');
      }
      let released = false;
      const user: ImapUser = {
        id: aliasId,
        mailbox: result.mailbox,
        release: () => {
          if (released) return;
          released = true;
          perAlias.release(aliasId);
          result.release();
        },
      };
      state.user = user;
      // Password changed, alias locked/removed or mailbox restored on the server: this session's handle is dead.
      result.onRevoked?.(() => {
        if (state.connection._closing || state.connection._closed) return;
        state.connection.send('* BYE The mailbox was changed on the server (password, lock or restore); please log in again');
        setImmediate(() => state.connection.close(true));
      });
      logger.info({ event: 'imap.login', cid: session.id, aliasId, method: login.method, secure: state.connection.secure }, 'IMAP login');
      return [{ user }];
    },
  };
}
