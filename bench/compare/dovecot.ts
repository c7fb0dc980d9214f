// A throw-away Dovecot 2.3 on loopback for the side-by-side benchmark: its own base/state/log dirs in a
// temp dir, a passwd-file with benchmark users, IMAP + POP3 + LMTP listeners, plain Maildir or Maildir
// with the mail_crypt plugin (per-user EC key encrypted with the login password, per-folder keys,
// AES-256-GCM per message file: the closest peer to Sealpost's design). Installs Dovecot from Debian
// when it is missing.
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PACKAGES = ['dovecot-core', 'dovecot-imapd', 'dovecot-pop3d', 'dovecot-lmtpd'];

export interface DovecotPorts {
  readonly imap: number;
  readonly pop3: number;
  readonly lmtp: number;
}

export interface DovecotInstance {
  readonly name: string;
  readonly dir: string;
  readonly ports: DovecotPorts;
  readonly crypt: boolean;
  readonly masterPid: number;
  readonly configFile: string;
  stop(): Promise<void>;
}

function have(binary: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Installs the Debian packages when `dovecot` or a protocol module is missing (needs root). */
export async function ensureDovecot(log: (line: string) => void): Promise<string> {
  const modules = ['/usr/lib/dovecot/imap', '/usr/lib/dovecot/pop3', '/usr/lib/dovecot/lmtp', '/usr/lib/dovecot/modules/lib10_mail_crypt_plugin.so'];
  if (!have('dovecot') || modules.some((m) => !fs.existsSync(m))) {
    if (process.getuid?.() !== 0) throw new Error(`Dovecot is not installed and this is not root: apt-get install ${PACKAGES.join(' ')}`);
    log(`installing ${PACKAGES.join(' ')} from Debian...`);
    const install = ['apt-get', 'install', '-y', '--no-install-recommends', ...PACKAGES];
    try {
      await run(install[0], install.slice(1), { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 * 1024 * 1024 });
    } catch {
      // A fresh machine may have no package lists yet.
      await run('apt-get', ['update'], { maxBuffer: 64 * 1024 * 1024 });
      await run(install[0], install.slice(1), { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 * 1024 * 1024 });
    }
  }
  const { stdout } = await run('dovecot', ['--version']);
  return stdout.trim();
}

function ensureMailUser(): void {
  try {
    execFileSync('id', ['vmail'], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', 'vmail']);
  }
}

function config(dir: string, name: string, ports: DovecotPorts, crypt: boolean): string {
  const lines = [
    `instance_name = ${name}`,
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `log_path = ${dir}/dovecot.log`,
    'protocols = imap pop3 lmtp',
    'listen = 127.0.0.1',
    'ssl = no',
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login',
    'first_valid_uid = 100',
    `mail_location = maildir:${dir}/mail/%u/Maildir`,
    'mail_max_userip_connections = 2000',
    'default_process_limit = 2000',
    'default_client_limit = 4000',
    'namespace inbox {',
    '  inbox = yes',
    '  separator = /',
    '}',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${dir}/users`,
    // The login password unlocks the user's mail_crypt private key (ignored without mail_crypt).
    '  override_fields = userdb_mail_crypt_private_password=%w',
    '}',
    'userdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${dir}/users`,
    `  default_fields = uid=vmail gid=vmail home=${dir}/mail/%u`,
    '}',
    // Dovecot's documented high-performance model: long-lived login processes, reused mail processes.
    'service imap-login {',
    '  service_count = 0',
    '  process_min_avail = 2',
    `  inet_listener imap {\n    port = ${ports.imap}\n  }`,
    '  inet_listener imaps {\n    port = 0\n  }',
    '}',
    'service pop3-login {',
    '  service_count = 0',
    '  process_min_avail = 2',
    `  inet_listener pop3 {\n    port = ${ports.pop3}\n  }`,
    '  inet_listener pop3s {\n    port = 0\n  }',
    '}',
    'service imap {\n  service_count = 100\n  process_min_avail = 2\n  process_limit = 2000\n}',
    'service pop3 {\n  service_count = 100\n  process_min_avail = 2\n}',
    `service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = ${ports.lmtp}\n  }\n}`,
    'service auth {\n  client_limit = 8192\n}',
    'service anvil {\n  client_limit = 8192\n}',
    'protocol lmtp {\n  auth_username_format = %Ln\n}',
  ];
  if (crypt) {
    lines.push(
      'mail_plugins = $mail_plugins mail_crypt',
      'mail_attribute_dict = file:%h/Maildir/dovecot-attributes',
      'plugin {',
      '  mail_crypt_curve = prime256v1',
      '  mail_crypt_save_version = 2',
      '  mail_crypt_require_encrypted_user_key = yes',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Starts an instance in `dir` with `users` (name → password). With crypt, each user's key pair is
 * generated up front with doveadm: LMTP delivery to a user without one fails (it has no password to
 * protect a new key), which is the same reason Sealpost seals mail for a locked mailbox to a public key.
 */
export async function startDovecot(options: { dir: string; name: string; ports: DovecotPorts; crypt: boolean; users: ReadonlyMap<string, string> }): Promise<DovecotInstance> {
  const { dir, name, ports, crypt, users } = options;
  ensureMailUser();
  for (const sub of ['run', 'state', 'mail']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.chmodSync(dir, 0o755);
  execFileSync('chown', ['vmail:vmail', path.join(dir, 'mail')]);
  fs.writeFileSync(path.join(dir, 'users'), [...users].map(([user, pw]) => `${user}:{PLAIN}${pw}::::::`).join('\n') + '\n', { mode: 0o644 });
  const configFile = path.join(dir, 'dovecot.conf');
  fs.writeFileSync(configFile, config(dir, name, ports, crypt));
  // The master daemonizes; its children keep any inherited pipe open, so no pipes (errors go to the log).
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('dovecot', ['-c', configFile], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const pidFile = path.join(dir, 'run', 'master.pid');
  if (code !== 0) throw new Error(`dovecot ${name} exited with ${code}; see ${dir}/dovecot.log`);
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(pidFile)) {
    if (Date.now() > deadline) throw new Error(`dovecot ${name} did not start; see ${dir}/dovecot.log`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const masterPid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  const instance: DovecotInstance = {
    name,
    dir,
    ports,
    crypt,
    masterPid,
    configFile,
    async stop() {
      try {
        process.kill(masterPid, 'SIGTERM');
      } catch {
        return;
      }
      const end = Date.now() + 10_000;
      while (Date.now() < end) {
        try {
          process.kill(masterPid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      try {
        process.kill(masterPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
  if (crypt) {
    try {
      for (const [user, pw] of users) {
        await run('doveadm', ['-c', configFile, '-o', `plugin/mail_crypt_private_password=${pw}`, 'mailbox', 'cryptokey', 'generate', '-u', user, '-U']);
      }
    } catch (error) {
      await instance.stop();
      throw error;
    }
  }
  return instance;
}

/** Process ids of the master's children whose name is `comm` (e.g. "imap"); null = all children. */
export function childPids(masterPid: number, comm: string | null): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
      const name = /^Name:\s*(\S+)/m.exec(status)?.[1];
      const ppid = Number(/^PPid:\s*(\d+)/m.exec(status)?.[1]);
      if (ppid === masterPid && (comm === null || name === comm)) pids.push(Number(entry));
    } catch {
      /* exited */
    }
  }
  return pids;
}
