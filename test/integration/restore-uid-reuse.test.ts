// A restore never makes a UID or a UIDL name another message than the one a client saw under it.
// The real `serve` (child process), mail over SMTP, views through imapflow and Python poplib, backups and
// restores through the real CLI: into the running server (control socket) and with the server stopped.
// Every view is checked against a ledger of everything any client was ever shown.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { createInstance, smtpTransport, tinyMessage, until, RELIABILITY_DOMAIN, type Instance } from '../helpers/reliability-harness.js';
import { Secrets, privacyLeaks } from '../helpers/reliability-privacy.js';

const run = promisify(execFile);
const ALICE = `alice@${RELIABILITY_DOMAIN}`;

interface FolderView {
  readonly uidValidity: string;
  readonly uidNext: number;
  /** uid → Message-ID, ascending uid. */
  readonly messages: ReadonlyMap<number, string>;
}

/** What an IMAP client caches per folder: UIDVALIDITY, UIDNEXT and uid → Message-ID. */
async function imapView(port: number, password: string, folders: readonly string[]): Promise<Map<string, FolderView>> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user: ALICE, pass: password }, logger: false });
  await client.connect();
  const out = new Map<string, FolderView>();
  try {
    for (const folder of folders) {
      const mailbox = await client.mailboxOpen(folder, { readOnly: true });
      const messages = new Map<number, string>();
      if (mailbox.exists > 0) for await (const m of client.fetch('1:*', { uid: true, envelope: true })) messages.set(m.uid, m.envelope?.messageId ?? '');
      out.set(folder, { uidValidity: String(mailbox.uidValidity), uidNext: Number(mailbox.uidNext), messages });
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
  return out;
}

/** What a POP3 client keeps: UIDL → Message-ID (Python poplib, TOP n 0 for the header). */
async function popView(port: number, password: string): Promise<Map<string, string>> {
  const script = `
import poplib, json, re, sys
p = poplib.POP3("127.0.0.1", ${port}, timeout=30); p.user(sys.argv[1]); p.pass_(sys.argv[2])
out = []
for line in p.uidl()[1]:
    n, uidl = line.decode().split(" ", 1)
    head = b"\\r\\n".join(p.top(int(n), 0)[1]).decode("latin1")
    m = re.search(r"^Message-ID:\\s*(<[^>]+>)", head, re.I | re.M)
    out.append([uidl, m.group(1) if m else ""])
p.quit()
print(json.dumps(out))
`;
  const { stdout } = await run('python3', ['-c', script, ALICE, password], { encoding: 'utf8', timeout: 60_000 });
  return new Map(JSON.parse(stdout) as [string, string][]);
}

/** Everything clients were ever shown, and the checks a caching client relies on. */
class Ledger {
  /** "folder uidvalidity uid" → Message-ID */
  readonly imap = new Map<string, string>();
  /** folder → the last view of it, as a client caches it. */
  readonly cached = new Map<string, FolderView>();
  readonly uidls = new Map<string, string>();
  readonly uidValidities = new Set<string>();

  /** RFC 3501 §2.3.1.1 for a client holding the previous view: no (UIDVALIDITY, UID) names another message; new UIDs only above its UIDNEXT. */
  recordImap(views: Map<string, FolderView>): void {
    for (const [folder, view] of views) {
      const cache = this.cached.get(folder);
      for (const [uid, messageId] of view.messages) {
        const key = `${folder} ${view.uidValidity} ${uid}`;
        const seen = this.imap.get(key);
        if (seen !== undefined) assert.equal(messageId, seen, `${folder} UIDVALIDITY ${view.uidValidity} UID ${uid} named ${seen}, now names ${messageId}`);
        else if (cache && cache.uidValidity === view.uidValidity) {
          assert.ok(uid >= cache.uidNext, `${folder}: UID ${uid} appeared below the UIDNEXT ${cache.uidNext} the client had under the same UIDVALIDITY`);
        }
        this.imap.set(key, messageId);
      }
      if (cache && cache.uidValidity === view.uidValidity) assert.ok(view.uidNext >= cache.uidNext, `${folder}: UIDNEXT went back from ${cache.uidNext} to ${view.uidNext}`);
      this.cached.set(folder, view);
      this.uidValidities.add(`${folder} ${view.uidValidity}`);
    }
  }

  /** RFC 1939 §7: a UIDL, once shown, never names another message. */
  recordPop(view: Map<string, string>): void {
    for (const [uidl, messageId] of view) {
      const seen = this.uidls.get(uidl);
      if (seen !== undefined) assert.equal(messageId, seen, `UIDL ${uidl} named ${seen}, now names ${messageId}`);
      this.uidls.set(uidl, messageId);
    }
    assert.equal(new Set(view.keys()).size, view.size, 'UIDLs in one listing are distinct');
  }
}

describe('restore never reuses a UID or a UIDL', () => {
  let instance: Instance;
  let password: string;
  const secrets = new Secrets();
  const ledger = new Ledger();
  const FOLDERS = ['INBOX', 'Archive', 'Projects'];
  const sent = new Map<string, string>(); // label → Message-ID
  let generation = '';

  const deliver = async (...labels: string[]): Promise<void> => {
    const transport = smtpTransport(instance.ports.smtp);
    try {
      for (const label of labels) {
        const m = tinyMessage(ALICE, label);
        secrets.add(m.token, m.subject);
        await transport.sendMail({ envelope: { from: 'sender@sender.rel.test', to: [ALICE] }, raw: m.raw });
        sent.set(label, m.messageId);
      }
    } finally {
      transport.close();
    }
  };
  const ids = (...labels: string[]): string[] => labels.map((l) => sent.get(l)!);
  /** Views through both clients, checked against the ledger; returns the IMAP view. */
  const look = async (): Promise<Map<string, FolderView>> => {
    const view = await imapView(instance.ports.imap, password, FOLDERS);
    ledger.recordImap(view);
    ledger.recordPop(await popView(instance.ports.pop3, password));
    return view;
  };
  const inboxIds = async (): Promise<string[]> => [...(await imapView(instance.ports.imap, password, ['INBOX'])).get('INBOX')!.messages.values()];
  const withImap = async (fn: (client: ImapFlow) => Promise<void>): Promise<void> => {
    const client = new ImapFlow({ host: '127.0.0.1', port: instance.ports.imap, secure: false, doSTARTTLS: false, auth: { user: ALICE, pass: password }, logger: false });
    await client.connect();
    try {
      await fn(client);
    } finally {
      await client.logout().catch(() => client.close());
    }
  };
  const expunge = (folder: string, ...labels: string[]): Promise<void> =>
    withImap(async (client) => {
      await client.mailboxOpen(folder);
      const wanted = new Set(ids(...labels));
      const uids: number[] = [];
      for await (const m of client.fetch('1:*', { uid: true, envelope: true })) if (wanted.has(m.envelope?.messageId ?? '')) uids.push(m.uid);
      assert.equal(uids.length, wanted.size, `found ${labels.join(', ')} in ${folder}`);
      await client.messageDelete(uids.join(','), { uid: true });
    });
  const cli = async (args: string[], stdin?: string): Promise<string> => {
    const result = await instance.cli(args, stdin);
    assert.equal(result.code, 0, `sealpost ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    instance = await createInstance({ aliases: [ALICE] });
    password = instance.passwords.get(ALICE)!;
    secrets.add(password);
    await instance.start();
  });

  after(async () => {
    await instance?.stop('SIGTERM');
    if (instance) assert.deepEqual(privacyLeaks([instance.dir], instance.logs, secrets), [], "no subject, token or password on disk or in the logs");
    await instance?.cleanup();
  });

  test('setup: mail in INBOX, Archive and Projects, seen by both clients, then a backup generation', async () => {
    await deliver('m1', 'm2', 'm3', 'm4', 'm5');
    await until('the first IMAP login drains the sealed queue', async () => (await inboxIds()).length === 5);
    await withImap(async (client) => {
      await client.mailboxCreate('Projects');
      for (const [folder, label] of [['Archive', 'a1'], ['Projects', 'p1'], ['Projects', 'p2']] as const) {
        const m = tinyMessage(ALICE, label);
        secrets.add(m.token, m.subject);
        await client.append(folder, m.raw);
        sent.set(label, m.messageId);
      }
    });
    const view = await look();
    assert.deepEqual([...view.get('INBOX')!.messages.values()].sort(), ids('m1', 'm2', 'm3', 'm4', 'm5').sort());
    assert.deepEqual([...view.get('Archive')!.messages.values()], ids('a1'));
    assert.deepEqual([...view.get('Projects')!.messages.values()].sort(), ids('p1', 'p2').sort());
    const made = JSON.parse(await cli(['backup', 'now', ALICE, '--password-stdin', '--json'], `${password}\n`)) as { id: string; created: boolean }[];
    assert.equal(made[0]?.created, true);
    generation = made[0]!.id;
  });

  test('RFC 3501 §2.3.1.1 / RFC 1939 §7: after more deliveries and expunges, a restore into the running server reuses no UID and no UIDL, and later mail neither', async () => {
    await deliver('m6', 'm7', 'm8');
    await until('m6..m8 in INBOX', async () => (await inboxIds()).length === 8);
    await expunge('INBOX', 'm2', 'm7');
    await withImap(async (client) => {
      await client.mailboxCreate('Later');
      // Projects deleted and made again: same name, another folder (a new UIDVALIDITY).
      await client.mailboxDelete('Projects');
      await client.mailboxCreate('Projects');
    });
    const beforeRestore = await look();
    const later = (await imapView(instance.ports.imap, password, ['Later'])).get('Later')!;
    const inboxBefore = beforeRestore.get('INBOX')!;

    const out = await cli(['restore', ALICE, generation, '--password-stdin'], `${password}\n`);
    assert.match(out, new RegExp(`restored generation ${generation}`));
    const restored = await look();
    const inbox = restored.get('INBOX')!;
    assert.deepEqual([...inbox.messages.values()].sort(), ids('m1', 'm2', 'm3', 'm4', 'm5').sort(), 'INBOX is the generation again');
    // One history: INBOX keeps its UIDVALIDITY; what the live INBOX still held keeps its UID, m2 (expunged since) comes back above UIDNEXT.
    assert.equal(inbox.uidValidity, inboxBefore.uidValidity, 'INBOX keeps its UIDVALIDITY: clients keep their caches');
    for (const [uid, id] of inbox.messages) {
      if (id === sent.get('m2')) assert.ok(uid >= inboxBefore.uidNext, `m2 is back under UID ${uid}, at or above the UIDNEXT ${inboxBefore.uidNext} clients held`);
      else assert.equal(inboxBefore.messages.get(uid), id, `UID ${uid} still names the same message`);
    }
    assert.ok(inbox.uidNext > inboxBefore.uidNext);
    const projects = restored.get('Projects')!;
    assert.ok(Number(projects.uidValidity) > Number(beforeRestore.get('Projects')!.uidValidity), 'Projects (re-created since) gets a UIDVALIDITY above the live one');
    assert.ok(Number(projects.uidValidity) > Number(later.uidValidity), `and above any the live mailbox used (Later: ${later.uidValidity})`);
    assert.deepEqual([...projects.messages.values()].sort(), ids('p1', 'p2').sort());
    assert.equal(restored.get('Archive')!.uidValidity, beforeRestore.get('Archive')!.uidValidity, 'Archive, untouched since the generation, keeps its UIDVALIDITY');
    assert.deepEqual(restored.get('Archive')!.messages, beforeRestore.get('Archive')!.messages);

    // Mail after the restore: new UIDs, never ones the live mailbox handed out before it.
    await deliver('m9', 'm10');
    await until('m9, m10 in INBOX', async () => (await inboxIds()).length === 7);
    await look();
    await withImap(async (client) => {
      const created = await client.mailboxCreate('Later');
      assert.ok(created.created);
    });
    const again = (await imapView(instance.ports.imap, password, ['Later'])).get('Later')!;
    assert.ok(Number(again.uidValidity) > Number(later.uidValidity), 'a folder created after the restore under an old name gets a UIDVALIDITY above the old one');
  });

  test('RFC 3501 §2.3.1.1 / RFC 1939 §7: a restore from the CLI with the server stopped reuses no UID and no UIDL', async () => {
    await instance.stop('SIGTERM');
    await cli(['restore', ALICE, generation, '--password-stdin'], `${password}\n`);
    await instance.start();
    const view = await look();
    assert.deepEqual([...view.get('INBOX')!.messages.values()].sort(), ids('m1', 'm2', 'm3', 'm4', 'm5').sort());
    await deliver('m11');
    await until('m11 in INBOX', async () => (await inboxIds()).length === 6);
    await look();
  });

  test('RFC 3501 §2.3.1.1: restoring folders copies messages back under new UIDs, into an existing folder or a re-created one', async () => {
    // Into an existing folder: m1 was expunged; it comes back above the UIDNEXT clients hold, under the same UIDVALIDITY.
    await expunge('INBOX', 'm1');
    const beforeInbox = (await look()).get('INBOX')!;
    await cli(['restore', ALICE, generation, '--folder', 'INBOX', '--password-stdin'], `${password}\n`);
    const afterInbox = (await look()).get('INBOX')!;
    assert.equal(afterInbox.uidValidity, beforeInbox.uidValidity, 'a folder restore keeps the folder');
    const m1 = [...afterInbox.messages].find(([, id]) => id === sent.get('m1'));
    assert.ok(m1 && m1[0] >= beforeInbox.uidNext, `m1 is back under a new UID (${m1?.[0]}) at or above UIDNEXT ${beforeInbox.uidNext}`);
    assert.equal(afterInbox.messages.size, beforeInbox.messages.size + 1, 'only the missing message came back');

    // Into a folder whose name existed before: deleted, then restored: a new UIDVALIDITY, so no old UID is reused.
    const oldProjects = ledger.cached.get('Projects')!;
    await withImap(async (client) => void (await client.mailboxDelete('Projects')));
    await cli(['restore', ALICE, generation, '--folder', 'Projects', '--password-stdin'], `${password}\n`);
    const projects = (await look()).get('Projects')!;
    assert.ok(Number(projects.uidValidity) > Number(oldProjects.uidValidity), 'the re-created folder has a greater UIDVALIDITY');
    assert.deepEqual([...projects.messages.values()].sort(), ids('p1', 'p2').sort());
  });
});
