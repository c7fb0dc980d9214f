// Mailbox commands driven by real clients against our own engine: mbsync (isync) creating a local folder tree on
// the server and pulling a server-made tree back (LIST, CREATE), and Python imaplib managing
// folders and subscriptions (CREATE, RENAME, DELETE, SUBSCRIBE, LSUB).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../helpers/run.js';
import { writeMbsyncRc } from '../helpers/mbsync.js';
import { message, startMailboxesFixture, type MailboxesFixture } from './mailboxes-fixture.js';

let mf: MailboxesFixture;
let work: string;
const hasMbsync = fs.existsSync('/usr/bin/mbsync');

before(async () => {
  mf = await startMailboxesFixture();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-'));
});
after(async () => {
  fs.rmSync(work, { recursive: true, force: true });
  await mf.close();
});

function mbsyncrc(dir: string, address: string, password: string, channel: string[]): string {
  return writeMbsyncRc(mf.fx, dir, { address, password }, channel);
}

/** A Maildir folder with one message in new/. */
function maildirFolder(root: string, name: string, body: Buffer): void {
  for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(root, name, sub), { recursive: true });
  fs.writeFileSync(path.join(root, name, 'new', `1.${name.replace(/\W/g, '')}.host`), body);
}

describe('real clients manage folders (RFC 3501 §6.3.3–§6.3.9)', () => {
  it('mbsync pushes a local folder tree (CREATE, LIST) and pulls a server-made one (mbsync 1.4 names are ASCII: it sends no modified UTF-7)', { skip: !hasMbsync && 'mbsync not installed' }, async () => {
    const { address, password, mailbox } = await mf.user();
    const push = path.join(work, 'push');
    const rc = mbsyncrc(push, address, password, ['Patterns INBOX Projects* Reisen*', 'Create Far', 'Expunge None', 'Sync Push']);
    const local = path.join(push, 'Maildir');
    maildirFolder(local, 'INBOX', message('inbox'));
    maildirFolder(local, 'Projects', message('projects'));
    maildirFolder(local, 'Projects/Alpha', message('alpha'));
    maildirFolder(local, 'Reisen/Koeln', message('koeln'));
    const pushed = await run('mbsync', ['-c', rc, '-a'], { timeoutMs: 120_000 });
    assert.equal(pushed.status, 0, pushed.stderr.toString());
    const folders = mailbox.listFolders().map((f) => f.path);
    for (const name of ['Projects', 'Projects/Alpha', 'Reisen', 'Reisen/Koeln']) assert.ok(folders.includes(name), `${name} in ${folders.join(',')}`);
    assert.equal(mailbox.status('Projects/Alpha').messages, 1);
    assert.equal(mailbox.status('Reisen/Koeln').messages, 1);

    mailbox.createFolder('Server/Made/Deep');
    await mailbox.append('Server/Made/Deep', message('deep'));
    const pull = path.join(work, 'pull');
    const rc2 = mbsyncrc(pull, address, password, ['Patterns *', 'Create Near', 'Expunge None', 'Sync Pull']);
    const pulled = await run('mbsync', ['-c', rc2, '-a'], { timeoutMs: 120_000 });
    assert.equal(pulled.status, 0, pulled.stderr.toString());
    for (const name of ['Server/Made/Deep', 'Reisen/Koeln', 'Projects/Alpha', 'Sent']) {
      assert.ok(fs.existsSync(path.join(pull, 'Maildir', name, 'cur')), name);
    }
    assert.equal(fs.readdirSync(path.join(pull, 'Maildir', 'Server/Made/Deep', 'new')).length + fs.readdirSync(path.join(pull, 'Maildir', 'Server/Made/Deep', 'cur')).length, 1);
  });

  it('Python imaplib: CREATE does not subscribe, SUBSCRIBE/LSUB, RENAME, DELETE with a \\Noselect parent', async () => {
    const { address, password } = await mf.user();
    const script = String.raw`
import imaplib, sys
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1])); M.login(sys.argv[2], sys.argv[3])
def names(data): return sorted(d.decode().rsplit(' ', 1)[1].strip('"') for d in data if d)
print(M.create('Py/Child')[0])
print(names(M.lsub('""', 'Py*')[1]))
print(M.subscribe('Py/Child')[0])
print(M.lsub('""', '%')[1])
print(M.rename('Py', 'Snake')[0])
print(names(M.list('""', 'Snake*')[1]))
print(M.delete('Snake')[0])
print([d.decode() for d in M.list('""', 'Snake*')[1]])
print(M.delete('INBOX')[0])
M.logout()
`;
    const py = await run('python3', ['-c', script, String(mf.port), address, password]);
    assert.equal(py.status, 0, py.stderr.toString());
    const out = py.stdout.toString().trim().split('\n');
    assert.deepEqual(out.slice(0, 3), ['OK', '[]', 'OK']);
    assert.match(out[3] ?? '', /b'\(\\\\Noselect\) "\/" "Py"'/);
    assert.deepEqual(out.slice(4, 7), ['OK', "['Snake', 'Snake/Child']", 'OK']);
    assert.equal(out[7], `['(\\\\Noselect \\\\HasChildren) "/" "Snake"', '(\\\\HasNoChildren) "/" "Snake/Child"']`);
    assert.equal(out[8], 'NO');
  });
});
