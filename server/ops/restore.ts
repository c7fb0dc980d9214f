// Restore one generation of an alias's mailbox — downloaded from a remote target first when it is not here (or
// when asked) — either replacing the mailbox (its current state is kept as a pre-restore generation) or copying
// folders back. What a failed restore left behind is cleaned here, once.
import type { AliasRecord } from '../directory/index.js';
import type { MailboxId } from '../mailbox/types.js';
import { UserError } from '../config/errors.js';
import { cleanInterruptedRestore, listGenerations, restoreFolders, restoreReplace } from '../backup/index.js';
import { isGenerationId } from '../backup/paths.js';
import { remotesOf } from '../remote/index.js';
import { audited } from './audit.js';
import { withAliasKey } from './key.js';
import type { OpsCall, OpsContext } from './context.js';

export type RestoreOutcome =
  | { readonly mode: 'folders'; readonly restored: string; readonly imported: number; readonly skipped: number; readonly folders: string[] }
  | { readonly mode: 'replace'; readonly restored: string; readonly preRestore: string };

export interface RestoreInput {
  readonly alias: AliasRecord;
  readonly generation: string;
  /** null: the mailbox must be unlocked. */
  readonly password: string | null;
  /** Copy only these folders into the live mailbox; null = replace the whole mailbox. */
  readonly folders: readonly string[] | null;
  /** The remote target's name (default: the only one). */
  readonly target: string | null;
  /** Download from the remote even when the generation is here. */
  readonly fromRemote: boolean;
}

export function restoreBackup(ctx: OpsContext, input: RestoreInput, call: OpsCall): Promise<RestoreOutcome> {
  const { alias } = input;
  return audited(
    ctx,
    call,
    'restore',
    { aliasId: alias.id, generation: input.generation, folders: input.folders?.length ?? 0, remote: input.fromRemote || input.target !== null },
    async () => {
      if (!isGenerationId(input.generation)) throw new UserError(`"${input.generation}" is not a generation id (see "backup list")`, 'BAD_GENERATION');
      return withAliasKey(ctx, alias, input.password, call, async (key) => {
        try {
          return await restoreWithKey(ctx, input, key, call);
        } catch (error) {
          cleanInterruptedRestore(ctx.paths.root, alias.mailboxId);
          throw error;
        }
      });
    },
    (outcome) => ({ mode: outcome.mode }),
  );
}

async function restoreWithKey(ctx: OpsContext, input: RestoreInput, key: Buffer, call: OpsCall): Promise<RestoreOutcome> {
  const { alias, generation } = input;
  const report = call.onProgress ?? (() => undefined);
  const dataDir = ctx.paths.root;
  const mailboxId = alias.mailboxId as MailboxId;
  const local = listGenerations(dataDir, mailboxId).some((g) => g.id === generation);
  if (!local || input.fromRemote) {
    const remotes = remotesOf(ctx);
    // Not here and nowhere else to look: the generation does not exist (not "no remote is configured").
    if (!input.fromRemote && !input.target && remotes.list().length === 0) {
      throw new UserError(`Generation ${generation} does not exist for ${alias.displayAddress}: list the generations with "sealpost backup list ${alias.displayAddress}".`, 'NO_GENERATION');
    }
    report({ phase: 'downloading', done: 0, total: 1 });
    try {
      await remotes.fetch(mailboxId, generation, {
        ...(input.target ? { target: input.target } : {}),
        onProgress: (p) => report({ phase: 'downloading', done: p.bytes, total: Math.max(p.totalBytes, p.bytes, 1) }),
      });
    } catch (error) {
      if (!(error instanceof UserError && error.code === 'NO_GENERATION')) throw error;
      const where = local ? 'on the remote' : 'here or on the remote';
      throw new UserError(`Generation ${generation} does not exist for ${alias.displayAddress} ${where}: list the generations with "sealpost backup list ${alias.displayAddress} --remote".`, 'NO_GENERATION', { cause: error });
    }
  }
  if (input.folders?.length) {
    report({ phase: 'copying folders', done: 0, total: 1 });
    const totals = await restoreFolders({
      dataDir,
      mailboxId,
      generationId: generation,
      key,
      folders: input.folders,
      target: await ctx.mailboxes.open(mailboxId, key),
      onProgress: (p) => report({ phase: 'copying folders', transfer: true, ...p }),
    });
    return { mode: 'folders', restored: generation, imported: totals.imported, skipped: totals.skipped, folders: totals.folders };
  }
  report({ phase: 'replacing the mailbox', done: 0, total: 1 });
  // In a server: the 'replacing' event ends the mailbox's sessions (control/service.ts), the store's handle is closed.
  const result = await restoreReplace({ dataDir, mailboxId, generationId: generation, key, store: ctx.mailboxes });
  return { mode: 'replace', restored: result.restored, preRestore: result.preRestore };
}
