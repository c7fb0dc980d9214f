// Push the backups of aliases to one remote target (and, for every alias, the directory's generations, which a
// lost machine needs for restore-all). Progress counts aliases, with rclone's bytes in the phase.
import type { AliasRecord } from '../directory/index.js';
import { DIRECTORY_BACKUP_ID } from '../backup/directory.js';
import { remotesOf, type PushResult, type RemoteProgress } from '../remote/index.js';
import { formatSize } from '../config/units.js';
import { audited } from './audit.js';
import type { OpsCall, OpsContext } from './context.js';

export interface PushInput {
  /** The target's name; null: the only one. */
  readonly target: string | null;
  /** 'all': every alias and the directory. */
  readonly aliases: 'all' | readonly AliasRecord[];
  /** rclone's bytes, for a caller that shows them as they come (the CLI's bar). */
  readonly onBytes?: (progress: RemoteProgress) => void;
}

export interface PushRow extends PushResult {
  /** null for the directory. */
  readonly address: string | null;
}

export interface PushOutcome {
  readonly rows: PushRow[];
  /** Objects uploaded in all. */
  readonly uploaded: number;
  readonly aliases: number;
}

export function pushBackups(ctx: OpsContext, input: PushInput, call: OpsCall): Promise<PushOutcome> {
  const aliases = input.aliases === 'all' ? ctx.directory.listAliases() : input.aliases;
  const remotes = remotesOf(ctx);
  const target = remotes.target(input.target ?? undefined).name; // a clear error before anything runs
  const report = call.onProgress ?? (() => undefined);
  const units: { address: string | null; backupId: string }[] = aliases.map((a) => ({ address: a.displayAddress, backupId: a.mailboxId }));
  if (input.aliases === 'all') units.push({ address: null, backupId: DIRECTORY_BACKUP_ID });
  const outcome = audited(
    ctx,
    call,
    'push',
    { aliases: aliases.length, all: input.aliases === 'all' },
    async () => {
      const rows: PushRow[] = [];
      for (const [done, unit] of units.entries()) {
        const what = unit.address ?? 'the directory';
        report({ phase: `uploading ${what}`, done, total: units.length });
        const result = await remotes.push(unit.backupId, {
          target,
          onProgress: (p) => {
            input.onBytes?.(p);
            report({ phase: `uploading ${what} (${formatSize(p.bytes)} of ${formatSize(p.totalBytes)})`, done, total: units.length });
          },
        });
        rows.push({ address: unit.address, ...result });
      }
      return { rows, uploaded: rows.reduce((sum, r) => sum + r.uploaded.length, 0), aliases: aliases.length };
    },
    (result) => ({ uploaded: result.uploaded, pruned: result.rows.reduce((sum, r) => sum + r.pruned.length, 0) }),
  );
  // the target's card shows how its last push ended
  return outcome.then(
    (result) => {
      remotes.recordPush(target, true, `${result.uploaded} generation${result.uploaded === 1 ? '' : 's'} uploaded for ${result.aliases} alias${result.aliases === 1 ? '' : 'es'}.`);
      return result;
    },
    (error: unknown) => {
      remotes.recordPush(target, false, error instanceof Error ? error.message : String(error));
      throw error;
    },
  );
}
