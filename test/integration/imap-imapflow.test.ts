// A mail client's view of Sealpost IMAP, through imapflow over TLS and loopback plaintext: folders,
// APPEND, FETCH of every item kind (byte-identical to the appended corpus), SEARCH, STORE, COPY/MOVE,
// EXPUNGE, STATUS, QUOTA, IDLE across sessions, CONDSTORE/QRESYNC resync, Thunderbird delete/move styles.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { generateCorpus, type CorpusMessage } from '../helpers/corpus.js';
import { startImapFixture, type ImapFixture } from '../helpers/imap-server.js';
import { findPlaintext } from '../helpers/privacy.js';
import { RawImap } from '../helpers/imap-raw.js';

let fx: ImapFixture;
let alice: { address: string; password: string };
const corpus: CorpusMessage[] = generateCorpus(64, 11);
const clients: ImapFlow[] = [];

function client(options: Partial<ImapFlowOptions> = {}): ImapFlow {
  const c = new ImapFlow({
    host: fx.host,
    port: fx.securePort,
    secure: true,
    tls: { ca: [fx.tls.certificatePem()], servername: 'localhost' },
    auth: { user: alice.address, pass: alice.password },
    logger: false,
    ...options,
  });
  clients.push(c);
  return c;
}

async function raw(): Promise<RawImap> {
  const r = await RawImap.connect(fx.port);
  const login = await r.command(`LOGIN "${alice.address}" "${alice.password}"`);
  assert.match(login.tagged, /^t1 OK/);
  return r;
}

function until<T>(emitter: ImapFlow, event: string, match: (value: T) => boolean = () => true, ms = 10_000): Promise<T> {
  const events = emitter as unknown as NodeJS.EventEmitter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event`)), ms);
    const on = (value: T): void => {
      if (!match(value)) return;
      clearTimeout(timer);
      events.off(event, on);
      resolve(value);
    };
    events.on(event, on);
  });
}

before(async () => {
  fx = await startImapFixture();
  alice = await fx.addUser('alice', 50 * 1024 * 1024);
});

after(async () => {
  for (const c of clients) await c.logout().catch(() => c.close());
  await fx.close();
});

describe('IMAP with imapflow', () => {
  it('greets as Sealpost over TLS with our certificate and advertises the extensions that work', async () => {
    const c = client();
    await c.connect();
    const caps = [...c.capabilities.keys()].map((cap) => cap.toUpperCase());
    for (const cap of ['IMAP4REV1', 'IDLE', 'NAMESPACE', 'ID', 'ENABLE', 'UIDPLUS', 'MOVE', 'SPECIAL-USE', 'CHILDREN', 'CONDSTORE', 'QRESYNC', 'QUOTA', 'UTF8=ACCEPT', 'COMPRESS=DEFLATE', 'UNSELECT']) {
      assert.ok(caps.includes(cap), `${cap} advertised (${caps.join(' ')})`);
    }
    assert.equal(c.capabilities.get('APPENDLIMIT'), fx.server.limits.maxMessageBytes);
    assert.ok(!caps.includes('XLIST') && !caps.includes('XAPPLEPUSHSERVICE'), 'nothing we do not support');
    assert.equal(c.serverInfo?.name, 'Sealpost');
    assert.ok(!JSON.stringify(c.serverInfo).match(/wildduck|kreata/i));
    await c.logout();
  });

  it('lists special-use folders, creates, renames and deletes nested folders (UTF-8 names too) and keeps subscriptions', async () => {
    const c = client();
    await c.connect();
    const list = await c.list();
    const uses = Object.fromEntries(list.filter((f) => f.specialUse).map((f) => [f.specialUse, f.path]));
    assert.equal(uses['\\Sent'], 'Sent');
    assert.equal(uses['\\Trash'], 'Trash');
    assert.equal(uses['\\Drafts'], 'Drafts', JSON.stringify(list.map((f) => [f.path, f.specialUse])));
    assert.equal(uses['\\Junk'], 'Junk');

    await c.mailboxCreate(['Projects', '2024', 'Q1']);
    await c.mailboxCreate('Reçus/日本');
    let paths = (await c.list()).map((f) => f.path);
    assert.ok(paths.includes('Projects/2024/Q1') && paths.includes('Reçus/日本'), paths.join(','));
    const projects = (await c.list()).find((f) => f.path === 'Projects');
    assert.ok(projects?.flags.has('\\HasChildren'));

    await c.mailboxRename('Projects', 'Work/Projects');
    paths = (await c.list()).map((f) => f.path);
    assert.ok(paths.includes('Work/Projects/2024/Q1') && !paths.includes('Projects/2024/Q1'), paths.join(','));

    await c.mailboxSubscribe('Work/Projects/2024/Q1');
    await c.mailboxUnsubscribe('Reçus/日本');
    const subscribed = (await c.list()).filter((f) => f.subscribed).map((f) => f.path);
    assert.ok(subscribed.includes('Work/Projects/2024/Q1'));
    assert.ok(!subscribed.includes('Reçus/日本'));

    await c.mailboxDelete('Work/Projects/2024/Q1');
    await c.mailboxDelete('Reçus/日本');
    paths = (await c.list()).map((f) => f.path);
    assert.ok(!paths.includes('Work/Projects/2024/Q1') && !paths.includes('Reçus/日本'));
    assert.equal((await c.mailboxCreate('INBOX')).created, false, 'INBOX already exists');
    await c.logout();
  });

  it('appends the corpus with flags and dates, then FETCH returns every message byte for byte', async () => {
    const c = client();
    await c.connect();
    await c.mailboxCreate('Corpus');
    const uids: number[] = [];
    for (const [i, m] of corpus.entries()) {
      const result = await c.append('Corpus', m.raw, i % 2 ? ['\\Seen', '$Label1'] : [], m.date);
      assert.ok(result && typeof result === 'object' && result.uid, 'APPENDUID returned');
      uids.push(result.uid as number);
    }
    const box = await c.mailboxOpen('Corpus');
    assert.equal(box.exists, corpus.length);
    let n = 0;
    for await (const msg of c.fetch('1:*', { uid: true, flags: true, internalDate: true, size: true, source: true, envelope: true, bodyStructure: true })) {
      const m = corpus[n] as CorpusMessage;
      assert.equal(msg.uid, uids[n]);
      assert.ok(msg.source?.equals(m.raw), `BODY[] of message ${n} (${m.kind}) is byte-identical`);
      assert.equal(msg.size, m.raw.length);
      assert.equal(new Date(msg.internalDate ?? 0).getTime(), Math.floor(m.date.getTime() / 1000) * 1000);
      assert.equal(msg.flags?.has('\\Seen'), n % 2 === 1);
      assert.equal(msg.envelope?.subject, m.subject);
      assert.equal(msg.envelope?.messageId, m.messageId);
      assert.ok(msg.bodyStructure?.type);
      n++;
    }
    assert.equal(n, corpus.length);
    await c.logout();
  });

  it('FETCH sections and partials: HEADER + TEXT rebuild the message, <start.len> slices, HEADER.FIELDS, parts', async () => {
    const c = client();
    await c.connect();
    await c.mailboxOpen('Corpus', { readOnly: true });
    for (const [i, m] of corpus.slice(0, 16).entries()) {
      const seq = String(i + 1);
      const split = m.raw.indexOf('\r\n\r\n') + 4;
      const msg = await c.fetchOne(seq, { bodyParts: ['TEXT', '1'], headers: ['subject', 'message-id'], source: { start: 7, maxLength: 100 } });
      assert.ok(msg);
      const text = msg.bodyParts?.get('text');
      assert.ok(text?.equals(m.raw.subarray(split)), 'BODY[TEXT]');
      assert.ok(msg.source?.equals(m.raw.subarray(7, 107)), 'BODY[]<7.100>');
      assert.ok(msg.bodyParts?.get('1')?.length, 'BODY[1] present');
      const fields = msg.headers?.toString('binary') ?? '';
      assert.match(fields, /^(Message-ID|Subject):/im);
      assert.ok(fields.endsWith('\r\n\r\n'));
      assert.ok(!/^(From|To|Received):/im.test(fields), 'only the asked fields');
    }
    // EXAMINE is read-only: BODY[] does not set \Seen there.
    const after = await c.fetchOne('1', { flags: true });
    assert.ok(after && !after.flags?.has('\\Seen'));
    await c.logout();
  });

  it('SEARCH finds exactly the right message for every corpus token, and by header, flag, size and date', async () => {
    const c = client();
    await c.connect();
    await c.mailboxOpen('Corpus');
    const all = (await c.search({ all: true }, { uid: true })) as number[];
    assert.equal(all.length, corpus.length);
    for (const [i, m] of corpus.entries()) {
      const found = await c.search({ body: m.token }, { uid: true });
      assert.deepEqual(found, [all[i]], `token ${m.token}`);
    }
    assert.deepEqual(await c.search({ body: 'zq000000' }, { uid: true }), []);
    const seen = (await c.search({ seen: true }, { uid: true })) as number[];
    assert.deepEqual(seen, all.filter((_, i) => i % 2 === 1));
    const bySubject = (await c.search({ subject: corpus[3]?.subject.split(' ').slice(-1)[0] ?? '' }, { uid: true })) as number[];
    assert.ok(bySubject.includes(all[3] as number));
    const fromHit = (await c.search({ from: corpus[5]?.from ?? '' }, { uid: true })) as number[];
    assert.ok(fromHit.includes(all[5] as number));
    const big = (await c.search({ larger: 1 }, { uid: true })) as number[];
    assert.equal(big.length, corpus.length);
    const notSeen = (await c.search({ not: { seen: true } }, { uid: true })) as number[];
    assert.equal(notSeen.length + seen.length, corpus.length);
    await c.logout();
  });

  it('STORE with UNCHANGEDSINCE reports MODIFIED for messages changed since', async () => {
    const r = await raw();
    await r.command('SELECT Corpus (CONDSTORE)');
    const fetched = await r.command('FETCH 1:2 (UID MODSEQ)');
    const modseqs = fetched.lines.map((l) => Number(/MODSEQ \((\d+)\)/.exec(l)?.[1]));
    const first = Math.max(...modseqs);
    const store1 = await r.command(`STORE 1 (UNCHANGEDSINCE ${first}) +FLAGS (\\Flagged)`);
    assert.match(store1.tagged, /OK/);
    assert.ok(store1.lines.some((l) => /^\* 1 FETCH \(.*FLAGS \(.*\\Flagged.*\).*MODSEQ/.test(l)), store1.lines.join('\n'));
    // Message 1 changed after `first`: a second conditional store must be refused for it.
    const store2 = await r.command(`STORE 1:2 (UNCHANGEDSINCE ${first}) +FLAGS (\\Answered)`);
    assert.match(store2.tagged, /OK \[MODIFIED 1\]/);
    r.close();
  });

  it('COPY and MOVE answer with COPYUID; EXPUNGE, UID EXPUNGE and CLOSE remove only \\Deleted messages', async () => {
    const c = client();
    await c.connect();
    await c.mailboxCreate('Copies');
    await c.mailboxOpen('Corpus');
    const copied = await c.messageCopy('1:4', 'Copies');
    assert.ok(copied && copied.uidMap && copied.uidMap.size === 4, 'COPYUID maps 4 messages');
    assert.equal(await c.messageCopy('1', 'Nowhere'), false, 'COPY to a missing folder fails');

    await c.mailboxOpen('Copies');
    const moved = await c.messageMove('1:2', 'Trash');
    assert.ok(moved && moved.uidMap && moved.uidMap.size === 2, 'MOVE COPYUID');
    assert.equal((await c.status('Copies', { messages: true })).messages, 2);

    // UID EXPUNGE removes only the given UID even when another is \Deleted too.
    const uids = (await c.search({ all: true }, { uid: true })) as number[];
    await c.messageFlagsAdd(uids, ['\\Deleted'], { uid: true });
    await c.messageDelete(String(uids[0]), { uid: true });
    assert.equal((await c.status('Copies', { messages: true })).messages, 1);
    await c.logout();

    const r = await raw();
    assert.match((await r.command('SELECT Corpus')).tagged, /OK/);
    assert.match((await r.command('COPY 1 Nowhere')).tagged, /^t\d+ NO \[TRYCREATE\]/);
    assert.match((await r.commandWithLiteral('APPEND Nowhere', 'Subject: x\r\n\r\nx\r\n')).tagged, /^t\d+ NO \[TRYCREATE\]/);
    await r.command('SELECT Copies');
    const close = await r.command('CLOSE');
    assert.match(close.tagged, /OK/);
    assert.ok(!close.lines.some((l) => /EXPUNGE/.test(l)), 'CLOSE expunges silently');
    const status = await r.command('STATUS Copies (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)');
    assert.match(status.lines.join('\n'), /MESSAGES 0 .*UIDNEXT \d+ UIDVALIDITY \d+ UNSEEN 0 HIGHESTMODSEQ \d+/);
    const select = await r.command('SELECT Corpus');
    await r.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    const expunge = await r.command('EXPUNGE');
    assert.deepEqual(expunge.lines.filter((l) => /EXPUNGE/.test(l)), ['* 1 EXPUNGE']);
    assert.ok(select.lines.some((l) => /^\* \d+ EXISTS/.test(l)));
    r.close();
  });

  it('STATUS and GETQUOTAROOT report real counts and usage', async () => {
    const c = client();
    await c.connect();
    const status = await c.status('Corpus', { messages: true, unseen: true, uidNext: true, uidValidity: true, highestModseq: true });
    assert.equal(status.messages, corpus.length - 1);
    assert.ok((status.unseen ?? 0) > 0 && (status.uidNext ?? 0) > corpus.length && status.uidValidity && status.highestModseq);
    const quota = await c.getQuota('INBOX');
    assert.ok(quota && typeof quota === 'object' && quota.storage);
    assert.equal(quota.storage.limit, 50 * 1024 * 1024);
    // imapflow reports the used bytes as `usage` (its typings say `used`).
    const usage = (quota.storage as { usage?: number }).usage ?? 0;
    assert.ok(usage > 100 * 1024, `usage ${usage}`);
    await c.logout();
  });

  it('IDLE: a second session sees new mail, flag changes and expunges at once', async () => {
    const watcher = client();
    const actor = client({ port: fx.port, secure: false, doSTARTTLS: false, tls: undefined });
    await watcher.connect();
    await actor.connect();
    await watcher.mailboxOpen('INBOX');
    await actor.mailboxOpen('INBOX');
    void watcher.idle();
    const exists = until<{ count: number }>(watcher, 'exists');
    const appended = await actor.append('INBOX', Buffer.from('From: bob@example.org\r\nSubject: live\r\n\r\nlive update\r\n'));
    assert.ok(appended && typeof appended === 'object');
    assert.equal((await exists).count, 1);

    const flags = until<{ flags: Set<string> }>(watcher, 'flags');
    await actor.messageFlagsAdd({ uid: String(appended.uid) }, ['\\Flagged'], { uid: true });
    assert.ok((await flags).flags.has('\\Flagged'));

    const expunged = until<{ seq: number }>(watcher, 'expunge');
    await actor.messageDelete(String(appended.uid), { uid: true });
    assert.equal((await expunged).seq, 1);
    await watcher.logout();
    await actor.logout();
  });

  it('QRESYNC: a client that was away gets VANISHED (EARLIER) and the changed flags on SELECT', async () => {
    const c = client();
    await c.connect();
    await c.mailboxCreate('Resync');
    for (let i = 0; i < 5; i++) await c.append('Resync', corpus[i]?.raw ?? Buffer.from('x'));
    const r = await raw();
    await r.command('ENABLE QRESYNC');
    const select = await r.command('SELECT Resync');
    const validity = /UIDVALIDITY (\d+)/.exec(select.lines.join('\n'))?.[1];
    const modseq = /HIGHESTMODSEQ (\d+)/.exec(select.lines.join('\n'))?.[1];
    r.close();

    // While the client is away: one message flagged, two expunged.
    await c.mailboxOpen('Resync');
    await c.messageFlagsAdd('1', ['\\Flagged']);
    await c.messageDelete('4:5');

    const back = await raw();
    await back.command('ENABLE QRESYNC');
    const resync = await back.command(`SELECT Resync (QRESYNC (${validity} ${modseq} 1:5))`);
    const text = resync.lines.join('\n');
    assert.match(text, /^\* VANISHED \(EARLIER\) 4:5$/m);
    assert.match(text, /^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/m);
    assert.match(resync.tagged, /OK \[READ-WRITE\]/);
    const vanished = await back.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
    assert.match(vanished.lines.join('\n'), /^\* VANISHED \(EARLIER\) 4:5$/m);
    // Live expunge in a QRESYNC session arrives as VANISHED, not EXPUNGE.
    await c.messageDelete('1');
    const noop = await back.command('NOOP');
    assert.ok(noop.lines.includes('* VANISHED 1'), noop.lines.join('\n'));
    back.close();
    await c.logout();
  });

  it('Thunderbird styles: delete = COPY to Trash + \\Deleted + UID EXPUNGE; move = UID MOVE', async () => {
    const r = await raw();
    await r.command('SELECT Corpus');
    const uidLine = (await r.command('UID SEARCH ALL')).lines.find((l) => l.startsWith('* SEARCH')) ?? '';
    const [first, second] = uidLine.split(' ').slice(2).map(Number) as [number, number];
    const trashBefore = /MESSAGES (\d+)/.exec((await r.command('STATUS Trash (MESSAGES)')).lines.join(''))?.[1];
    assert.match((await r.command(`UID COPY ${first} Trash`)).tagged, /OK \[COPYUID \d+ \d+ \d+\]/);
    await r.command(`UID STORE ${first} +FLAGS.SILENT (\\Deleted)`);
    const expunge = await r.command(`UID EXPUNGE ${first}`);
    assert.equal(expunge.lines.filter((l) => / EXPUNGE$/.test(l)).length, 1);
    const move = await r.command(`UID MOVE ${second} Archive`);
    assert.match(move.lines.join('\n'), /\* OK \[COPYUID \d+ \d+ \d+\]/);
    assert.ok(move.lines.some((l) => / EXPUNGE$/.test(l)));
    const trashAfter = /MESSAGES (\d+)/.exec((await r.command('STATUS Trash (MESSAGES)')).lines.join(''))?.[1];
    assert.equal(Number(trashAfter), Number(trashBefore) + 1);
    assert.match((await r.command('STATUS Archive (MESSAGES)')).lines.join(''), /MESSAGES 1\b/);
    r.close();
  });

  it('writes no message text, subject, address or password in plaintext to the data dir or the logs', () => {
    const needles = [alice.address, alice.password, ...corpus.slice(0, 8).flatMap((m) => [m.token, m.messageId])];
    // The listener's own TLS key is plain PEM by design.
    assert.deepEqual(findPlaintext(fx.dataDir, needles, { logs: fx.logs, exclude: (file) => file.endsWith('.pem') }), []);
    const logs = fx.logs.join('\n');
    assert.ok(!/\n\s+at /.test(logs), 'no stack traces in the log');
  });
});
