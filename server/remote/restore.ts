// Restoring one generation of an alias's mailbox, downloaded from a remote target first when it is not here
// (or when asked to): the one flow behind the admin API's restore job and the CLI's `restore` (control op).
import type { AppContext } from '../context.js';
import type { AliasRecord } from '../directory/index.js';
import type { MailboxId } from '../mailbox/types.js';
import { listGenerations, restoreFolders, restoreReplace, type TransferProgress } from '../backup/index.js';
import { remotesOf, type RemoteProgress } from './index.js';
import { UserError } from '../config/errors.js';

export type RestoreOutcome =
  | { readonly mode: 'folders'; readonly restored: string; readonly imported: number; readonly skipped: number; readonly folders: string[] }
  | { readonly mode: 'replace'; readonly restored: string; readonly preRestore: string };

export type RestorePhase = 'downloading' | 'copying folders' | 'replacing the mailbox';

export interface RestoreGenerationOptions {
  readonly generationId: string;
  /** Copy only these folders into the live mailbox; none = replace the whole mailbox (its current state is kept as a pre-restore generation). */
  readonly folders?: readonly string[] | null;
  /** Download from the remote even when the generation is here. */
  readonly fromRemote?: boolean;
  /** The remote target's name (default: the only one). */
  readonly target?: string | null;
  readonly onPhase?: (phase: RestorePhase) => void;
  readonly onDownload?: (progress: RemoteProgress) => void;
  readonly onFolders?: (progress: TransferProgress) => void;
}

/** Restores a generation with the alias's (unlocked) mailbox key; the caller wipes the key. */
export async function restoreGeneration(ctx: AppContext, alias: AliasRecord, key: Buffer, options: RestoreGenerationOptions): Promise<RestoreOutcome> {
  const dataDir = ctx.paths.root;
  const mailboxId = alias.mailboxId as MailboxId;
  const generationId = options.generationId;
  const local = listGenerations(dataDir, mailboxId).some((g) => g.id === generationId);
  if (!local || options.fromRemote) {
    const remotes = remotesOf(ctx);
    // Not here and nowhere else to look: the generation does not exist (not "no remote is configured").
    if (!options.fromRemote && !options.target && remotes.list().length === 0) {
      throw new UserError(`Generation ${generationId} does not exist for ${alias.displayAddress}: list the generations with "sealpost backup list ${alias.displayAddress}".`, 'NO_GENERATION');
    }
    options.onPhase?.('downloading');
    try {
      await remotes.fetch(mailboxId, generationId, {
        ...(options.target ? { target: options.target } : {}),
        ...(options.onDownload ? { onProgress: options.onDownload } : {}),
      });
    } catch (error) {
      if (!(error instanceof UserError && error.code === 'NO_GENERATION')) throw error;
      const where = local ? 'on the remote' : 'here or on the remote';
      throw new UserError(`Generation ${generationId} does not exist for ${alias.displayAddress} ${where}: list the generations with "sealpost backup list ${alias.displayAddress} --remote".`, 'NO_GENERATION', { cause: error });
    }
  }
  if (options.folders?.length) {
    options.onPhase?.('copying folders');
    const totals = await restoreFolders({
      dataDir,
      mailboxId,
      generationId,
      key,
      folders: options.folders,
      target: await ctx.mailboxes.open(mailboxId, key),
      ...(options.onFolders ? { onProgress: options.onFolders } : {}),
    });
    return { mode: 'folders', restored: generationId, imported: totals.imported, skipped: totals.skipped, folders: totals.folders };
  }
  options.onPhase?.('replacing the mailbox');
  // In a server: the 'replacing' event ends the mailbox's sessions (control/service.ts), the store's handle is closed.
  const result = await restoreReplace({ dataDir, mailboxId, generationId, key, store: ctx.mailboxes });
  return { mode: 'replace', restored: result.restored, preRestore: result.preRestore };
}
