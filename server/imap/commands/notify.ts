// NOTIFY (RFC 5465): the client names mailboxes (selected, inboxes, personal, subscribed, subtree, mailboxes) and
// events (MessageNew, MessageExpunge, FlagChange, MailboxName, SubscriptionChange); the server then reports
// changes made elsewhere as they happen: STATUS for other mailboxes, EXISTS / EXPUNGE / FETCH for the selected
// one, LIST for names created, deleted, renamed or (un)subscribed.
//
// Delivery is the engine's: it hands this session every change of any folder of its mailbox, at points where
// writing is safe (between commands, during IDLE), through Session.watchFolders / publishFolderChange.
import type { Mailbox } from '../../mailbox/types.js';
import { ImapError, imapNo } from '../errors.js';
import type { CommandSpec, FolderChange, Session } from '../engine/types.js';
import { formatInternalDate, mailboxName } from '../wire/encode.js';
import { ParseError, type Cursor, type Value } from '../wire/types.js';
import { canonicalPath } from './create.js';

export type { FolderChange } from '../engine/types.js';

/** CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE tell other sessions (a no-op without the engine hook). */
export function publishFolderChange(session: Session, change: FolderChange): void {
  session.publishFolderChange(change);
}

type Filter =
  | { readonly kind: 'selected' | 'selected-delayed' | 'inboxes' | 'personal' | 'subscribed' }
  | { readonly kind: 'subtree' | 'mailboxes'; readonly names: readonly string[] };

const SUPPORTED_EVENTS = ['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange'] as const;
type EventName = (typeof SUPPORTED_EVENTS)[number];
const KNOWN_UNSUPPORTED = ['ANNOTATIONCHANGE', 'MAILBOXMETADATACHANGE', 'SERVERMETADATACHANGE'];

/** FETCH items a MessageNew may ask for that the message index answers without rendering. */
const NEW_MESSAGE_ITEMS = ['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ'] as const;
type NewMessageItem = (typeof NEW_MESSAGE_ITEMS)[number];

interface EventGroup {
  readonly filter: Filter;
  readonly events: ReadonlySet<EventName>;
  /** MessageNew's FETCH items (selected filters only). */
  readonly fetch: readonly NewMessageItem[];
}

export interface NotifyRequest {
  /** null: NOTIFY NONE. */
  readonly groups: readonly EventGroup[] | null;
  /** NOTIFY SET STATUS: send STATUS for the watched mailboxes at once. */
  readonly status: boolean;
}

function readMailboxes(c: Cursor): string[] {
  if (c.peek() === '(') return c.list((cc) => canonicalPath(cc.mailbox()));
  return [canonicalPath(c.mailbox())];
}

function readFilter(c: Cursor): Filter {
  const name = c.atom();
  switch (name) {
    case 'SELECTED':
      return { kind: 'selected' };
    case 'SELECTED-DELAYED':
      return { kind: 'selected-delayed' };
    case 'INBOXES':
      return { kind: 'inboxes' };
    case 'PERSONAL':
      return { kind: 'personal' };
    case 'SUBSCRIBED':
      return { kind: 'subscribed' };
    case 'SUBTREE':
      c.sp();
      return { kind: 'subtree', names: readMailboxes(c) };
    case 'MAILBOXES':
      c.sp();
      return { kind: 'mailboxes', names: readMailboxes(c) };
    default:
      throw new ParseError('Unknown NOTIFY mailbox filter');
  }
}

/** `(filter SP events)`; unsupported but valid events are collected for NO [BADEVENT]. */
function readGroup(c: Cursor, unsupported: string[]): EventGroup {
  c.expect('(');
  const filter = readFilter(c);
  c.sp();
  const events = new Set<EventName>();
  let fetch: NewMessageItem[] = [];
  if (!c.tryKeyword('NONE')) {
    // Read by hand: MessageNew may be followed by its own `(items)`, which a plain list() cannot look ahead for.
    c.expect('(');
    for (;;) {
      const name = c.atom();
      const known = SUPPORTED_EVENTS.find((e) => e.toUpperCase() === name);
      if (known) events.add(known);
      else if (KNOWN_UNSUPPORTED.includes(name)) unsupported.push(name);
      else throw new ParseError('Unknown NOTIFY event');
      let more = c.trySp();
      if (known === 'MessageNew' && more && c.peek() === '(') {
        // RFC 5465 §5.2: FETCH items only for the selected mailbox.
        if (filter.kind !== 'selected' && filter.kind !== 'selected-delayed') throw new ParseError('MessageNew items only for the selected mailbox');
        fetch = c.list((item) => {
          const att = item.atom();
          const supported = NEW_MESSAGE_ITEMS.find((n) => n === att);
          if (!supported) throw imapNo('CANNOT', 'NOTIFY supports UID, FLAGS, INTERNALDATE, RFC822.SIZE and MODSEQ for new messages');
          return supported;
        });
        more = c.trySp();
      }
      if (!more) break;
    }
    c.expect(')');
  }
  c.expect(')');
  // RFC 5465 §5: MessageNew and MessageExpunge come together; FlagChange needs both.
  if (events.has('MessageNew') !== events.has('MessageExpunge')) throw new ParseError('MessageNew and MessageExpunge go together');
  if (events.has('FlagChange') && !events.has('MessageNew')) throw new ParseError('FlagChange needs MessageNew and MessageExpunge');
  return { filter, events, fetch };
}

/** `NOTIFY NONE` / `NOTIFY SET [STATUS] event-group *(SP event-group)`. */
export function readNotify(args: Cursor): NotifyRequest {
  if (args.tryKeyword('NONE')) {
    args.end();
    return { groups: null, status: false };
  }
  args.expect('SET');
  args.sp();
  const status = args.tryKeyword('STATUS');
  if (status) args.sp();
  const unsupported: string[] = [];
  const groups: EventGroup[] = [readGroup(args, unsupported)];
  while (args.trySp()) groups.push(readGroup(args, unsupported));
  args.end();
  // RFC 5465 §6.1: one selected filter at most, and it takes message events only.
  const selectedGroups = groups.filter((g) => g.filter.kind === 'selected' || g.filter.kind === 'selected-delayed');
  if (selectedGroups.length > 1) throw new ParseError('Only one selected or selected-delayed filter');
  if (selectedGroups.some((g) => [...g.events].some((e) => !MESSAGE_EVENTS.includes(e)))) {
    throw new ParseError('The selected filters take message events only');
  }
  if (unsupported.length) {
    throw new ImapError({ response: 'NO', code: `BADEVENT (${SUPPORTED_EVENTS.join(' ')})`, message: 'Unsupported NOTIFY event' });
  }
  return { groups, status };
}

/** Does the filter take the folder? */
function takes(filter: Filter, folder: string, selected: string | null, subscribed: (path: string) => boolean): boolean {
  switch (filter.kind) {
    case 'selected':
    case 'selected-delayed':
      return folder === selected;
    case 'inboxes':
      return folder === 'INBOX';
    case 'personal':
      return true;
    case 'subscribed':
      return subscribed(folder);
    case 'subtree':
      return filter.names.some((n) => folder === n || folder.startsWith(`${n}/`));
    case 'mailboxes':
      return filter.names.includes(folder);
  }
}

const MESSAGE_EVENTS: readonly EventName[] = ['MessageNew', 'MessageExpunge', 'FlagChange'];

/**
 * The group that reports `event` for `folder`, or null. Groups are tried in the order given: the selected filters
 * decide message events of the selected mailbox (and only those); another filter that takes the folder with
 * NONE ends the search (RFC 5465 §6: no events for that mailbox); one without this event lets later groups decide.
 */
function matchGroup(
  groups: readonly EventGroup[],
  folder: string,
  event: EventName,
  selected: string | null,
  subscribed: (path: string) => boolean,
): EventGroup | null {
  const messageEvent = MESSAGE_EVENTS.includes(event);
  for (const group of groups) {
    const kind = group.filter.kind;
    if (kind === 'selected' || kind === 'selected-delayed') {
      if (folder !== selected || !messageEvent) continue;
      return group.events.has(event) ? group : null;
    }
    if (folder === selected && messageEvent) continue;
    if (!takes(group.filter, folder, selected, subscribed)) continue;
    if (group.events.size === 0) return null;
    if (group.events.has(event)) return group;
  }
  return null;
}

interface Counters {
  readonly messages: number;
  readonly uidNext: number;
  readonly unseen: number;
  readonly highestModseq: number;
}

/** One session's NOTIFY state: the groups, and what it last reported per non-selected folder. */
class Watcher {
  private readonly reported = new Map<string, Counters>();

  constructor(
    private readonly session: Session,
    private readonly mailbox: Mailbox,
    private readonly groups: readonly EventGroup[],
  ) {}

  private get utf8(): boolean {
    return this.session.enabled.has('UTF8=ACCEPT') || this.session.enabled.has('IMAP4rev2');
  }

  private subscribed = (path: string): boolean => {
    try {
      return this.mailbox.status(path).subscribed;
    } catch {
      return false;
    }
  };

  private counters(path: string): Counters | null {
    try {
      const s = this.mailbox.status(path);
      return s.noselect ? null : { messages: s.messages, uidNext: s.uidNext, unseen: s.unseen, highestModseq: s.highestModseq };
    } catch {
      return null;
    }
  }

  /** `* STATUS` for a non-selected folder (RFC 5465 §5.1, §5.3). */
  async status(path: string, counters: Counters): Promise<void> {
    const items: Value[] = [{ atom: 'MESSAGES' }, { atom: String(counters.messages) }, { atom: 'UIDNEXT' }, { atom: String(counters.uidNext) }];
    const info = this.mailbox.status(path);
    items.push({ atom: 'UIDVALIDITY' }, { atom: String(info.uidValidity) });
    // UNSEEN as Dovecot 2.3 sends it: what a FlagChange means to a client, and useful with new mail too.
    items.push({ atom: 'UNSEEN' }, { atom: String(counters.unseen) });
    if (this.session.enabled.has('CONDSTORE')) items.push({ atom: 'HIGHESTMODSEQ' }, { atom: String(counters.highestModseq) });
    await this.session.untagged('STATUS', mailboxName(path, this.utf8), items);
    this.reported.set(path, counters);
  }

  /** NOTIFY SET STATUS: the watched non-selected folders' STATUS now. */
  async initialStatus(): Promise<void> {
    const selected = this.session.selected?.path ?? null;
    for (const folder of this.mailbox.listFolders()) {
      if (folder.noselect || folder.path === selected) continue;
      if (!matchGroup(this.groups, folder.path, 'MessageNew', selected, this.subscribed)) continue;
      const counters = this.counters(folder.path);
      if (counters) await this.status(folder.path, counters);
    }
  }

  private async selectedChange(group: EventGroup): Promise<void> {
    const view = this.session.selected;
    if (!view) return;
    const known = view.uids.length ? (view.uids[view.uids.length - 1] as number) : 0;
    await this.session.flushUpdates(group.filter.kind === 'selected');
    if (group.fetch.length === 0) return;
    const fresh = view.uids.filter((uid) => uid > known);
    if (fresh.length === 0) return;
    for (const meta of this.mailbox.listMessages(view.path, fresh.map((uid) => [uid, uid] as const))) {
      const seq = view.seqOf(meta.uid);
      if (seq === 0) continue;
      const items: (Value | string)[] = [];
      for (const item of group.fetch) {
        if (item === 'UID') items.push({ atom: 'UID' }, { atom: String(meta.uid) });
        else if (item === 'FLAGS') items.push({ atom: 'FLAGS' }, meta.flags.map((flag) => ({ atom: flag })));
        else if (item === 'INTERNALDATE') items.push({ atom: 'INTERNALDATE' }, { string: formatInternalDate(meta.internalDate) });
        else if (item === 'RFC822.SIZE') items.push({ atom: 'RFC822.SIZE' }, { atom: String(meta.size) });
        else items.push({ atom: 'MODSEQ' }, [{ atom: String(meta.modseq) }]);
      }
      await this.session.untagged(String(seq), 'FETCH', items as Value[]);
    }
  }

  async handle(change: FolderChange): Promise<void> {
    const selected = this.session.selected?.path ?? null;
    const group = (event: EventName): EventGroup | null => matchGroup(this.groups, change.folder, event, selected, this.subscribed);
    const name = mailboxName(change.folder, this.utf8);
    switch (change.kind) {
      case 'messages': {
        if (change.folder === selected) {
          const chosen = group('MessageNew') ?? group('FlagChange');
          if (chosen) await this.selectedChange(chosen);
          return;
        }
        const counters = this.counters(change.folder);
        if (!counters) return;
        const last = this.reported.get(change.folder);
        const countsChanged = !last || last.messages !== counters.messages || last.uidNext !== counters.uidNext;
        const flagsChanged = !last || last.unseen !== counters.unseen || last.highestModseq !== counters.highestModseq;
        if ((countsChanged && group('MessageNew')) || (flagsChanged && group('FlagChange'))) await this.status(change.folder, counters);
        return;
      }
      case 'created':
        if (group('MailboxName')) await this.session.untagged('LIST', '()', { string: '/' }, name);
        return;
      case 'deleted':
        this.reported.delete(change.folder);
        if (group('MailboxName')) await this.session.untagged('LIST', '(\\NonExistent)', { string: '/' }, name);
        return;
      case 'renamed':
        this.reported.delete(change.oldName);
        if (group('MailboxName')) {
          // RFC 5465 §5.4: the new name with the old one as OLDNAME extended data.
          await this.session.untagged('LIST', '()', { string: '/' }, name, [{ string: 'OLDNAME' }, [mailboxName(change.oldName, this.utf8)]]);
        }
        return;
      case 'subscribed':
      case 'unsubscribed':
        if (group('SubscriptionChange')) {
          await this.session.untagged('LIST', change.kind === 'subscribed' ? '(\\Subscribed)' : '()', { string: '/' }, name);
        }
        return;
    }
  }
}

export const NOTIFY: CommandSpec = {
  name: 'NOTIFY',
  states: ['authenticated', 'selected'],
  capabilities: ['NOTIFY'],
  async run({ session, args }) {
    const request = readNotify(args);
    const user = session.user;
    if (!user) throw imapNo(null, 'Not logged in');
    const hooks = session;
    if (!request.groups) {
      hooks.watchFolders(null);
      return;
    }
    const watcher = new Watcher(session, user.mailbox, request.groups);
    hooks.watchFolders((change) => watcher.handle(change));
    if (request.status) await watcher.initialStatus();
  },
};
