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

export const MAILBOX_READERS_ENV = 'SEALPOST_MAILBOX_READERS';
/** Reader threads by default: one, beside the event loop (the appliance's machines have two cores or more). */
export const DEFAULT_READER_THREADS = 1;
/** Most reader threads the setting takes. */
export const MAX_READER_THREADS = 8;

/** Threads that read message bodies for FETCH beside the event loop (0–8, default 1; 0 reads on the event loop). */
export function mailboxReadersFromEnv(env: Env): number {
  const text = env[MAILBOX_READERS_ENV]?.trim();
  if (!text) return DEFAULT_READER_THREADS;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= MAX_READER_THREADS)) throw new ConfigError(`${MAILBOX_READERS_ENV} must be a whole number from 0 to ${MAX_READER_THREADS}, not ${JSON.stringify(env[MAILBOX_READERS_ENV])}.`);
  return n;
}
