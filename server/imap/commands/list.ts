// LIST (RFC 9051 §6.3.9, RFC 3501 §6.3.8) with LIST-EXTENDED (RFC 5258): selection options SUBSCRIBED, REMOTE,
// RECURSIVEMATCH and SPECIAL-USE (RFC 6154), several patterns, return options SUBSCRIBED, CHILDREN, SPECIAL-USE
// and STATUS (LIST-STATUS, RFC 5819); and LSUB (RFC 3501 §6.3.9), where `%` shows a parent that only has a
// subscribed child as \Noselect. The subscription list is the store's own (names outlive their folders, RFC 3501
// §6.3.6): LSUB returns a subscribed name whose folder is gone with no attributes (in LSUB, \Noselect means "not
// subscribed itself", RFC 5258 §3.1; Dovecot 2.3 alike), LIST (SUBSCRIBED) with \Subscribed \NonExistent.
// Work is linear in the number of names: child and subscription facts come from one pass over the folder and
// subscription lists, and patterns are matched without backtracking.
import type { FolderInfo, FolderStatus } from '../../mailbox/types.js';
import type { CommandContext, CommandSpec } from '../engine/types.js';
import { mailboxName } from '../wire/encode.js';
import { ParseError, type Cursor, type Value } from '../wire/types.js';
import { enableForItems, readStatusItems, writeStatus, type StatusItem } from './status.js';

const SEPARATOR = '/';

/** One list-mailbox pattern compiled to literal runs and wildcards (`*` any text, `%` any text without `/`). */
type Token = { readonly kind: 'text'; readonly text: string } | { readonly kind: '*' } | { readonly kind: '%' };

export interface Pattern {
  readonly tokens: readonly Token[];
  /** Characters a name needs at least (the literal runs): longer than any name means nothing can match. */
  readonly minLength: number;
}

/**
 * Compiles reference + pattern (already decoded to store paths). Adjacent wildcards collapse (`%*`, `**` → `*`,
 * `%%` → `%`), so a hostile pattern costs no more than its literal text.
 */
export function compilePattern(canonical: string): Pattern {
  const tokens: Token[] = [];
  let literal = '';
  let minLength = 0;
  for (const ch of canonical) {
    if (ch !== '*' && ch !== '%') {
      literal += ch;
      continue;
    }
    if (literal) {
      tokens.push({ kind: 'text', text: literal });
      minLength += literal.length;
      literal = '';
    }
    const last = tokens[tokens.length - 1];
    if (last && last.kind !== 'text') {
      if (ch === '*' && last.kind === '%') tokens[tokens.length - 1] = { kind: '*' };
      continue;
    }
    tokens.push({ kind: ch });
  }
  if (literal) {
    tokens.push({ kind: 'text', text: literal });
    minLength += literal.length;
  }
  return { tokens, minLength };
}

/** `text` occurs in `name` at `at`; the letters of a leading INBOX compare case-insensitively (RFC 9051 §5.1). */
function occursAt(name: string, text: string, at: number, inboxLength: number): boolean {
  if (at >= inboxLength) return name.startsWith(text, at);
  for (let i = 0; i < text.length; i++) {
    const a = name[at + i] as string;
    const b = text[i] as string;
    if (a !== b && !(at + i < inboxLength && a === b.toUpperCase())) return false;
  }
  return true;
}

/**
 * Does `name` match? Tracks the set of name positions reachable after each token (no backtracking): cost is
 * O(name length) per wildcard plus the literal comparisons at reachable positions.
 */
export function matches(pattern: Pattern, name: string): boolean {
  if (name.length < pattern.minLength) return false;
  const n = name.length;
  const inboxLength = name === 'INBOX' || name.startsWith('INBOX/') ? 5 : 0;
  let reach = new Uint8Array(n + 1);
  reach[0] = 1;
  for (const token of pattern.tokens) {
    const next = new Uint8Array(n + 1);
    let any = false;
    if (token.kind === 'text') {
      const len = token.text.length;
      for (let p = 0; p + len <= n; p++) {
        if (reach[p] && occursAt(name, token.text, p, inboxLength)) {
          next[p + len] = 1;
          any = true;
        }
      }
    } else {
      let open = false;
      for (let p = 0; p <= n; p++) {
        if (reach[p]) open = true;
        if (open) {
          next[p] = 1;
          any = true;
        }
        // `%` does not cross a hierarchy separator.
        if (token.kind === '%' && name[p] === SEPARATOR) open = false;
      }
    }
    if (!any) return false;
    reach = next;
  }
  return reach[n] === 1;
}

const matchesAny = (patterns: readonly Pattern[], name: string): boolean => patterns.some((p) => matches(p, name));

export interface ListRequest {
  readonly lsub: boolean;
  /** True when any RFC 5258 syntax (selection options, several patterns, RETURN) was used. */
  readonly extended: boolean;
  readonly selectSubscribed: boolean;
  readonly selectSpecialUse: boolean;
  readonly recursiveMatch: boolean;
  /** reference + pattern texts, decoded; '' alone asks for the hierarchy delimiter. */
  readonly patterns: readonly string[];
  readonly returnSubscribed: boolean;
  readonly returnStatus: readonly StatusItem[] | null;
}

/** `LIST [(selection)] reference (pattern | (patterns)) [RETURN (options)]`, or `LSUB reference pattern`. */
export function readListRequest(args: Cursor, lsub: boolean, rev2 = false): ListRequest {
  let extended = false;
  let selectSubscribed = false;
  let selectSpecialUse = false;
  let recursiveMatch = false;
  if (!lsub && args.peek() === '(') {
    extended = true;
    args.list((c) => {
      const option = c.atom();
      if (option === 'SUBSCRIBED') selectSubscribed = true;
      else if (option === 'REMOTE') {
        // No remote mailboxes here: nothing to add (RFC 5258 §3.1).
      }
      else if (option === 'RECURSIVEMATCH') recursiveMatch = true;
      else if (option === 'SPECIAL-USE') selectSpecialUse = true;
      else throw new ParseError('Unknown LIST selection option');
      return option;
    }, true);
    args.sp();
  }
  // RFC 5258 §3.1: RECURSIVEMATCH must not be the only selection option (or only with REMOTE): BAD.
  if (recursiveMatch && !selectSubscribed && !selectSpecialUse) throw new ParseError('RECURSIVEMATCH needs another selection option');
  const reference = args.mailbox();
  args.sp();
  let raw: string[];
  if (!lsub && args.peek() === '(') {
    extended = true;
    raw = args.list((c) => c.listMailbox());
  } else {
    raw = [args.listMailbox()];
  }
  let returnSubscribed = false;
  let returnStatus: StatusItem[] | null = null;
  if (!lsub && args.trySp()) {
    extended = true;
    args.expect('RETURN');
    args.sp();
    args.list((c) => {
      const option = c.atom();
      if (option === 'SUBSCRIBED') returnSubscribed = true;
      else if (option === 'CHILDREN' || option === 'SPECIAL-USE') {
        // Always included: \HasChildren / \HasNoChildren (RFC 3348) and special-use attributes (RFC 6154).
      } else if (option === 'STATUS') {
        c.sp();
        returnStatus = readStatusItems(c, rev2);
      } else throw new ParseError('Unknown LIST return option');
      return option;
    }, true);
  }
  args.end();
  // RFC 3501 §6.3.8: the reference and the pattern are joined; an empty pattern asks for the delimiter only.
  const patterns = raw.map((pattern) => (pattern === '' ? '' : reference + pattern));
  return { lsub, extended, selectSubscribed, selectSpecialUse, recursiveMatch, patterns, returnSubscribed, returnStatus };
}

/** Facts about the whole folder tree and subscription list, gathered in one pass. */
interface Tree {
  readonly byPath: ReadonlyMap<string, FolderInfo>;
  /** Paths that have at least one child folder. */
  readonly parents: ReadonlySet<string>;
  /** The subscription list, existing folders or not. */
  readonly subscribed: ReadonlySet<string>;
  /** Paths with at least one subscribed descendant name. */
  readonly subscribedBelow: ReadonlySet<string>;
}

function ancestors(path: string): string[] {
  const out: string[] = [];
  let i = path.indexOf(SEPARATOR);
  while (i > 0) {
    out.push(path.slice(0, i));
    i = path.indexOf(SEPARATOR, i + 1);
  }
  return out;
}

function treeOf(folders: readonly FolderInfo[], subscriptions: readonly string[]): Tree {
  const byPath = new Map<string, FolderInfo>();
  const parents = new Set<string>();
  const subscribed = new Set<string>(subscriptions);
  const subscribedBelow = new Set<string>();
  for (const folder of folders) {
    byPath.set(folder.path, folder);
    const slash = folder.path.lastIndexOf(SEPARATOR);
    if (slash > 0) parents.add(folder.path.slice(0, slash));
    if (folder.subscribed) subscribed.add(folder.path);
  }
  for (const path of subscribed) for (const a of ancestors(path)) subscribedBelow.add(a);
  return { byPath, parents, subscribed, subscribedBelow };
}

/** The store's path order (SQLite compares UTF-8 bytes), INBOX first. */
function byStoreOrder(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface ListedName {
  readonly path: string;
  readonly attributes: readonly string[];
  /** Extended data items (RFC 5258 mbox-list-extended), e.g. CHILDINFO. */
  readonly extended: Value[] | null;
  /** The folder can be selected, so LIST-STATUS reports it. */
  readonly selectable: boolean;
}

/**
 * The names a LIST/LSUB returns, INBOX first, then in the store's path order; each name once. `subscriptions` is the
 * store's subscription list (names whose folder no longer exists included).
 */
export function listNames(folders: readonly FolderInfo[], request: ListRequest, subscriptions: readonly string[] = []): ListedName[] {
  const patterns = request.patterns.filter((p) => p !== '').map(compilePattern);
  const tree = treeOf(folders, subscriptions);
  const ordered = [...folders].sort((a, b) => Number(b.path === 'INBOX') - Number(a.path === 'INBOX'));
  const out: ListedName[] = [];
  const childAttribute = (path: string): string => (tree.parents.has(path) ? '\\HasChildren' : '\\HasNoChildren');

  if (request.lsub) {
    const listed = new Set<string>();
    // RFC 3501 §6.3.9: with `%`, a level above a subscribed name that is not itself subscribed is returned as \Noselect.
    const hidden = request.patterns.some((p) => p.includes('%'));
    for (const path of [...tree.subscribed].sort(byStoreOrder)) {
      if (matchesAny(patterns, path) && !listed.has(path)) {
        listed.add(path);
        // A name whose folder is gone gets no attributes: \Noselect would say it is not subscribed (RFC 5258 §3.1).
        out.push({ path, attributes: tree.byPath.get(path)?.noselect ? ['\\Noselect'] : [], extended: null, selectable: false });
      }
      if (!hidden) continue;
      for (const parent of ancestors(path)) {
        if (listed.has(parent) || tree.subscribed.has(parent) || !matchesAny(patterns, parent)) continue;
        listed.add(parent);
        out.push({ path: parent, attributes: ['\\Noselect'], extended: null, selectable: false });
      }
    }
    return out;
  }

  if (request.selectSubscribed) return listSubscribed(ordered, request, patterns, tree);

  for (const folder of ordered) {
    if (!matchesAny(patterns, folder.path)) continue;
    // With SPECIAL-USE alone RECURSIVEMATCH changes nothing (CHILDINFO is defined for SUBSCRIBED, RFC 5258 §3.5).
    if (request.selectSpecialUse && !folder.specialUse) continue;
    const attributes: string[] = [];
    if (folder.noselect) attributes.push('\\Noselect');
    attributes.push(childAttribute(folder.path));
    if (folder.specialUse) attributes.push(folder.specialUse);
    if (request.returnSubscribed && folder.subscribed) attributes.push('\\Subscribed');
    out.push({
      path: folder.path,
      attributes,
      extended: null,
      selectable: !folder.noselect,
    });
  }
  return out;
}

/**
 * LIST (SUBSCRIBED …) (RFC 5258 §3.1): the subscribed names, also those whose folder is gone (\NonExistent, with
 * \Subscribed, as Dovecot 2.3 answers), and with RECURSIVEMATCH the names above a subscribed one (CHILDINFO, §3.5),
 * existing or not.
 */
function listSubscribed(ordered: readonly FolderInfo[], request: ListRequest, patterns: readonly Pattern[], tree: Tree): ListedName[] {
  const names = new Set<string>(ordered.map((f) => f.path));
  let extra = false;
  for (const path of tree.subscribed) {
    if (!names.has(path)) {
      names.add(path);
      extra = true;
    }
  }
  if (request.recursiveMatch) {
    for (const path of tree.subscribedBelow) {
      if (!names.has(path)) {
        names.add(path);
        extra = true;
      }
    }
  }
  const paths = extra ? [...names].sort(byStoreOrder) : ordered.map((f) => f.path);
  const out: ListedName[] = [];
  for (const path of paths) {
    if (!matchesAny(patterns, path)) continue;
    const folder = tree.byPath.get(path);
    const subscribed = tree.subscribed.has(path);
    // CHILDINFO is defined for SUBSCRIBED (RFC 5258 §3.5).
    const childInfo = request.recursiveMatch && tree.subscribedBelow.has(path);
    if (!subscribed && !childInfo) continue;
    if (request.selectSpecialUse && !folder?.specialUse) continue;
    const attributes: string[] = [];
    if (folder) {
      if (folder.noselect) attributes.push('\\Noselect');
      attributes.push(tree.parents.has(path) ? '\\HasChildren' : '\\HasNoChildren');
      if (folder.specialUse) attributes.push(folder.specialUse);
      if (subscribed) attributes.push('\\Subscribed');
    } else {
      if (subscribed) attributes.push('\\Subscribed');
      attributes.push('\\NonExistent');
    }
    out.push({
      path,
      attributes,
      extended: childInfo ? [{ string: 'CHILDINFO' }, [{ string: 'SUBSCRIBED' }]] : null,
      selectable: folder !== undefined && !folder.noselect,
    });
  }
  return out;
}

async function runList(ctx: CommandContext, lsub: boolean): Promise<void> {
  const { session, args } = ctx;
  const request = readListRequest(args, lsub, session.enabled.has('IMAP4rev2'));
  const user = session.user;
  if (!user) throw new ParseError('Not logged in');
  const name = lsub ? 'LSUB' : 'LIST';
  if (request.patterns.every((p) => p === '')) {
    // RFC 3501 §6.3.8: an empty pattern returns the hierarchy delimiter and the root name.
    await session.untagged(name, '(\\Noselect)', { string: SEPARATOR }, { string: '' });
    return;
  }
  const utf8 = session.enabled.has('UTF8=ACCEPT') || session.enabled.has('IMAP4rev2');
  const items = request.returnStatus;
  if (items) enableForItems(session, items);
  const subscriptions = request.lsub || request.selectSubscribed ? user.mailbox.listSubscriptions() : [];
  for (const listed of listNames(user.mailbox.listFolders(), request, subscriptions)) {
    const values: (Value | string)[] = [name, `(${listed.attributes.join(' ')})`, { string: SEPARATOR }, mailboxName(listed.path, utf8)];
    if (listed.extended) values.push(listed.extended);
    await session.untagged(...values);
    if (!items || !listed.selectable) continue;
    let status: FolderStatus;
    try {
      status = user.mailbox.status(listed.path);
    } catch {
      continue; // deleted meanwhile: RFC 5819 §2 lets the server leave its STATUS out
    }
    await writeStatus(session, user.mailbox, status, items);
  }
}

export const LIST: CommandSpec = {
  name: 'LIST',
  states: ['authenticated', 'selected'],
  capabilities: ['LIST-EXTENDED', 'LIST-STATUS', 'CHILDREN', 'SPECIAL-USE'],
  run: (ctx) => runList(ctx, false),
};

export const LSUB: CommandSpec = {
  name: 'LSUB',
  states: ['authenticated', 'selected'],
  run: (ctx) => runList(ctx, true),
};
