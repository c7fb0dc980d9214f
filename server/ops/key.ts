// The mailbox key of an alias for one operation: unlocked with the password when one is given (throttled like
// any login, so a wrong one is refused even when the mailbox is open), else from the key ring.
import { UserError } from '../config/errors.js';
import { wipe, type AliasMaterial } from '../crypto/index.js';
import type { AliasRecord } from '../directory/index.js';
import type { OpsCall, OpsContext } from './context.js';

/** The login context an unlock for this caller is throttled and logged under. */
export function loginOf(call: OpsCall): { ip: string; protocol: 'cli' | 'admin' } {
  return { ip: call.ip, protocol: call.via === 'admin' ? 'admin' : 'cli' };
}

/** The alias's keys, or a UserError ALIAS_LOCKED when it is locked and no password was given. The caller wipes them. */
export async function aliasMaterial(ctx: OpsContext, alias: AliasRecord, password: string | null, call: OpsCall): Promise<AliasMaterial> {
  if (password) await ctx.accounts.unlock(alias.address, password, loginOf(call));
  const material = ctx.keyRing.get(alias.id);
  if (!material) throw new UserError(`The mailbox of ${alias.displayAddress} is locked; enter its password.`, 'ALIAS_LOCKED');
  return material;
}

/** Checks that the key is at hand (a clear error before a long job starts) and wipes it. */
export async function requireAliasKey(ctx: OpsContext, alias: AliasRecord, password: string | null, call: OpsCall): Promise<void> {
  wipeMaterial(await aliasMaterial(ctx, alias, password, call));
}

/** Runs fn with the alias's mailbox key, wiping both keys after. */
export async function withAliasKey<T>(ctx: OpsContext, alias: AliasRecord, password: string | null, call: OpsCall, fn: (mailboxKey: Buffer) => Promise<T>): Promise<T> {
  const material = await aliasMaterial(ctx, alias, password, call);
  wipe(material.privateKey);
  try {
    return await fn(material.mailboxKey);
  } finally {
    wipe(material.mailboxKey);
  }
}

export function wipeMaterial(material: AliasMaterial): void {
  wipe(material.mailboxKey);
  wipe(material.privateKey);
}
