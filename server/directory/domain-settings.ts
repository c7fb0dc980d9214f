// Per-domain settings changed as one step (CLI `domain set`, admin PATCH /api/domains/:name).
import { UserError } from '../config/errors.js';
import type { Directory } from './index.js';
import { reportAddressOf } from '../reports/index.js';

export interface DomainSettingsChange {
  readonly dmarcRejectToJunk?: boolean;
  /** An alias address of the domain, or null to clear. */
  readonly catchAll?: string | null;
  /** Local part of the address receiving aggregate reports, or null for the default. */
  readonly reportLocalPart?: string | null;
}

/** Applies per-domain settings (the CLI and the admin API share it); returns the domain's new state. */
export function applyDomainSettings(
  directory: Directory,
  name: string,
  change: DomainSettingsChange,
): { name: string; unicodeName: string; dmarcRejectToJunk: boolean; catchAll: string | null; reportAddress: string } {
  const domain = directory.getDomain(name);
  if (!domain) throw new UserError(`The domain ${name} is not set up here; add it first with: sealpost domain add ${name}`, 'UNKNOWN_DOMAIN');
  directory.transaction(() => {
    if (change.catchAll !== undefined) directory.setCatchAll(domain.name, change.catchAll === null ? null : directory.requireAlias(change.catchAll).id);
    if (change.reportLocalPart !== undefined) directory.setReportLocalPart(domain.name, change.reportLocalPart);
    if (change.dmarcRejectToJunk !== undefined) {
      directory.setDmarcRejectToJunk(domain.name, change.dmarcRejectToJunk);
      directory.audit('domain.dmarc_reject_to_junk_changed', null, { on: change.dmarcRejectToJunk });
    }
  });
  const after = directory.getDomain(domain.name);
  if (!after) throw new UserError(`The domain ${name} was removed meanwhile.`, 'UNKNOWN_DOMAIN');
  const catchAll = after.catchAllAliasId ? (directory.getAliasById(after.catchAllAliasId)?.displayAddress ?? null) : null;
  return { name: after.name, unicodeName: after.unicodeName, dmarcRejectToJunk: after.dmarcRejectToJunk, catchAll, reportAddress: reportAddressOf(after.name, after.reportLocalPart) };
}
