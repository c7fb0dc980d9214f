// Change an alias password: re-key the mailbox under the new password (given or generated), then store the new
// keys where the old ones were remembered on this device.
import { UserError } from '../config/errors.js';
import type { AliasRecord } from '../directory/index.js';
import { storeRememberedIfWanted } from '../accounts/remember.js';
import { audited } from './audit.js';
import { loginOf } from './key.js';
import type { OpsCall, OpsContext } from './context.js';

export interface ChangePasswordInput {
  readonly alias: AliasRecord;
  /** null: the mailbox must be unlocked (its key is in the key ring). */
  readonly currentPassword: string | null;
  /** null: a strong one is generated and returned once. */
  readonly newPassword: string | null;
}

export interface ChangePasswordResult {
  readonly id: string;
  readonly address: string;
  /** The generated password, when none was given. */
  readonly password?: string;
}

/** Without the current password the mailbox must be unlocked: checked before a job starts, and again in the op. */
export function assertCanChangePassword(ctx: OpsContext, alias: AliasRecord, currentPassword: string | null): void {
  if (!currentPassword && !ctx.keyRing.has(alias.id)) {
    throw new UserError(`The mailbox of ${alias.displayAddress} is locked; enter its current password.`, 'ALIAS_LOCKED');
  }
}

export function changePassword(ctx: OpsContext, input: ChangePasswordInput, call: OpsCall): Promise<ChangePasswordResult> {
  const { alias } = input;
  return audited(
    ctx,
    call,
    'passwd',
    { aliasId: alias.id },
    async () => {
      const report = call.onProgress ?? (() => undefined);
      report({ phase: input.currentPassword ? 'checking the current password' : 'deriving the new key', done: 0, total: 2 });
      assertCanChangePassword(ctx, alias, input.currentPassword);
      const timer = setTimeout(() => report({ phase: 're-keying the mailbox', done: 1, total: 2 }), 50);
      try {
        const result = await ctx.accounts.changePassword(alias.address, input.currentPassword, input.newPassword);
        // A key remembered on this device is the old one now: store the new one.
        await storeRememberedIfWanted(ctx, alias.id, result.password ?? input.newPassword, loginOf(call));
        return { id: alias.id, address: alias.displayAddress, ...(result.password ? { password: result.password } : {}) };
      } finally {
        clearTimeout(timer);
      }
    },
    (result) => ({ generated: result.password !== undefined }),
  );
}
