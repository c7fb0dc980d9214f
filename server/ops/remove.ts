// Remove an alias: its remembered keys first (keychain or secrets file), then the alias, mailbox and queue.
import type { AliasRecord } from '../directory/index.js';
import { forgetRemembered } from '../accounts/remember.js';
import { audited } from './audit.js';
import type { OpsCall, OpsContext } from './context.js';

export function removeAlias(ctx: OpsContext, input: { readonly alias: AliasRecord }, call: OpsCall): Promise<{ id: string; address: string }> {
  const { alias } = input;
  return audited(ctx, call, 'remove', { aliasId: alias.id, mailboxId: alias.mailboxId }, async () => {
    // A keychain that cannot be reached must not keep a mailbox the owner deletes; the stale entry is logged.
    await forgetRemembered(ctx, alias).catch((error: unknown) => {
      ctx.logger.warn({ event: 'alias.forget_failed', aliasId: alias.id, err: error instanceof Error ? error.name : 'error' }, 'remembered keys could not be removed');
    });
    const removed = await ctx.accounts.removeAlias(alias.address);
    return { id: removed.id, address: removed.displayAddress };
  });
}
