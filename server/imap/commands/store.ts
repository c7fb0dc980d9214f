// STORE / UID STORE (RFC 9051 §6.4.6, RFC 3501 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3). Flags go to the
// store as given: system flags canonical-cased by the cursor, keywords exactly as sent, any number of them.
// Each message whose flags changed is answered `* n FETCH (FLAGS …)` (with UID for UID STORE and MODSEQ once
// CONDSTORE is on); with .SILENT only the MODSEQ report stays, as RFC 7162 §3.1.3 requires once CONDSTORE is on.
import type { StoreMode } from '../../mailbox/types.js';
import type { CommandContext, CommandSpec, Completion } from '../engine/types.js';
import { sequenceSetText } from '../wire/encode.js';
import { ParseError, type Cursor, type Value } from '../wire/types.js';
import { mailboxOf, refusal, uidRanges } from './copy.js';
import { flagsValue } from './fetch-command.js';

const SYSTEM_FLAGS = new Set(['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft']);

interface StoreArguments {
  readonly unchangedSince: number | null;
  readonly mode: StoreMode;
  readonly silent: boolean;
  readonly flags: string[];
}

/** A flag a client may store: the five system flags or a keyword (RFC 3501 §2.3.2: \Recent cannot be altered). */
function storableFlag(cursor: Cursor): string {
  const flag = cursor.flag();
  if (flag === '\\Recent') throw new ParseError('\\Recent cannot be stored');
  if (flag.startsWith('\\') && !SYSTEM_FLAGS.has(flag)) throw new ParseError('Invalid system flag');
  return flag;
}

/** `[SP "(" UNCHANGEDSINCE n ")"] SP ["+"/"-"] FLAGS[.SILENT] SP (flag-list / flag *(SP flag))`, after the set. */
function readStoreArguments(cursor: Cursor): StoreArguments {
  let unchangedSince: number | null = null;
  if (cursor.peek() === '(') {
    cursor.list((c) => {
      const name = c.atom();
      if (name !== 'UNCHANGEDSINCE' || unchangedSince !== null) throw new ParseError('Unknown or repeated STORE modifier');
      c.sp();
      unchangedSince = c.number64();
      return name;
    });
    cursor.sp();
  }
  const sign = cursor.peek();
  const mode: StoreMode = sign === '+' ? 'add' : sign === '-' ? 'remove' : 'replace';
  if (mode !== 'replace') cursor.expect(sign);
  const name = cursor.atom();
  if (name !== 'FLAGS' && name !== 'FLAGS.SILENT') throw new ParseError('Expected FLAGS, +FLAGS or -FLAGS');
  cursor.sp();
  let flags: string[];
  if (cursor.peek() === '(') {
    flags = cursor.list(storableFlag, true);
  } else {
    flags = [storableFlag(cursor)];
    while (cursor.trySp()) flags.push(storableFlag(cursor));
  }
  cursor.end();
  return { unchangedSince, mode, silent: name === 'FLAGS.SILENT', flags: [...new Set(flags)] };
}

async function runStore(ctx: CommandContext): Promise<Completion | void> {
  const { session } = ctx;
  const view = session.selected;
  if (!view) throw new Error('STORE outside the selected state');
  const set = ctx.args.sequenceSet();
  ctx.args.sp();
  const args = readStoreArguments(ctx.args);
  // RFC 7162 §3.1: STORE UNCHANGEDSINCE is a CONDSTORE-enabling command.
  if (args.unchangedSince !== null) session.enable('CONDSTORE');
  if (view.readOnly) return { status: 'NO', text: 'The folder is selected read-only (EXAMINE): flags cannot change' };
  const uids = view.resolve(set, ctx.uid);
  if (!uids.length) return;
  const condstore = session.enabled.has('CONDSTORE');
  let result;
  try {
    result = mailboxOf(session).store(view.path, uidRanges(uids), args.mode, args.flags, args.unchangedSince ?? undefined);
  } catch (error) {
    return refusal(error, 'folder');
  }
  for (const update of result.updated) session.ownChange(update.modseq);
  const updates = [...result.updated].sort((a, b) => a.uid - b.uid);
  for (const update of updates) {
    const seq = view.seqOf(update.uid);
    if (seq === 0) continue;
    if (args.silent && !condstore) continue;
    const list: Value[] = [];
    if (!args.silent) list.push({ raw: 'FLAGS' }, flagsValue(session, update.uid, update.flags));
    if (ctx.uid) list.push({ raw: 'UID' }, { atom: String(update.uid) });
    if (condstore) list.push({ raw: 'MODSEQ' }, [{ atom: String(update.modseq) }]);
    await session.untagged(`${seq} FETCH`, list);
  }
  if (result.modified.length) {
    // RFC 7162 §3.1.3: MODIFIED names the messages that failed the UNCHANGEDSINCE test (UIDs for UID STORE).
    const failed = ctx.uid ? result.modified : result.modified.map((uid) => view.seqOf(uid)).filter((seq) => seq > 0);
    return { status: 'OK', code: `MODIFIED ${sequenceSetText(failed)}`, text: 'Conditional STORE failed for some messages' };
  }
}

export const storeCommand: CommandSpec = {
  name: 'STORE',
  states: ['selected'],
  uid: true,
  // RFC 3501 §7.4.1: no EXPUNGE while responding to STORE; UID STORE may carry them.
  expungeAllowed: (uid) => uid,
  run: runStore,
};
