// Push the backups of aliases to one remote target; progress counts aliases, with rclone's bytes in the phase.
import type { AliasRecord } from '../directory/index.js';
import { remotesOf } from '../remote/index.js';
import { audited } from './audit.js';
import type { OpsCall, OpsContext } from './context.js';

export function pushBackups(ctx: OpsContext, input: { readonly target: string; readonly aliases: readonly AliasRecord[] }, call: OpsCall): Promise<{ uploaded: number; aliases: number }> {
  const { aliases } = input;
  const remotes = remotesOf(ctx);
  remotes.target(input.target); // a clear error before anything runs
  const report = call.onProgress ?? (() => undefined);
  return audited(
    ctx,
    call,
    'push',
    { target: input.target, aliases: aliases.length },
    async () => {
      let uploaded = 0;
      for (const [done, alias] of aliases.entries()) {
        report({ phase: `uploading ${alias.displayAddress}`, done, total: aliases.length });
        const result = await remotes.push(alias.mailboxId, {
          target: input.target,
          onProgress: (p) => report({ phase: `uploading ${alias.displayAddress} (${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)})`, done, total: aliases.length }),
        });
        uploaded += result.uploaded.length;
      }
      return { uploaded, aliases: aliases.length };
    },
    (result) => ({ uploaded: result.uploaded }),
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
