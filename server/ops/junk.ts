// The junk classifier of one alias: its counts (`sealpost junk status`) and training it with a folder's messages
// (`sealpost junk train --spam|--ham --folder`). Both need the mailbox unlocked: the counts live inside it.
import { UserError } from '../errors.js';
import type { AliasRecord } from '../directory/index.js';
import { NoSuchFolder } from '../mailbox/errors.js';
import type { JunkStatus, MailboxId } from '../mailbox/types.js';
import { audited } from './audit.js';
import { withAliasKey } from './key.js';
import type { OpsCall, OpsContext } from './context.js';

export interface JunkTrainInput {
  readonly alias: AliasRecord;
  readonly folder: string;
  readonly asSpam: boolean;
  /** Unlocks the mailbox for this operation when it is locked; null uses the key ring. */
  readonly password: string | null;
}

export interface JunkTrainOutcome {
  /** Messages whose training changed (new, or moved from the other class). */
  readonly trained: number;
  readonly status: JunkStatus;
}

const LOCKED_HINT = 'Log in with a mail client (or unlock it in the admin UI) and run the command again, or give the password with --password-stdin.';

/** withAliasKey, with what to do when the mailbox is locked: the counts are inside it. */
async function withUnlocked<T>(ctx: OpsContext, alias: AliasRecord, password: string | null, call: OpsCall, fn: (key: Buffer) => Promise<T>): Promise<T> {
  try {
    return await withAliasKey(ctx, alias, password, call, fn);
  } catch (error) {
    if (error instanceof UserError && error.code === 'ALIAS_LOCKED' && !error.hint) throw new UserError(error.message, error.code, { hint: LOCKED_HINT });
    throw error;
  }
}

/** Counts of the alias's classifier; queued trainings are done first so the counts are current. */
export function junkStatus(ctx: OpsContext, alias: AliasRecord, password: string | null, call: OpsCall): Promise<JunkStatus> {
  return audited(ctx, call, 'junk_status', { aliasId: alias.id }, () =>
    withUnlocked(ctx, alias, password, call, async (key) => {
      const mailbox = await ctx.mailboxes.open(alias.mailboxId as MailboxId, key);
      await mailbox.trainQueuedJunk();
      return mailbox.junkStatus();
    }),
  );
}

/** Trains every message of a folder as spam or ham; a message trained before as the same class is not counted twice. */
export function trainJunk(ctx: OpsContext, input: JunkTrainInput, call: OpsCall): Promise<JunkTrainOutcome> {
  const { alias } = input;
  return audited(
    ctx,
    call,
    'junk_train',
    { aliasId: alias.id, as: input.asSpam ? 'spam' : 'ham' },
    () =>
      withUnlocked(ctx, alias, input.password, call, async (key) => {
        const mailbox = await ctx.mailboxes.open(alias.mailboxId as MailboxId, key);
        try {
          const trained = await mailbox.junkTrain(input.folder, [[1, Infinity]], input.asSpam);
          return { trained, status: mailbox.junkStatus() };
        } catch (error) {
          if (error instanceof NoSuchFolder) throw new UserError(`${alias.displayAddress} has no folder named ${JSON.stringify(input.folder)}.`, 'NO_SUCH_FOLDER', { hint: 'Name a folder the mailbox has, such as Junk or INBOX (as your mail client shows it).' });
          throw error;
        }
      }),
    (result) => ({ trained: result.trained }),
  );
}

/** The alias's junk filter switch: off, delivery still strips a sender's X-Sealpost-Junk but neither scores nor files. */
export function setJunkFilter(ctx: OpsContext, input: { readonly alias: AliasRecord; readonly on: boolean }, call: OpsCall): Promise<{ address: string; on: boolean }> {
  const { alias, on } = input;
  return audited(ctx, call, 'junk_switch', { aliasId: alias.id, on }, async () => {
    ctx.directory.setJunkFilterOn(alias.id, on);
    return { address: alias.displayAddress, on };
  });
}
