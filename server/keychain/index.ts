// server/keychain: the app key and named secrets in the OS keychain, with a headless file fallback.
export { loadAppKey, AppKeyError, APP_KEY_ACCOUNT, APP_KEY_FILE } from './app-key.js';
export type { AppKey, AppKeySource } from './app-key.js';
export { SecretStore, SECRETS_FILE } from './secrets.js';
export type { SecretBackend } from './secrets.js';
export { keychainEnabled, KeychainUnavailable, KEYCHAIN_SERVICE } from './os-keychain.js';
