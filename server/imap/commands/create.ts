// CREATE (RFC 9051 §6.3.4, RFC 3501 §6.3.3) with CREATE-SPECIAL-USE (RFC 6154 §3): a trailing separator only
// declares the intent to create names below, missing superior names are created, INBOX and existing names get
// NO [ALREADYEXISTS]. A new folder is not subscribed (RFC 9051 §6.3.4 leaves that to SUBSCRIBE), nor are the
// superior names created with it; a name still in the subscription list from an earlier folder stays subscribed
// (RFC 3501 §6.3.6). The tagged OK carries MAILBOXID (RFC 8474 §4.1).
import { MailboxError } from '../../mailbox/errors.js';
import type { Mailbox, SpecialUse } from '../../mailbox/types.js';
import { ImapError, imapNo } from '../errors.js';
import type { CommandContext, CommandSpec, Session } from '../engine/types.js';
import { ParseError, type Cursor } from '../wire/types.js';
import { publishFolderChange } from './notify.js';

const SEPARATOR = '/';

/** The store's spelling of a path as far as comparing with the selected folder needs: INBOX canonical. */
export function canonicalPath(path: string): string {
  const slash = path.indexOf(SEPARATOR);
  const head = slash < 0 ? path : path.slice(0, slash);
  return head.toUpperCase() === 'INBOX' ? `INBOX${path.slice(head.length)}` : path;
}

/** The one mailbox argument of DELETE / SUBSCRIBE / UNSUBSCRIBE (INBOX canonical), and the logged-in user's mailbox. */
export function oneMailboxArgument({ session, args }: Pick<CommandContext, 'session' | 'args'>): { path: string; mailbox: Mailbox } {
  const path = canonicalPath(args.mailbox());
  args.end();
  const user = session.user;
  if (!user) throw imapNo(null, 'Not logged in');
  return { path, mailbox: user.mailbox };
}

/**
 * A name a client wants to create (CREATE, RENAME target): one trailing separator is dropped (RFC 3501 §6.3.3);
 * wildcards (they could never be listed by name) and `.`/`..` levels (clients map names to file paths) are refused.
 * Everything else (length, control characters, empty levels) is the store's rule and answered NO [CANNOT].
 */
export function newFolderName(path: string): string {
  const name = path.endsWith(SEPARATOR) ? path.slice(0, -1) : path;
  if (name.includes('*') || name.includes('%')) throw imapNo('CANNOT', 'Folder names cannot contain * or %');
  if (name.split(SEPARATOR).some((level) => level === '.' || level === '..')) throw imapNo('CANNOT', 'Folder names cannot have . or .. levels');
  return canonicalPath(name);
}

/** Superior names of a path, outermost first ('a/b/c' → ['a', 'a/b']). */
export function superiorNames(path: string): string[] {
  const out: string[] = [];
  let i = path.indexOf(SEPARATOR);
  while (i > 0) {
    out.push(path.slice(0, i));
    i = path.indexOf(SEPARATOR, i + 1);
  }
  return out;
}

/** True when the store has a folder (or \Noselect name) by this path. */
export function folderExists(mailbox: Mailbox, path: string): boolean {
  try {
    mailbox.status(path);
    return true;
  } catch (error) {
    if (error instanceof MailboxError && (error.code === 'NO_SUCH_FOLDER' || error.code === 'INVALID')) return false;
    throw error;
  }
}

/**
 * A \Noselect name exists only for its inferiors (RFC 3501 §6.3.4): once DELETE or RENAME took the last one away,
 * the name goes too, innermost first, as Dovecot's placeholder names do.
 */
export function dropEmptyNoselectParents(mailbox: Mailbox, path: string): void {
  const parents = superiorNames(path);
  if (parents.length === 0) return;
  const folders = mailbox.listFolders();
  const paths = new Set(folders.map((f) => f.path));
  const noselect = new Set(folders.filter((f) => f.noselect).map((f) => f.path));
  for (const parent of parents.reverse()) {
    if (!noselect.has(parent)) return;
    const prefix = `${parent}/`;
    for (const other of paths) if (other.startsWith(prefix)) return;
    mailbox.deleteFolder(parent);
    paths.delete(parent);
  }
}

/** Special uses a client may ask for; \All and \Flagged are virtual views this store does not compute. */
const CREATABLE_USES: readonly SpecialUse[] = ['\\Drafts', '\\Sent', '\\Junk', '\\Trash', '\\Archive'];

/** `(USE (\Archive))` (RFC 6154 §3, RFC 4466 create-param): the attributes asked for, none when absent. */
function readCreateParams(args: Cursor): string[] {
  const uses: string[] = [];
  if (!args.trySp()) return uses;
  args.list((c) => {
    const name = c.atom();
    if (name !== 'USE') throw new ParseError('Unknown CREATE parameter');
    c.sp();
    uses.push(...c.list((cc) => cc.flag(), true));
    return name;
  });
  return uses;
}

// RFC 6154 §6 response code (not in errors.ts's list of RFC 5530 codes).
const useAttr = (message: string): ImapError => new ImapError({ response: 'NO', code: 'USEATTR', message });

function specialUseOf(uses: readonly string[]): SpecialUse | null {
  if (uses.length === 0) return null;
  // One folder holds one special use in this store (RFC 6154 §3: refuse what cannot be honoured, with USEATTR).
  if (uses.length > 1) throw useAttr('Only one special-use attribute per folder');
  const use = CREATABLE_USES.find((u) => u.toLowerCase() === (uses[0] as string).toLowerCase());
  if (!use) throw useAttr('Unsupported special-use attribute');
  return use;
}

async function create(session: Session, path: string, uses: readonly string[]): Promise<{ status: 'OK'; code: string; text: string }> {
  const user = session.user;
  if (!user) throw imapNo(null, 'Not logged in');
  const name = newFolderName(path);
  const use = specialUseOf(uses);
  if (name === 'INBOX') throw imapNo('ALREADYEXISTS', 'INBOX always exists');
  const mailbox = user.mailbox;
  const created = [...superiorNames(name), name].filter((p) => !folderExists(mailbox, p));
  // One transaction: the folder and its new superior names, none of them added to the subscription list.
  const folder = mailbox.createFolder(name, use, { subscribe: false });
  for (const path of created) publishFolderChange(session, { kind: 'created', folder: path });
  return { status: 'OK', code: `MAILBOXID (${folder.mailboxId})`, text: 'CREATE completed' };
}

export const CREATE: CommandSpec = {
  name: 'CREATE',
  states: ['authenticated', 'selected'],
  capabilities: ['CREATE-SPECIAL-USE'],
  async run({ session, args }) {
    const path = args.mailbox();
    const uses = readCreateParams(args);
    args.end();
    return create(session, path, uses);
  },
};
