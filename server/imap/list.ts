// LIST and LSUB, answered by us instead of imap-core's handlers: \Noselect names (a folder deleted while it had
// children, RFC 3501 6.3.4), the RFC 6154 SPECIAL-USE selection/return options, and LIST-STATUS (RFC 5819):
// `LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))` sends a STATUS line after each selectable folder's LIST line.
// imap-core's listing could not carry \Noselect (its folder listing keeps only path and special use) and
// refused every RETURN option but SPECIAL-USE.
import type { ImapAttribute, ImapCommandModule, ImapConnection } from '@zone-eu/wildduck/imap-core/index.js';
import imapTools from '@zone-eu/wildduck/imap-core/lib/imap-tools.js';
import type { FolderInfo, FolderStatus } from '../mailbox/types.js';
import { ImapError, errorSummary, imapBad, isExpected, replyFor } from './errors.js';
import { attrText, imapHandler } from './protocol.js';
import { runtimeOf } from './runtime.js';
import { userOf } from './state.js';

type Handler = ImapCommandModule['handler'];

/** STATUS data items we can answer (RFC 3501, CONDSTORE's HIGHESTMODSEQ). */
const STATUS_ITEMS = new Set(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ']);

export interface ListRequest {
  readonly lsub: boolean;
  /** reference + pattern, decoded (modified UTF-7 unless UTF8=ACCEPT), INBOX upper-cased. */
  readonly pattern: string;
  /** LIST (SPECIAL-USE) …: only folders with a special use. */
  readonly specialUseOnly: boolean;
  /** RETURN (SUBSCRIBED): mark subscribed folders with \Subscribed. */
  readonly returnSubscribed: boolean;
  /** RETURN (STATUS (…)): the items, upper case; null when not asked. */
  readonly status: readonly string[] | null;
}

function isList(attr: ImapAttribute | undefined): attr is ImapAttribute[] {
  return Array.isArray(attr);
}

const upper = (attr: ImapAttribute): string => attrText(attr).toUpperCase();

/** Parses `[(selection)] reference pattern [RETURN (options)]` (LSUB: reference pattern). */
export function parseList(attributes: readonly ImapAttribute[], lsub: boolean, utf8: boolean): ListRequest {
  let at = 0;
  let specialUseOnly = false;
  if (!lsub && isList(attributes[0])) {
    for (const option of attributes[0].map(upper)) {
      if (option === 'SPECIAL-USE') specialUseOnly = true;
      else throw imapBad('Unsupported LIST selection option');
    }
    at = 1;
  }
  const reference = attributes[at];
  const mailbox = attributes[at + 1];
  if (reference === undefined || mailbox === undefined || isList(reference) || isList(mailbox)) throw imapBad('LIST needs a reference and a mailbox name');
  // Names arrive as 'binary' strings: UTF-8 bytes one char each.
  const text = (attr: ImapAttribute): string => Buffer.from(attrText(attr), 'binary').toString('utf8');
  const rawPattern = text(mailbox);
  const pattern = rawPattern === '' ? '' : imapTools.normalizeMailbox(text(reference) + rawPattern, !utf8);
  at += 2;
  let returnSubscribed = false;
  let status: string[] | null = null;
  if (at < attributes.length) {
    if (lsub || upper(attributes[at] as ImapAttribute) !== 'RETURN' || !isList(attributes[at + 1]) || attributes.length > at + 2) {
      throw imapBad('Invalid LIST arguments');
    }
    const options = attributes[at + 1] as ImapAttribute[];
    for (let i = 0; i < options.length; i++) {
      const option = upper(options[i] as ImapAttribute);
      if (option === 'SPECIAL-USE' || option === 'CHILDREN') continue; // always included
      if (option === 'SUBSCRIBED') {
        returnSubscribed = true;
        continue;
      }
      if (option === 'STATUS' && isList(options[i + 1])) {
        status = (options[++i] as ImapAttribute[]).map(upper);
        if (!status.length || status.some((item) => !STATUS_ITEMS.has(item))) throw imapBad('Unsupported STATUS item in LIST');
        continue;
      }
      throw imapBad('Unsupported LIST return option');
    }
  }
  return { lsub, pattern, specialUseOnly, returnSubscribed, status };
}

/** RFC 3501 list wildcards: `*` matches anything, `%` anything but the hierarchy delimiter. */
export function patternRegExp(pattern: string): RegExp {
  const body = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '%' ? '[^/]*' : c.replace(/[\\^$+?.()|[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'su');
}

export interface ListedFolder {
  readonly path: string;
  readonly flags: string[];
  readonly selectable: boolean;
}

/** The folders a LIST/LSUB returns, with their attributes, in the store's order (INBOX first). */
export function listFolders(folders: readonly FolderInfo[], request: ListRequest): ListedFolder[] {
  const regex = patternRegExp(request.pattern);
  const paths = folders.map((f) => f.path);
  const hasChildren = (path: string): boolean => paths.some((p) => p.startsWith(`${path}/`));
  const ordered = [...folders].sort((a, b) => Number(b.path === 'INBOX') - Number(a.path === 'INBOX'));
  const out: ListedFolder[] = [];
  for (const folder of ordered) {
    if (!regex.test(folder.path)) continue;
    if (request.lsub && !folder.subscribed) continue;
    if (request.specialUseOnly && !folder.specialUse) continue;
    const flags: string[] = [];
    if (folder.noselect) flags.push('\\Noselect');
    flags.push(hasChildren(folder.path) ? '\\HasChildren' : '\\HasNoChildren');
    if (folder.specialUse && !request.lsub) flags.push(folder.specialUse);
    if (request.returnSubscribed && folder.subscribed) flags.push('\\Subscribed');
    out.push({ path: folder.path, flags, selectable: !folder.noselect });
  }
  return out;
}

function statusValue(status: FolderStatus, item: string): number {
  switch (item) {
    case 'MESSAGES':
      return status.messages;
    case 'UIDNEXT':
      return status.uidNext;
    case 'UIDVALIDITY':
      return status.uidValidity;
    case 'UNSEEN':
      return status.unseen;
    case 'HIGHESTMODSEQ':
      return status.highestModseq;
    default:
      return 0; // RECENT: not tracked
  }
}

function handler(lsub: boolean): Handler {
  return function (this: ImapConnection, command, callback) {
    const name = lsub ? 'LSUB' : 'LIST';
    try {
      const utf8 = Boolean(this.acceptUTF8Enabled);
      const request = parseList(command.attributes, lsub, utf8);
      if (request.pattern === '') {
        // An empty name asks for the hierarchy delimiter.
        this.send(`* ${name} (\\Noselect) "/" ""`);
        return callback(null, { response: 'OK', message: `${name} completed` });
      }
      const { mailbox } = userOf(this.session);
      const encode = (path: string): ImapAttribute => (utf8 ? Buffer.from(path, 'utf8').toString('binary') : imapTools.utf7encode(path));
      for (const folder of listFolders(mailbox.listFolders(), request)) {
        const path = encode(folder.path);
        this.send(
          imapHandler.compiler({
            tag: '*',
            command: name,
            attributes: [folder.flags.map((flag) => ({ type: 'atom', value: flag })), '/', path],
          }),
        );
        if (!request.status || !folder.selectable) continue;
        let status: FolderStatus;
        try {
          status = mailbox.status(folder.path);
        } catch {
          continue; // deleted meanwhile: RFC 5819 lets the server leave its STATUS out
        }
        const items = request.status.flatMap((item) => [{ type: 'atom', value: item }, { type: 'atom', value: String(statusValue(status, item)) }]);
        this.send(imapHandler.compiler({ tag: '*', command: 'STATUS', attributes: [path, items] }));
      }
      callback(null, { response: 'OK', message: `${name} completed` });
    } catch (error) {
      if (!isExpected(error)) {
        try {
          runtimeOf(this._server).logger.error({ command: name.toLowerCase(), err: errorSummary(error) }, 'IMAP LIST failed');
        } catch {}
      }
      const reply = error instanceof ImapError ? error.reply : replyFor(error, 'folder');
      callback(null, { response: reply.response, code: reply.code ?? false, message: reply.message });
    }
  };
}

export const listCommand = handler(false);
export const lsubCommand = handler(true);
