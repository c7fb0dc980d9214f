// The operations a CLI command hands to a running server (or runs itself when none is running): plain JSON
// arguments checked here, mapped onto server/ops (where each operation is written once), plain JSON back.
import path from 'node:path';
import { LISTENER_NAMES } from '../config/index.js';
import { VERSION } from '../config/version.js';
import { UserError } from '../config/errors.js';
import type { GenerationListing, VerifyReport } from '../backup/index.js';
import * as ops from '../ops/index.js';
import type { AppPasswordRow, MailScriptRow, OpsCall, OpsContext, OpsProgress, OutgoingOpsContext, PushRow, RestoreOutcome } from '../ops/index.js';
import type { OutgoingDetail, OutgoingPage, RestartPort } from '../ports.js';
import type { RemoteProgress } from '../remote/index.js';


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

export type { RestoreOutcome } from '../ops/index.js';

/** What `sealpost alias rules` does: list scripts, show one, store one (put, or put and make active), make one active, turn all off, delete one. */
export type RulesAction = 'list' | 'show' | 'put' | 'put-active' | 'activate' | 'off' | 'delete';
const RULES_ACTIONS: readonly RulesAction[] = ['list', 'show', 'put', 'put-active', 'activate', 'off', 'delete'];

/** Every operation: its arguments and its result. */
export interface OpMap {
  ping: { args: Record<string, never>; result: { pid: number; version: string; dataDir: string } };
  'alias.add': { args: { address: string; password: string | null; quotaBytes: number | null }; result: { id: string; address: string; password?: string } };
  'alias.passwd': { args: { address: string; oldPassword: string; newPassword: string | null }; result: { id: string; address: string; password?: string } };
  'alias.remove': { args: { address: string }; result: { id: string; address: string } };
  'alias.lock': { args: { address: string | null }; result: { locked: number } };
  'alias.remember': { args: { address: string; on: boolean; password: string | null }; result: { address: string; remember: boolean; where: 'keychain' | 'file' | null } };
  'alias.quota': { args: { address: string; quotaBytes: number | null; password: string }; result: { address: string; quotaBytes: number | null } };
  'alias.enabled': { args: { address: string; enabled: boolean }; result: { address: string; enabled: boolean } };
  'alias.app-password.add': { args: { address: string; name: string; password: string | null }; result: { address: string; appPassword: AppPasswordRow; password: string } };
  'alias.app-password.list': { args: { address: string }; result: { address: string; appPasswords: AppPasswordRow[] } };
  'alias.app-password.revoke': { args: { address: string; appPassword: string }; result: { address: string; id: string; name: string; sessions: number } };
  'alias.sentCopy': { args: { address: string; on: boolean }; result: { address: string; saveSentCopy: boolean } };
  'settings.list': { args: Record<string, never>; result: { settings: SettingRow[]; limits: LimitRow[] } };
  'settings.set': { args: { name: string; on: boolean }; result: SettingRow };
  'settings.limit': { args: { name: string; value: number | null }; result: LimitRow };
  'server.restart': { args: Record<string, never>; result: { listeners: { name: string; host: string; port: number }[] } };
  'alias.rules': { args: { address: string; action: RulesAction; name: string | null; content: string | null; password: string }; result: { scripts: MailScriptRow[]; content: string | null } };
  'backup.now': { args: { address: string | null; password: string | null }; result: { rows: BackupNowRow[]; directory: { created: boolean; id: string; size: number } | null } };
  'backup.verify': { args: { address: string; generation: string; password: string | null }; result: VerifyReport };
  restore: {
    args: { address: string; generation: string; password: string; folders: string[] | null; target: string | null; fromRemote: boolean };
    result: RestoreOutcome;
  };
  export: { args: { address: string; format: 'sqlite' | 'mbox' | 'eml'; out: string; password: string }; result: { format: string; out: string; messages: number } };
  import: { args: { address: string; path: string; password: string; folder: string | null }; result: { imported: number; skipped: number; folders: string[]; kind: string } };
  'remote.push': { args: { address: string | null; target: string | null }; result: { rows: PushRow[] } };
  'outgoing.list': { args: { limit: number | null; cursor: string | null }; result: OutgoingPage };
  'outgoing.show': { args: { id: string }; result: OutgoingDetail };
  'outgoing.retry': { args: { id: string }; result: { id: string; recipients: number } };
  'outgoing.cancel': { args: { id: string }; result: { id: string; recipients: number } };
  'junk.status': { args: { address: string; password: string | null }; result: JunkStatusResult };
  'junk.train': { args: { address: string; folder: string; asSpam: boolean; password: string | null }; result: JunkStatusResult & { trained: number } };
  'junk.switch': { args: { address: string; on: boolean }; result: { address: string; on: boolean } };
}

/** The junk classifier's counts of one alias, as `sealpost junk status` prints them. */
export interface JunkStatusResult {
  readonly address: string;
  readonly spamMessages: number;
  readonly hamMessages: number;
  readonly tokens: number;
}

/** One mail switch as `sealpost settings` prints it. */
export interface SettingRow {
  readonly name: string;
  readonly label: string;
  readonly help: string;
  readonly on: boolean;
}

/** One incoming-mail limit as `sealpost settings` prints it. */
export interface LimitRow {
  readonly name: string;
  readonly label: string;
  readonly help: string;
  readonly unit: 'bytes' | 'count';
  /** What the server uses from its next start. */
  readonly value: number;
  /** The SEALPOST_* variable that sets it (then saving changes nothing), or null. */
  readonly setBy: string | null;
}

/** What an operation runs against: the owner operations' context, the outbound queue's history and (under serve) the restart. */
export type ControlContext = OpsContext & OutgoingOpsContext & { readonly restart?: RestartPort };

export type OpName = keyof OpMap;
export type OpArgs<K extends OpName> = OpMap[K]['args'];
export type OpResult<K extends OpName> = OpMap[K]['result'];

type OpImpl<K extends OpName> = (ctx: ControlContext, args: OpArgs<K>, call: OpsCall) => Promise<OpResult<K>>;

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

function quotaOf(quota: unknown): number | null {
  if (quota !== null && quota !== undefined && !(typeof quota === 'number' && Number.isSafeInteger(quota) && quota > 0)) throw new UserError('The quota must be a positive number of bytes.', 'BAD_QUOTA');
  return (quota as number | null | undefined) ?? null;
}

function onOff(o: Record<string, unknown>): boolean {
  if (typeof o.on !== 'boolean') throw new UserError('Bad control request: on must be true or false.', 'BAD_REQUEST');
  return o.on;
}

/** Validates the raw JSON arguments of an operation. */
export function parseArgs<K extends OpName>(op: K, raw: unknown): OpArgs<K> {
  const o = record(raw);
  const parsed: { [N in OpName]: () => OpArgs<N> } = {
    ping: () => ({}),
    'alias.add': () => ({ address: text(o, 'address'), password: textOrNull(o, 'password'), quotaBytes: quotaOf(o.quotaBytes) }),
    'alias.passwd': () => ({ address: text(o, 'address'), oldPassword: text(o, 'oldPassword'), newPassword: textOrNull(o, 'newPassword') }),
    'alias.remove': () => ({ address: text(o, 'address') }),
    'alias.lock': () => ({ address: textOrNull(o, 'address') }),
    'alias.remember': () => {
      if (typeof o.on !== 'boolean') throw new UserError('Bad control request: on must be true or false.', 'BAD_REQUEST');
      return { address: text(o, 'address'), on: o.on, password: textOrNull(o, 'password') };
    },
    'alias.quota': () => ({ address: text(o, 'address'), quotaBytes: quotaOf(o.quotaBytes), password: text(o, 'password') }),
    'alias.enabled': () => {
      if (typeof o.enabled !== 'boolean') throw new UserError('Bad control request: enabled must be true or false.', 'BAD_REQUEST');
      return { address: text(o, 'address'), enabled: o.enabled };
    },
    'alias.app-password.add': () => ({ address: text(o, 'address'), name: text(o, 'name'), password: textOrNull(o, 'password') }),
    'alias.app-password.list': () => ({ address: text(o, 'address') }),
    'alias.app-password.revoke': () => ({ address: text(o, 'address'), appPassword: text(o, 'appPassword') }),
    'alias.sentCopy': () => ({ address: text(o, 'address'), on: onOff(o) }),
    'settings.list': () => ({}),
    'settings.set': () => ({ name: text(o, 'name'), on: onOff(o) }),
    'settings.limit': () => {
      const value = o.value ?? null;
      if (value !== null && !(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) throw new UserError('Bad control request: value must be a whole number or null.', 'BAD_REQUEST');
      return { name: text(o, 'name'), value };
    },
    'server.restart': () => ({}),
    'alias.rules': () => {
      const action = o.action as RulesAction;
      if (!RULES_ACTIONS.includes(action)) throw new UserError(`Bad control request: action must be one of ${RULES_ACTIONS.join(', ')}.`, 'BAD_REQUEST');
      const needsName = action !== 'list' && action !== 'off';
      return { address: text(o, 'address'), action, name: needsName ? text(o, 'name') : null, content: action.startsWith('put') ? (typeof o.content === 'string' ? o.content : text(o, 'content')) : null, password: text(o, 'password') };
    },
    'backup.now': () => ({ address: textOrNull(o, 'address'), password: textOrNull(o, 'password') }),
    'junk.status': () => ({ address: text(o, 'address'), password: textOrNull(o, 'password') }),
    'junk.train': () => {
      if (typeof o.asSpam !== 'boolean') throw new UserError('Bad control request: asSpam must be true or false.', 'BAD_REQUEST');
      return { address: text(o, 'address'), folder: text(o, 'folder'), asSpam: o.asSpam, password: textOrNull(o, 'password') };
    },
    'junk.switch': () => ({ address: text(o, 'address'), on: onOff(o) }),
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
    'remote.push': () => ({ address: textOrNull(o, 'address'), target: textOrNull(o, 'target') }),
    'outgoing.list': () => {
      const limit = o.limit ?? null;
      if (limit !== null && !(typeof limit === 'number' && Number.isSafeInteger(limit))) throw new UserError('Bad control request: limit must be a whole number.', 'BAD_REQUEST');
      return { limit, cursor: textOrNull(o, 'cursor') };
    },
    'outgoing.show': () => ({ id: text(o, 'id') }),
    'outgoing.retry': () => ({ id: text(o, 'id') }),
    'outgoing.cancel': () => ({ id: text(o, 'id') }),
  };
  const parse = parsed[op] as (() => OpArgs<K>) | undefined;
  if (!parse) throw new UserError(`Unknown control operation "${String(op).slice(0, 40)}".`, 'BAD_REQUEST');
  return parse();
}

export function isOpName(value: unknown): value is OpName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(OPS, value);
}

// ── the mapping onto server/ops ──

const ping: OpImpl<'ping'> = async (ctx) => ({ pid: process.pid, version: VERSION, dataDir: ctx.paths.root });

const aliasAdd: OpImpl<'alias.add'> = async (ctx, args) => {
  const created = await ctx.accounts.createAlias(args.address, args.password, { quotaBytes: args.quotaBytes });
  return { id: created.alias.id, address: created.alias.displayAddress, ...(created.password ? { password: created.password } : {}) };
};

const aliasPasswd: OpImpl<'alias.passwd'> = (ctx, args, call) =>
  ops.changePassword(ctx, { alias: ctx.directory.requireAlias(args.address), currentPassword: args.oldPassword, newPassword: args.newPassword }, call);

const aliasRemove: OpImpl<'alias.remove'> = (ctx, args, call) => ops.removeAlias(ctx, { alias: ctx.directory.requireAlias(args.address) }, call);

const aliasLock: OpImpl<'alias.lock'> = (ctx, args, call) => ops.lockAliases(ctx, { alias: args.address === null ? null : ctx.directory.requireAlias(args.address) }, call);

const aliasRemember: OpImpl<'alias.remember'> = (ctx, args, call) => {
  const alias = ctx.directory.requireAlias(args.address);
  // The CLI always reads the password: a key the server happens to hold is not the owner's consent.
  if (args.on && !args.password) throw new UserError('Remembering a mailbox needs its password (--password-stdin).', 'PASSWORD_REQUIRED');
  return ops.setRemember(ctx, { alias, on: args.on, password: args.password }, call);
};

const aliasQuota: OpImpl<'alias.quota'> = async (ctx, args, call) => {
  const alias = ctx.directory.requireAlias(args.address);
  await ops.setQuota(ctx, { alias, quotaBytes: args.quotaBytes, password: args.password }, call);
  return { address: alias.displayAddress, quotaBytes: args.quotaBytes };
};

const aliasEnabled: OpImpl<'alias.enabled'> = async (ctx, args, call) => {
  const alias = ctx.directory.requireAlias(args.address);
  await ops.setEnabled(ctx, { alias, enabled: args.enabled }, call);
  return { address: alias.displayAddress, enabled: args.enabled };
};

const appPasswordAdd: OpImpl<'alias.app-password.add'> = (ctx, args, call) =>
  ops.addAppPassword(ctx, { alias: ctx.directory.requireAlias(args.address), name: args.name, password: args.password }, call);

const appPasswordList: OpImpl<'alias.app-password.list'> = async (ctx, args) => {
  const alias = ctx.directory.requireAlias(args.address);
  return { address: alias.displayAddress, appPasswords: ops.listAppPasswords(ctx, { alias }) };
};

const appPasswordRevoke: OpImpl<'alias.app-password.revoke'> = (ctx, args, call) =>
  ops.revokeAppPassword(ctx, { alias: ctx.directory.requireAlias(args.address), appPassword: args.appPassword }, call);

const aliasSentCopy: OpImpl<'alias.sentCopy'> = (ctx, args, call) => ops.setSaveSentCopy(ctx, { alias: ctx.directory.requireAlias(args.address), on: args.on }, call);

const settingRow = (o: ops.MailOptionState): SettingRow => ({ name: o.name, label: o.label, help: o.help, on: o.on });
const limitRow = (l: ops.MailLimitState): LimitRow => ({ name: l.limit.name, label: l.limit.label, help: l.limit.help, unit: l.limit.unit, value: l.value, setBy: l.setBy });
const settingsList: OpImpl<'settings.list'> = async (ctx) => ({ settings: ops.listMailOptions(ctx).map(settingRow), limits: ops.listMailLimits(ctx).map(limitRow) });
const settingsLimit: OpImpl<'settings.limit'> = async (ctx, args, call) => {
  const found = ops.requireSetting(args.name);
  if (!('limit' in found)) throw new UserError(`${found.option.name} is a switch: set it on or off.`, 'BAD_SETTINGS');
  await ops.setMailLimit(ctx, { limit: found.limit, value: args.value }, call);
  return limitRow(ops.listMailLimits(ctx).find((l) => l.limit.key === found.limit.key) as ops.MailLimitState);
};
const settingsSet: OpImpl<'settings.set'> = async (ctx, args, call) => settingRow(await ops.setMailOption(ctx, { option: ops.requireMailOption(args.name), on: args.on }, call));

const serverRestart: OpImpl<'server.restart'> = async (ctx, _args, call) => {
  const plan = await ops.restartServer(ctx, { restart: ctx.restart }, call);
  return { listeners: LISTENER_NAMES.filter((name) => plan.next.ports[name] !== 0).map((name) => ({ name, host: plan.next.host, port: plan.next.ports[name] })) };
};

const aliasRules: OpImpl<'alias.rules'> = async (ctx, args, call) => {
  const target = { alias: ctx.directory.requireAlias(args.address), password: args.password };
  const name = args.name ?? '';
  let content: string | null = null;
  if (args.action === 'show') content = await ops.getMailScript(ctx, { ...target, name }, call);
  else if (args.action === 'put' || args.action === 'put-active') await ops.putMailScript(ctx, { ...target, name, content: args.content ?? '', activate: args.action === 'put-active' }, call);
  else if (args.action === 'activate') await ops.activateMailScript(ctx, { ...target, name }, call);
  else if (args.action === 'off') await ops.activateMailScript(ctx, { ...target, name: null }, call);
  else if (args.action === 'delete') await ops.deleteMailScript(ctx, { ...target, name }, call);
  return { scripts: [...(await ops.mailRulesView(ctx, target, call)).scripts], content };
};

const backupNow: OpImpl<'backup.now'> = async (ctx, args, call) => {
  if (args.password && !args.address) throw new UserError('--password-stdin needs an address.');
  const aliases = args.address ? [ctx.directory.requireAlias(args.address)] : 'all';
  const result = await ops.backupNow(ctx, { aliases, password: args.password, kind: 'manual' }, call);
  return { rows: result.rows.map(({ aliasId: _id, pruned: _pruned, ...row }) => row), directory: result.directory };
};

const backupVerify: OpImpl<'backup.verify'> = (ctx, args, call) =>
  ops.verifyBackup(ctx, { alias: ctx.directory.requireAlias(args.address), generation: args.generation, password: args.password }, call);

const restore: OpImpl<'restore'> = (ctx, args, call) =>
  ops.restoreBackup(
    ctx,
    { alias: ctx.directory.requireAlias(args.address), generation: args.generation, password: args.password, folders: args.folders, target: args.target, fromRemote: args.fromRemote },
    call,
  );

const exportOp: OpImpl<'export'> = (ctx, args, call) => ops.exportMailbox(ctx, { alias: ctx.directory.requireAlias(args.address), format: args.format, out: args.out, password: args.password }, call);

const importOp: OpImpl<'import'> = (ctx, args, call) => ops.importMailbox(ctx, { alias: ctx.directory.requireAlias(args.address), path: args.path, password: args.password, folder: args.folder }, call);

const remotePush: OpImpl<'remote.push'> = async (ctx, args, call) => {
  const aliases = args.address ? [ctx.directory.requireAlias(args.address)] : 'all';
  // rclone's bytes reach the CLI's bar as a transfer: done/total in bytes.
  const onBytes = (p: RemoteProgress): void => call.onProgress?.({ phase: p.phase, done: p.bytes, total: p.totalBytes || null, transfer: true });
  const outcome = await ops.pushBackups(ctx, { target: args.target, aliases, onBytes }, call);
  return { rows: outcome.rows };
};

const outgoingList: OpImpl<'outgoing.list'> = async (ctx, args) => ops.listOutgoing(ctx, args);
const outgoingShow: OpImpl<'outgoing.show'> = async (ctx, args) => ops.showOutgoing(ctx, args);
const outgoingRetry: OpImpl<'outgoing.retry'> = (ctx, args, call) => ops.retryOutgoing(ctx, args, call);
const outgoingCancel: OpImpl<'outgoing.cancel'> = (ctx, args, call) => ops.cancelOutgoing(ctx, args, call);

const junkStatusOp: OpImpl<'junk.status'> = async (ctx, args, call) => {
  const alias = ctx.directory.requireAlias(args.address);
  const status = await ops.junkStatus(ctx, alias, args.password, call);
  return { address: alias.displayAddress, spamMessages: status.spamMessages, hamMessages: status.hamMessages, tokens: status.tokens };
};

const junkTrainOp: OpImpl<'junk.train'> = async (ctx, args, call) => {
  const alias = ctx.directory.requireAlias(args.address);
  const { trained, status } = await ops.trainJunk(ctx, { alias, folder: args.folder, asSpam: args.asSpam, password: args.password }, call);
  return { address: alias.displayAddress, trained, spamMessages: status.spamMessages, hamMessages: status.hamMessages, tokens: status.tokens };
};

const junkSwitchOp: OpImpl<'junk.switch'> = (ctx, args, call) => ops.setJunkFilter(ctx, { alias: ctx.directory.requireAlias(args.address), on: args.on }, call);

const OPS: { [K in OpName]: OpImpl<K> } = {
  ping,
  'alias.add': aliasAdd,
  'alias.passwd': aliasPasswd,
  'alias.remove': aliasRemove,
  'alias.lock': aliasLock,
  'alias.remember': aliasRemember,
  'alias.quota': aliasQuota,
  'alias.enabled': aliasEnabled,
  'alias.app-password.add': appPasswordAdd,
  'alias.app-password.list': appPasswordList,
  'alias.app-password.revoke': appPasswordRevoke,
  'alias.sentCopy': aliasSentCopy,
  'settings.list': settingsList,
  'settings.set': settingsSet,
  'settings.limit': settingsLimit,
  'server.restart': serverRestart,
  'alias.rules': aliasRules,
  'backup.now': backupNow,
  'backup.verify': backupVerify,
  restore,
  export: exportOp,
  import: importOp,
  'remote.push': remotePush,
  'outgoing.list': outgoingList,
  'outgoing.show': outgoingShow,
  'outgoing.retry': outgoingRetry,
  'outgoing.cancel': outgoingCancel,
  'junk.status': junkStatusOp,
  'junk.train': junkTrainOp,
  'junk.switch': junkSwitchOp,
};

/** The CLI's progress bar counts messages: only the transfer events of an operation go to it. */
function cliCall(emit: Emit): OpsCall {
  return {
    via: 'cli',
    ip: 'local',
    onProgress: (p: OpsProgress) => {
      if (!p.transfer) return;
      emit({ done: p.done, total: p.total, ...(p.imported !== undefined ? { imported: p.imported } : {}), ...(p.skipped !== undefined ? { skipped: p.skipped } : {}), ...(p.folder !== undefined ? { folder: p.folder } : {}) });
    },
  };
}

/** Runs one operation against this process's context (the server's, or a one-shot CLI's). */
export function runOp<K extends OpName>(ctx: ControlContext, op: K, args: OpArgs<K>, emit: Emit = () => undefined): Promise<OpResult<K>> {
  return (OPS[op] as OpImpl<K>)(ctx, args, cliCall(emit));
}
