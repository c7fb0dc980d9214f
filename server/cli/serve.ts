// sealpost serve: run every service until SIGINT/SIGTERM.
import { Command, Option } from 'commander';
import { LISTENER_NAMES, PORT_SOURCES, type ConfigFlags } from '../config/index.js';
import { formatListener } from '../context.js';
import { withDataOption } from './common.js';

export function serveCommand(): Command {
  const serve = withDataOption(new Command('serve').description('run the mail appliance (MX, submission, IMAP, POP3, admin) until stopped'))
    .option('--host <address>', 'address every listener binds to (SEALPOST_HOST, default 127.0.0.1)')
    .option('--hostname <name>', 'host name for greetings and the certificate (SEALPOST_HOSTNAME, default: this machine\'s name)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (SEALPOST_LOG_LEVEL, default info)')
    .option('--tls-cert <file>', 'your own PEM certificate (SEALPOST_TLS_CERT; default: self-signed in <data>/tls)')
    .option('--tls-key <file>', 'its PEM private key (SEALPOST_TLS_KEY)');
  for (const name of LISTENER_NAMES) {
    const source = PORT_SOURCES[name];
    serve.addOption(new Option(`${source.flag} <port>`, `${name} port, 0 disables (${source.env})`));
  }
  serve.action(async (options: ConfigFlags) => {
    const { startApp } = await import('../app.js'); // not loaded by the other commands (CLI start-up)
    const app = await startApp({ env: process.env, flags: options });
    // Signal handlers go in BEFORE the listener lines: a supervisor (the desktop shell) treats those lines as
    // "ready" and may send SIGTERM at once; without a handler that signal would kill us uncleanly.
    const stopped = new Promise<void>((resolve) => {
      let signalled = false;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (signalled) {
          app.ctx.logger.warn({ event: 'app.forced_exit', signal }, 'second signal: exiting without waiting');
          process.exit(1);
        }
        signalled = true;
        app.ctx.logger.info({ event: 'app.stopping', signal }, 'stopping');
        app
          .stop()
          .catch((error: unknown) => app.ctx.logger.error({ err: error }, 'stop failed'))
          .finally(() => resolve());
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    for (const listener of app.listeners) process.stdout.write(`${formatListener(listener)}\n`);
    await stopped;
  });
  return serve;
}
