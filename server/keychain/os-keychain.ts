// Thin wrapper over @napi-rs/keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows).
import type { AsyncEntry as AsyncEntryClass } from '@napi-rs/keyring';
import { createRequire } from 'node:module';

// The native keyring binding is loaded at the first keychain call, not at start-up (`--help`, `doctor` parsing).
const requireCjs = createRequire(import.meta.url);
const entryOf = (account: string): AsyncEntryClass => {
  const { AsyncEntry } = requireCjs('@napi-rs/keyring') as typeof import('@napi-rs/keyring');
  return new AsyncEntry(KEYCHAIN_SERVICE, account);
};

export const KEYCHAIN_SERVICE = 'sealpost';
const TIMEOUT_MS = 5000;

/** The OS keychain could not be used (no session bus, locked keyring, no Secret Service…). */
export class KeychainUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeychainUnavailable';
  }
}

function describe(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/^Couldn't access platform storage: /, '').slice(0, 200);
}

/**
 * Reads an item. Trap: with no session bus the library returns null instead of failing, so
 * "null" means "absent or unreachable"; only a write proves the keychain works.
 */
export async function keychainGet(account: string): Promise<string | null> {
  try {
    return await entryOf(account).getPassword(AbortSignal.timeout(TIMEOUT_MS));
  } catch (err) {
    throw new KeychainUnavailable(describe(err));
  }
}

/** Writes an item, then reads it back so a silently failing store is detected. */
export async function keychainSet(account: string, value: string): Promise<void> {
  try {
    const entry = entryOf(account);
    await entry.setPassword(value, AbortSignal.timeout(TIMEOUT_MS));
    const back = await entry.getPassword(AbortSignal.timeout(TIMEOUT_MS));
    if (back !== value) throw new Error('the item did not read back');
  } catch (err) {
    throw new KeychainUnavailable(describe(err));
  }
}

/** Deletes an item; false when there was none. */
export async function keychainDelete(account: string): Promise<boolean> {
  try {
    return await entryOf(account).deletePassword(AbortSignal.timeout(TIMEOUT_MS));
  } catch (err) {
    const why = describe(err);
    if (/no (result|entry|matching) found|not found/i.test(why)) return false;
    throw new KeychainUnavailable(why);
  }
}

/**
 * SEALPOST_KEYCHAIN=off forces the file fallback (headless servers, tests); =on forces trying the
 * OS keychain even under the test runner. Default: on, except under SEALPOST_TEST=1 so test runs
 * never write into a developer's real keychain.
 */
export function keychainEnabled(env: NodeJS.ProcessEnv): boolean {
  const v = (env.SEALPOST_KEYCHAIN ?? '').trim().toLowerCase();
  if (['off', '0', 'false', 'no'].includes(v)) return false;
  if (['on', '1', 'true', 'yes'].includes(v)) return true;
  return env.SEALPOST_TEST !== '1';
}
