// CONDSTORE/QRESYNC pieces imap-core lacks (RFC 7162): ENABLE QRESYNC, SELECT/EXAMINE (QRESYNC (…)),
// UID FETCH … (CHANGEDSINCE n VANISHED), VANISHED instead of EXPUNGE, and [CLOSED] on implicit close.
import type { ImapAttribute, ImapCommandModule, ImapConnection } from '@zone-eu/wildduck/imap-core/index.js';
import { errorSummary } from './errors.js';
import { attrText, dropFromUidList, imapHandler, inRanges, packUids, parseSequenceSet, writeUntagged } from './protocol.js';
import { runtimeOf } from './runtime.js';
import { asSelected, stateOf } from './state.js';

type Handler = ImapCommandModule['handler'];

interface QresyncParams {
  readonly uidValidity: number;
  readonly modseq: number;
  readonly knownUids: string | null;
}

const isNumber = (text: string): boolean => /^\d{1,19}$/.test(text);

/** ENABLE: CONDSTORE, QRESYNC (implies CONDSTORE), UTF8=ACCEPT; unknown names are ignored (RFC 5161). */
export const enableCommand: Handler = function (this: ImapConnection, command, callback) {
  const state = stateOf(this.session);
  const enabled: string[] = [];
  for (const attr of command.attributes) {
    const name = attrText(attr).toUpperCase();
    if (name === 'CONDSTORE' || name === 'QRESYNC') {
      this.condstoreEnabled = true;
      if (this.selected) this.selected.condstoreEnabled = true;
      if (name === 'QRESYNC') state.qresync = true;
      if (!enabled.includes(name)) enabled.push(name);
    } else if (name === 'UTF8=ACCEPT') {
      this.acceptUTF8Enabled = true;
      if (!enabled.includes(name)) enabled.push(name);
    }
  }
  this.send(`* ENABLED${enabled.length ? ' ' + enabled.join(' ') : ''}`);
  callback(null, { response: 'OK', message: 'ENABLE completed' });
};

function parseQresync(list: ImapAttribute[]): QresyncParams | null {
  const [validity, modseq, known] = list.map(attrText);
  if (!validity || !modseq || !isNumber(validity) || !isNumber(modseq)) return null;
  if (Number(validity) === 0 || Number(modseq) === 0) return null;
  if (known !== undefined && known !== '' && !/^[\d:*,]+$/.test(known)) return null;
  return { uidValidity: Number(validity), modseq: Number(modseq), knownUids: known ? known : null };
}

/** After a QRESYNC SELECT: VANISHED (EARLIER) for UIDs expunged since modseq, FETCH for messages changed since. */
function resync(connection: ImapConnection, params: QresyncParams): void {
  const selected = connection.selected;
  if (!selected) return;
  const folder = asSelected(selected.mailbox);
  if (params.uidValidity !== folder.uidValidity) return; // the client must resynchronise from scratch
  const current = new Set(selected.uidList);
  const largest = selected.uidList.length ? (selected.uidList[selected.uidList.length - 1] as number) : 0;
  const known = params.knownUids ? parseSequenceSet(params.knownUids, Math.max(largest, 1)) : null;
  const vanished = new Set<number>();
  for (const change of folder.mailbox.changesSince(folder.path, params.modseq)) {
    if (change.kind === 'expunge' && !current.has(change.uid) && (!known || inRanges(known, change.uid))) vanished.add(change.uid);
  }
  if (vanished.size) connection.send(`* VANISHED (EARLIER) ${packUids([...vanished])}`);

  const seqOf = new Map<number, number>();
  selected.uidList.forEach((uid, index) => seqOf.set(uid, index + 1));
  for (const meta of folder.mailbox.listMessages(folder.path)) {
    const seq = seqOf.get(meta.uid);
    if (meta.modseq <= params.modseq || seq === undefined) continue;
    connection.send(
      imapHandler.compiler({
        tag: '*',
        command: String(seq),
        attributes: [
          { type: 'atom', value: 'FETCH' },
          [
            { type: 'atom', value: 'UID' },
            { type: 'atom', value: String(meta.uid) },
            { type: 'atom', value: 'FLAGS' },
            meta.flags.map((flag) => ({ type: 'atom', value: flag })),
            { type: 'atom', value: 'MODSEQ' },
            [{ type: 'atom', value: String(meta.modseq) }],
          ],
        ],
      }),
    );
  }
}

/** SELECT/EXAMINE with (CONDSTORE) and/or (QRESYNC (uidvalidity modseq [known-uids])). */
export function selectWithQresync(original: Handler): Handler {
  return function (this: ImapConnection, command, callback, next) {
    const state = stateOf(this.session);
    const extensions = command.attributes[1];
    let params: QresyncParams | null = null;
    if (Array.isArray(extensions)) {
      const kept: ImapAttribute[] = [];
      for (let i = 0; i < extensions.length; i++) {
        const name = attrText(extensions[i]).toUpperCase();
        const value = extensions[i + 1];
        if (name === 'QRESYNC' && Array.isArray(value)) {
          params = parseQresync(value);
          if (!params) return callback(null, { response: 'BAD', message: 'Invalid QRESYNC parameters' });
          i++;
        } else if (name === 'CONDSTORE') {
          kept.push(extensions[i]);
        } else {
          return callback(null, { response: 'BAD', message: 'Unknown SELECT parameter' });
        }
      }
      command.attributes[1] = kept;
    } else if (extensions !== undefined) {
      return callback(null, { response: 'BAD', message: 'Invalid SELECT parameters' });
    }
    if (params && !state.qresync) return callback(null, { response: 'BAD', message: 'ENABLE QRESYNC first' });
    if (params) this.condstoreEnabled = true;
    // RFC 7162 §3.2.11: say so when SELECT implicitly closes the previous mailbox.
    if (this.selected) this.send('* OK [CLOSED] Previous mailbox closed');
    const resyncWith = params;
    return original.call(
      this,
      command,
      (err, response) => {
        if (!err && response?.response === 'OK' && resyncWith) {
          try {
            resync(this, resyncWith);
          } catch (error) {
            runtimeOf(this._server).logger.error({ err: errorSummary(error) }, 'QRESYNC resynchronisation failed');
          }
        }
        callback(err, response);
      },
      next,
    );
  };
}

/** UID FETCH … (CHANGEDSINCE n VANISHED): VANISHED (EARLIER) for expunged UIDs in the set, then the FETCHes. */
export function fetchWithVanished(original: Handler): Handler {
  return function (this: ImapConnection, command, callback, next) {
    const extensions = command.attributes[2];
    if (Array.isArray(extensions) && extensions.some((a) => attrText(a).toUpperCase() === 'VANISHED')) {
      const state = stateOf(this.session);
      const isUid = String(command.command).toUpperCase() === 'UID FETCH';
      const rest = extensions.filter((a) => attrText(a).toUpperCase() !== 'VANISHED');
      const since = rest.length === 2 && attrText(rest[0]).toUpperCase() === 'CHANGEDSINCE' ? attrText(rest[1]) : '';
      if (!isUid || !state.qresync || !isNumber(since)) {
        return callback(null, { response: 'BAD', message: 'VANISHED needs UID FETCH with CHANGEDSINCE after ENABLE QRESYNC' });
      }
      command.attributes[2] = rest;
      const selected = this.selected;
      if (selected) {
        const folder = asSelected(selected.mailbox);
        const largest = Math.max(folder.mailbox.status(folder.path).uidNext - 1, 1);
        const ranges = parseSequenceSet(attrText(command.attributes[0]), largest);
        if (ranges) {
          const current = new Set(selected.uidList);
          const vanished = new Set<number>();
          for (const change of folder.mailbox.changesSince(folder.path, Number(since))) {
            if (change.kind === 'expunge' && !current.has(change.uid) && inRanges(ranges, change.uid)) vanished.add(change.uid);
          }
          if (vanished.size) writeUntagged(this, `* VANISHED (EARLIER) ${packUids([...vanished])}`);
        }
      }
    }
    return original.call(this, command, callback, next);
  };
}

/**
 * Live updates for QRESYNC sessions: expunges become one VANISHED line instead of EXPUNGE responses.
 * Installed per connection; imap-core calls emitNotifications both after commands and while IDLE.
 */
export function installVanishedNotifications(connection: ImapConnection): void {
  const emit = connection.emitNotifications.bind(connection);
  connection.emitNotifications = (): void => {
    const selected = connection.selected;
    let qresync = false;
    try {
      qresync = stateOf(connection.session).qresync;
    } catch {}
    if (!qresync || !selected || connection.state !== 'Selected' || !selected.notifications.length) return emit();
    const added = new Set<number>();
    const expunged: number[] = [];
    for (const update of selected.notifications) {
      if (update.command === 'EXISTS') added.add(update.uid);
      else if (update.command === 'EXPUNGE') expunged.push(update.uid);
    }
    if (!expunged.length) return emit();
    const neverSeen = new Set(expunged.filter((uid) => added.has(uid)));
    const gone = new Set(expunged.filter((uid) => !neverSeen.has(uid)));
    let highest = selected.modifyIndex;
    for (const update of selected.notifications) {
      if (update.command === 'EXPUNGE' && update.modseq && update.modseq > highest) highest = update.modseq;
    }
    selected.notifications = selected.notifications.filter((u) => u.command !== 'EXPUNGE' && !neverSeen.has(u.uid) && !gone.has(u.uid));
    const reported = dropFromUidList(selected.uidList, gone);
    selected.modifyIndex = highest;
    if (reported.length) writeUntagged(connection, `* VANISHED ${packUids(reported)}`);
    emit();
  };
}
