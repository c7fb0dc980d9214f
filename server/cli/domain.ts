// sealpost domain add|list|set|remove
import { Command } from 'commander';
import { UserError } from '../config/errors.js';
import { applyDomainSettings, type DomainSettingsChange } from '../directory/domain-settings.js';
import { printJson, withContext, withDataOption, type DataOptions } from './common.js';

/** on|off (also true/false, yes/no, 1/0) → boolean; anything else is a one-sentence error. */
export function parseOnOff(value: string, option: string): boolean {
  if (/^(on|true|yes|1)$/i.test(value)) return true;
  if (/^(off|false|no|0)$/i.test(value)) return false;
  throw new UserError(`${option} takes on or off, not "${value}".`, 'BAD_OPTION');
}

export function domainCommand(): Command {
  const domain = new Command('domain').description('manage the mail domains Sealpost receives mail for');

  withDataOption(domain.command('add').argument('<name>', 'domain name (IDN allowed, e.g. bücher.example)').description('add a domain'))
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: DataOptions & { json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const added = ctx.directory.addDomain(name);
        if (options.json) printJson({ name: added.name, unicodeName: added.unicodeName });
        else process.stdout.write(`added domain ${added.unicodeName}${added.unicodeName !== added.name ? ` (${added.name})` : ''}\n`);
      });
    });

  withDataOption(domain.command('list').description('list domains'))
    .option('--json', 'print JSON')
    .action(async (options: DataOptions & { json?: boolean }) => {
      await withContext({ data: options.data }, async (ctx) => {
        const domains = ctx.directory.listDomains();
        if (options.json) {
          printJson(
            domains.map((d) => ({
              name: d.name,
              unicodeName: d.unicodeName,
              aliases: d.aliasCount,
              catchAllAliasId: d.catchAllAliasId,
              dmarcRejectToJunk: d.dmarcRejectToJunk,
              created: d.created.toISOString(),
            })),
          );
          return;
        }
        if (domains.length === 0) {
          process.stdout.write('no domains yet; add one with: sealpost domain add example.com\n');
          return;
        }
        for (const d of domains) {
          const shown = d.unicodeName !== d.name ? `${d.unicodeName} (${d.name})` : d.name;
          process.stdout.write(
            `${shown}\t${d.aliasCount} alias${d.aliasCount === 1 ? '' : 'es'}${d.catchAllAliasId ? '\tcatch-all' : ''}${d.dmarcRejectToJunk ? '\tdmarc-reject-to-junk' : ''}\n`,
          );
        }
      });
    });

  withDataOption(
    domain
      .command('set')
      .argument('<name>', 'domain name')
      .description('change per-domain settings')
      .addHelpText('after', `
Examples:
  sealpost domain set example.com --dmarc-reject-to-junk on   # mail failing a p=reject DMARC policy goes to Junk instead of being refused
  sealpost domain set example.com --catch-all alice@example.com   # unknown local parts reach alice
  sealpost domain set example.com --catch-all off
  sealpost domain set example.com --report-address dmarc   # DMARC/TLS reports to dmarc@example.com (publish it as rua=mailto:)`),
  )
    .option('--dmarc-reject-to-junk <on|off>', 'deliver DMARC p=reject failures to Junk (on) or refuse them with 550 5.7.1 (off, the default)')
    .option('--catch-all <address|off>', 'alias of this domain that receives mail for unknown addresses, or off')
    .option('--report-address <local-part|default>', 'local part of the address that receives DMARC and TLS aggregate reports (default: aggregate-reports)')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: DataOptions & { dmarcRejectToJunk?: string; catchAll?: string; reportAddress?: string; json?: boolean }) => {
      if (options.dmarcRejectToJunk === undefined && options.catchAll === undefined && options.reportAddress === undefined) {
        throw new UserError('Nothing to change: give --dmarc-reject-to-junk on|off, --catch-all ADDRESS|off and/or --report-address LOCAL-PART|default.', 'BAD_OPTION');
      }
      const change: DomainSettingsChange = {
        ...(options.dmarcRejectToJunk !== undefined ? { dmarcRejectToJunk: parseOnOff(options.dmarcRejectToJunk, '--dmarc-reject-to-junk') } : {}),
        ...(options.catchAll !== undefined ? { catchAll: /^(off|none)$/i.test(options.catchAll) ? null : options.catchAll } : {}),
        ...(options.reportAddress !== undefined ? { reportLocalPart: /^default$/i.test(options.reportAddress) ? null : options.reportAddress } : {}),
      };
      await withContext({ data: options.data }, async (ctx) => {
        const result = applyDomainSettings(ctx.directory, name, change);
        if (options.json) printJson(result);
        else {
          process.stdout.write(
            `${result.unicodeName}: DMARC reject failures ${result.dmarcRejectToJunk ? 'go to Junk' : 'are refused'}; catch-all ${result.catchAll ?? 'off'}; reports to ${result.reportAddress}\n`,
          );
        }
      });
    });

  withDataOption(domain.command('remove').argument('<name>', 'domain name').description('remove a domain that has no aliases left'))
    .action(async (name: string, options: DataOptions) => {
      await withContext({ data: options.data }, async (ctx) => {
        const existing = ctx.directory.getDomain(name);
        ctx.directory.removeDomain(name);
        process.stdout.write(`removed domain ${existing?.unicodeName ?? name}\n`);
      });
    });

  return domain;
}
