// "Remember on this device": the alias's derived mailbox key and private key kept in the OS keychain
// (SecretStore: service "sealpost", account "secret:remembered-key:<alias id>" — never the address), or in
// the app-key-encrypted secrets file when no keychain works. The one implementation behind the admin UI's
// switch, `sealpost alias remember` (control channel) and the unlock at `serve` start.
import type { DataLayout, SealpostConfig } from '../config/index.js';
import { wipe, type AliasMaterial, type KeyRing } from '../crypto/index.js';
import type { AliasRecord, Directory } from '../directory/index.js';
import { UserError } from '../errors.js';
import { SecretStore, type SecretBackend } from '../keychain/index.js';
import type { Logger } from '../log.js';
import type { Accounts } from './index.js';
import type { LoginContext } from './types.js';

export const rememberSecretName = (aliasId: string): string => `remembered-key:${aliasId}`;

/** What remembering needs from the composition root (the app context satisfies it). */
export interface RememberDeps {
  readonly paths: Pick<DataLayout, 'root'>;
  readonly appKey: Buffer;
  readonly config: Pick<SealpostConfig, 'env'>;
  readonly accounts: Pick<Accounts, 'unlock' | 'unlockWithMaterial'>;
  readonly keyRing: KeyRing;
  readonly directory: Directory;
  readonly logger: Logger;
}

type Ctx = RememberDeps;

const CLI_LOGIN: LoginContext = { ip: 'local', protocol: 'cli' };

function secretsOf(ctx: Ctx): SecretStore {
  return new SecretStore(ctx.paths.root, ctx.appKey, { ...ctx.config.env });
}

function encode(material: AliasMaterial): string {
  return JSON.stringify({ v: 1, mailboxKey: material.mailboxKey.toString('base64'), privateKey: Buffer.from(material.privateKey).toString('base64') });
}

function decode(stored: string): AliasMaterial | null {
  const parsed = JSON.parse(stored) as { mailboxKey?: unknown; privateKey?: unknown };
  if (typeof parsed.mailboxKey !== 'string' || typeof parsed.privateKey !== 'string') return null;
  const mailboxKey = Buffer.from(parsed.mailboxKey, 'base64');
  if (mailboxKey.length !== 32) return null;
  return { mailboxKey, privateKey: new Uint8Array(Buffer.from(parsed.privateKey, 'base64')) };
}

function wipeMaterial(material: AliasMaterial): void {
  wipe(material.mailboxKey);
  wipe(material.privateKey);
}

/** Stores keys the caller already holds for this device; the alias stays unlocked past the idle timeout. The caller wipes them. */
export async function rememberMaterial(ctx: Ctx, alias: AliasRecord, material: AliasMaterial): Promise<SecretBackend> {
  const where = await secretsOf(ctx).setSecret(rememberSecretName(alias.id), encode(material));
  ctx.keyRing.put(alias.id, material, { remember: true });
  ctx.directory.setRemember(alias.id, true);
  ctx.logger.info({ event: 'alias.remembered', aliasId: alias.id, where }, 'mailbox key remembered on this device');
  return where;
}

/** Unlocks with the password (throttled like any login) and stores the keys for this device; returns where they went. */
export async function rememberKeys(ctx: Ctx, alias: AliasRecord, password: string, login: LoginContext = CLI_LOGIN): Promise<SecretBackend> {
  await ctx.accounts.unlock(alias.address, password, login);
  const material = ctx.keyRing.get(alias.id);
  if (!material) throw new UserError('The mailbox could not be unlocked.');
  try {
    return await rememberMaterial(ctx, alias, material);
  } finally {
    wipeMaterial(material);
  }
}

/** Removes the remembered keys (keychain and file); an unlocked alias then locks when idle again. */
export async function forgetRemembered(ctx: Ctx, alias: AliasRecord): Promise<void> {
  await secretsOf(ctx).deleteSecret(rememberSecretName(alias.id));
  ctx.directory.setRemember(alias.id, false);
  const material = ctx.keyRing.get(alias.id);
  if (material) {
    ctx.keyRing.put(alias.id, material, { remember: false });
    wipeMaterial(material);
  }
}

/**
 * After a password change the remembered copy is the old key: a remembered alias gets its new keys stored,
 * from the key ring when it is unlocked (the change re-keyed it there), else by one unlock with the new password.
 */
export async function storeRememberedIfWanted(ctx: Ctx, aliasId: string, newPassword: string | null, login: LoginContext = CLI_LOGIN): Promise<void> {
  const alias = ctx.directory.getAliasById(aliasId);
  if (!alias?.remember) return;
  const material = ctx.keyRing.get(alias.id);
  if (material) {
    try {
      await rememberMaterial(ctx, alias, material);
    } finally {
      wipeMaterial(material);
    }
    return;
  }
  if (newPassword) await rememberKeys(ctx, alias, newPassword, login);
}

/** At `serve` start: unlocks every remembered alias and drains its queue. Returns how many were unlocked. */
export async function unlockRemembered(ctx: Ctx): Promise<number> {
  let unlocked = 0;
  const secrets = secretsOf(ctx);
  for (const alias of ctx.directory.listAliases()) {
    if (!alias.remember || !alias.enabled || ctx.keyRing.has(alias.id)) continue;
    let material: AliasMaterial | null = null;
    try {
      const stored = await secrets.getSecret(rememberSecretName(alias.id));
      material = stored ? decode(stored) : null;
      if (!material) {
        ctx.logger.warn({ event: 'alias.remembered_missing', aliasId: alias.id }, 'a remembered mailbox has no stored key on this device');
        continue;
      }
      await ctx.accounts.unlockWithMaterial(alias, material, { remember: true });
      unlocked++;
    } catch (error) {
      // WrongKey: the password was changed without updating this device's copy; the next login fixes it.
      ctx.logger.warn({ event: 'alias.remembered_unlock_failed', aliasId: alias.id, err: error instanceof Error ? error.name : 'error' }, 'a remembered mailbox did not unlock');
    } finally {
      if (material) wipeMaterial(material);
    }
  }
  return unlocked;
}
