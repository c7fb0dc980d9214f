// The mailbox store's settings from SEALPOST_MAILBOX_* environment variables (read here only; docs/configuration.md).
import { ConfigError } from '../config/errors.js';
import { COMPRESSION_METHODS, DEFAULT_COMPRESSION, type Compression } from './codec.js';

type Env = Readonly<Record<string, string | undefined>>;

export const MAILBOX_COMPRESSION_ENV = 'SEALPOST_MAILBOX_COMPRESSION';

/** How new blobs are compressed (lz4|deflate|brotli|none, default lz4); a change affects new writes only. */
export function mailboxCompressionFromEnv(env: Env): Compression {
  const text = env[MAILBOX_COMPRESSION_ENV]?.trim().toLowerCase();
  if (!text) return DEFAULT_COMPRESSION;
  const method = COMPRESSION_METHODS.find((m) => m === text);
  if (!method) throw new ConfigError(`${MAILBOX_COMPRESSION_ENV} must be one of ${COMPRESSION_METHODS.join(', ')}, not ${JSON.stringify(env[MAILBOX_COMPRESSION_ENV])}.`);
  return method;
}
