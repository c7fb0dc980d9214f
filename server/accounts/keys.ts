// Small key helpers shared by alias creation, password checks and password changes.
import type { AliasRecord } from '../directory/index.js';
import type { Credentials } from './recovery.js';

/** Associated data binding a wrapped private key to its alias (a key moved to another row does not unwrap). */
export function privateKeyAad(aliasId: string): Uint8Array {
  return new TextEncoder().encode(`sealpost/alias-private-key/v1/${aliasId}`);
}

/** The credentials columns of an alias row. */
export function credentialsOf(alias: AliasRecord): Credentials {
  return { salt: alias.salt, kdf: alias.kdf, verifier: alias.verifier, wrappedPrivateKey: alias.wrappedPrivateKey };
}
