// Where Sealpost keeps its files. Nothing here is named after an address: mailboxes and queues are <uuid>.sqlite.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface DataLayout {
  readonly root: string;
  /** The directory database (domains, aliases, settings, audit), encrypted with the app key. */
  readonly directoryDb: string;
  readonly mailboxesDir: string;
  readonly queueDir: string;
  readonly outboundDb: string;
  readonly backupsDir: string;
  readonly tlsDir: string;
  mailboxFile(mailboxId: string): string;
  queueFile(mailboxId: string): string;
}

/** The OS user-data directory for "sealpost" (XDG on Linux, Application Support on macOS, %APPDATA% on Windows). */
export function defaultDataDir(
  env: Readonly<Record<string, string | undefined>> = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = os.homedir(),
): string {
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'sealpost');
  if (platform === 'win32') return path.join(env.APPDATA || path.join(home, 'AppData', 'Roaming'), 'sealpost');
  const xdg = env.XDG_DATA_HOME;
  // XDG says a relative XDG_DATA_HOME is invalid and must be ignored.
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.local', 'share'), 'sealpost');
}

export function dataLayout(root: string): DataLayout {
  const abs = path.resolve(root);
  const mailboxesDir = path.join(abs, 'mailboxes');
  const queueDir = path.join(abs, 'queue');
  return {
    root: abs,
    directoryDb: path.join(abs, 'sealpost.db'),
    mailboxesDir,
    queueDir,
    outboundDb: path.join(abs, 'outbound.sqlite'),
    backupsDir: path.join(abs, 'backups'),
    tlsDir: path.join(abs, 'tls'),
    mailboxFile: (id) => path.join(mailboxesDir, `${id}.sqlite`),
    queueFile: (id) => path.join(queueDir, `${id}.sqlite`),
  };
}

/**
 * Creates the data dir and its sub-directories, each 0700. Sub-directories are ours and are tightened to
 * 0700 when an older version left them looser; an existing data dir itself keeps its mode (the owner may
 * have chosen it; doctor reports it).
 */
export function ensureDataDir(layout: DataLayout): void {
  for (const dir of [layout.root, layout.mailboxesDir, layout.queueDir, layout.backupsDir, layout.tlsDir]) {
    const existed = fs.existsSync(dir);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is filtered by the umask; set it explicitly on what we created.
    if (!existed || (dir !== layout.root && (fs.statSync(dir).mode & 0o077) !== 0)) fs.chmodSync(dir, 0o700);
  }
}
