// The operations a CLI command hands to a running server (or runs itself when none is running). Each takes
// plain JSON arguments and returns plain JSON, so the same function serves both paths; the CLI prints.
import path from 'node:path';
import { createRequire } from 'node:module';
import { UserError } from '../config/errors.js';
import type { AppContext } from '../context.js';
import { wipe } from '../crypto/index.js';
import type { AliasId, AliasRecord } from '../directory/index.js';
import type { Mailbox } from '../mailbox/types.js';
import {
  backupAlias,
  exportEml,
  exportMbox,
  exportSqlite,
  importArchive,
  listingOf,
  verifyGeneration,
  type GenerationListing,
  type VerifyReport,
} from '../backup/index.js';
import { isGenerationId } from '../backup/paths.js';
import { restoreGeneration, type RestoreOutcome } from '../remote/restore.js';
import { forgetRemembered, rememberKeys, storeRememberedIfWanted } from '../accounts/remember.js';

const require = createRequire(import.meta.url);
const VERSION = (require('../../package.json') as { version: string }).version;

/** Progress of a long operation (import, export, folder restore), as the CLI's progress bar wants it. */
export interface OpProgress {
  readonly done: number;
  readonly total: number | null;
  readonly imported?: number;
  readonly skipped?: number;
  readonly folder?: string;
}

export type Emit = (progress: OpProgress) => void;

export interface BackupNowRow extends GenerationListing {
  readonly address: string;
  readonly created: boolean;
}

export type { RestoreOutcome } from '../remote/restore.js';

/** Every operation: its arguments and its result. */
export interface OpMap {
  ping: { args: Record<string, never>; result: { pid: number; version: string; dataDir: string } };
  'alias.add': { args: { address: string; password: string | null; quotaBytes: number | null }; result: { id: string; address: string; password?: string } };
  'alias.passwd': { args: { address: string; oldPassword: string; newPassword: string | null }; result: { id: string; address: string; password?: string } };
  'alias.remove': { args: { address: string }; result: { id: string; address: string } };
  'alias.lock': { args: { address: string | null }; result: { locked: number } };
  'alias.remember': { args: { address: string; on: boolean; password: string | null }; result: { address: string; remember: boolean; where: 'keychain' | 'file' | null } };
  'backup.now': { args: { address: string | null; password: string | null }; result: BackupNowRow[] };
  'backup.verify': { args: { address: string; generation: string; password: string | null }; result: VerifyReport };
  restore: {
    args: { address: string; generation: string; password: string; folders: string[] | null; target: string | null; fromRemote: boolean };
    result: RestoreOutcome;
  };
  export: { args: { address: string; format: 'sqlite' | 'mbox' | 'eml'; out: string; password: string }; result: { format: string; out: string; messages: number } };
  import: { args: { address: string; path: string; password: string; folder: string | null }; result: { imported: number; skipped: number; folders: string[]; kind: string } };
}

export type OpName = keyof OpMap;
export type OpArgs<K extends OpName> = OpMap[K]['args'];
export type OpResult<K extends OpName> = OpMap[K]['result'];

type OpImpl<K extends OpName> = (ctx: AppContext, args: OpArgs<K>, emit: Emit) => Promise<OpResult<K>>;

// ── argument checks (the socket is authenticated, but a request is still parsed, never trusted) ──

function record(value: unknown): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UserError('Bad control request: arguments missing.', 'BAD_REQUEST');
  return value as Record<string, unknown>;
}

function text(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new UserError(`Bad control request: ${key} must be a non-empty string.`, 'BAD_REQUEST');
  return v;
}

function textOrNull(o: Record<string, unknown>, key: string): string | null {
  return o[key] === null || o[key] === undefined ? null : text(o, key);
}

function absolute(o: Record<string, unknown>, key: string): string {
  const v = text(o, key);
  // The server's working directory is not the CLI's: the client sends absolute paths.
  if (!path.isAbsolute(v)) throw new UserError(`Bad control request: ${key} must be an absolute path.`, 'BAD_REQUEST');
  return v;
}

/** Validates the raw JSON arguments of an operation. */
export function parseArgs<K extends OpName>(op: K, raw: unknown): OpArgs<K> {
  const o = record(raw);
  const parsed: { [N in OpName]: () => OpArgs<N> } = {
    ping: () => ({}),
    'alias.add': () => {
      const quota = o.quotaBytes;
      if (quota !== null && quota !== undefined && !(typeof quota === 'number' && Number.isSafeInteger(quota) && quota > 0)) throw new UserError('The quota must be a positive number of bytes.', 'BAD_QUOTA');
      return { address: text(o, 'address'), password: textOrNull(o, 'password'), quotaBytes: (quota as number | null | undefined) ?? null };
    },
    'alias.passwd': () => ({ address: text(o, 'address'), oldPassword: text(o, 'oldPassword'), newPassword: textOrNull(o, 'newPassword') }),
    'alias.remove': () => ({ address: text(o, 'address') }),
    'alias.lock': () => ({ address: textOrNull(o, 'address') }),
    'alias.remember': () => {
      if (typeof o.on !== 'boolean') throw new UserError('Bad control request: on must be true or false.', 'BAD_REQUEST');
      return { address: text(o, 'address'), on: o.on, password: textOrNull(o, 'password') };
    },
    'backup.now': () => ({ address: textOrNull(o, 'address'), password: textOrNull(o, 'password') }),
    'backup.verify': () => ({ address: text(o, 'address'), generation: text(o, 'generation'), password: textOrNull(o, 'password') }),
    restore: () => {
      const folders = o.folders;
      if (folders !== null && folders !== undefined && !(Array.isArray(folders) && folders.every((f) => typeof f === 'string' && f !== ''))) {
        throw new UserError('Bad control request: folders must be a list of names.', 'BAD_REQUEST');
      }
      return {
        address: text(o, 'address'),
        generation: text(o, 'generation'),
        password: text(o, 'password'),
        folders: (folders as string[] | null | undefined) ?? null,
        target: textOrNull(o, 'target'),
        fromRemote: o.fromRemote === true,
      };
    },
    export: () => {
      const format = o.format;
      if (format !== 'sqlite' && format !== 'mbox' && format !== 'eml') throw new UserError('Bad control request: format must be sqlite, mbox or eml.', 'BAD_REQUEST');
      return { address: text(o, 'address'), format, out: absolute(o, 'out'), password: text(o, 'password') };
    },
    import: () => ({ address: text(o, 'address'), path: absolute(o, 'path'), password: text(o, 'password'), folder: textOrNull(o, 'folder') }),
  };
  const parse = parsed[op] as (() => OpArgs<K>) | undefined;
  if (!parse) throw new UserError(`Unknown control operation "${String(op).slice(0, 40)}".`, 'BAD_REQUEST');
  return parse();
}

export function isOpName(value: unknown): value is OpName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(OPS, value);
}

// ── the operations ──

interface Unlocked {
  readonly alias: AliasRecord;
  readonly key: Buffer;
  readonly mailbox: Mailbox;
}

/** Unlocks an alias with its password (throttled like any login) and returns its mailbox key. */
async function unlockWith(ctx: AppContext, address: string, password: string): Promise<Unlocked> {
  const alias = await ctx.accounts.unlock(address, password, { ip: 'local', protocol: 'cli' });
  const material = ctx.keyRing.get(alias.id);
  if (!material) throw new UserError('The mailbox could not be unlocked.');
  wipe(material.privateKey);
  const mailbox = await ctx.mailboxes.open(alias.mailboxId, material.mailboxKey);
  return { alias, key: material.mailboxKey, mailbox };
}

const ping: OpImpl<'ping'> = async (ctx) => ({ pid: process.pid, version: VERSION, dataDir: ctx.paths.root });

const aliasAdd: OpImpl<'alias.add'> = async (ctx, args) => {
  const created = await ctx.accounts.createAlias(args.address, args.password, { quotaBytes: args.quotaBytes });
  return { id: created.alias.id, address: created.alias.displayAddress, ...(created.password ? { password: created.password } : {}) };
};

const aliasPasswd: OpImpl<'alias.passwd'> = async (ctx, args) => {
  const alias = ctx.directory.requireAlias(args.address);
  const result = await ctx.accounts.changePassword(args.address, args.oldPassword, args.newPassword);
  // A key remembered on this device is the old one now: store the new one (needs one unlock with the new password).
  await storeRememberedIfWanted(ctx, alias.id, result.password ?? args.newPassword);
  return { id: alias.id, address: alias.displayAddress, ...(result.password ? { password: result.password } : {}) };
};

const aliasRemove: OpImpl<'alias.remove'> = async (ctx, args) => {
  const alias = ctx.directory.requireAlias(args.address);
  await forgetRemembered(ctx, alias);
  const removed = await ctx.accounts.removeAlias(args.address);
  return { id: removed.id, address: removed.displayAddress };
};

const aliasLock: OpImpl<'alias.lock'> = async (ctx, args) => {
  if (args.address === null) {
    const count = ctx.keyRing.unlockedIds().length;
    await ctx.accounts.lock('all');
    return { locked: count };
  }
  const alias = ctx.directory.requireAlias(args.address);
  const was = ctx.accounts.isUnlocked(alias.id);
  await ctx.accounts.lock(alias.id as AliasId);
  return { locked: was ? 1 : 0 };
};

const aliasRemember: OpImpl<'alias.remember'> = async (ctx, args) => {
  const alias = ctx.directory.requireAlias(args.address);
  if (!args.on) {
    await forgetRemembered(ctx, alias);
    return { address: alias.displayAddress, remember: false, where: null };
  }
  if (!args.password) throw new UserError('Remembering a mailbox needs its password (--password-stdin).', 'PASSWORD_REQUIRED');
  const where = await rememberKeys(ctx, alias, args.password);
  return { address: alias.displayAddress, remember: true, where };
};

const backupNow: OpImpl<'backup.now'> = async (ctx, args) => {
  if (args.password && !args.address) throw new UserError('--password-stdin needs an address.');
  const aliases = args.address ? [ctx.directory.requireAlias(args.address)] : ctx.directory.listAliases();
  const rows: BackupNowRow[] = [];
  for (const alias of aliases) {
    const key = args.password ? (await unlockWith(ctx, alias.address, args.password)).key : null;
    try {
      const r = await backupAlias(ctx, alias, 'manual', key);
      rows.push({ address: alias.displayAddress, created: r.created, ...listingOf(r.generation) });
    } finally {
      if (key) wipe(key);
    }
  }
  return rows;
};

const backupVerify: OpImpl<'backup.verify'> = async (ctx, args) => {
  const alias = ctx.directory.requireAlias(args.address);
  const key = args.password ? (await unlockWith(ctx, args.address, args.password)).key : null;
  try {
    return await verifyGeneration(ctx.paths.root, alias.mailboxId, args.generation, key);
  } finally {
    if (key) wipe(key);
  }
};

const restore: OpImpl<'restore'> = async (ctx, args, emit) => {
  if (!isGenerationId(args.generation)) throw new UserError(`"${args.generation}" is not a generation id (see "backup list")`, 'BAD_GENERATION');
  const unlocked = await unlockWith(ctx, args.address, args.password);
  try {
    return await restoreGeneration(ctx, unlocked.alias, unlocked.key, {
      generationId: args.generation,
      folders: args.folders,
      fromRemote: args.fromRemote,
      target: args.target,
      onFolders: (p) => emit(p),
    });
  } finally {
    wipe(unlocked.key);
  }
};

const exportOp: OpImpl<'export'> = async (ctx, args, emit) => {
  const unlocked = await unlockWith(ctx, args.address, args.password);
  try {
    const result =
      args.format === 'sqlite'
        ? await exportSqlite({ dataDir: ctx.paths.root, mailboxId: unlocked.alias.mailboxId, key: unlocked.key, password: args.password, out: args.out })
        : args.format === 'mbox'
          ? await exportMbox(unlocked.mailbox, args.out, (p) => emit(p))
          : await exportEml(unlocked.mailbox, args.out, (p) => emit(p));
    return { format: result.format, out: result.out, messages: result.messages };
  } finally {
    wipe(unlocked.key);
  }
};

const importOp: OpImpl<'import'> = async (ctx, args, emit) => {
  const unlocked = await unlockWith(ctx, args.address, args.password);
  try {
    const totals = await importArchive({
      dataDir: ctx.paths.root,
      target: unlocked.mailbox,
      path: args.path,
      password: args.password,
      ...(args.folder ? { folder: args.folder } : {}),
      onProgress: (p) => emit(p),
    });
    return { imported: totals.imported, skipped: totals.skipped, folders: totals.folders, kind: totals.kind };
  } finally {
    wipe(unlocked.key);
  }
};

const OPS: { [K in OpName]: OpImpl<K> } = {
  ping,
  'alias.add': aliasAdd,
  'alias.passwd': aliasPasswd,
  'alias.remove': aliasRemove,
  'alias.lock': aliasLock,
  'alias.remember': aliasRemember,
  'backup.now': backupNow,
  'backup.verify': backupVerify,
  restore,
  export: exportOp,
  import: importOp,
};

/** Runs one operation against this process's context (the server's, or a one-shot CLI's). */
export function runOp<K extends OpName>(ctx: AppContext, op: K, args: OpArgs<K>, emit: Emit = () => undefined): Promise<OpResult<K>> {
  return (OPS[op] as OpImpl<K>)(ctx, args, emit);
}
