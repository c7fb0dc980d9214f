// APPEND (RFC 9051 §6.3.12, RFC 3501 §6.3.11) with APPENDUID (RFC 4315 §3), literal8 data (RFC 3516 §4.4,
// stored as is), MULTIAPPEND (RFC 3502: several messages, all stored or none) and CATENATE (RFC 4469: a message
// joined from TEXT literals and IMAP URLs to parts of this user's messages). The whole command, literals
// included, has arrived before run(): everything is parsed and checked before the first message is stored.
import type { AppendResult } from '../../mailbox/types.js';
import type { CommandSpec, Session } from '../engine/types.js';
import { ImapError, errorSummary, imapNo } from '../errors.js';
import { ParseError, type Cursor } from '../wire/types.js';
import { checkDestination, mailboxOf, packUids, refusal, uidRanges } from './copy.js';
import { BadUrl, UrlTooBig, badUrlText, parseImapUrl, resolveImapUrl } from './imap-url.js';

/** One CATENATE part (RFC 4469 §5 cat-part). */
export type CatenatePart = { readonly text: Buffer } | { readonly url: string };

/** One append-message (RFC 4466 §2.1): options and data, before CATENATE URLs are resolved. */
export interface AppendMessage {
  readonly flags: readonly string[];
  readonly internalDate: Date | null;
  /** The literal's bytes, or the parts CATENATE joins. */
  readonly data: Buffer | readonly CatenatePart[];
}

/** A message ready for the store. */
export interface ReadyMessage {
  readonly raw: Buffer;
  readonly flags: readonly string[];
  readonly internalDate: Date | null;
}

/** Parts (plain messages and CATENATE parts) left for the rest of one command. */
export interface PartBudget {
  left: number;
}

const SYSTEM_FLAGS = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].map((f) => [f.toLowerCase(), f]));

/**
 * The flags of an APPEND: system flags canonical, keywords as sent, duplicates dropped. `\Recent` and unknown
 * system flags are not flags a client may set (RFC 3501 §2.3.2, RFC 9051 §2.3.2): BAD, as Dovecot answers.
 */
export function appendFlags(flags: readonly string[]): string[] {
  const kept = new Map<string, string>();
  for (const flag of flags) {
    let name = flag;
    if (flag.startsWith('\\')) {
      const system = SYSTEM_FLAGS.get(flag.toLowerCase());
      if (!system) throw new ParseError('Invalid system flag in APPEND');
      name = system;
    }
    if (!kept.has(name.toLowerCase())) kept.set(name.toLowerCase(), name);
  }
  return [...kept.values()];
}

function spend(budget: PartBudget): void {
  budget.left--;
  if (budget.left < 0) throw imapNo('LIMIT', 'Too many messages or CATENATE parts in one command');
}

/** `CATENATE (cat-part *(SP cat-part))` after the keyword (RFC 4469 §5 grammar); TEXT may be a literal8 too. */
function readCatenate(args: Cursor, budget: PartBudget): CatenatePart[] {
  args.sp();
  args.expect('(');
  const parts: CatenatePart[] = [];
  for (;;) {
    if (args.tryKeyword('TEXT')) {
      args.sp();
      parts.push({ text: args.literal(true).data });
    } else if (args.tryKeyword('URL')) {
      args.sp();
      parts.push({ url: args.astring().toString('latin1') });
    } else {
      throw new ParseError('CATENATE expects TEXT or URL parts');
    }
    spend(budget);
    if (args.peek() === ')') break;
    args.sp();
  }
  args.expect(')');
  return parts;
}

/**
 * One append-message: `[flag-list SP] [date-time SP] append-data`, where append-data is a literal, a literal8,
 * `CATENATE (…)` or, with UTF8=ACCEPT, `UTF8 (literal8)` (RFC 6855 §4). The caller consumed the SP before it.
 */
export function readAppendMessage(args: Cursor, session: Session, budget: PartBudget): AppendMessage {
  let flags: string[] = [];
  let internalDate: Date | null = null;
  if (args.peek() === '(') {
    flags = appendFlags(args.flagList());
    args.sp();
  }
  if (args.peek() === '"') {
    internalDate = args.dateTime();
    args.sp();
  }
  const next = args.peekAtom();
  if (next === 'CATENATE') {
    args.expect('CATENATE');
    return { flags, internalDate, data: readCatenate(args, budget) };
  }
  if (next === 'UTF8' && session.enabled.has('UTF8=ACCEPT')) {
    args.expect('UTF8');
    args.sp();
    args.expect('(');
    const data = args.literal(true).data;
    args.expect(')');
    spend(budget);
    return { flags, internalDate, data };
  }
  const data = args.literal(true).data;
  spend(budget);
  return { flags, internalDate, data };
}

function tooBig(limit: number): ImapError {
  return new ImapError({ response: 'NO', code: 'TOOBIG', message: `Message exceeds the APPENDLIMIT of ${limit} bytes` });
}

/**
 * The bytes of one message: the literal, or the CATENATE parts joined with each URL resolved in this user's
 * mailbox (RFC 4469 §3). Throws ImapError: NO [BADURL …] (§4.1), NO [TOOBIG] (§4.2), NO for an empty message.
 */
export async function messageBytes(message: AppendMessage, session: Session): Promise<Buffer> {
  const limit = session.limits.maxMessageBytes;
  let raw: Buffer;
  if (Buffer.isBuffer(message.data)) {
    raw = message.data;
  } else {
    const pieces: Buffer[] = [];
    let size = 0;
    const view = session.selected;
    const base = view ? { path: view.path, uidValidity: view.uidValidity } : null;
    for (const part of message.data) {
      let bytes: Buffer;
      if ('text' in part) {
        bytes = part.text;
        if (size + bytes.length > limit) throw tooBig(limit);
      } else {
        try {
          bytes = await resolveImapUrl(parseImapUrl(part.url), mailboxOf(session), base, limit - size);
        } catch (error) {
          if (error instanceof UrlTooBig) throw tooBig(limit);
          if (error instanceof BadUrl) {
            throw new ImapError({ response: 'NO', code: `BADURL ${badUrlText(part.url)}`, message: `Bad URL: ${error.message}` });
          }
          throw error;
        }
      }
      pieces.push(bytes);
      size += bytes.length;
    }
    raw = Buffer.concat(pieces, size);
  }
  if (raw.length > limit) throw tooBig(limit);
  if (raw.length === 0) throw imapNo(null, 'Cannot store an empty message');
  return raw;
}

/** Removes messages this command stored before it failed (MULTIAPPEND is all or nothing, RFC 3502 §3). */
function rollBack(session: Session, path: string, uids: readonly number[]): void {
  if (uids.length === 0) return;
  const mailbox = mailboxOf(session);
  const ranges = uidRanges([...uids].sort((a, b) => a - b));
  try {
    // The store has no multi-append transaction: mark and expunge exactly these UIDs. Sessions that already saw
    // them get EXISTS then EXPUNGE; this session is not told about its own \Deleted flag change.
    const marked = mailbox.store(path, ranges, 'add', ['\\Deleted']);
    if (session.selected?.path === path) for (const change of marked.updated) session.ownChange(change.modseq);
    mailbox.expunge(path, ranges);
  } catch (error) {
    session.logger.error({ err: errorSummary(error), messages: uids.length }, 'IMAP MULTIAPPEND roll-back failed');
  }
}

/**
 * Stores the messages in order; on the first failure removes the ones already stored and rethrows. The quota
 * is checked for all of them first, so the usual refusal (OVERQUOTA) stores nothing at all.
 */
export async function storeMessages(session: Session, path: string, messages: readonly ReadyMessage[]): Promise<AppendResult[]> {
  const mailbox = mailboxOf(session);
  const quota = mailbox.quota();
  const total = messages.reduce((n, m) => n + m.raw.length, 0);
  if (quota.limitBytes !== null && quota.usedBytes + total > quota.limitBytes) throw imapNo('OVERQUOTA', 'Mailbox is over quota');
  const stored: AppendResult[] = [];
  try {
    for (const message of messages) {
      stored.push(
        await mailbox.append(path, message.raw, {
          flags: message.flags,
          ...(message.internalDate ? { internalDate: message.internalDate } : {}),
        }),
      );
    }
  } catch (error) {
    rollBack(session, path, stored.map((r) => r.uid));
    throw error;
  }
  return stored;
}

export const appendCommand: CommandSpec = {
  name: 'APPEND',
  messageLiterals: true,
  states: ['authenticated', 'selected'],
  // URL-PARTIAL (RFC 5550): CATENATE URLs may carry ;PARTIAL=.
  capabilities: ['MULTIAPPEND', 'CATENATE', 'URL-PARTIAL'],
  async run({ session, args }) {
    const path = args.mailbox();
    const budget: PartBudget = { left: session.limits.maxLiteralsPerCommand };
    const messages: AppendMessage[] = [];
    do {
      args.sp();
      messages.push(readAppendMessage(args, session, budget));
    } while (!args.atEnd());
    args.end();
    const missing = checkDestination(session, path);
    if (missing) return missing;
    let results: AppendResult[];
    try {
      const ready: ReadyMessage[] = [];
      for (const message of messages) {
        ready.push({ raw: await messageBytes(message, session), flags: message.flags, internalDate: message.internalDate });
      }
      results = await storeMessages(session, path, ready);
    } catch (error) {
      return refusal(error, 'destination');
    }
    const uidValidity = (results[0] as AppendResult).uidValidity;
    // An APPEND into the selected folder is reported as EXISTS by the engine's flush before this tagged OK.
    return { status: 'OK', code: `APPENDUID ${uidValidity} ${packUids(results.map((r) => r.uid))}`, text: 'APPEND completed' };
  },
};
