// The junk filter's settings, from SEALPOST_JUNK_* environment variables over the defaults (read here only).
import { ConfigError } from '../config/errors.js';
import { onOffFromEnv, wholeNumbersFromEnv, type NumericSetting } from '../config/env-values.js';
import { DEFAULT_JUNK_SETTINGS, type JunkSettings } from './classify.js';
import { DEFAULT_TOKENIZE_LIMITS, type TokenizeLimits } from './tokenize.js';

/** What the store keeps: tokens beyond this are pruned, rarely seen and least recently seen first. */
export interface JunkStoreLimits extends TokenizeLimits {
  readonly maxStoredTokens: number;
}

export interface JunkFilterSettings {
  readonly enabled: boolean;
  readonly scoring: JunkSettings;
  readonly limits: JunkStoreLimits;
}

export const DEFAULT_JUNK_STORE_LIMITS: JunkStoreLimits = { ...DEFAULT_TOKENIZE_LIMITS, maxStoredTokens: 200_000 };

type Env = Readonly<Record<string, string | undefined>>;

const LIMIT_ENV: readonly NumericSetting<keyof JunkStoreLimits>[] = [
  { env: 'SEALPOST_JUNK_MAX_BYTES', key: 'maxBytes', min: 1024, max: 64 * 1024 * 1024 },
  { env: 'SEALPOST_JUNK_MAX_TOKENS', key: 'maxTokens', min: 10, max: 100_000 },
  { env: 'SEALPOST_JUNK_MAX_TOKEN_LENGTH', key: 'maxTokenLength', min: 8, max: 200 },
  { env: 'SEALPOST_JUNK_MAX_STORED_TOKENS', key: 'maxStoredTokens', min: 100, max: 10_000_000 },
];

function fraction(env: Env, name: string, fallback: number): number {
  const text = env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(text) || !Number.isFinite(value)) throw new ConfigError(`${name} must be a number between 0 and 1, not ${JSON.stringify(text)}.`);
  return value;
}

/** The settings the environment sets; throws ConfigError naming a bad variable. */
export function junkSettingsFromEnv(env: Env): JunkFilterSettings {
  const threshold = fraction(env, 'SEALPOST_JUNK_THRESHOLD', DEFAULT_JUNK_SETTINGS.threshold);
  const hamBelow = fraction(env, 'SEALPOST_JUNK_HAM_BELOW', DEFAULT_JUNK_SETTINGS.hamBelow);
  if (hamBelow > threshold) throw new ConfigError('SEALPOST_JUNK_HAM_BELOW must not be above SEALPOST_JUNK_THRESHOLD.');
  const minTrained = wholeNumbersFromEnv(env, [{ env: 'SEALPOST_JUNK_MIN_TRAINED', key: 'minTrained', min: 0, max: 1_000_000 }], { minTrained: DEFAULT_JUNK_SETTINGS.minTrained }).minTrained;
  return {
    enabled: onOffFromEnv(env, 'SEALPOST_JUNK', true),
    scoring: { threshold, hamBelow, minTrained },
    limits: wholeNumbersFromEnv(env, LIMIT_ENV, DEFAULT_JUNK_STORE_LIMITS),
  };
}
