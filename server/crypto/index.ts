// server/crypto: key derivation, password policy, hybrid sealed boxes, secret wrapping and the in-memory key ring.
export type { AliasKeys, KdfParams, SealKeyPair } from './types.js';
export { DEFAULT_KDF, SALT_BYTES, deriveAliasKeys, deriveAppPasswordKeys, newSalt, argon2idMaster, splitMaster, type AppPasswordKeys } from './kdf.js';
export { generatePassword, generateAppPassword, canonicalAppPassword, APP_PASSWORD_BITS, checkPasswordStrength, GENERATED_PASSWORD_BITS, PASSWORD_ALPHABET, MIN_PASSWORD_LENGTH } from './password.js';
export type { PasswordCheckOptions } from './password.js';
export {
  generateSealKeyPair,
  seal,
  unseal,
  sealOpener,
  type SealOpener,
  sealPublicKeyOf,
  wrapSecret,
  unwrapSecret,
  SEAL_PUBLIC_KEY_BYTES,
  SEAL_PRIVATE_KEY_BYTES,
  SEAL_OVERHEAD_BYTES,
} from './seal.js';
export { SealError } from './errors.js';
export type { SealErrorCode } from './errors.js';
export { timingSafeEqual, wipe, randomBytes } from './bytes.js';
export { KeyRing, DEFAULT_IDLE_TIMEOUT_MS } from './keyring.js';
export type { AliasMaterial, KeyRingOptions, KeyRingDropReason, PutOptions } from './keyring.js';
