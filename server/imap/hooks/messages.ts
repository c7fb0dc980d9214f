// APPEND, STORE, EXPUNGE / UID EXPUNGE / CLOSE, COPY, MOVE.
import type { ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import { imapNo } from '../errors.js';
import { decodeBinaryPath, packUids, reportExpunged, writeUntagged } from '../protocol.js';
import { asSelected, stateOf, toUidSet, userOf } from '../state.js';

interface StoreUpdate {
  readonly value: string[];
  readonly action: 'add' | 'remove' | 'set';
  readonly silent: boolean;
  readonly messages: number[];
  readonly unchangedSince: number;
  readonly isUid?: boolean;
}

interface ExpungeUpdate {
  readonly isUid: boolean;
  readonly messages?: number[];
  readonly silent?: boolean;
}

interface CopyUpdate {
  readonly destination: string;
  readonly messages: number[];
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** "17-Jul-1996 02:44:25 -0700" (imap-core already checked the shape) → Date; null if impossible. */
export function parseInternalDate(text: string): Date | null {
  const m = /^\s*(\d{1,2})-([a-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([-+])(\d{2})(\d{2})$/i.exec(text);
  if (!m) return null;
  const month = MONTHS.indexOf((m[2] as string).toLowerCase());
  if (month < 0) return null;
  const offset = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - offset * 60_000;
  const date = new Date(utc);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function messageHooks() {
  return {
    async onAppend(path: string, flags: string[], internalDate: string | false, raw: Buffer, session: ImapSession): Promise<unknown[]> {
      const { mailbox } = userOf(session);
      const date = internalDate ? parseInternalDate(internalDate) : null;
      if (internalDate && !date) throw imapNo(null, 'Invalid date-time');
      // New messages reach this session's own SELECT through the journal (EXISTS), like anyone else's.
      const result = await mailbox.append(decodeBinaryPath(path), raw, { flags, ...(date ? { internalDate: date } : {}) });
      return [true, { uid: result.uid, uidValidity: result.uidValidity }];
    },

    onStore(selected: unknown, update: StoreUpdate, session: ImapSession): unknown[] {
      const folder = asSelected(selected);
      if (!update.messages.length) return [true, []];
      const mode = update.action === 'set' ? 'replace' : update.action;
      const result = folder.mailbox.store(folder.path, toUidSet(update.messages), mode, update.value, update.unchangedSince || undefined);
      const condstore = Boolean(session.selected && session.selected.condstoreEnabled);
      for (const changed of result.updated) {
        folder.ownModseqs.add(changed.modseq);
        if (update.silent && !condstore) continue;
        const response = session.formatResponse('FETCH', changed.uid, {
          uid: update.isUid ? changed.uid : false,
          flags: [...changed.flags],
          modseq: condstore ? changed.modseq : false,
        });
        if (response) session.writeStream.write(response);
      }
      return [true, [...result.modified]];
    },

    onExpunge(selected: unknown, update: ExpungeUpdate, session: ImapSession): unknown[] {
      const folder = asSelected(selected);
      if (update.isUid && !update.messages?.length) return [true];
      const expunged = folder.mailbox.expunge(folder.path, update.isUid ? toUidSet(update.messages ?? []) : undefined);
      if (!update.silent) reportExpunged(session, expunged, stateOf(session).qresync);
      return [true];
    },

    onCopy(_connection: unknown, selected: unknown, update: CopyUpdate, session: ImapSession): unknown[] {
      const folder = asSelected(selected);
      if (!update.messages.length) {
        stateOf(session).pendingReply = { response: 'OK', code: null, message: 'No messages to copy' };
        return [true, { uidValidity: 0, sourceUid: [], destinationUid: [] }];
      }
      const result = folder.mailbox.copy(folder.path, toUidSet(update.messages), update.destination);
      return [true, { uidValidity: result.uidValidity, sourceUid: result.mapping.map((m) => m[0]), destinationUid: result.mapping.map((m) => m[1]) }];
    },

    onMove(selected: unknown, update: CopyUpdate, session: ImapSession): unknown[] {
      const folder = asSelected(selected);
      if (!update.messages.length) {
        stateOf(session).pendingReply = { response: 'OK', code: null, message: 'No messages to move' };
        return [true, { uidValidity: 0, sourceUid: [], destinationUid: [] }];
      }
      // Refuse a missing target before touching anything (TRYCREATE lets the client create it and retry).
      userOf(session).mailbox.status(update.destination);
      const result = folder.mailbox.move(folder.path, toUidSet(update.messages), update.destination);
      const sources = result.mapping.map((m) => m[0]);
      const targets = result.mapping.map((m) => m[1]);
      if (!sources.length) {
        stateOf(session).pendingReply = { response: 'OK', code: null, message: 'No messages moved' };
        return [true, { uidValidity: result.uidValidity, sourceUid: [], destinationUid: [] }];
      }
      // RFC 6851: COPYUID in an untagged OK before the expunges.
      writeUntagged(session, `* OK [COPYUID ${result.uidValidity} ${packUids(sources)} ${packUids(targets)}] Moved`);
      reportExpunged(session, sources, stateOf(session).qresync);
      return [true, { uidValidity: result.uidValidity, sourceUid: sources, destinationUid: targets }];
    },
  };
}
