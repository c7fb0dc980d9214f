// Small key and password helpers shared by alias creation, password checks and password changes.
import { checkPasswordStrength, generatePassword } from '../crypto/index.js';
import type { AliasRecord } from '../directory/index.js';
import { WeakPassword } from './errors.js';
import type { Credentials } from './recovery.js';

/** Associated data binding a wrapped private key to its alias (a key moved to another row does not unwrap). */
export function privateKeyAad(aliasId: string): Uint8Array {
  return new TextEncoder().encode(`sealpost/alias-private-key/v1/${aliasId}`);
}

/** The credentials columns of an alias row. */
export function credentialsOf(alias: AliasRecord): Credentials {
  return { salt: alias.salt, kdf: alias.kdf, verifier: alias.verifier, wrappedPrivateKey: alias.wrappedPrivateKey };
}

/** The password an alias gets: the one given (WeakPassword when too weak) or, when none, a generated one. */
export function chooseSecret(given: string | null | undefined, address: string): { readonly secret: string; readonly generated: boolean } {
  if (given === undefined || given === null) return { secret: generatePassword(), generated: true };
  const weakness = checkPasswordStrength(given, { address });
  if (weakness) throw new WeakPassword(weakness);
  return { secret: given, generated: false };
}
