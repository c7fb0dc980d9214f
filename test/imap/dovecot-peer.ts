// A throw-away loopback Dovecot 2.3 (plain Maildir, passwd-file users) to replay the conversation scripts
// against a reference server: it checks the scripts themselves, not Sealpost. Dev tool only, never in `npm test`.
// Recipe: /work/shared/TESTING-NOTES.md §2 (reduced to IMAP, no TLS, users added live to the passwd file).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RawImap } from '../helpers/imap-raw.js';
import { freePorts } from '../helpers/ports.js';
import type { DeliverOptions, ScriptPeer, ScriptUser } from './script-runner.js';

/** True when the dovecot binary is on PATH. */
export function dovecotAvailable(): boolean {
  return spawnSync('dovecot', ['--version'], { encoding: 'utf8' }).status === 0;
}

function run(command: string, args: string[]): void {
  // The dovecot master daemonises: its output must not be a pipe spawnSync waits on.
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
}

/** Starts a Dovecot instance in a fresh temp dir; close() stops it and removes the dir. */
export async function startDovecotPeer(): Promise<ScriptPeer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dovecot-peer-'));
  const [port] = (await freePorts(1)) as [number];
  // Dovecot drops privileges for mail access; the system user must exist (root only creates it once).
  if (spawnSync('id', ['vmail']).status !== 0) {
    run('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', 'vmail']);
  }
  for (const sub of ['run', 'state', 'mail']) fs.mkdirSync(path.join(dir, sub));
  fs.chmodSync(dir, 0o755);
  run('chown', ['vmail:vmail', path.join(dir, 'mail')]);
  const users = path.join(dir, 'users');
  // Dovecot re-reads the passwd file by its mtime, which misses changes within one second: write every
  // account up front and hand them out in order.
  const ACCOUNTS = 3000;
  fs.writeFileSync(users, Array.from({ length: ACCOUNTS }, (_, n) => `u${n + 1}@example.test:{PLAIN}pw-${n + 1}::::::\n`).join(''));
  const conf = path.join(dir, 'dovecot.conf');
  fs.writeFileSync(
    conf,
    `instance_name = script-peer-${port}
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 100
mail_location = maildir:${dir}/mail/%u/Maildir
mail_max_userip_connections = 1000
mailbox_list_index = yes
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Trash {
    special_use = \\Trash
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${users}
}
userdb {
  driver = passwd-file
  args = username_format=%u ${users}
  default_fields = uid=vmail gid=vmail home=${dir}/mail/%u
}
service imap-login {
  inet_listener imap {
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
`,
  );
  const started = spawnSync('dovecot', ['-c', conf], { stdio: 'ignore' });
  if (started.status !== 0) throw new Error(`dovecot did not start (see ${dir}/dovecot.log)`);
  // The master forks the login listener: wait until it answers.
  for (let i = 0; ; i++) {
    try {
      const probe = await RawImap.connect(port);
      probe.close();
      break;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  let counter = 0;
  return {
    name: 'dovecot',
    host: '127.0.0.1',
    port,
    async addUser(local: string): Promise<ScriptUser> {
      void local;
      if (++counter > ACCOUNTS) throw new Error('the Dovecot peer ran out of accounts');
      return { login: `u${counter}@example.test`, password: `pw-${counter}` };
    },
    async deliver(user: ScriptUser, folder: string, raw: Buffer, options: DeliverOptions): Promise<void> {
      // Delivered by another IMAP connection: to the script's sessions it is a change made elsewhere.
      const client = await RawImap.connect(port);
      try {
        const login = await client.command(`LOGIN "${user.login}" "${user.password}"`);
        if (!login.tagged.includes(' OK')) throw new Error(`peer login failed: ${login.tagged}`);
        const flags = options.flags?.length ? ` (${options.flags.join(' ')})` : '';
        const date = options.internalDate ? ` "${imapDate(options.internalDate)}"` : '';
        const quoted = `"${folder.replace(/(["\\])/g, '\\$1')}"`;
        const reply = await client.commandWithLiteral(`APPEND ${quoted}${flags}${date}`, raw);
        if (!reply.tagged.includes(' OK')) throw new Error(`peer APPEND failed: ${reply.tagged}`);
        await client.command('LOGOUT');
      } finally {
        client.close();
      }
    },
    async createFolder(user: ScriptUser, folder: string): Promise<void> {
      const client = await RawImap.connect(port);
      try {
        await client.command(`LOGIN "${user.login}" "${user.password}"`);
        const reply = await client.command(`CREATE "${folder}"`);
        if (!reply.tagged.includes(' OK')) throw new Error(`peer CREATE failed: ${reply.tagged}`);
        await client.command('LOGOUT');
      } finally {
        client.close();
      }
    },
    async close(): Promise<void> {
      spawnSync('doveadm', ['-c', conf, 'stop']);
      const pidFile = path.join(dir, 'run', 'master.pid');
      for (let i = 0; i < 100 && fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
      if (process.env.KEEP_PEER_DIR) console.error(`peer dir kept: ${dir}`);
      else fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3501 date-time in UTC: "06-Dec-2026 07:21:20 +0000". */
export function imapDate(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}-${MONTHS[date.getUTCMonth()]}-${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}
