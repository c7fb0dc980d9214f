// SELECT and EXAMINE (RFC 9051 §6.3.2/§6.3.3, RFC 3501 §6.3.1/§6.3.2) with the CONDSTORE and QRESYNC select
// parameters (RFC 7162 §3.1.8, §3.2.5). Replacing a selection first says [CLOSED] (RFC 7162 §3.2.11); a failed
// SELECT leaves the session with no folder selected (RFC 9051 §6.3.2).
import type { Mailbox } from '../../mailbox/types.js';
import { uidSetText, SYSTEM_FLAGS } from '../engine/selected.js';
import type { CommandContext, CommandSpec, Completion, SelectedView } from '../engine/types.js';
import { mailboxName } from '../wire/encode.js';
import { ParseError, STAR, type Cursor, type SequenceSet } from '../wire/types.js';

interface QresyncParams {
  readonly uidValidity: number;
  readonly modseq: number;
  readonly knownUids: SequenceSet | null;
}

interface SelectParams {
  condstore: boolean;
  qresync: QresyncParams | null;
}

/** `(CONDSTORE)` / `(QRESYNC (uidvalidity modseq [known-uids [seq-match-data]]))`. */
function readParams(args: Cursor): SelectParams {
  const params: SelectParams = { condstore: false, qresync: null };
  if (!args.trySp()) return params;
  args.list((c) => {
    const name = c.atom();
    if (name === 'CONDSTORE') {
      params.condstore = true;
    } else if (name === 'QRESYNC') {
      c.sp();
      c.expect('(');
      const uidValidity = c.nzNumber();
      c.sp();
      const modseq = c.number64();
      if (modseq < 1) throw new ParseError('Invalid QRESYNC parameters');
      let knownUids: SequenceSet | null = null;
      if (c.trySp()) {
        if (c.peek() !== '(') knownUids = c.sequenceSet();
        // seq-match-data (known sequence numbers ↔ UIDs) only narrows what the server must report: read and unused.
        if (c.trySp() || c.peek() === '(') {
          c.expect('(');
          c.sequenceSet();
          c.sp();
          c.sequenceSet();
          c.expect(')');
        }
      }
      c.expect(')');
      params.qresync = { uidValidity, modseq, knownUids };
    } else {
      throw new ParseError('Unknown SELECT parameter');
    }
    return name;
  });
  return params;
}

const inSet = (set: SequenceSet, uid: number): boolean =>
  set.kind === 'set' && set.ranges.some(([a, b]) => uid >= Math.min(a, b) && uid <= (Math.max(a, b) === STAR ? Infinity : Math.max(a, b)));

/** QRESYNC (RFC 7162 §3.2.5.2): VANISHED (EARLIER) for UIDs expunged since the client's modseq, FETCH for changed ones. */
async function resync(ctx: CommandContext, mailbox: Mailbox, view: SelectedView, params: QresyncParams): Promise<void> {
  if (params.uidValidity !== view.uidValidity) return; // the client must resynchronise from scratch
  const vanished: number[] = [];
  for (const change of mailbox.changesSince(view.path, params.modseq)) {
    if (change.kind !== 'expunge' || view.seqOf(change.uid) > 0) continue;
    if (!params.knownUids || inSet(params.knownUids, change.uid)) vanished.push(change.uid);
  }
  if (vanished.length) await ctx.session.untagged('VANISHED', '(EARLIER)', uidSetText(vanished));
  for (const meta of mailbox.listMessages(view.path)) {
    const seq = view.seqOf(meta.uid);
    if (meta.modseq <= params.modseq || seq === 0) continue;
    await ctx.session.untagged(String(seq), 'FETCH', `(UID ${meta.uid} FLAGS (${meta.flags.join(' ')}) MODSEQ (${meta.modseq}))`);
  }
}

/** The selected folder's LIST attributes: children (RFC 3348) and special use (RFC 6154). */
function listAttributes(mailbox: Mailbox, path: string): string {
  const folders = mailbox.listFolders();
  const attributes = [folders.some((f) => f.path.startsWith(`${path}/`)) ? '\\HasChildren' : '\\HasNoChildren'];
  const special = folders.find((f) => f.path === path)?.specialUse;
  if (special) attributes.push(special);
  return `(${attributes.join(' ')})`;
}

function selectCommand(name: 'SELECT' | 'EXAMINE', readOnly: boolean): CommandSpec {
  return {
    name,
    states: ['authenticated', 'selected'],
    // OBJECTID (RFC 8474): MAILBOXID here, in CREATE and STATUS; EMAILID/THREADID in FETCH and SEARCH.
    capabilities: ['CONDSTORE', 'QRESYNC', 'OBJECTID'],
    async run(ctx): Promise<Completion> {
      const { session, args } = ctx;
      const path = args.mailbox();
      const params = readParams(args);
      args.end();
      if (params.qresync && !session.enabled.has('QRESYNC')) return { status: 'BAD', text: 'ENABLE QRESYNC first' };
      const user = session.user;
      if (!user) return { status: 'BAD', text: 'Not logged in' };
      // RFC 7162 §3.2.11: the previous folder is closed (without expunging) before the new one is opened.
      if (session.selected) {
        await session.untagged('OK', '[CLOSED]', 'Previous mailbox closed');
        session.unselect();
      }
      if (params.condstore || params.qresync) session.enable('CONDSTORE');
      const status = user.mailbox.status(path);
      const view = session.select(path, readOnly);
      const keywords = view.flagList();
      // IMAP4rev2 (RFC 9051 Appendix E) dropped \Recent, the RECENT response and the UNSEEN response code.
      const rev2 = session.enabled.has('IMAP4rev2');
      await session.untagged('FLAGS', `(${keywords.join(' ')})`);
      await session.untagged(String(view.uids.length), 'EXISTS');
      if (!rev2) {
        await session.untagged(String(view.recent.size), 'RECENT');
        const firstUnseen = view.uids.findIndex((uid) => !(view.flagsOf(uid) ?? []).includes('\\Seen'));
        if (firstUnseen >= 0) await session.untagged('OK', `[UNSEEN ${firstUnseen + 1}]`, 'First unseen');
      }
      const permanent = readOnly ? '()' : `(${[...keywords, '\\*'].join(' ')})`;
      await session.untagged('OK', `[PERMANENTFLAGS ${permanent}]`, readOnly ? 'Read-only folder' : 'Flags permitted');
      await session.untagged('OK', `[UIDVALIDITY ${view.uidValidity}]`, 'UIDs valid');
      const largest = view.uids.length ? (view.uids[view.uids.length - 1] as number) : 0;
      await session.untagged('OK', `[UIDNEXT ${Math.max(status.uidNext, largest + 1)}]`, 'Predicted next UID');
      await session.untagged('OK', `[HIGHESTMODSEQ ${view.highestModseq}]`, 'Highest');
      // RFC 8474 §4.2: SELECT and EXAMINE report the folder's object id.
      await session.untagged('OK', `[MAILBOXID (${status.mailboxId})]`, 'Ok');
      // RFC 9051 §6.3.2: "The server MUST return a LIST response with the mailbox name" (IMAP4rev2 clients).
      if (rev2) await session.untagged('LIST', listAttributes(user.mailbox, view.path), { string: '/' }, mailboxName(view.path, true));
      if (params.qresync) await resync(ctx, user.mailbox, view, params.qresync);
      return readOnly
        ? { status: 'OK', code: 'READ-ONLY', text: 'EXAMINE completed' }
        : { status: 'OK', code: 'READ-WRITE', text: 'SELECT completed' };
    },
  };
}

/** The flags every folder permits, for modules that need them (STORE's PERMANENTFLAGS checks). */
export const PERMANENT_SYSTEM_FLAGS: readonly string[] = SYSTEM_FLAGS;

export const SELECT = selectCommand('SELECT', false);
export const EXAMINE = selectCommand('EXAMINE', true);
