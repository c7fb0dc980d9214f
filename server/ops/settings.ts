// Owner switches and the restart: saving a mail switch, an alias's "save a copy to Sent", and restarting
// the server in its own process. The CLI, the admin API and the Settings page call these; each writes its
// audit line (the switch's key and value; never an address).
import { ConfigError, UserError } from '../config/errors.js';
import { LISTENER_NAMES, type ListenerName, type SealpostConfig } from '../config/index.js';
import { MAIL_LIMITS, MAIL_OPTIONS, findMailLimit, findMailOption, mailOptionOn, mailLimitValue, type MailLimit, type MailOption } from '../config/mail-options.js';
import { wholeNumberInRange, wholeNumberRange } from '../config/env-values.js';
import type { AliasRecord } from '../directory/index.js';
import { canListen } from '../net.js';
import type { RestartPort } from '../ports.js';
import { audited } from './audit.js';
import type { OpsCall, OpsContext } from './context.js';

export interface MailOptionState extends MailOption {
  readonly on: boolean;
}

export interface MailLimitState {
  readonly limit: MailLimit;
  /** In effect at the next start (the variable's, the saved one, or the default). */
  readonly value: number;
  /** The SEALPOST_* variable that sets it, or null. */
  readonly setBy: string | null;
}

/** Every incoming-mail limit with the value the next start uses. */
export function listMailLimits(ctx: Pick<OpsContext, 'directory' | 'config'>): MailLimitState[] {
  return MAIL_LIMITS.map((limit) => ({ limit, ...mailLimitValue(limit, ctx.config.env, ctx.directory) }));
}

/** Every mail switch with its current value. */
export function listMailOptions(ctx: Pick<OpsContext, 'directory'>): MailOptionState[] {
  return MAIL_OPTIONS.map((option) => ({ ...option, on: mailOptionOn(ctx.directory, option) }));
}

/** The switch named on the command line or by its API key; a UserError listing the names otherwise. */
export function requireMailOption(nameOrKey: string): MailOption {
  const found = requireSetting(nameOrKey);
  if (!('option' in found)) throw new UserError(`${found.limit.name} takes a number, not on or off.`, 'BAD_SETTINGS');
  return found.option;
}

/** Turns one mail switch on or off; it applies at once (the engines read it per session or command). */
export function setMailOption(ctx: OpsContext, input: { readonly option: MailOption; readonly on: boolean }, call: OpsCall): Promise<MailOptionState> {
  const { option, on } = input;
  return audited(ctx, call, 'setting', { setting: option.key, on }, async () => {
    // Saved as true, or removed: "off" is the default and needs no row.
    ctx.directory.setSetting(option.key, on ? true : undefined);
    return { ...option, on };
  });
}

/** The switch or limit named on the command line or by its API key; a UserError listing the names otherwise. */
export function requireSetting(nameOrKey: string): { readonly option: MailOption } | { readonly limit: MailLimit } {
  const limit = findMailLimit(nameOrKey);
  if (limit) return { limit };
  const option = findMailOption(nameOrKey);
  if (option) return { option };
  const names = [...MAIL_OPTIONS, ...MAIL_LIMITS].map((o) => o.name).join(', ');
  throw new UserError(`There is no setting "${nameOrKey.slice(0, 60)}"; the settings are: ${names}.`, 'NO_SUCH_SETTING');
}

/** Saves one incoming-mail limit (null: back to the default); the MX uses it from the next start. */
export function setMailLimit(ctx: OpsContext, input: { readonly limit: MailLimit; readonly value: number | null }, call: OpsCall): Promise<{ limit: MailLimit; value: number | null }> {
  const { limit, value } = input;
  return audited(ctx, call, 'limit', { setting: limit.key, value }, async () => {
    if (value !== null && wholeNumberInRange(String(value), limit.min, limit.max) === null) {
      throw new UserError(`${limit.label} must be ${wholeNumberRange(limit.min, limit.max)}${limit.unit === 'bytes' ? ' bytes' : ''}, not ${JSON.stringify(value)}.`, 'BAD_SETTINGS');
    }
    ctx.directory.setSetting(limit.key, value === null ? undefined : value);
    return { limit, value };
  });
}

/** "Save a copy of sent mail to Sent" for one alias: submission then appends what it sends to the alias's Sent folder. */
export function setSaveSentCopy(ctx: OpsContext, input: { readonly alias: AliasRecord; readonly on: boolean }, call: OpsCall): Promise<{ address: string; saveSentCopy: boolean }> {
  const { alias, on } = input;
  return audited(ctx, call, 'sent_copy', { aliasId: alias.id, on }, async () => {
    ctx.directory.setSaveSentCopy(alias.id, on);
    return { address: alias.displayAddress, saveSentCopy: on };
  });
}

export interface RestartPlan {
  /** The configuration the server comes back with. */
  readonly next: SealpostConfig;
  /** Listeners whose address or port changes. */
  readonly moved: ListenerName[];
}

/**
 * Restarts the server in this process with the saved settings: checked first (the settings parse, every moved
 * listener's new port is free), so a mistake is said now rather than leaving the server down. Services stop the
 * way they do on SIGTERM (sessions get their protocol's goodbye; accepted mail is already on disk).
 */
export function restartServer(ctx: OpsContext, input: { readonly restart: RestartPort | undefined }, call: OpsCall): Promise<RestartPlan> {
  return audited(
    ctx,
    call,
    'restart',
    {},
    async () => {
      const port = input.restart;
      if (!port) throw new UserError('Sealpost restarts itself only while it runs as "sealpost serve"; start it with "sealpost serve", or restart it the way you started it.', 'NO_RESTART');
      let next: SealpostConfig;
      try {
        next = port.nextConfig();
      } catch (error) {
        if (error instanceof ConfigError) throw new UserError(`The saved settings cannot be used: ${error.message}`, 'BAD_SETTINGS');
        throw error;
      }
      const running = ctx.config;
      const moved = LISTENER_NAMES.filter((name) => next.ports[name] !== 0 && (next.ports[name] !== running.ports[name] || next.host !== running.host));
      // A port this server holds now is free once it stops; only ports it does not hold are tried.
      const held = new Set(next.host === running.host ? LISTENER_NAMES.map((name) => running.ports[name]) : []);
      for (const name of moved) {
        if (held.has(next.ports[name])) continue;
        if (!(await canListen(next.host, next.ports[name]))) {
          throw new UserError(`The ${name} listener cannot move to ${next.host}:${next.ports[name]}: that port is in use or not allowed; choose another port and save again.`, 'PORT_UNAVAILABLE');
        }
      }
      port.restart();
      return { next, moved };
    },
    (plan) => ({ moved: plan.moved.length }),
  );
}
