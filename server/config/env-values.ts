// Reading limit settings from SEALPOST_* variables: one rule for whole numbers and one for on/off, so every
// protocol's settings module rejects a malformed value the same way, with one sentence naming the variable.
import { ConfigError } from './errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** One numeric limit: its variable, the key it sets, and the smallest value that still makes sense. */
export interface NumericSetting<K extends string> {
  readonly env: string;
  readonly key: K;
  readonly min: number;
  /** The largest value accepted, when there is one. */
  readonly max?: number;
}

/** The number `text` spells (digits only) when it lies within min..max, else null. */
export function wholeNumberInRange(text: string, min: number, max?: number): number | null {
  if (!/^\d{1,15}$/.test(text)) return null;
  const value = Number(text);
  return value < min || (max !== undefined && value > max) ? null : value;
}

/** "a whole number of at least 1" / "a whole number from 1 to 1000": the range as error messages name it. */
export function wholeNumberRange(min: number, max?: number): string {
  return max === undefined ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`;
}

/** Only the whole-number variables that are set (unset or blank ones are left out); throws ConfigError naming a bad one. */
export function wholeNumbersSetInEnv<K extends string>(env: Env, table: readonly NumericSetting<K>[]): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const { env: name, key, min, max } of table) {
    const text = env[name]?.trim();
    if (!text) continue;
    const value = wholeNumberInRange(text, min, max);
    if (value === null) throw new ConfigError(`${name} must be ${wholeNumberRange(min, max)}, not ${JSON.stringify(env[name])}.`);
    out[key] = value;
  }
  return out;
}

/** Defaults overridden by the whole-number variables that are set; throws ConfigError naming a bad one. */
export function wholeNumbersFromEnv<K extends string>(env: Env, table: readonly NumericSetting<K>[], defaults: Readonly<Record<K, number>>): Record<K, number> {
  return { ...defaults, ...wholeNumbersSetInEnv(env, table) };
}

/** An on/off variable (on|off|true|false|1|0|yes|no); unset keeps the fallback. */
export function onOffFromEnv(env: Env, name: string, fallback: boolean): boolean {
  const text = env[name]?.trim().toLowerCase();
  if (!text) return fallback;
  if (['on', 'true', '1', 'yes'].includes(text)) return true;
  if (['off', 'false', '0', 'no'].includes(text)) return false;
  throw new ConfigError(`${name} must be on or off, not ${JSON.stringify(env[name])}.`);
}
