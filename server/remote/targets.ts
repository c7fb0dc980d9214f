// Remote targets: Cloudflare R2 or any S3. Settings (no secret) live in the directory's settings under
// "remote.targets"; the secret access key lives in the keychain/secret store as "remote-secret:<id>".
import { randomUUID } from 'node:crypto';
import { UserError } from '../config/index.js';
import { DEFAULT_RETENTION, type RetentionPolicy } from '../backup/retention.js';

export type TargetKind = 'r2' | 's3';

export interface RemoteTarget {
  /** Random id: names the secret, never shown to rclone or the bucket. */
  readonly id: string;
  /** The user's label (`remote push --target NAME`). */
  readonly name: string;
  readonly kind: TargetKind;
  readonly bucket: string;
  readonly accessKeyId: string;
  /** Object key prefix inside the bucket, ends with "/" (default "sealpost/"). */
  readonly prefix: string;
  /** R2 account id (endpoint https://<accountId>.r2.cloudflarestorage.com). */
  readonly accountId?: string;
  /** S3 endpoint URL; for R2 an override (EU jurisdiction endpoint, tests). */
  readonly endpoint?: string;
  readonly region?: string;
  readonly pathStyle?: boolean;
  /** S3 only: sign with AWS signature v2 (old S3-compatible servers; never R2). */
  readonly v2Auth?: boolean;
  readonly retention: RetentionPolicy;
}

/** What stores the (secret-less) target list: the Directory satisfies it. */
export interface TargetSettings {
  getSetting(key: string): unknown;
  setSetting(key: string, value: unknown): void;
}

/** Named secrets: the keychain SecretStore satisfies it. */
export interface TargetSecrets {
  getSecret(name: string): Promise<string | null>;
  setSecret(name: string, value: string): Promise<unknown>;
  deleteSecret(name: string): Promise<boolean>;
}

export const TARGETS_SETTING = 'remote.targets';
const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,62}$/;

export const secretName = (target: Pick<RemoteTarget, 'id'>): string => `remote-secret:${target.id}`;

export function endpointOf(target: RemoteTarget): string {
  if (target.endpoint) return target.endpoint;
  if (target.kind === 'r2') return `https://${target.accountId}.r2.cloudflarestorage.com`;
  throw new UserError(`Remote "${target.name}" has no endpoint`, 'REMOTE_CONFIG');
}

export interface NewTarget {
  readonly name: string;
  readonly kind: TargetKind;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly accountId?: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly pathStyle?: boolean;
  readonly v2Auth?: boolean;
  readonly prefix?: string;
  readonly retention?: RetentionPolicy;
}

/** Validates user input into a target; throws UserError with one clear sentence. */
export function makeTarget(input: NewTarget): RemoteTarget {
  if (!NAME.test(input.name)) throw new UserError('A remote name is 1-32 lower-case letters, digits or dashes', 'REMOTE_CONFIG');
  if (input.kind !== 'r2' && input.kind !== 's3') throw new UserError('The remote type must be r2 or s3', 'REMOTE_CONFIG');
  if (!BUCKET.test(input.bucket)) throw new UserError(`"${input.bucket}" is not a valid bucket name`, 'REMOTE_CONFIG');
  if (!input.accessKeyId || /\s/.test(input.accessKeyId)) throw new UserError('An access key id is required', 'REMOTE_CONFIG');
  if (input.kind === 'r2' && !input.endpoint && !/^[0-9a-f]{32}$/i.test(input.accountId ?? '')) {
    throw new UserError('An R2 remote needs the 32-character Cloudflare account id', 'REMOTE_CONFIG');
  }
  if (input.kind === 's3' && !input.endpoint) throw new UserError('An S3 remote needs an endpoint URL', 'REMOTE_CONFIG');
  if (input.endpoint) {
    let url: URL;
    try {
      url = new URL(input.endpoint);
    } catch {
      throw new UserError(`"${input.endpoint}" is not a URL`, 'REMOTE_CONFIG');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UserError('The endpoint must be an http(s) URL', 'REMOTE_CONFIG');
  }
  let prefix = (input.prefix ?? 'sealpost/').replace(/^\/+/, '');
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  if (prefix.split('/').some((p) => p === '..')) throw new UserError('The prefix may not contain ".."', 'REMOTE_CONFIG');
  return {
    id: randomUUID(),
    name: input.name,
    kind: input.kind,
    bucket: input.bucket,
    accessKeyId: input.accessKeyId,
    prefix,
    ...(input.accountId ? { accountId: input.accountId.toLowerCase() } : {}),
    ...(input.endpoint ? { endpoint: input.endpoint.replace(/\/+$/, '') } : {}),
    ...(input.region ? { region: input.region } : {}),
    ...(input.pathStyle !== undefined ? { pathStyle: input.pathStyle } : {}),
    ...(input.kind === 's3' && input.v2Auth ? { v2Auth: true } : {}),
    retention: input.retention ?? DEFAULT_RETENTION,
  };
}

export function loadTargets(settings: TargetSettings): RemoteTarget[] {
  const v = settings.getSetting(TARGETS_SETTING);
  return Array.isArray(v) ? (v as RemoteTarget[]) : [];
}

export function saveTargets(settings: TargetSettings, targets: readonly RemoteTarget[]): void {
  settings.setSetting(TARGETS_SETTING, targets);
}

/** The named target, the only one when no name is given, or a clear error. */
export function pickTarget(targets: readonly RemoteTarget[], name?: string): RemoteTarget {
  if (name) {
    const t = targets.find((x) => x.name === name);
    if (!t) throw new UserError(`No remote named "${name}" (see "remote list")`, 'NO_REMOTE');
    return t;
  }
  if (targets.length === 0) throw new UserError('No remote is configured (add one with "remote add")', 'NO_REMOTE');
  if (targets.length > 1) throw new UserError(`Several remotes are configured; name one with --target (${targets.map((t) => t.name).join(', ')})`, 'NO_REMOTE');
  return targets[0] as RemoteTarget;
}

/** The child environment for one target: the only way rclone learns about it. */
export function rcloneTargetEnv(target: RemoteTarget, secret: string): Record<string, string> {
  return {
    RCLONE_CONFIG_SEALPOST_TYPE: 's3',
    RCLONE_CONFIG_SEALPOST_PROVIDER: target.kind === 'r2' ? 'Cloudflare' : 'Other',
    RCLONE_CONFIG_SEALPOST_ACCESS_KEY_ID: target.accessKeyId,
    RCLONE_CONFIG_SEALPOST_SECRET_ACCESS_KEY: secret,
    RCLONE_CONFIG_SEALPOST_ENDPOINT: endpointOf(target),
    RCLONE_CONFIG_SEALPOST_REGION: target.kind === 'r2' ? 'auto' : target.region || 'us-east-1',
    RCLONE_CONFIG_SEALPOST_FORCE_PATH_STYLE: String(target.kind === 'r2' ? true : target.pathStyle ?? true),
    // Bucket-scoped R2 tokens may not create buckets: never try, the bucket must exist.
    RCLONE_CONFIG_SEALPOST_NO_CHECK_BUCKET: 'true',
    RCLONE_CONFIG_SEALPOST_ENV_AUTH: 'false',
    ...(target.kind === 's3' && target.v2Auth ? { RCLONE_CONFIG_SEALPOST_V2_AUTH: 'true' } : {}),
  };
}

/** Public view (for `remote list`): no secret, no id. */
export function describeTarget(t: RemoteTarget): Record<string, unknown> {
  return {
    name: t.name,
    type: t.kind,
    bucket: t.bucket,
    prefix: t.prefix,
    endpoint: t.endpoint ?? (t.kind === 'r2' ? endpointOf(t) : null),
    ...(t.kind === 's3' ? { region: t.region ?? 'us-east-1', pathStyle: t.pathStyle ?? true } : { accountId: t.accountId ?? null }),
    accessKeyId: t.accessKeyId,
    retention: t.retention,
  };
}
