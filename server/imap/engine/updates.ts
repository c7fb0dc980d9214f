// Live updates of the selected folder (RFC 9051 §7.4, §5.2): the store's change events mark sessions of that
// mailbox and folder dirty; a session's flush pulls the folder journal (changesSince) from the last position it
// pulled and reports the net effect: EXPUNGE / VANISHED, EXISTS, RECENT, and FETCH for flags other sessions
// changed. While IDLE the flush runs on every change event; otherwise before every tagged reply.
import type { Logger } from '../../log.js';
import type { Mailbox, MailboxChangeEvent, MailboxStore } from '../../mailbox/types.js';
import type { FolderChange } from './types.js';
import { errorSummary } from '../errors.js';
import { claimRecent, recentFrom } from './recent.js';
import { uidRanges, uidSetText, type Selected } from './selected.js';

/** A session as the hub sees it. */
export interface UpdateListener {
  /** The folder (store path) the session has selected, or null. */
  selectedFolder(): string | null;
  /** Something in the selected folder changed: called at once, inside the store's write path (no I/O here). */
  dirty(): void;
  /** Same, called a moment later outside the write path (IDLE writes its updates from here). */
  changed(): void;
  /** (NOTIFY, RFC 5465) Any folder of the mailbox changed: messages, or a name / subscription another session published. */
  folderChanged?(change: FolderChange): void;
}

const sameFolder = (a: string, b: string): boolean => a === b || (a.toUpperCase() === 'INBOX' && b.toUpperCase() === 'INBOX');

/** One subscription to the store's change events for all sessions of one server. */
export class UpdateHub {
  private readonly byMailbox = new Map<string, Set<UpdateListener>>();
  private readonly unsubscribe: () => void;

  constructor(
    store: Pick<MailboxStore, 'onChange'>,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = store.onChange((event) => this.dispatch(event));
  }

  add(mailboxId: string, listener: UpdateListener): void {
    let set = this.byMailbox.get(mailboxId);
    if (!set) this.byMailbox.set(mailboxId, (set = new Set()));
    set.add(listener);
  }

  remove(mailboxId: string, listener: UpdateListener): void {
    const set = this.byMailbox.get(mailboxId);
    if (set?.delete(listener) && set.size === 0) this.byMailbox.delete(mailboxId);
  }

  close(): void {
    this.unsubscribe();
    this.byMailbox.clear();
  }

  /** (NOTIFY) Hands a folder name / subscription change to the other sessions of the mailbox. */
  publish(mailboxId: string, from: UpdateListener, change: FolderChange): void {
    const set = this.byMailbox.get(mailboxId);
    if (!set) return;
    const others = [...set].filter((l) => l !== from && l.folderChanged);
    if (others.length) setImmediate(() => others.forEach((l) => l.folderChanged?.(change)));
  }

  private dispatch(event: MailboxChangeEvent): void {
    const set = this.byMailbox.get(event.mailboxId);
    if (!set) return;
    const watching = [...set].filter((l) => l.folderChanged);
    // Before changed(): a NOTIFY watcher sees the selected folder's news before IDLE's own flush reports them.
    if (watching.length) setImmediate(() => watching.forEach((l) => l.folderChanged?.({ kind: 'messages', folder: event.folder })));
    const concerned: UpdateListener[] = [];
    for (const listener of set) {
      const folder = listener.selectedFolder();
      if (folder !== null && sameFolder(folder, event.folder)) {
        listener.dirty();
        concerned.push(listener);
      }
    }
    if (!concerned.length) return;
    // Deferred: the store emits inside its write path; sessions must not write to sockets inside it.
    setImmediate(() => {
      for (const listener of concerned) {
        try {
          listener.changed();
        } catch (error) {
          this.logger.error({ err: errorSummary(error) }, 'IMAP update listener failed');
        }
      }
    });
  }
}

/** What a flush needs from its session. */
export interface FlushContext {
  readonly mailbox: Mailbox;
  readonly view: Selected;
  /** QRESYNC enabled: VANISHED instead of EXPUNGE (RFC 7162 §3.2.10), UID in FETCH. */
  readonly qresync: boolean;
  /** CONDSTORE enabled: MODSEQ in FETCH (RFC 7162 §3.1.4). */
  readonly condstore: boolean;
  /** IMAP4rev2 enabled: no RECENT responses (RFC 9051 Appendix E: \Recent and RECENT are gone). */
  readonly rev2: boolean;
  /** The command in progress is a UID command: UID in FETCH. */
  readonly uidCommand: boolean;
  /** \Recent range this session claimed at SELECT (a message appended between SELECT's read and its claim). */
  readonly claimedAtSelect: { readonly from: number; readonly to: number };
  /** Writes one untagged response (text after `* `). */
  untagged(text: string): Promise<void>;
}

interface FlagChange {
  flags: readonly string[];
  modseq: number;
  own: boolean;
}

/**
 * Pulls the journal and reports what changed since the last pull.
 *
 * Expunges that may not be reported now (RFC 3501 §7.4.1: "An EXPUNGE response MUST NOT be sent when no command
 * is in progress, nor while responding to a FETCH, STORE, or SEARCH command. This rule is necessary to prevent a
 * loss of synchronization of message sequence numbers between client and server.") stay in the view as `held`:
 * the client's numbering still counts them, so everything else is reported in that numbering. New messages are
 * still announced, with EXISTS counting the held ones too: RFC 3501 §7.3.1 "The EXISTS response reports the
 * number of messages in the mailbox" as the client numbers them, new ones after the existing ones, and RFC 3501
 * §5.2: "it is NOT permitted to send an EXISTS response that would reduce the number of messages in the mailbox;
 * only the EXPUNGE response can do this" — so the count keeps the held ones until their EXPUNGE may be sent.
 * Flags of held messages are not reported (they are gone).
 */
export async function flushSelected(ctx: FlushContext, expunges: boolean): Promise<void> {
  const { view, mailbox } = ctx;
  const entries = mailbox.changesSince(view.path, view.pulledModseq);
  const largest = view.largestUid;
  const appended: number[] = [];
  const appendedSet = new Set<number>();
  const flagChanges = new Map<number, FlagChange>();
  let pulled = view.pulledModseq;
  for (const entry of entries) {
    if (entry.modseq > pulled) pulled = entry.modseq;
    if (entry.kind === 'append') {
      // UIDs only grow: anything at or below the largest known UID was in the view already.
      if (entry.uid > largest && !appendedSet.has(entry.uid)) {
        appended.push(entry.uid);
        appendedSet.add(entry.uid);
      }
    } else if (entry.kind === 'expunge') {
      flagChanges.delete(entry.uid);
      if (appendedSet.delete(entry.uid)) continue; // never announced: the client never hears of it
      if (view.seqOf(entry.uid) > 0 && !view.held.has(entry.uid)) view.held.set(entry.uid, entry.modseq);
    } else {
      // One STORE gives all its messages one MODSEQ: keep the mark for the whole batch, drop it below.
      const own = view.own.has(entry.modseq);
      const previous = flagChanges.get(entry.uid);
      flagChanges.set(entry.uid, { flags: entry.flags, modseq: entry.modseq, own: own && (previous ? previous.own : true) });
    }
  }
  view.pulledModseq = pulled;
  for (const modseq of view.own) if (modseq <= pulled) view.own.delete(modseq);
  const newUids = appended.filter((uid) => appendedSet.has(uid)).sort((a, b) => a - b);

  // 1. Expunges, when allowed: VANISHED (QRESYNC) or EXPUNGE in the client's numbering.
  if (expunges && view.held.size > 0) {
    const gone = [...view.held.keys()].sort((a, b) => a - b);
    view.held.clear();
    if (ctx.qresync) {
      await ctx.untagged(`VANISHED ${uidSetText(gone)}`);
    } else {
      // Ascending, each number already lowered by the EXPUNGEs before it (RFC 3501 §7.4.1 example).
      let removed = 0;
      for (const uid of gone) {
        const seq = view.seqOf(uid);
        if (seq > 0) await ctx.untagged(`${seq - removed} EXPUNGE`);
        removed++;
      }
    }
    const goneSet = new Set(gone);
    view.uids = view.uids.filter((uid) => !goneSet.has(uid));
    for (const uid of gone) {
      view.flags.delete(uid);
      view.recent.delete(uid);
    }
  }

  // 2. New messages: their flags, \Recent (exactly one read-write session claims them).
  let newMeta: { uid: number; flags: readonly string[] }[] = [];
  if (newUids.length) {
    const listed = new Map(mailbox.listMessages(view.path, uidRanges(newUids)).map((m) => [m.uid, m.flags] as const));
    newMeta = newUids.map((uid) => ({ uid, flags: listed.get(uid) ?? [] }));
  }

  // 3. Keywords nobody announced yet: a new FLAGS list first (RFC 3501 §7.2.6).
  const fresh = new Set<number>();
  const keywords = new Set<string>();
  for (const m of newMeta) for (const k of view.newKeywords(m.flags)) keywords.add(k);
  for (const [uid, change] of flagChanges) {
    if (view.held.has(uid) || view.seqOf(uid) === 0) continue;
    fresh.add(uid);
    for (const k of view.newKeywords(change.flags)) keywords.add(k);
  }
  if (keywords.size) {
    for (const k of keywords) view.keywords.add(k);
    await ctx.untagged(`FLAGS (${view.flagList().join(' ')})`);
    if (!view.readOnly) await ctx.untagged(`OK [PERMANENTFLAGS (${[...view.flagList(), '\\*'].join(' ')})] Flags permitted`);
  }

  if (newMeta.length) {
    view.uids.push(...newUids);
    for (const m of newMeta) view.flags.set(m.uid, m.flags);
    if (!view.readOnly) {
      const { from, to } = claimRecent(mailbox, view.path);
      const early = ctx.claimedAtSelect;
      for (const uid of newUids) if ((uid >= from && uid < to) || (uid >= early.from && uid < early.to)) view.recent.add(uid);
    } else {
      const from = recentFrom(mailbox, view.path);
      for (const uid of newUids) if (uid >= from) view.recent.add(uid);
    }
  }
  // EXISTS only for growth: each EXPUNGE already told the client the count went down (RFC 9051 §7.5.1).
  if (newMeta.length) {
    await ctx.untagged(`${view.uids.length} EXISTS`);
    // RFC 3501 §7.3.2: RECENT is sent "if the size of the mailbox changes", so with every EXISTS.
    if (!ctx.rev2) await ctx.untagged(`${view.recent.size} RECENT`);
  }

  // 4. Flags changed by other sessions (own changes were answered by the command that made them).
  const withUid = ctx.uidCommand || ctx.qresync;
  for (const uid of [...fresh].sort((a, b) => a - b)) {
    const change = flagChanges.get(uid) as FlagChange;
    view.flags.set(uid, change.flags);
    if (change.own) continue;
    const items = [`FLAGS (${change.flags.join(' ')})`];
    if (withUid) items.push(`UID ${uid}`);
    if (ctx.condstore) items.push(`MODSEQ (${change.modseq})`);
    await ctx.untagged(`${view.seqOf(uid)} FETCH (${items.join(' ')})`);
  }

  // What the client now knows: everything pulled, except what held expunges still hide.
  let known = pulled;
  for (const modseq of view.held.values()) known = Math.min(known, modseq - 1);
  if (known > view.highestModseq) view.highestModseq = known;
}
