// Search and sort contexts (RFC 5267 §4): `SEARCH RETURN (UPDATE)`, `UID SEARCH RETURN (UPDATE)` and
// `SORT RETURN (UPDATE)` keep their result live. After every flush of the selected folder's updates (engine
// Session.onFlush: before a tagged reply, in NOOP, during IDLE) the stored query is evaluated again for the
// messages that arrived or had their flags changed, and the differences are written as
// `* ESEARCH (TAG "tag") [UID] REMOVEFROM (position set) ADDTO (position set)` (§4.3). Expunged messages leave
// every context before their EXPUNGE is written, so sequence numbers still count them. CANCELUPDATE (§4.2) ends
// contexts; a new selection (SELECT, EXAMINE, CLOSE, UNSELECT) ends them all.
import type { SearchQuery, SortKey } from '../../mailbox/types.js';
import type { CommandSpec, FlushReport, SelectedView, Session } from '../engine/types.js';
import { imapBad, imapNo } from '../errors.js';
import type { Value } from '../wire/types.js';
import { uidRanges } from '../engine/selected.js';
import { andOf } from './search-keys.js';

/**
 * Contexts one session may keep at a time. RFC 5267 §4.3.1 lets a server refuse to keep more: the command still
 * answers normally, with `* NO [NOUPDATE "tag"]` first. Each context costs one store query per flush that changed
 * something, so the cap bounds the work a single session can cause per change.
 */
export const MAX_UPDATE_CONTEXTS = 16;

/** The capabilities this module implements; CONTEXT=SORT needs sort.ts to call registerSortContext. */
export const CONTEXT_SEARCH = 'CONTEXT=SEARCH';
export const CONTEXT_SORT = 'CONTEXT=SORT';

interface Context {
  readonly tag: string;
  /** Created by a UID command: results are UIDs, else sequence numbers. */
  readonly uid: boolean;
  readonly query: SearchQuery;
  /** SORT keys; null for a SEARCH context (results ascending). */
  readonly sort: readonly SortKey[] | null;
  /** The result as the client last heard it, as UIDs, in result order. */
  results: number[];
}

interface SessionContexts {
  /** The selection the contexts belong to. */
  readonly view: SelectedView;
  readonly contexts: Map<string, Context>;
  readonly stop: () => void;
}

const bySession = new WeakMap<Session, SessionContexts>();

/** The session's contexts, if they still belong to its current selection. */
function current(session: Session): SessionContexts | null {
  const state = bySession.get(session);
  if (!state) return null;
  if (state.view !== session.selected) {
    // A new selection ended them (the engine dropped the listener with it).
    state.stop();
    bySession.delete(session);
    return null;
  }
  return state;
}

/**
 * Throws BAD when a context with this tag is live: a client reusing the tag of a live context could not tell the
 * two results' updates apart.
 */
export function checkContextTag(session: Session, tag: string): void {
  if (current(session)?.contexts.has(tag)) throw imapBad('A context with this tag is still active (CANCELUPDATE it first)');
}

/**
 * Keeps the result of a `SEARCH RETURN (UPDATE)` live. Call after the search and before writing its results: when the
 * session already keeps MAX_UPDATE_CONTEXTS contexts this writes `* NO [NOUPDATE "tag"]` (RFC 5267 §4.3.1) and keeps
 * nothing. `results`: matching UIDs known to the session, ascending.
 */
export async function registerSearchContext(session: Session, tag: string, uid: boolean, query: SearchQuery, results: readonly number[]): Promise<boolean> {
  return register(session, { tag, uid, query, sort: null, results: [...results] });
}

/**
 * Keeps the result of a `SORT RETURN (UPDATE)` live (CONTEXT=SORT). As registerSearchContext; `results` are the
 * matching UIDs known to the session, in sort order.
 */
export async function registerSortContext(
  session: Session,
  tag: string,
  uid: boolean,
  query: SearchQuery,
  keys: readonly SortKey[],
  results: readonly number[],
): Promise<boolean> {
  return register(session, { tag, uid, query, sort: [...keys], results: [...results] });
}

async function register(session: Session, context: Context): Promise<boolean> {
  const view = session.selected;
  if (!view) throw imapBad('No mailbox selected');
  let state = current(session);
  if (state && state.contexts.size >= MAX_UPDATE_CONTEXTS) {
    await session.untagged('NO', `[NOUPDATE ${quoted(context.tag)}]`, `Too many contexts (at most ${MAX_UPDATE_CONTEXTS})`);
    return false;
  }
  if (!state) {
    const contexts = new Map<string, Context>();
    let stop: () => void = () => undefined;
    const created: SessionContexts = { view, contexts, stop: () => stop() };
    stop = session.onFlush((report) => update(session, created, report));
    bySession.set(session, created);
    state = created;
  }
  state.contexts.set(context.tag, context);
  return true;
}

function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Ascending numbers as a sequence set: 2,3,4,9 → "2:4,9". */
function setText(numbers: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length; i++) {
    const first = numbers[i] as number;
    let last = first;
    while (i + 1 < numbers.length && numbers[i + 1] === last + 1) last = numbers[++i] as number;
    parts.push(first === last ? String(first) : `${first}:${last}`);
  }
  return parts.join(',');
}

/** One flush: every context of the session, in the order they were created. */
async function update(session: Session, state: SessionContexts, report: FlushReport): Promise<void> {
  if (current(session) !== state || !session.user) return;
  const view = state.view;
  const mailbox = session.user.mailbox;
  const gone = new Set(report.gone);
  // Messages whose match may have changed: new ones, and those whose flags changed (every other key is fixed
  // for a message's life, except time-relative OLDER/YOUNGER, which RFC 5267 leaves to the next search).
  const candidates = [...new Set([...report.added, ...report.flagged])].filter((uid) => !gone.has(uid)).sort((a, b) => a - b);
  for (const context of [...state.contexts.values()]) {
    const members = new Set(context.results);
    const removed = new Set(context.results.filter((uid) => gone.has(uid)));
    const added: number[] = [];
    if (candidates.length) {
      const now = new Set(mailbox.search(view.path, andOf([context.query, { op: 'uid', uids: uidRanges(candidates) }])));
      for (const uid of candidates) {
        if (members.has(uid) && !now.has(uid)) removed.add(uid);
        else if (!members.has(uid) && now.has(uid) && view.seqOf(uid) > 0) added.push(uid);
      }
    }
    if (removed.size === 0 && added.length === 0) continue;
    const keys = context.sort;
    const data =
      keys === null
        ? searchUpdate(context, view, removed, added)
        : sortUpdate(context, view, removed, added, () => mailbox.sort(view.path, keys, { op: 'uid', uids: uidRanges([...members, ...added].sort((a, b) => a - b)) }));
    if (data.length === 0) continue;
    await session.untagged('ESEARCH', [{ atom: 'TAG' }, { string: context.tag }], ...(context.uid ? ['UID'] : []), ...data);
  }
}

/**
 * The number the client knows a message by in this context: its UID, or its sequence number (0 when the client was
 * already told it is gone: an expunge that raced the listener, see Connection.flushWithListeners; it is then left out).
 */
function numberOf(context: Context, view: SelectedView, uid: number): number {
  return context.uid ? uid : view.seqOf(uid);
}

/**
 * A SEARCH context: its result is an unordered set, so both lists use position 0 ("position unknown", which
 * RFC 5267 §4.3 permits for unsorted results) with the messages as one ascending sequence set.
 */
function searchUpdate(context: Context, view: SelectedView, removed: ReadonlySet<number>, added: readonly number[]): (Value | string)[] {
  const numbers = (uids: Iterable<number>): number[] => [...uids].map((uid) => numberOf(context, view, uid)).filter((n) => n > 0).sort((a, b) => a - b);
  const data: (Value | string)[] = [];
  const gone = numbers(removed);
  const come = numbers(added);
  if (gone.length) data.push('REMOVEFROM', `(0 ${setText(gone)})`);
  if (come.length) data.push('ADDTO', `(0 ${setText(come)})`);
  const kept = context.results.filter((uid) => !removed.has(uid));
  context.results = [...kept, ...added].sort((a, b) => a - b);
  return data;
}

/**
 * A SORT context: each message with its 1-based position, applied in the order written (RFC 5267 §4.3). Removals go
 * last position first, so each position is the same before and after the ones before it are removed; additions go
 * in ascending final position, so each lands where it stays.
 */
function sortUpdate(context: Context, view: SelectedView, removed: ReadonlySet<number>, added: readonly number[], order: () => readonly number[]): (Value | string)[] {
  const data: (Value | string)[] = [];
  if (removed.size) {
    const pairs: string[] = [];
    for (let i = context.results.length - 1; i >= 0; i--) {
      const uid = context.results[i] as number;
      const number = removed.has(uid) ? numberOf(context, view, uid) : 0;
      if (number > 0) pairs.push(`${i + 1} ${number}`);
    }
    if (pairs.length) data.push('REMOVEFROM', `(${pairs.join(' ')})`);
  }
  const kept = context.results.filter((uid) => !removed.has(uid));
  if (added.length === 0) {
    context.results = kept;
    return data;
  }
  // The store's order over the kept and the new messages; a kept message it no longer holds (expunge not yet
  // reported) has no rank and stays right after the message before it.
  const rank = new Map(order().map((uid, i) => [uid, i] as const));
  const adds = added.filter((uid) => rank.has(uid)).sort((a, b) => (rank.get(a) as number) - (rank.get(b) as number));
  const out: number[] = [];
  const pairs: string[] = [];
  let next = 0;
  const place = (uid: number): void => {
    out.push(uid);
    pairs.push(`${out.length} ${numberOf(context, view, uid)}`);
  };
  for (const uid of kept) {
    const r = rank.get(uid);
    while (r !== undefined && next < adds.length && (rank.get(adds[next] as number) as number) < r) place(adds[next++] as number);
    out.push(uid);
  }
  while (next < adds.length) place(adds[next++] as number);
  context.results = out;
  if (pairs.length) data.push('ADDTO', `(${pairs.join(' ')})`);
  return data;
}

/** CANCELUPDATE (RFC 5267 §4.2): `"CANCELUPDATE" 1*(SP quoted)` ends the contexts created by those tags. */
export const CANCELUPDATE_COMMAND: CommandSpec = {
  name: 'CANCELUPDATE',
  states: ['selected'],
  capabilities: [CONTEXT_SEARCH],
  async run({ session, args }) {
    const tags = [args.string().toString('utf8')];
    while (!args.atEnd()) {
      args.sp();
      tags.push(args.string().toString('utf8'));
    }
    const state = current(session);
    // All or nothing: a tag naming no live context (never created, or already ended) is refused as Dovecot 2.3 does.
    const unknown = tags.find((tag) => !state?.contexts.has(tag));
    if (unknown !== undefined || !state) throw imapNo(null, 'Unknown context tag');
    for (const tag of tags) state.contexts.delete(tag);
    if (state.contexts.size === 0) {
      state.stop();
      bySession.delete(session);
    }
    return { status: 'OK', text: 'CANCELUPDATE completed' };
  },
};
