// THREAD and UID THREAD (RFC 5256 §4): ORDEREDSUBJECT and REFERENCES. The store builds the thread tree over the
// matching messages (server/mailbox/thread.ts); this module numbers it for the session and writes `* THREAD`.
import type { ThreadAlgorithm, ThreadNode } from '../../mailbox/types.js';
import type { CommandSpec } from '../engine/types.js';
import { imapBad } from '../errors.js';
import { parseSearchKeys } from './search-keys.js';
import { knownOnly, parseCharset, selectedOf, sequenceNumbers } from './sort.js';

const ALGORITHMS: ReadonlySet<string> = new Set<ThreadAlgorithm>(['ORDEREDSUBJECT', 'REFERENCES']);

/**
 * RFC 5256 §5 thread-data: `thread-list = "(" (thread-members / thread-nested) ")"`, where a message with one
 * child continues the list (`1 2`) and one with several ends it with a nested list per child (`1 (2)(3)`); a
 * dummy parent has no number, only its nested lists (`((2)(3))`). Written without recursion: reply chains can be
 * as deep as the folder is large. `number` maps a UID to what the client sees; 0 leaves the message out.
 * One string built in one pass; the stack holds nodes still to open and null for a `)` still to close.
 */
export function threadText(threads: readonly ThreadNode[], number: (uid: number) => number): string {
  let out = '';
  const stack: (ThreadNode | null)[] = [];
  for (let i = threads.length - 1; i >= 0; i--) stack.push(threads[i]!);
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item === null) {
      out += ')';
      continue;
    }
    out += '(';
    let node = item;
    let wrote = false;
    for (;;) {
      const n = node.uid === null ? 0 : number(node.uid);
      if (n > 0) {
        out += wrote ? ` ${n}` : `${n}`;
        wrote = true;
      }
      const children = node.children;
      if (children.length === 1) {
        node = children[0]!;
        continue;
      }
      if (children.length === 0) {
        out += ')';
        break;
      }
      if (wrote) out += ' ';
      stack.push(null);
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
      break;
    }
  }
  return out;
}

export const THREAD_COMMAND: CommandSpec = {
  name: 'THREAD',
  states: ['selected'],
  uid: true,
  capabilities: ['THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES'],
  // Like SEARCH (RFC 3501 §7.4.1): sequence numbers in the answer must stay valid, so no EXPUNGE with THREAD.
  expungeAllowed: (uid) => uid,
  async run(ctx) {
    const { session, args: cursor, uid } = ctx;
    const { view, mailbox } = selectedOf(session);
    const algorithm = cursor.atom();
    if (!ALGORITHMS.has(algorithm)) throw imapBad('Unknown threading algorithm');
    cursor.sp();
    const charset = parseCharset(cursor);
    cursor.sp();
    const query = parseSearchKeys(cursor, { session, charset });
    const threads = mailbox.thread(view.path, algorithm as ThreadAlgorithm, knownOnly(query, view));
    // Every message of the folder may be in the tree: number through a table, not a search per message.
    const seqOf = sequenceNumbers(view, threads.length);
    const text = threadText(threads, uid ? (u) => (seqOf(u) > 0 ? u : 0) : seqOf);
    await session.untagged(...(text ? ['THREAD', text] : ['THREAD']));
    return { status: 'OK', text: `${uid ? 'UID THREAD' : 'THREAD'} completed` };
  },
};

export const THREAD_COMMANDS: readonly CommandSpec[] = [THREAD_COMMAND];
