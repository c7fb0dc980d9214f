// sealpost domain add|list|remove
import { Command } from 'commander';
import { printJson, withContext, withDataOption, type DataOptions } from './common.js';

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
          process.stdout.write(`${shown}\t${d.aliasCount} alias${d.aliasCount === 1 ? '' : 'es'}${d.catchAllAliasId ? '\tcatch-all' : ''}\n`);
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
