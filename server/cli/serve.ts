// sealpost serve: run every service until SIGINT/SIGTERM. "Restart Sealpost now" (server/ops/settings.ts)
// stops every service the way SIGTERM does and starts them again in this same process with the saved
// settings read again: the same pid, so systemd, the desktop shell and a plain `npm start` all keep it.
import { Command, Option } from 'commander';
import { LISTENER_NAMES, PORT_SOURCES, loadConfig, type ConfigFlags } from '../config/index.js';
import { formatListener } from '../context.js';
import type { RestartPort } from '../ports.js';
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
    type Wake = 'signal' | 'restart';
    /** Wakes the loop below: a signal stops, the restart operation restarts. */
    const waker: { wake: ((why: Wake) => void) | null } = { wake: null };
    let signalled = false;
    let running: Awaited<ReturnType<typeof startApp>> | null = null;
    // Signal handlers go in BEFORE the listener lines: a supervisor (the desktop shell) treats those lines as
    // "ready" and may send SIGTERM at once; without a handler that signal would kill us uncleanly.
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        running?.ctx.logger.warn({ event: 'app.forced_exit', signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      signalled = true;
      running?.ctx.logger.info({ event: 'app.stopping', signal }, 'stopping');
      waker.wake?.('signal');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const restart: RestartPort = {
      nextConfig: () => loadConfig({ env: process.env, flags: options, settings: running?.ctx.directory.getSettings() ?? {} }),
      // After the current turn of the event loop, so the admin request that asked is answered first.
      restart: () => void setImmediate(() => waker.wake?.('restart')),
      kept: new Map(),
    };
    for (;;) {
      const app = await startApp({ env: process.env, flags: options }, { restart });
      running = app;
      const woken = new Promise<Wake>((resolve) => {
        waker.wake = resolve;
      });
      if (signalled) waker.wake?.('signal'); // a signal during start-up
      for (const listener of app.listeners) process.stdout.write(`${formatListener(listener)}\n`);
      const why = await woken;
      waker.wake = null;
      if (why === 'restart' && !signalled) {
        app.ctx.logger.info({ event: 'app.restarting' }, 'restarting with the saved settings');
        // For a supervisor reading these lines (the desktop shell): the listener lines that follow are the new ones.
        process.stdout.write('sealpost restarting\n');
      }
      await app.stop().catch((error: unknown) => app.ctx.logger.error({ err: error }, 'stop failed'));
      if (why === 'signal' || signalled) return;
    }
  });
  return serve;
}
