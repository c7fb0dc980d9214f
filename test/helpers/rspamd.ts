// A real rspamd (Debian's package) for tests: one "normal" worker (the /checkv2 scanner) on a free loopback port,
// run in the foreground as a child process with its own config, run and db directories under a temp dir. The
// stock /etc/rspamd/common.conf is included (the real rules; GTUBE is answered "reject"); no controller, proxy or
// fuzzy worker, DNS goes to a closed loopback port (answers fail at once, no network), hyperscan is off and the
// public-suffix list is cut to a few names so start-up is seconds, not a minute of pattern compiling.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export interface Rspamd {
  /** The base URL, e.g. http://127.0.0.1:40123 (SEALPOST_RSPAMD_URL). */
  readonly url: string;
  /** rspamd's output so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

const STOCK = '/etc/rspamd';

/** Why rspamd cannot run here (binary or stock config missing), or null. */
export function rspamdMissing(): string | null {
  const version = spawnSync('rspamd', ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) return 'the rspamd binary is not installed (apt-get install rspamd; it is in .ci/apt-packages.txt)';
  if (!fs.existsSync(path.join(STOCK, 'common.conf'))) return `${STOCK}/common.conf is missing (the rspamd package's stock rules)`;
  return null;
}

function ping(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(`${url}/ping`, { agent: false, timeout: 1000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 200));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

export async function startRspamd(dir: string): Promise<Rspamd> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  for (const sub of ['run', 'db', 'log', 'local.d']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const tld = path.join(dir, 'tld.dat');
  fs.writeFileSync(tld, 'com\norg\nnet\nexample\ntest\n');
  // The stock options with the short suffix list (the stock one takes most of start-up to compile).
  const options = fs.readFileSync(path.join(STOCK, 'options.inc'), 'utf8').replace(/^\s*url_tld\s*=.*$/m, `url_tld = "${tld}";`);
  fs.writeFileSync(path.join(dir, 'options.inc'), options);
  const configFile = path.join(dir, 'rspamd.conf');
  fs.writeFileSync(
    configFile,
    [
      '.include "$CONFDIR/common.conf"',
      'options {',
      '  pidfile = "$RUNDIR/rspamd.pid";',
      `  .include "${path.join(dir, 'options.inc')}"`,
      '  disable_hyperscan = true;',
      '  dns { nameserver = ["127.0.0.1:1"]; timeout = 0.2s; retransmits = 1; }',
      '}',
      'logging { type = "console"; level = "error"; }',
      'worker "normal" {',
      `  bind_socket = "127.0.0.1:${port}";`,
      '  .include "$CONFDIR/worker-normal.inc"',
      '  count = 1;',
      '}',
      '',
    ].join('\n'),
  );
  const user = os.userInfo();
  const asRoot = user.uid === 0 ? ['-i', '-u', user.username, '-g', spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim()] : [];
  const vars = { CONFDIR: STOCK, LOCAL_CONFDIR: dir, RUNDIR: path.join(dir, 'run'), DBDIR: path.join(dir, 'db'), LOGDIR: path.join(dir, 'log') };
  const args = ['-f', ...asRoot, '-c', configFile, ...Object.entries(vars).map(([k, v]) => `--var=${k}=${v}`)];
  let output = '';
  const child: ChildProcess = spawn('rspamd', args, { cwd: dir, env: { PATH: process.env.PATH, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    // SIGTERM to the main process: it stops its workers and exits.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  // Start-up loads the stock rules (a few seconds, longer on a busy machine).
  for (let i = 0; i < 1200; i++) {
    if (child.exitCode !== null) throw new Error(`rspamd exited: ${output}`);
    if (await ping(url)) return { url, output: () => output, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`rspamd did not answer on ${url}: ${output}`);
}
