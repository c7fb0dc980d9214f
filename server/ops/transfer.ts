// Export a mailbox (sqlite: encrypted, opens with the alias password; mbox; eml zip) and import an archive
// into one (messages already there are skipped). Both check the password: an export opens with the password
// it is made with, so it must be the owner's.
import type { AliasRecord } from '../directory/index.js';
import type { MailboxId } from '../mailbox/types.js';
import { exportEml, exportMbox, exportSqlite, importArchive, type ExportFormat } from '../backup/index.js';
import { audited } from './audit.js';
import { withAliasKey } from './key.js';
import type { OpsCall, OpsContext, OpsProgress } from './context.js';

export interface ExportInput {
  readonly alias: AliasRecord;
  readonly format: ExportFormat;
  /** Absolute path: the file (sqlite, eml) or a new directory (mbox). */
  readonly out: string;
  readonly password: string;
}

export interface ExportOutcome {
  readonly format: string;
  readonly out: string;
  readonly messages: number;
}

export function exportMailbox(ctx: OpsContext, input: ExportInput, call: OpsCall): Promise<ExportOutcome> {
  const { alias } = input;
  const report = call.onProgress ?? (() => undefined);
  const onProgress = (p: Omit<OpsProgress, 'phase'>): void => report({ phase: 'exporting', transfer: true, ...p });
  return audited(
    ctx,
    call,
    'export',
    { aliasId: alias.id, format: input.format },
    () =>
      withAliasKey(ctx, alias, input.password, call, async (key) => {
        const mailboxId = alias.mailboxId as MailboxId;
        if (input.format === 'sqlite') return exportSqlite({ dataDir: ctx.paths.root, mailboxId, key, password: input.password, out: input.out });
        const mailbox = await ctx.mailboxes.open(mailboxId, key);
        return input.format === 'mbox' ? exportMbox(mailbox, input.out, onProgress) : exportEml(mailbox, input.out, onProgress);
      }).then((result) => ({ format: result.format, out: result.out, messages: result.messages })),
    (result) => ({ messages: result.messages }),
  );
}

export interface ImportInput {
  readonly alias: AliasRecord;
  /** Absolute path of the archive (mbox, eml zip or a Sealpost sqlite export). */
  readonly path: string;
  readonly password: string;
  /** Put everything into this folder (default: the archive's own folders). */
  readonly folder: string | null;
}

export interface ImportOutcome {
  readonly imported: number;
  readonly skipped: number;
  readonly folders: string[];
  readonly kind: string;
}

export function importMailbox(ctx: OpsContext, input: ImportInput, call: OpsCall): Promise<ImportOutcome> {
  const { alias } = input;
  const report = call.onProgress ?? (() => undefined);
  return audited(
    ctx,
    call,
    'import',
    { aliasId: alias.id },
    () =>
      withAliasKey(ctx, alias, input.password, call, async (key) => {
        const totals = await importArchive({
          dataDir: ctx.paths.root,
          target: await ctx.mailboxes.open(alias.mailboxId as MailboxId, key),
          path: input.path,
          password: input.password,
          ...(input.folder ? { folder: input.folder } : {}),
          onProgress: (p) => report({ phase: 'importing', transfer: true, ...p }),
        });
        return { imported: totals.imported, skipped: totals.skipped, folders: totals.folders, kind: totals.kind };
      }),
    (result) => ({ imported: result.imported, skipped: result.skipped, kind: result.kind }),
  );
}
