// App passwords of an alias: add (needs the alias keys: the mailbox unlocked, or the alias password — never an
// app password), list, revoke (ends the sessions that logged in with it at once).
import { UserError } from '../errors.js';
import type { AppPasswordView } from '../accounts/index.js';
import type { AliasRecord } from '../directory/index.js';
import { audited } from './audit.js';
import { aliasMaterial, wipeMaterial } from './key.js';
import type { OpsCall, OpsContext } from './context.js';

/** An app password as callers show it (dates as ISO strings). */
export interface AppPasswordRow {
  readonly id: string;
  readonly name: string;
  readonly created: string;
  readonly lastUsed: string | null;
  readonly lastIp: string | null;
}

function rowOf(view: AppPasswordView): AppPasswordRow {
  return { id: view.id, name: view.name, created: view.created.toISOString(), lastUsed: view.lastUsed?.toISOString() ?? null, lastIp: view.lastIp };
}

export interface AddAppPasswordInput {
  readonly alias: AliasRecord;
  /** The owner's label for the device, e.g. "Phone". */
  readonly name: string;
  /** The alias password; null: the mailbox must be unlocked. */
  readonly password: string | null;
}

/** Makes a named app password; the password is in the result only (shown once, not kept). */
export function addAppPassword(ctx: OpsContext, input: AddAppPasswordInput, call: OpsCall): Promise<{ readonly address: string; readonly appPassword: AppPasswordRow; readonly password: string }> {
  const { alias } = input;
  return audited(
    ctx,
    call,
    'app-password.add',
    { aliasId: alias.id },
    async () => {
      const material = await aliasMaterial(ctx, alias, input.password, call);
      try {
        const created = await ctx.accounts.createAppPassword(alias, input.name, material);
        return { address: alias.displayAddress, appPassword: rowOf(created.appPassword), password: created.password };
      } finally {
        wipeMaterial(material);
      }
    },
    (result) => ({ appPasswordId: result.appPassword.id }),
  );
}

/** The alias's app passwords, oldest first (names, created, last use and client address). */
export function listAppPasswords(ctx: Pick<OpsContext, 'accounts'>, input: { readonly alias: AliasRecord }): AppPasswordRow[] {
  return ctx.accounts.listAppPasswords(input.alias.id).map(rowOf);
}

/** The app password an owner named: its id, or a unique name of the alias's. */
function resolveAppPassword(ctx: Pick<OpsContext, 'accounts'>, alias: AliasRecord, idOrName: string): AppPasswordRow {
  const rows = listAppPasswords(ctx, { alias });
  const wanted = idOrName.normalize('NFC').trim();
  const found = rows.find((r) => r.id === wanted) ?? rows.find((r) => r.name === wanted);
  if (!found) {
    throw new UserError(`${alias.displayAddress} has no app password "${idOrName.slice(0, 80)}".`, 'UNKNOWN_APP_PASSWORD', {
      hint: `List them with: sealpost alias app-password list ${alias.displayAddress}`,
    });
  }
  return found;
}

/** Revokes one app password (by id or name): refused at its next login, its live IMAP/POP3 sessions end now. */
export function revokeAppPassword(ctx: OpsContext, input: { readonly alias: AliasRecord; readonly appPassword: string }, call: OpsCall): Promise<{ readonly address: string; readonly id: string; readonly name: string; readonly sessions: number }> {
  const { alias } = input;
  return audited(
    ctx,
    call,
    'app-password.revoke',
    { aliasId: alias.id },
    async () => {
      const target = resolveAppPassword(ctx, alias, input.appPassword);
      const outcome = ctx.accounts.revokeAppPassword(alias.id, target.id);
      if (!outcome.revoked) throw new UserError(`${alias.displayAddress} has no app password "${target.name}" any more.`, 'UNKNOWN_APP_PASSWORD');
      return { address: alias.displayAddress, id: target.id, name: target.name, sessions: outcome.sessions };
    },
    (result) => ({ appPasswordId: result.id, sessions: result.sessions }),
  );
}
