// The alias's Sieve scripts as owner operations (admin page, CLI): list and read them, store one (checked by the
// Sieve checker), make one active, delete one, and save the mail rules / automatic reply form as the script
// "sealpost". The scripts live in the encrypted mailbox file, so the mailbox must be unlocked.
import { UserError } from '../config/errors.js';
import type { AliasRecord } from '../directory/index.js';
import { MailboxError } from '../mailbox/errors.js';
import { NoSuchScript, ScriptActive, ScriptExists, type SieveStore } from '../mailbox/sieve-store.js';
import { checkSieve, SIEVE_LIMITS } from '../sieve/index.js';
import { audited } from './audit.js';
import type { OpsCall, OpsContext } from './context.js';
import { withAliasKey } from './key.js';
import { EMPTY_FORM, generateScript, MailRulesFormError, readForm, RULES_SCRIPT_NAME, type MailRulesForm } from './mail-rules-script.js';

export interface MailScriptRow {
  readonly name: string;
  readonly active: boolean;
  readonly size: number;
}

export interface MailRulesView {
  readonly scripts: readonly MailScriptRow[];
  /** The form the "sealpost" script was made from (an empty one when there is no such script). */
  readonly form: MailRulesForm;
  /** The "sealpost" script was written or changed by another program: saving the form replaces it. */
  readonly foreign: boolean;
  /** Text of the active script, when it is not the form's own (shown as text). */
  readonly activeText: { readonly name: string; readonly content: string } | null;
}

/** Most scripts one alias keeps, and their total size (the same caps ManageSieve's defaults use). */
const MAX_SCRIPTS = 32;
const MAX_TOTAL_BYTES = 1024 * 1024;

/** Who and how: the alias, and its password when the caller has one (CLI), else the mailbox must be unlocked. */
interface Target {
  readonly alias: AliasRecord;
  readonly password?: string | null;
}

/** Runs fn on the alias's open Sieve store; a locked mailbox is a clear error. */
async function withSieve<T>(ctx: OpsContext, target: Target, call: OpsCall, fn: (sieve: SieveStore) => T): Promise<T> {
  const alias = target.alias;
  try {
    return await withAliasKey(ctx, alias, target.password ?? null, call, async (key) => fn((await ctx.mailboxes.open(alias.mailboxId, key)).sieve));
  } catch (error) {
    if (error instanceof UserError && error.code === 'ALIAS_LOCKED') throw new UserError(`The mailbox of ${alias.displayAddress} is locked: unlock the mailbox to edit its rules.`, 'ALIAS_LOCKED');
    if (error instanceof NoSuchScript) throw new UserError('There is no script of that name.', 'UNKNOWN_SCRIPT');
    if (error instanceof ScriptActive) throw new UserError('The active script cannot be deleted; make another one active first.', 'SCRIPT_ACTIVE');
    if (error instanceof ScriptExists) throw new UserError('A script of that name already exists.', 'SCRIPT_EXISTS');
    if (error instanceof MailRulesFormError) throw new UserError(error.message, 'BAD_RULES');
    if (error instanceof MailboxError && error.code === 'MAILBOX_LOCKED') throw new UserError('The mailbox is busy; try again in a moment.', 'MAILBOX_LOCKED');
    throw error;
  }
}

/** Checks name, text and room, then stores the script (RFC 5804 §1.6 names; the Sieve checker's verdict). */
function store(sieve: SieveStore, name: string, content: string): void {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what a script name may not hold
  if (name === '' || [...name].length > 128 || /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) throw new UserError('A script name is 1 to 128 characters without control characters.', 'BAD_SCRIPT');
  const bytes = Buffer.byteLength(content);
  if (bytes > SIEVE_LIMITS.maxScriptBytes) throw new UserError(`A script may have at most ${SIEVE_LIMITS.maxScriptBytes} bytes.`, 'BAD_SCRIPT');
  const scripts = sieve.list();
  const existing = scripts.find((s) => s.name === name);
  if (!existing && scripts.length >= MAX_SCRIPTS) throw new UserError(`At most ${MAX_SCRIPTS} scripts; delete one first.`, 'BAD_SCRIPT');
  if (scripts.reduce((n, s) => n + s.size, 0) - (existing?.size ?? 0) + bytes > MAX_TOTAL_BYTES) throw new UserError('All scripts together would be too big; delete one first.', 'BAD_SCRIPT');
  const check = checkSieve(content);
  if (!check.ok) throw new UserError(`The script has an error on line ${check.line}: ${check.message}`, 'BAD_SCRIPT');
  sieve.put(name, content);
}

export function mailRulesView(ctx: OpsContext, input: Target, call: OpsCall): Promise<MailRulesView> {
  return withSieve(ctx, input, call, (sieve) => {
    const own = sieve.get(RULES_SCRIPT_NAME);
    const form = own === null ? EMPTY_FORM : readForm(own);
    const active = sieve.active();
    return {
      scripts: sieve.list().map((s) => ({ name: s.name, active: s.active, size: s.size })),
      form: form ?? EMPTY_FORM,
      foreign: own !== null && form === null,
      activeText: active && (active.name !== RULES_SCRIPT_NAME || form === null) ? active : null,
    };
  });
}

export function getMailScript(ctx: OpsContext, input: Target & { readonly name: string }, call: OpsCall): Promise<string> {
  return withSieve(ctx, input, call, (sieve) => {
    const content = sieve.get(input.name);
    if (content === null) throw new NoSuchScript();
    return content;
  });
}

export function putMailScript(ctx: OpsContext, input: Target & { readonly name: string; readonly content: string; readonly activate: boolean }, call: OpsCall): Promise<void> {
  return audited(ctx, call, 'rules.put', { aliasId: input.alias.id, bytes: Buffer.byteLength(input.content), activate: input.activate }, () =>
    withSieve(ctx, input, call, (sieve) => {
      store(sieve, input.name, input.content);
      if (input.activate) sieve.setActive(input.name);
    }),
  );
}

/** Makes the named script the active one; null turns every script off. */
export function activateMailScript(ctx: OpsContext, input: Target & { readonly name: string | null }, call: OpsCall): Promise<void> {
  return audited(ctx, call, 'rules.activate', { aliasId: input.alias.id, off: input.name === null }, () => withSieve(ctx, input, call, (sieve) => sieve.setActive(input.name)));
}

export function deleteMailScript(ctx: OpsContext, input: Target & { readonly name: string }, call: OpsCall): Promise<void> {
  return audited(ctx, call, 'rules.delete', { aliasId: input.alias.id }, () => withSieve(ctx, input, call, (sieve) => sieve.delete(input.name)));
}

/**
 * Saves the form as the script "sealpost" and makes it active. A "sealpost" script another program wrote is
 * replaced only with `overwrite` (the page asks first).
 */
export function saveMailRulesForm(ctx: OpsContext, input: Target & { readonly form: MailRulesForm; readonly overwrite: boolean }, call: OpsCall): Promise<{ script: string }> {
  return audited(ctx, call, 'rules.form', { aliasId: input.alias.id, rules: input.form.rules.length, vacation: input.form.vacation.enabled }, () =>
    withSieve(ctx, input, call, (sieve) => {
      const script = generateScript(input.form);
      const own = sieve.get(RULES_SCRIPT_NAME);
      if (own !== null && readForm(own) === null && !input.overwrite) {
        throw new UserError('The rules were changed by a mail app; saving here replaces that version. Confirm to replace it.', 'RULES_CHANGED_ELSEWHERE');
      }
      store(sieve, RULES_SCRIPT_NAME, script);
      sieve.setActive(RULES_SCRIPT_NAME);
      return { script };
    }),
  );
}
