// GETQUOTAROOT / GETQUOTA (RFC 9208 §4.2–§4.3, RFC 2087): one quota root "" for the whole mailbox file with
// the STORAGE resource in KiB; an unlimited mailbox has no quota root. SETQUOTA is parsed and refused: limits
// are the server owner's to set (QUOTASET is not advertised, RFC 9208 §3.2).
import { imapNo } from '../errors.js';
import type { CommandSpec, Session } from '../engine/types.js';
import { mailboxName } from '../wire/encode.js';

/** `STORAGE used limit` in KiB, or null when the mailbox is unlimited. */
function storage(session: Session): string | null {
  const user = session.user;
  if (!user) throw imapNo(null, 'Not logged in');
  const usage = user.mailbox.quota();
  if (usage.limitBytes === null) return null;
  return `STORAGE ${Math.ceil(usage.usedBytes / 1024)} ${Math.ceil(usage.limitBytes / 1024)}`;
}

export const GETQUOTAROOT: CommandSpec = {
  name: 'GETQUOTAROOT',
  states: ['authenticated', 'selected'],
  capabilities: ['QUOTA', 'QUOTA=RES-STORAGE'],
  async run({ session, args }) {
    const path = args.mailbox();
    args.end();
    const user = session.user;
    if (!user) throw imapNo(null, 'Not logged in');
    const status = user.mailbox.status(path); // NO [NONEXISTENT] for a name that does not exist
    const resources = storage(session);
    const utf8 = session.enabled.has('UTF8=ACCEPT') || session.enabled.has('IMAP4rev2');
    const name = mailboxName(status.path, utf8);
    if (resources === null) {
      await session.untagged('QUOTAROOT', name);
      return;
    }
    await session.untagged('QUOTAROOT', name, { string: '' });
    await session.untagged('QUOTA', { string: '' }, `(${resources})`);
  },
};

export const GETQUOTA: CommandSpec = {
  name: 'GETQUOTA',
  states: ['authenticated', 'selected'],
  async run({ session, args }) {
    const root = args.astring().toString('utf8');
    args.end();
    const resources = root === '' ? storage(session) : null;
    if (resources === null) throw imapNo('NONEXISTENT', 'No such quota root');
    await session.untagged('QUOTA', { string: '' }, `(${resources})`);
  },
};

export const SETQUOTA: CommandSpec = {
  name: 'SETQUOTA',
  states: ['authenticated', 'selected'],
  async run({ session, args }) {
    args.astring();
    args.sp();
    args.list((c) => {
      const resource = c.atom();
      c.sp();
      c.number64();
      return resource;
    }, true);
    args.end();
    if (!session.user) throw imapNo(null, 'Not logged in');
    throw imapNo('CANNOT', 'Quota limits are set by the server owner');
  },
};
