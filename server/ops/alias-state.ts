// The state of an alias the owner switches: lock, remember on this device, quota, enabled.
import { UserError } from '../config/errors.js';
import type { AliasId, AliasRecord } from '../directory/index.js';
import { forgetRemembered, rememberMaterial } from '../accounts/remember.js';
import { audited } from './audit.js';
import { aliasMaterial, withAliasKey, wipeMaterial } from './key.js';
import type { OpsCall, OpsContext } from './context.js';

/** Locks one alias, or every alias (null); returns how many were unlocked before. */
export function lockAliases(ctx: OpsContext, input: { readonly alias: AliasRecord | null }, call: OpsCall): Promise<{ locked: number }> {
  const { alias } = input;
  return audited(
    ctx,
    call,
    'lock',
    { aliasId: alias ? alias.id : 'all' },
    async () => {
      if (!alias) {
        const count = ctx.keyRing.unlockedIds().length;
        await ctx.accounts.lock('all');
        return { locked: count };
      }
      const was = ctx.accounts.isUnlocked(alias.id);
      await ctx.accounts.lock(alias.id as AliasId);
      return { locked: was ? 1 : 0 };
    },
    (result) => ({ locked: result.locked }),
  );
}

export interface RememberResult {
  readonly address: string;
  readonly remember: boolean;
  readonly where: 'keychain' | 'file' | null;
}

/** "Remember on this device": the keys go to the keychain (or the app-key-encrypted secrets file), or are forgotten. */
export function setRemember(ctx: OpsContext, input: { readonly alias: AliasRecord; readonly on: boolean; readonly password: string | null }, call: OpsCall): Promise<RememberResult> {
  const { alias } = input;
  return audited(
    ctx,
    call,
    'remember',
    { aliasId: alias.id, on: input.on },
    async () => {
      if (!input.on) {
        await forgetRemembered(ctx, alias);
        return { address: alias.displayAddress, remember: false, where: null };
      }
      const material = await aliasMaterial(ctx, alias, input.password, call);
      try {
        return { address: alias.displayAddress, remember: true, where: await rememberMaterial(ctx, alias, material) };
      } finally {
        wipeMaterial(material);
      }
    },
    (result) => ({ where: result.where }),
  );
}

/** Sets (or clears, null) the alias's quota: in the directory and in the mailbox file (the MX reads it there). */
export function setQuota(ctx: OpsContext, input: { readonly alias: AliasRecord; readonly quotaBytes: number | null; readonly password: string | null }, call: OpsCall): Promise<void> {
  const { alias, quotaBytes } = input;
  return audited(ctx, call, 'quota', { aliasId: alias.id, quotaBytes }, async () => {
    if (quotaBytes !== null && !(Number.isSafeInteger(quotaBytes) && quotaBytes > 0)) throw new UserError('The quota must be a positive number of bytes.', 'BAD_QUOTA');
    await withAliasKey(ctx, alias, input.password, call, (key) => ctx.mailboxes.setQuota(alias.mailboxId, key, quotaBytes));
    ctx.directory.setQuota(alias.id, quotaBytes);
  });
}

/** Enables or disables an alias (a disabled alias receives nothing and cannot log in). */
export function setEnabled(ctx: OpsContext, input: { readonly alias: AliasRecord; readonly enabled: boolean }, call: OpsCall): Promise<void> {
  return audited(ctx, call, 'enabled', { aliasId: input.alias.id, enabled: input.enabled }, async () => {
    ctx.directory.setEnabled(input.alias.id, input.enabled);
  });
}
