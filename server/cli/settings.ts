// sealpost settings show|set, sealpost restart: the owner's mail switches and incoming-mail limits
// (server/config/mail-options.ts) and restarting a running server. Changes run in the server when one is running on the data dir, else here.
import { Command } from 'commander';
import { UserError } from '../config/errors.js';
import { findMailLimit, type MailLimit } from '../config/mail-options.js';
import { viaServerOrHere } from './via-server.js';
import { formatSize, parseOnOff, parseSize, printJson, withDataOption, type DataOptions } from './common.js';

/** A limit's value as typed: a size (25M) or a whole number, or "default". */
function parseLimit(limit: MailLimit, text: string): number | null {
  if (/^default$/i.test(text.trim())) return null;
  if (limit.unit === 'bytes') {
    const bytes = parseSize(text, limit.name);
    if (bytes === null) throw new UserError(`${limit.name} must be a size like 25M or 100M, or "default".`);
    return bytes;
  }
  if (!/^\d{1,15}$/.test(text.trim())) throw new UserError(`${limit.name} must be a whole number, or "default", not ${JSON.stringify(text.slice(0, 40))}.`);
  return Number(text.trim());
}

export function settingsCommand(): Command {
  const settings = new Command('settings').description('show or change the mail switches and incoming-mail limits (the same as on the Settings page of the admin UI)');

  withDataOption(settings.command('show').description('list every switch and limit: its name, its value, and what it does'))
    .option('--json', 'print {"settings":[{"name","label","help","on"}],"limits":[{"name","label","help","unit","value","setBy"}]}')
    .action(async (options: DataOptions & { json?: boolean }) => {
      const listed = await viaServerOrHere({ data: options.data }, 'settings.list', {});
      if (options.json) return printJson(listed);
      for (const row of listed.settings) process.stdout.write(`${row.name}\t${row.on ? 'on' : 'off'}\t${row.label}\n  ${row.help}\n`);
      for (const row of listed.limits) {
        const value = row.unit === 'bytes' ? formatSize(row.value) : String(row.value);
        process.stdout.write(`${row.name}\t${value}\t${row.label}${row.setBy ? ` (set by ${row.setBy} in the environment; change it there)` : ''}\n  ${row.help}\n`);
      }
    });

  withDataOption(
    settings
      .command('set')
      .argument('<name>', 'the switch or limit, as "sealpost settings show" names it')
      .argument('<value>', 'on|off for a switch (applies at once); a number, a size like 25M, or "default" for a limit (applies after a restart)')
      .description('turn a switch on or off, or change a limit'),
  )
    .option('--json', 'print the switch {"name","label","help","on"} or the limit {"name","label","help","unit","value","setBy"}')
    .action(async (name: string, onOff: string, options: DataOptions & { json?: boolean }) => {
      const limit = findMailLimit(name);
      if (limit) {
        const row = await viaServerOrHere({ data: options.data }, 'settings.limit', { name, value: parseLimit(limit, onOff) });
        if (options.json) return printJson(row);
        const value = row.unit === 'bytes' ? formatSize(row.value) : String(row.value);
        process.stdout.write(row.setBy ? `${row.name}: saved, but ${row.setBy} in the environment sets it (${value}); change it there.\n` : `${row.name}: ${value} (${row.label}); restart Sealpost to apply it (sealpost restart).\n`);
        return;
      }
      const row = await viaServerOrHere({ data: options.data }, 'settings.set', { name, on: parseOnOff(onOff, `The value of ${name.slice(0, 40)}`) });
      if (options.json) return printJson(row);
      process.stdout.write(`${row.name}: ${row.on ? 'on' : 'off'} (${row.label})\n`);
    });

  return settings;
}

export function restartCommand(): Command {
  return withDataOption(new Command('restart').description('restart the running server in place with the saved settings (new ports, names, certificate)'))
    .option('--json', 'print {"listeners":[{"name","host","port"}]}')
    .action(async (options: DataOptions & { json?: boolean }) => {
      const result = await viaServerOrHere({ data: options.data }, 'server.restart', {});
      if (options.json) return printJson(result);
      process.stdout.write('Sealpost is restarting with the saved settings.\n');
      for (const l of result.listeners) process.stdout.write(`${l.name} on ${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}\n`);
    });
}
