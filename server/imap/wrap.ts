// Hook wrapper: our hooks are async functions; imap-core wants (…args, session, callback).
// No throw, rejection or second callback can reach imap-core: failures become a pending reply that the
// command guard (commands.ts) sends as the tagged response, and a throw inside imap-core's continuation
// ends the command with NO [SERVERBUG] instead of killing the process.
import type { ImapSession } from '@zone-eu/wildduck/imap-core/index.js';
import type { Logger } from '../log.js';
import { errorSummary, isExpected, replyFor, type ErrorRole } from './errors.js';
import { stateOf } from './state.js';

type CoreCallback = (err: Error | null, ...values: unknown[]) => void;

/** A hook implementation: receives imap-core's arguments (session last), resolves to the callback values after `err`. */
export type HookImpl = (...args: never[]) => Promise<unknown[]> | unknown[];

export interface HookSpec {
  readonly name: string;
  readonly role: ErrorRole;
}

function isSession(value: unknown): value is ImapSession {
  return typeof value === 'object' && value !== null && 'writeStream' in value && 'id' in value;
}

export function wrapHook(logger: Logger, spec: HookSpec, impl: HookImpl): (...args: unknown[]) => void {
  return (...args: unknown[]): void => {
    const callback = args.pop();
    if (typeof callback !== 'function') {
      logger.error({ hook: spec.name }, 'imap-core called a hook without a callback');
      return;
    }
    const session = args[args.length - 1];
    let delivered = false;
    const deliver = (values: unknown[]): void => {
      if (delivered) {
        logger.error({ hook: spec.name }, 'IMAP hook tried to answer twice; ignored');
        return;
      }
      delivered = true;
      try {
        (callback as CoreCallback)(...(values as [Error | null, ...unknown[]]));
      } catch (error) {
        // imap-core's own continuation threw (e.g. on data it did not expect): end the command cleanly.
        logger.error({ hook: spec.name, err: errorSummary(error) }, 'imap-core failed after an IMAP hook');
        if (isSession(session)) {
          try {
            stateOf(session).current?.finish({ response: 'NO', code: 'SERVERBUG', message: 'Internal error, the failure was logged' });
          } catch {}
        }
      }
    };
    const refuse = (error: unknown): void => {
      const reply = replyFor(error, spec.role);
      if (!isExpected(error)) logger.error({ hook: spec.name, err: errorSummary(error) }, 'IMAP hook failed');
      if (isSession(session)) {
        try {
          stateOf(session).pendingReply = reply;
        } catch {}
      }
      // Every imap-core command treats an error argument as a failed command (NO/BAD), which the command
      // guard then replaces with `reply`.
      const refusal = Object.assign(new Error(reply.message), { response: reply.response, code: reply.code ?? undefined });
      deliver([refusal]);
    };
    let result: Promise<unknown[]>;
    try {
      result = Promise.resolve((impl as (...a: unknown[]) => Promise<unknown[]> | unknown[])(...args));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then((values) => deliver([null, ...values]), refuse).catch((error: unknown) => {
      logger.error({ hook: spec.name, err: errorSummary(error) }, 'IMAP hook wrapper failed');
    });
  };
}
