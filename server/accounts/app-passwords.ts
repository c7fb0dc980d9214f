// App passwords: per-device passwords that each unlock an alias's mailbox for IMAP, POP3 and submission, and
// can be revoked one by one. The server stores none of them. Each app password has its own sealing key pair:
// the private half is wrapped by a key derived (argon2id + HKDF, labels of its own) from the app password, and
// the alias's mailbox key and private key are sealed to the public half. So a login derives its keys, unwraps
// its private key and unseals the alias keys; and a password change, which holds the new alias keys, re-seals
// them to every app password's public key without knowing any app password.
import { randomUUID } from 'node:crypto';
import {
  canonicalAppPassword,
  deriveAppPasswordKeys,
  generateAppPassword,
  generateSealKeyPair,
  newSalt,
  seal,
  timingSafeEqual,
  unseal,
  unwrapSecret,
  wipe,
  wrapSecret,
  SEAL_PRIVATE_KEY_BYTES,
  type AliasMaterial,
} from '../crypto/index.js';
import { wholeNumbersFromEnv, type NumericSetting } from '../config/env-values.js';
import type { AliasRecord, AppPasswordRecord, Directory } from '../directory/index.js';
import { UserError } from '../errors.js';
import { AliasLocked } from './errors.js';
import { pendingSettingKey } from './recovery.js';
import type { AccountsCore } from './types.js';

/** The caps on app passwords (docs/security.md). */
export interface AppPasswordLimits {
  /** App passwords one alias may have at once. */
  readonly maxPerAlias: number;
  /** Characters in an app password's name. */
  readonly maxNameLength: number;
}

export const DEFAULT_APP_PASSWORD_LIMITS: AppPasswordLimits = Object.freeze({ maxPerAlias: 20, maxNameLength: 64 });

export const APP_PASSWORD_ENV: readonly NumericSetting<keyof AppPasswordLimits>[] = [
  { env: 'SEALPOST_APP_PASSWORDS_MAX', key: 'maxPerAlias', min: 1, max: 1000 },
  { env: 'SEALPOST_APP_PASSWORD_NAME_MAX', key: 'maxNameLength', min: 1, max: 200 },
];

/** The app-password caps from SEALPOST_APP_PASSWORDS_MAX / SEALPOST_APP_PASSWORD_NAME_MAX; throws ConfigError on a bad one. */
export function appPasswordLimitsFromEnv(env: Readonly<Record<string, string | undefined>>): AppPasswordLimits {
  return wholeNumbersFromEnv(env, APP_PASSWORD_ENV, DEFAULT_APP_PASSWORD_LIMITS);
}

/** What the owner sees of an app password (never its key material). */
export interface AppPasswordView {
  readonly id: string;
  readonly name: string;
  readonly created: Date;
  readonly lastUsed: Date | null;
  readonly lastIp: string | null;
}

/** A new app password: shown once, Sealpost keeps no copy. */
export interface CreatedAppPassword {
  readonly appPassword: AppPasswordView;
  readonly password: string;
}

/** A name must be a label a person types: letters, digits, spaces and a little punctuation. */
const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N}\p{M} ._'()-]*$/u;

/** The owner's name for a device, NFC-normalized, or a UserError saying what is wrong with it. */
export function checkAppPasswordName(name: string, maxLength: number): string {
  const trimmed = name.normalize('NFC').trim();
  if (trimmed === '') throw new UserError('Give the app password a name, e.g. the device it is for ("Phone").', 'BAD_APP_PASSWORD_NAME');
  if ([...trimmed].length > maxLength) throw new UserError(`The name is too long: use at most ${maxLength} characters.`, 'BAD_APP_PASSWORD_NAME');
  if (!NAME_PATTERN.test(trimmed) || /\s{2}/.test(trimmed)) {
    throw new UserError('Use letters, digits, spaces and . _ - \' ( ) in the name, starting with a letter or digit.', 'BAD_APP_PASSWORD_NAME');
  }
  return trimmed;
}

function viewOf(record: AppPasswordRecord): AppPasswordView {
  return { id: record.id, name: record.name, created: record.created, lastUsed: record.lastUsed, lastIp: record.lastIp };
}

/** Binds an app password's wrapped private key to its row (moved to another row it does not unwrap). */
function privateKeyAad(aliasId: string, id: string): Uint8Array {
  return new TextEncoder().encode(`sealpost/app-password-private-key/v1/${aliasId}/${id}`);
}

/** Binds the alias keys sealed for an app password to its row. */
function sealedKeysAad(aliasId: string, id: string): Uint8Array {
  return new TextEncoder().encode(`sealpost/app-password-alias-keys/v1/${aliasId}/${id}`);
}

/** mailbox key (32) ‖ alias private key: what an app password's sealed box holds. */
function concatMaterial(material: AliasMaterial): Buffer {
  return Buffer.concat([material.mailboxKey, material.privateKey]);
}

function splitMaterial(plain: Uint8Array): AliasMaterial {
  if (plain.length !== 32 + SEAL_PRIVATE_KEY_BYTES) throw new Error('sealed alias keys of an app password have the wrong length');
  return { mailboxKey: Buffer.from(plain.subarray(0, 32)), privateKey: new Uint8Array(plain.subarray(32)) };
}

/** Seals the alias keys to one app password's public key. */
function sealAliasKeys(record: Pick<AppPasswordRecord, 'id' | 'aliasId' | 'publicKey'>, material: AliasMaterial): Buffer {
  const plain = concatMaterial(material);
  try {
    return seal(record.publicKey, plain, sealedKeysAad(record.aliasId, record.id));
  } finally {
    wipe(plain);
  }
}

/**
 * Re-seals the alias keys to every app password of the alias, after its password changed (call it inside the
 * directory transaction that stores the new alias keys, so both change together or not at all).
 */
export function resealAppPasswords(directory: Directory, aliasId: string, material: AliasMaterial): number {
  const rows = directory.appPasswords.list(aliasId);
  for (const row of rows) directory.appPasswords.reseal(row.id, sealAliasKeys(row, material));
  return rows.length;
}

export class AppPasswords {
  constructor(
    private readonly core: AccountsCore,
    private readonly limits: AppPasswordLimits,
  ) {}

  /**
   * Makes a named app password for an alias whose keys the caller holds (unlocked, or just checked with the
   * alias password). Refused over the cap, for a name in use or odd, and while a password change is unresolved.
   */
  async create(alias: AliasRecord, name: string, material: AliasMaterial): Promise<CreatedAppPassword> {
    const { directory, kdf } = this.core;
    const label = checkAppPasswordName(name, this.limits.maxNameLength);
    const check = (): void => {
      if (directory.getSetting(pendingSettingKey(alias.id)) !== undefined) throw new AliasLocked(alias.displayAddress);
      const existing = directory.appPasswords.list(alias.id);
      if (existing.length >= this.limits.maxPerAlias) {
        throw new UserError(`${alias.displayAddress} already has ${existing.length} app passwords, the most allowed; revoke one first.`, 'APP_PASSWORD_LIMIT', {
          hint: 'The cap is SEALPOST_APP_PASSWORDS_MAX.',
        });
      }
      if (existing.some((e) => e.name === label)) throw new UserError(`${alias.displayAddress} already has an app password named "${label}".`, 'APP_PASSWORD_EXISTS');
    };
    check();
    const first = directory.appPasswords.list(alias.id)[0];
    // One salt per alias: a login spends one derivation on app passwords however many there are.
    const salt = first ? first.salt : newSalt();
    const params = first ? first.kdf : kdf;
    const password = generateAppPassword();
    const keys = await deriveAppPasswordKeys(canonicalAppPassword(password)!, salt, params);
    const pair = generateSealKeyPair();
    const id = randomUUID();
    try {
      const record = directory.transaction(() => {
        check(); // again: another request may have added one, or changed the password, during the derivation
        const current = directory.getAliasById(alias.id);
        if (!current || !timingSafeEqual(current.verifier, alias.verifier)) {
          throw new UserError('The alias password changed meanwhile; try again.', 'ALIAS_CHANGED');
        }
        return directory.appPasswords.insert({
          id,
          aliasId: alias.id,
          name: label,
          salt,
          kdf: params,
          verifier: keys.verifier,
          publicKey: Buffer.from(pair.publicKey),
          wrappedPrivateKey: wrapSecret(keys.wrappingKey, pair.privateKey, privateKeyAad(alias.id, id)),
          sealedKeys: sealAliasKeys({ id, aliasId: alias.id, publicKey: Buffer.from(pair.publicKey) }, material),
        });
      });
      this.core.logger.info({ event: 'alias.app_password_added', aliasId: alias.id, appPasswordId: id }, 'app password added');
      return { appPassword: viewOf(record), password };
    } finally {
      wipe(keys.verifier);
      wipe(keys.wrappingKey);
      wipe(pair.privateKey);
    }
  }

  /** The alias's app passwords, oldest first. */
  list(aliasId: string): AppPasswordView[] {
    return this.core.directory.appPasswords.list(aliasId).map(viewOf);
  }

  /** Whether the alias has any app password (a login only tries them then). */
  has(aliasId: string): boolean {
    return this.core.directory.appPasswords.count(aliasId) > 0;
  }

  /** Whether this app password still exists (a login racing its revocation checks again after registering). */
  exists(aliasId: string, id: string): boolean {
    return this.core.directory.appPasswords.get(aliasId, id) !== null;
  }

  /** Deletes one; false when the alias has no such app password. The caller ends its sessions. */
  remove(aliasId: string, id: string): boolean {
    const removed = this.core.directory.appPasswords.remove(aliasId, id);
    if (removed) this.core.logger.info({ event: 'alias.app_password_revoked', aliasId, appPasswordId: id }, 'app password revoked');
    return removed;
  }

  /**
   * The alias keys when `typed` is one of the alias's app passwords, with its id; else null. Text that cannot be
   * an app password costs nothing; otherwise one derivation per distinct salt (normally one per alias).
   */
  async verify(alias: AliasRecord, typed: string): Promise<{ readonly id: string; readonly material: AliasMaterial } | null> {
    const canonical = canonicalAppPassword(typed);
    if (canonical === null) return null;
    const rows = this.core.directory.appPasswords.list(alias.id);
    const groups = new Map<string, AppPasswordRecord[]>();
    for (const row of rows) {
      const key = `${row.salt.toString('hex')}/${JSON.stringify(row.kdf)}`;
      groups.set(key, [...(groups.get(key) ?? []), row]);
    }
    for (const group of groups.values()) {
      const keys = await deriveAppPasswordKeys(canonical, group[0]!.salt, group[0]!.kdf);
      try {
        const match = group.find((row) => timingSafeEqual(row.verifier, keys.verifier));
        if (!match) continue;
        const privateKey = unwrapSecret(keys.wrappingKey, match.wrappedPrivateKey, privateKeyAad(alias.id, match.id));
        try {
          const plain = unseal(privateKey, match.sealedKeys, sealedKeysAad(alias.id, match.id));
          try {
            return { id: match.id, material: splitMaterial(plain) };
          } finally {
            wipe(plain);
          }
        } finally {
          wipe(privateKey);
        }
      } finally {
        wipe(keys.verifier);
        wipe(keys.wrappingKey);
      }
    }
    return null;
  }

  /** Notes a login with the app password (when, from where); a failure to write is logged, never fatal. */
  touch(aliasId: string, id: string, ip: string): void {
    try {
      this.core.directory.appPasswords.touch(id, ip);
    } catch (error) {
      this.core.logger.warn({ event: 'alias.app_password_touch_failed', aliasId, appPasswordId: id, err: error instanceof Error ? error.name : 'error' }, 'could not record an app password use');
    }
  }
}
