// THREAD (RFC 5256 §4): ORDEREDSUBJECT and REFERENCES over the keys stored at append (base subject, sent
// date, Message-ID, references). Pure functions over rows; the store reads the rows in one statement.
import { compileSearch, type CompiledSearch } from './search.js';
import type { SearchQuery, ThreadAlgorithm, ThreadNode } from './types.js';

/** [uid, base subject (folded), sent date (ISO), Message-ID, references (space-separated), reply/forward 0|1] */
export type ThreadRow = [number, string, string, string | null, string | null, number | null];

/** ORDEREDSUBJECT reads only messages columns; REFERENCES also each body's Message-ID and references. */
export function threadInputSql(folderId: number, query: SearchQuery, algorithm: ThreadAlgorithm = 'REFERENCES'): CompiledSearch {
  const params: unknown[] = [folderId];
  let where = '';
  if (query.op !== 'all') {
    const search = compileSearch(folderId, query);
    where = ` AND m.uid IN (SELECT uid FROM (${search.sql}))`;
    params.push(...search.params);
  }
  const sql =
    algorithm === 'ORDEREDSUBJECT'
      ? `SELECT m.uid, m.sort_subject, m.sort_date, NULL, NULL, NULL FROM messages m WHERE m.folder_id = ?${where} ORDER BY m.uid`
      : 'SELECT m.uid, m.sort_subject, m.sort_date, t.message_id, t.refs, t.reply FROM messages m ' +
        `LEFT JOIN thread_keys t ON t.body_id = m.body_id WHERE m.folder_id = ?${where} ORDER BY m.uid`;
  return { sql, params };
}

interface Message {
  readonly uid: number;
  readonly subject: string;
  readonly date: string;
  readonly reply: boolean;
}

/** Sent date order; equal dates in mailbox (UID) order (RFC 5256 §2.2, §4). */
function byDate(a: Message, b: Message): number {
  return a.date < b.date ? -1 : a.date > b.date ? 1 : a.uid - b.uid;
}

export function buildThreads(algorithm: ThreadAlgorithm, rows: readonly ThreadRow[]): ThreadNode[] {
  return algorithm === 'ORDEREDSUBJECT' ? orderedSubject(rows) : references(rows);
}

const messageOf = (r: ThreadRow): Message => ({ uid: r[0], subject: r[1], date: r[2], reply: r[5] === 1 });

/**
 * ORDEREDSUBJECT: messages sorted by base subject then sent date, split into one thread per base subject;
 * threads ordered by the sent date of their first message. The first message is the thread's root, every
 * other message a child of it (siblings of one another): no grandchildren.
 */
function orderedSubject(rows: readonly ThreadRow[]): ThreadNode[] {
  const groups = new Map<string, Message[]>();
  for (const r of rows) {
    const m = messageOf(r);
    let group = groups.get(m.subject);
    if (!group) groups.set(m.subject, (group = []));
    group.push(m);
  }
  const threads = [...groups.values()].map((g) => g.sort(byDate));
  threads.sort((a, b) => byDate(a[0]!, b[0]!));
  return threads.map((g) => ({ uid: g[0]!.uid, children: g.slice(1).map((m) => ({ uid: m.uid, children: [] })) }));
}

/** A container of the REFERENCES algorithm: a message, or a dummy (message null) standing for a referenced id. */
interface Container {
  message: Message | null;
  parent: Container | null;
  /** NO_CHILDREN until the first link (most containers never get one: no array each). */
  children: Container[];
  /** The result node, set when the tree is turned into ThreadNodes. */
  node?: ThreadNode;
}

const NO_CHILDREN: Container[] = [];

function isAncestorOrSelf(candidate: Container, of: Container): boolean {
  // A container without children is nobody's ancestor: the common case (a new message) needs no walk.
  if (candidate.children.length === 0) return candidate === of;
  for (let c: Container | null = of; c !== null; c = c.parent) if (c === candidate) return true;
  return false;
}

/** Every container under `root` (and root) with each parent before its children; no recursion (deep chains). */
function preOrder(root: Container): Container[] {
  const order: Container[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const c = stack.pop()!;
    order.push(c);
    for (const child of c.children) stack.push(child);
  }
  return order;
}

function unlink(child: Container): void {
  const parent = child.parent;
  if (!parent) return;
  const i = parent.children.indexOf(child);
  if (i >= 0) parent.children.splice(i, 1);
  child.parent = null;
}

function link(parent: Container, child: Container): void {
  child.parent = parent;
  if (parent.children === NO_CHILDREN) parent.children = [child];
  else parent.children.push(child);
}

/** Date a container sorts by: its message's, or (a dummy) its first child's after that child's own sort. */
function sortMessage(c: Container): Message | null {
  return c.message ?? (c.children[0] ? sortMessage(c.children[0]) : null);
}

function compareContainers(a: Container, b: Container): number {
  const ma = sortMessage(a);
  const mb = sortMessage(b);
  if (!ma || !mb) return ma ? -1 : mb ? 1 : 0;
  return byDate(ma, mb);
}

/** Base subject of a top-level thread: its message's, or a dummy's first child's (step 5.B.i). */
function threadSubject(c: Container): string {
  return (c.message ?? c.children[0]?.message)?.subject ?? '';
}

function references(rows: readonly ThreadRow[]): ThreadNode[] {
  const byId = new Map<string, Container>();
  const all: Container[] = [];
  // (1) For each message (in mailbox order), link its references and itself.
  for (const r of rows) {
    const message = messageOf(r);
    // A message without a Message-ID, or repeating one already taken, gets a unique id (an unlinked container).
    let own = r[3] !== null ? byId.get(r[3]) : undefined;
    if (own && own.message === null) {
      own.message = message;
    } else {
      own = { message, parent: null, children: NO_CHILDREN };
      if (r[3] !== null && !byId.has(r[3])) byId.set(r[3], own);
    }
    all.push(own);
    const refs = r[4] ? r[4].split(' ').filter(Boolean) : [];
    const chain: Container[] = refs.map((id) => {
      let c = byId.get(id);
      if (!c) {
        // (1.A) An id no message carries: a dummy, used for every later reference to it.
        c = { message: null, parent: null, children: NO_CHILDREN };
        byId.set(id, c);
        all.push(c);
      }
      return c;
    });
    // (1.A) Each reference is the parent of the next, unless the next already has a parent (References may have
    // been truncated, so an existing link is kept) or the link would make a loop.
    for (let i = 0; i + 1 < chain.length; i++) {
      const parent = chain[i]!;
      const child = chain[i + 1]!;
      if (child.parent === null && !isAncestorOrSelf(child, parent)) link(parent, child);
    }
    // (1.B) The last reference is the message's parent, replacing any parent it had; no loops.
    unlink(own);
    const last = chain[chain.length - 1];
    if (last && !isAncestorOrSelf(own, last)) link(last, own);
  }
  // (2) Every container without a parent is a child of the root.
  const root: Container = { message: null, parent: null, children: [] };
  for (const c of all) if (c.parent === null && (c.message !== null || c.children.length > 0)) link(root, c);
  // (3) Prune dummies: childless ones go, others are replaced by their children, except that a dummy with
  // several children stays when its children would otherwise become children of the root.
  // Children before parents (reverse pre-order), so children a dummy hands up are already pruned themselves.
  const order = preOrder(root);
  for (let i = order.length - 1; i >= 0; i--) {
    const parent = order[i]!;
    if (parent.children.length === 0) continue;
    const next: Container[] = [];
    for (const c of parent.children) {
      if (c.message !== null) next.push(c);
      else if (c.children.length === 0) continue;
      else if (parent !== root || c.children.length === 1) {
        for (const child of c.children) {
          child.parent = parent;
          next.push(child);
        }
      } else next.push(c);
    }
    parent.children = next;
  }
  // (4) Sort the top level by sent date (a dummy by its children's earliest, after sorting them).
  for (const c of root.children) if (c.message === null) c.children.sort(compareContainers);
  root.children.sort(compareContainers);
  // (5) Merge top-level threads with the same base subject.
  const table = new Map<string, Container>();
  for (const c of root.children) {
    const subject = threadSubject(c);
    if (subject === '') continue;
    const held = table.get(subject);
    if (!held) table.set(subject, c);
    else if (held.message !== null && (c.message === null || (held.message.reply && !c.message.reply))) table.set(subject, c);
  }
  // Threads leave the top level by losing root as parent (removed from root.children once, afterwards, so a
  // folder with many merges stays linear); a held message wrapped into a new dummy is replaced by it in place.
  const wrapped = new Map<Container, Container>();
  const topLevel = root.children;
  for (const c of topLevel) {
    if (c.parent !== root) continue; // merged into another thread earlier in this pass
    const subject = threadSubject(c);
    if (subject === '') continue;
    const held = table.get(subject);
    if (!held || held === c) continue;
    if (held.message === null && c.message === null) {
      // Both dummies: the current one's children join the held one's, and it goes.
      for (const child of c.children) link(held, child);
      c.children = NO_CHILDREN;
      c.parent = null;
    } else if (held.message === null || (c.message !== null && c.message.reply && !held.message.reply)) {
      // Into a held dummy as a sibling of its children, or a reply/forward under the non-reply held message.
      c.parent = null;
      link(held, c);
    } else {
      // A new dummy holds both and takes the held message's place at the top level and in the table.
      const dummy: Container = { message: null, parent: root, children: NO_CHILDREN };
      c.parent = null;
      link(dummy, held);
      link(dummy, c);
      wrapped.set(held, dummy);
      table.set(subject, dummy);
    }
  }
  root.children = topLevel.flatMap((c) => (c.parent === root ? [c] : wrapped.has(c) ? [wrapped.get(c)!] : []));
  // (6) Sort every set of siblings by sent date, deepest first (a dummy sorts by its first child).
  const final = preOrder(root);
  for (let i = final.length - 1; i >= 0; i--) if (final[i]!.children.length > 1) final[i]!.children.sort(compareContainers);
  // Containers become ThreadNodes children first (reverse pre-order), so every child's node exists when its parent's is made.
  for (let i = final.length - 1; i > 0; i--) {
    const c = final[i]!;
    c.node = { uid: c.message?.uid ?? null, children: c.children.length === 0 ? [] : c.children.map((child) => child.node!) };
  }
  return root.children.map((c) => c.node!);
}
