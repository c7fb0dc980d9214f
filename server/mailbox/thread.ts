// THREAD (RFC 5256 §4): ORDEREDSUBJECT and REFERENCES over the keys stored at append (base subject, sent
// date, Message-ID, references). Pure functions over rows; the store reads them in one statement.
//
// Built for large folders (100,000 messages in a few hundred milliseconds): the statement hands the messages
// over as one row of JSON arrays (no row array per message) in sent-date order (an index scan of
// messages_sort_date), so a message's position is its date rank and "sorted by sent date" is an integer
// comparison; the REFERENCES containers are integer ids with their links in typed arrays (no object per
// container, no child arrays); no recursion anywhere (reply chains can be as deep as the folder is large).
import type { CompiledSearch } from './search.js';
import { messageFilterSql } from './sort.js';
import type { SearchQuery, ThreadAlgorithm, ThreadNode } from './types.js';

/** One message: [uid, base subject (folded), sent date (ISO), Message-ID, references (space-separated), reply/forward 0|1]. */
export type ThreadMessageRow = [number, string, string, string | null, string | null, number | null];
/**
 * What threadInputSql's statement returns: one row of JSON arrays, one per ThreadMessageRow column, over all
 * matching messages (null for a column the algorithm does not read). Handing 100,000 messages over as six
 * strings instead of 100,000 row arrays makes the read several times cheaper.
 */
export type ThreadColumnsRow = [string, string, string, string | null, string | null, string | null];
export type ThreadRow = ThreadMessageRow | ThreadColumnsRow;

/**
 * The rows in sent-date order (ties in UID order), which is the order buildThreads works in; buildThreads
 * accepts any order, but this one costs it no sort. ORDEREDSUBJECT reads only messages columns; REFERENCES
 * also each body's Message-ID and references.
 */
export function threadInputSql(folderId: number, query: SearchQuery, algorithm: ThreadAlgorithm = 'REFERENCES'): CompiledSearch {
  const params: unknown[] = [folderId];
  const where = messageFilterSql(folderId, query, params);
  // The aggregates read the subquery's rows in its order (sent date: an index scan); buildThreads checks it.
  const sql =
    algorithm === 'ORDEREDSUBJECT'
      ? 'SELECT json_group_array(uid), json_group_array(sort_subject), json_group_array(sort_date), NULL, NULL, NULL FROM ' +
        `(SELECT m.uid, m.sort_subject, m.sort_date FROM messages m WHERE m.folder_id = ?${where} ORDER BY m.sort_date, m.uid)`
      : 'SELECT json_group_array(uid), json_group_array(sort_subject), json_group_array(sort_date), json_group_array(message_id), ' +
        'json_group_array(refs), json_group_array(reply) FROM (SELECT m.uid, m.sort_subject, m.sort_date, t.message_id, t.refs, t.reply ' +
        `FROM messages m LEFT JOIN thread_keys t ON t.body_id = m.body_id WHERE m.folder_id = ?${where} ORDER BY m.sort_date, m.uid)`;
  return { sql, params };
}

/** The messages column by column, in sent-date order (index = date rank). Columns an algorithm does not read are null. */
interface Columns {
  readonly uid: readonly number[];
  readonly subject: readonly string[];
  readonly date: readonly string[];
  readonly messageId: readonly (string | null)[] | null;
  readonly refs: readonly (string | null)[] | null;
  readonly reply: readonly (number | null)[] | null;
}

function parseColumn<T>(json: string | null, length: number | null): T[] | null {
  if (json === null) return null;
  const column = JSON.parse(json) as T[];
  if (!Array.isArray(column) || (length !== null && column.length !== length)) throw new Error('thread input columns differ in length');
  return column;
}

/** Rows (one per message, or threadInputSql's one row of columns) as columns. */
function columnsOf(rows: readonly ThreadRow[]): Columns {
  const first = rows[0];
  if (rows.length === 1 && first && typeof first[0] === 'string') {
    const packed = first as ThreadColumnsRow;
    const uid = parseColumn<number>(packed[0], null)!;
    return {
      uid,
      subject: parseColumn<string>(packed[1], uid.length)!,
      date: parseColumn<string>(packed[2], uid.length)!,
      messageId: parseColumn<string | null>(packed[3], uid.length),
      refs: parseColumn<string | null>(packed[4], uid.length),
      reply: parseColumn<number | null>(packed[5], uid.length),
    };
  }
  const list = rows as readonly ThreadMessageRow[];
  return {
    uid: list.map((r) => r[0]),
    subject: list.map((r) => r[1]),
    date: list.map((r) => r[2]),
    messageId: list.map((r) => r[3]),
    refs: list.map((r) => r[4]),
    reply: list.map((r) => r[5]),
  };
}

export function buildThreads(algorithm: ThreadAlgorithm, rows: readonly ThreadRow[]): ThreadNode[] {
  const columns = byDateOrder(columnsOf(rows));
  return algorithm === 'ORDEREDSUBJECT' ? orderedSubject(columns) : references(columns);
}

/** The columns in sent-date order, equal dates in mailbox (UID) order (RFC 5256 §2.2, §4): as given when they already are (the store's order), else sorted. */
function byDateOrder(c: Columns): Columns {
  const { uid, date } = c;
  const before = (a: number, b: number): boolean => date[a]! < date[b]! || (date[a] === date[b] && uid[a]! < uid[b]!);
  let ordered = true;
  for (let i = 1; i < uid.length && ordered; i++) ordered = before(i - 1, i);
  if (ordered) return c;
  const order = Array.from({ length: uid.length }, (_, i) => i).sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  const permute = <T>(column: readonly T[] | null): T[] | null => (column === null ? null : order.map((i) => column[i]!));
  return {
    uid: permute(c.uid)!,
    subject: permute(c.subject)!,
    date: permute(c.date)!,
    messageId: permute(c.messageId),
    refs: permute(c.refs),
    reply: permute(c.reply),
  };
}

/**
 * ORDEREDSUBJECT: messages sorted by base subject then sent date, split into one thread per base subject;
 * threads ordered by the sent date of their first message. The first message is the thread's root, every
 * other message a child of it (siblings of one another): no grandchildren. Over messages in date order this
 * is one pass: a subject's first message opens its thread (so threads open in the order of their first
 * messages), later ones join it in date order.
 */
function orderedSubject({ uid, subject }: Columns): ThreadNode[] {
  const threads: ThreadNode[] = [];
  const bySubject = new Map<string, ThreadNode>();
  for (let i = 0; i < uid.length; i++) {
    const thread = bySubject.get(subject[i]!);
    if (thread) thread.children.push({ uid: uid[i]!, children: [] });
    else {
      const opened: ThreadNode = { uid: uid[i]!, children: [] };
      bySubject.set(subject[i]!, opened);
      threads.push(opened);
    }
  }
  return threads;
}

/** "No container" in the link arrays. */
const NONE = -1;

/**
 * The REFERENCES containers (RFC 5256 §4 step 1): ids 0… in creation order. A container holds a message (its
 * date rank: its index in the date-ordered rows) or is a dummy (NONE) standing for a referenced id. Children
 * are a doubly linked list (first/last child, next/previous sibling), so unlinking a message from a parent
 * with many children is O(1) and keeps the order of the others.
 */
class Containers {
  count = 0;
  message: Int32Array;
  parent: Int32Array;
  first: Int32Array;
  last: Int32Array;
  next: Int32Array;
  prev: Int32Array;
  children: Int32Array;

  constructor(capacity: number) {
    const size = Math.max(16, capacity);
    this.message = new Int32Array(size);
    this.parent = new Int32Array(size);
    this.first = new Int32Array(size);
    this.last = new Int32Array(size);
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
    this.children = new Int32Array(size);
  }

  add(message: number): number {
    if (this.count === this.message.length) this.grow();
    const c = this.count++;
    this.message[c] = message;
    this.parent[c] = NONE;
    this.first[c] = NONE;
    this.last[c] = NONE;
    this.next[c] = NONE;
    this.prev[c] = NONE;
    this.children[c] = 0;
    return c;
  }

  private grow(): void {
    const size = this.message.length * 2;
    const bigger = (a: Int32Array): Int32Array => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.message = bigger(this.message);
    this.parent = bigger(this.parent);
    this.first = bigger(this.first);
    this.last = bigger(this.last);
    this.next = bigger(this.next);
    this.prev = bigger(this.prev);
    this.children = bigger(this.children);
  }

  /** Appends `child` (which has no parent) as the last child of `parent`. */
  link(parent: number, child: number): void {
    this.parent[child] = parent;
    const tail = this.last[parent]!;
    this.prev[child] = tail;
    this.next[child] = NONE;
    if (tail === NONE) this.first[parent] = child;
    else this.next[tail] = child;
    this.last[parent] = child;
    this.children[parent]!++;
  }

  /** Takes `child` out of its parent's children (the others keep their order). */
  unlink(child: number): void {
    const parent = this.parent[child]!;
    if (parent === NONE) return;
    const p = this.prev[child]!;
    const n = this.next[child]!;
    if (p === NONE) this.first[parent] = n;
    else this.next[p] = n;
    if (n === NONE) this.last[parent] = p;
    else this.prev[n] = p;
    this.prev[child] = NONE;
    this.next[child] = NONE;
    this.parent[child] = NONE;
    this.children[parent]!--;
  }

  /** Puts `c`'s children in its place among its siblings, in order; c leaves the tree with no children. */
  replaceByChildren(c: number): void {
    const parent = this.parent[c]!;
    const head = this.first[c]!;
    const tail = this.last[c]!;
    for (let x = head; x !== NONE; x = this.next[x]!) this.parent[x] = parent;
    const p = this.prev[c]!;
    const n = this.next[c]!;
    this.prev[head] = p;
    if (p === NONE) this.first[parent] = head;
    else this.next[p] = head;
    this.next[tail] = n;
    if (n === NONE) this.last[parent] = tail;
    else this.prev[n] = tail;
    this.children[parent]! += this.children[c]! - 1;
    this.parent[c] = NONE;
    this.first[c] = NONE;
    this.last[c] = NONE;
    this.children[c] = 0;
  }

  /** Moves all of `from`'s children, in order, to the end of `to`'s. */
  adoptChildren(to: number, from: number): void {
    for (let x = this.first[from]!; x !== NONE; ) {
      const following = this.next[x]!;
      this.parent[x] = NONE;
      this.link(to, x);
      x = following;
    }
    this.first[from] = NONE;
    this.last[from] = NONE;
    this.children[from] = 0;
  }

  isAncestorOrSelf(candidate: number, of: number): boolean {
    // A container without children is nobody's ancestor: the common case (a new message) needs no walk.
    if (this.children[candidate] === 0) return candidate === of;
    for (let c = of; c !== NONE; c = this.parent[c]!) if (c === candidate) return true;
    return false;
  }

  /** Every container under `root` (and root) with each parent before its children; no recursion. */
  preOrder(root: number): Int32Array {
    const order = new Int32Array(this.count);
    const stack = new Int32Array(this.count);
    let top = 0;
    let size = 0;
    stack[top++] = root;
    while (top > 0) {
      const c = stack[--top]!;
      order[size++] = c;
      for (let x = this.first[c]!; x !== NONE; x = this.next[x]!) stack[top++] = x;
    }
    return order.subarray(0, size);
  }

  /** The children of `c` in order. */
  childList(c: number): number[] {
    const list: number[] = [];
    for (let x = this.first[c]!; x !== NONE; x = this.next[x]!) list.push(x);
    return list;
  }

  /** Re-links `c`'s children in the given order (the same set). */
  setChildren(c: number, list: readonly number[]): void {
    let p = NONE;
    for (const x of list) {
      this.prev[x] = p;
      if (p === NONE) this.first[c] = x;
      else this.next[p] = x;
      p = x;
    }
    if (p !== NONE) this.next[p] = NONE;
    this.last[c] = p;
  }
}

/** Containers with no message anywhere below sort after every message (never met in a pruned tree). */
const UNDATED = 0x7fffffff;

/**
 * Sorts containers by key (date ranks) in place. Keys below 2^21 and ids below 2^31 are packed into one
 * float (key·2^31 + id, exact below 2^53) and sorted natively; otherwise (UNDATED keys) a stable comparison
 * sort. Equal keys keep their order either way only where ids ascend, so packing is used only when all keys
 * differ, which holds for date ranks of disjoint subtrees.
 */
function sortByKey(list: number[], key: (c: number) => number): void {
  const packed = new Float64Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const k = key(list[i]!);
    if (k >= 2 ** 21 || list[i]! >= 2 ** 31) {
      list.sort((a, b) => key(a) - key(b));
      return;
    }
    packed[i] = k * 2 ** 31 + list[i]!;
  }
  packed.sort();
  for (let i = 1; i < packed.length; i++) {
    if (Math.floor(packed[i]! / 2 ** 31) === Math.floor(packed[i - 1]! / 2 ** 31)) {
      // Two containers with one key (not expected): the stable sort keeps their order as the comparison did.
      list.sort((a, b) => key(a) - key(b));
      return;
    }
  }
  for (let i = 0; i < packed.length; i++) list[i] = packed[i]! % 2 ** 31;
}

function references(columns: Columns): ThreadNode[] {
  const { uid, subject } = columns;
  const n = uid.length;
  const messageIds = columns.messageId ?? [];
  const references = columns.refs ?? [];
  const replies = columns.reply ?? [];
  const set = new Containers(n * 2 + 1);
  const byId = new Map<string, number>();
  // Mailbox order: the date ranks sorted by UID (packed as uid·2^21 + rank in a float, sorted natively,
  // when the numbers fit exactly; else a comparison sort).
  const byUid = new Int32Array(n);
  let ordered = true;
  for (let i = 1; i < n && ordered; i++) ordered = uid[i - 1]! < uid[i]!;
  if (ordered) for (let i = 0; i < n; i++) byUid[i] = i;
  else if (n < 2 ** 21) {
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) packed[i] = uid[i]! * 2 ** 21 + i;
    packed.sort();
    for (let i = 0; i < n; i++) byUid[i] = packed[i]! % 2 ** 21;
  } else {
    const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => uid[a]! - uid[b]!);
    for (let i = 0; i < n; i++) byUid[i] = idx[i]!;
  }
  // (1) For each message (in mailbox order), link its references and itself.
  for (let k = 0; k < n; k++) {
    const rank = byUid[k]!;
    const id = messageIds[rank] ?? null;
    // A message without a Message-ID, or repeating one already taken, gets a unique id (an unlinked container).
    let own = id !== null ? byId.get(id) : undefined;
    if (own !== undefined && set.message[own] === NONE) {
      set.message[own] = rank;
    } else {
      // (Not found: the id is free; found with a message: taken, the map keeps the first.)
      const taken = own !== undefined;
      own = set.add(rank);
      if (id !== null && !taken) byId.set(id, own);
    }
    // (1.A) Each reference is the parent of the next, unless the next already has a parent (References may have
    // been truncated, so an existing link is kept) or the link would make a loop. An id no message carries
    // gets a dummy, used for every later reference to it.
    let previous = NONE;
    const refs = references[rank];
    if (refs) {
      for (let start = 0; start < refs.length; ) {
        let end = refs.indexOf(' ', start);
        if (end < 0) end = refs.length;
        if (end > start) {
          const ref = refs.slice(start, end);
          let c = byId.get(ref);
          if (c === undefined) {
            c = set.add(NONE);
            byId.set(ref, c);
          }
          if (previous !== NONE && set.parent[c] === NONE && !set.isAncestorOrSelf(c, previous)) set.link(previous, c);
          previous = c;
        }
        start = end + 1;
      }
    }
    // (1.B) The last reference is the message's parent, replacing any parent it had; no loops.
    set.unlink(own);
    if (previous !== NONE && !set.isAncestorOrSelf(own, previous)) set.link(previous, own);
  }
  // (2) Every container without a parent (in creation order) is a child of the root.
  const root = set.add(NONE);
  for (let c = 0; c < root; c++) {
    if (set.parent[c] === NONE && (set.message[c] !== NONE || set.children[c] > 0)) set.link(root, c);
  }
  // (3) Prune dummies: childless ones go, others are replaced by their children, except that a dummy with
  // several children stays when its children would otherwise become children of the root.
  // Children before parents (reverse pre-order), so children a dummy hands up are already pruned themselves.
  const order = set.preOrder(root);
  for (let i = order.length - 1; i >= 0; i--) {
    const parent = order[i]!;
    for (let c = set.first[parent]!; c !== NONE; ) {
      const following = set.next[c]!;
      if (set.message[c] === NONE) {
        if (set.children[c] === 0) set.unlink(c);
        else if (parent !== root || set.children[c] === 1) set.replaceByChildren(c);
      }
      c = following;
    }
  }
  // (4) Sort the top level by sent date (a dummy by its children's earliest, after sorting them).
  const key = (c: number): number => {
    let x = c;
    while (set.message[x] === NONE) {
      x = set.first[x]!;
      if (x === NONE) return UNDATED;
    }
    return set.message[x]!;
  };
  const sortChildren = (c: number): void => {
    const list = set.childList(c);
    // Array sort is stable: equal keys (only UNDATED) keep their order, like the comparison they replace.
    list.sort((a, b) => key(a) - key(b));
    set.setChildren(c, list);
  };
  for (let c = set.first[root]!; c !== NONE; c = set.next[c]!) if (set.message[c] === NONE && set.children[c] > 1) sortChildren(c);
  const topLevel = set.childList(root);
  sortByKey(topLevel, key);
  // (5) Merge top-level threads with the same base subject. Base subject of a top-level thread: its
  // message's, or a dummy's first child's (step 5.B.i).
  const subjectOf = (c: number): string => {
    let m = set.message[c]!;
    if (m === NONE) {
      const child = set.first[c]!;
      if (child === NONE) return '';
      m = set.message[child]!;
      if (m === NONE) return '';
    }
    return subject[m]!;
  };
  const isReply = (c: number): boolean => replies[set.message[c]!] === 1;
  // The subject table holds a slot per base subject (held[slot]: the container held for it); each thread's
  // slot is remembered, so the merge pass below needs no second lookup.
  const table = new Map<string, number>();
  const held: number[] = [];
  const slotOf = new Int32Array(topLevel.length).fill(NONE);
  for (let i = 0; i < topLevel.length; i++) {
    const c = topLevel[i]!;
    const subject = subjectOf(c);
    if (subject === '') continue;
    let slot = table.get(subject);
    if (slot === undefined) {
      slot = held.length;
      table.set(subject, slot);
      held.push(c);
    } else {
      const h = held[slot]!;
      if (set.message[h] !== NONE && (set.message[c] === NONE || (isReply(h) && !isReply(c)))) held[slot] = c;
    }
    slotOf[i] = slot;
  }
  // Threads leave the top level by losing root as parent (the top-level list is rebuilt once, afterwards, so a
  // folder with many merges stays linear); a held message wrapped into a new dummy is replaced by it in place.
  const wrappedBy = new Map<number, number>();
  for (let i = 0; i < topLevel.length; i++) {
    const c = topLevel[i]!;
    if (set.parent[c] !== root) continue; // merged into another thread earlier in this pass
    const slot = slotOf[i]!;
    if (slot === NONE) continue;
    const h = held[slot]!;
    if (h === c) continue;
    if (set.message[h] === NONE && set.message[c] === NONE) {
      // Both dummies: the current one's children join the held one's, and it goes.
      set.adoptChildren(h, c);
      set.parent[c] = NONE;
    } else if (set.message[h] === NONE || (set.message[c] !== NONE && isReply(c) && !isReply(h))) {
      // Into a held dummy as a sibling of its children, or a reply/forward under the non-reply held message.
      set.parent[c] = NONE;
      set.link(h, c);
    } else {
      // A new dummy holds both and takes the held message's place at the top level and in the table.
      const dummy = set.add(NONE);
      set.parent[h] = NONE;
      set.parent[c] = NONE;
      set.link(dummy, h);
      set.link(dummy, c);
      set.parent[dummy] = root;
      wrappedBy.set(h, dummy);
      held[slot] = dummy;
    }
  }
  // The root's own list is not kept up to date in step 5 (membership is parent === root): rebuilt here.
  const threads: number[] = [];
  for (const c of topLevel) {
    if (set.parent[c] === root) threads.push(c);
    else {
      const dummy = wrappedBy.get(c);
      if (dummy !== undefined) threads.push(dummy);
    }
  }
  // (6) Sort every set of siblings by sent date, deepest first (a dummy sorts by its first child), then turn the
  // containers into ThreadNodes children first, so every child's node exists when its parent's is made.
  const nodes: ThreadNode[] = new Array<ThreadNode>(set.count);
  const stack: number[] = [];
  const post: number[] = [];
  for (const t of threads) {
    // Post-order of this thread: reverse of a pre-order that visits children in reverse.
    stack.push(t);
    while (stack.length > 0) {
      const c = stack.pop()!;
      post.push(c);
      for (let x = set.first[c]!; x !== NONE; x = set.next[x]!) stack.push(x);
    }
    for (let i = post.length - 1; i >= 0; i--) {
      const c = post[i]!;
      if (set.children[c] > 1) sortChildren(c);
      const children: ThreadNode[] = [];
      for (let x = set.first[c]!; x !== NONE; x = set.next[x]!) children.push(nodes[x]!);
      const m = set.message[c]!;
      nodes[c] = { uid: m === NONE ? null : uid[m]!, children };
    }
    post.length = 0;
  }
  // The top level in date order too.
  sortByKey(threads, key);
  return threads.map((t) => nodes[t]!);
}
