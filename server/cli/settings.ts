// sealpost settings show|set, sealpost restart: the owner's mail switches (server/config/mail-options.ts) and
// restarting a running server. Changes run in the server when one is running on the data dir, else here.
import { Command } from 'commander';
import { viaServerOrHere } from './via-server.js';
import { parseOnOff, printJson, withDataOption, type DataOptions } from './common.js';

export function settingsCommand(): Command {
  const settings = new Command('settings').description('show or change the mail switches (the same as on the Settings page of the admin UI)');

  withDataOption(settings.command('show').description('list every switch: its name, whether it is on, and what it does'))
    .option('--json', 'print [{"name","label","help","on"}]')
    .action(async (options: DataOptions & { json?: boolean }) => {
      const { settings: rows } = await viaServerOrHere({ data: options.data }, 'settings.list', {});
      if (options.json) return printJson(rows);
      for (const row of rows) process.stdout.write(`${row.name}\t${row.on ? 'on' : 'off'}\t${row.label}\n  ${row.help}\n`);
    });

  withDataOption(
    settings
      .command('set')
      .argument('<name>', 'the switch, as "sealpost settings show" names it')
      .argument('<on|off>', 'its new value')
      .description('turn a switch on or off (applies at once, no restart)'),
  )
    .option('--json', 'print {"name","label","help","on"}')
    .action(async (name: string, onOff: string, options: DataOptions & { json?: boolean }) => {
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
