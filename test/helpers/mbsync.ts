// An mbsync (isync) configuration for one alias of a test server: IMAPS with our certificate, a Maildir under
// `dir`, and one channel with the given lines (Patterns, Create, Expunge, Sync …).
import fs from 'node:fs';
import path from 'node:path';
import type { ImapFixture } from './imap-server.js';

/** Writes `dir/mbsyncrc` (0600) and creates `dir/Maildir`; returns the config file's path. */
export function writeMbsyncRc(fx: ImapFixture, dir: string, login: { address: string; password: string }, channel: readonly string[]): string {
  const local = path.join(dir, 'Maildir');
  fs.mkdirSync(local, { recursive: true });
  const rc = path.join(dir, 'mbsyncrc');
  fs.writeFileSync(
    rc,
    [
      'IMAPAccount sp', 'Host 127.0.0.1', `Port ${fx.securePort}`, `User ${login.address}`, `Pass "${login.password}"`, 'SSLType IMAPS',
      `CertificateFile ${fx.tls.certPath}`, '',
      'IMAPStore sp-remote', 'Account sp', '',
      'MaildirStore sp-local', `Path ${local}/`, `Inbox ${local}/INBOX`, 'SubFolders Verbatim', '',
      'Channel sp', 'Far :sp-remote:', 'Near :sp-local:', 'SyncState *', ...channel, '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return rc;
}
