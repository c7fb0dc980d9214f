// GETQUOTAROOT / GETQUOTA (RFC 2087): one quota root "" for the whole mailbox file, STORAGE in KiB.
// Answered here instead of through imap-core's hooks so an unlimited mailbox reports no quota resource.
import type { ImapCommandModule, ImapConnection } from '@zone-eu/wildduck/imap-core/index.js';
import imapTools from '@zone-eu/wildduck/imap-core/lib/imap-tools.js';
import { replyFor } from '../errors.js';
import { attrText, imapHandler } from '../protocol.js';
import { stateOf, userOf } from '../state.js';

type Handler = ImapCommandModule['handler'];

function quotaLine(connection: ImapConnection): string | null {
  const usage = userOf(connection.session).mailbox.quota();
  if (usage.limitBytes === null) return null;
  const used = Math.ceil(usage.usedBytes / 1024);
  const limit = Math.ceil(usage.limitBytes / 1024);
  return `* QUOTA "" (STORAGE ${used} ${limit})`;
}

function fail(connection: ImapConnection, error: unknown, callback: Parameters<Handler>[1]): void {
  const reply = replyFor(error, 'folder');
  stateOf(connection.session).pendingReply = reply;
  callback(null, { response: reply.response, code: reply.code ?? false, message: reply.message });
}

export const getQuotaRootCommand: Handler = function (this: ImapConnection, command, callback) {
  try {
    const raw = Buffer.from(attrText(command.attributes[0]), 'binary').toString();
    const path = imapTools.normalizeMailbox(raw, !this.acceptUTF8Enabled);
    if (!path) return callback(null, { response: 'NO', code: 'NONEXISTENT', message: 'No such folder' });
    userOf(this.session).mailbox.status(path); // NoSuchFolder → NONEXISTENT
    const line = quotaLine(this);
    const name = this.acceptUTF8Enabled ? Buffer.from(path).toString('binary') : imapTools.utf7encode(path);
    this.send(imapHandler.compiler({ tag: '*', command: 'QUOTAROOT', attributes: line ? [name, ''] : [name] }));
    if (line) this.send(line);
    callback(null, { response: 'OK', message: 'GETQUOTAROOT completed' });
  } catch (error) {
    fail(this, error, callback);
  }
};

export const getQuotaCommand: Handler = function (this: ImapConnection, command, callback) {
  try {
    const root = attrText(command.attributes[0]);
    const line = root === '' ? quotaLine(this) : null;
    if (!line) return callback(null, { response: 'NO', code: 'NONEXISTENT', message: 'No such quota root' });
    this.send(line);
    callback(null, { response: 'OK', message: 'GETQUOTA completed' });
  } catch (error) {
    fail(this, error, callback);
  }
};
