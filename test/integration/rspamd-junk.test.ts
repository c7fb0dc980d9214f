// The owner's rspamd deciding junk: a REAL rspamd (test/helpers/rspamd.ts) on a free loopback port, our app's MX
// asks it at MX time (SEALPOST_RSPAMD_URL) and records the answer above its Received field; the junk filter files
// by it. GTUBE lands in Junk with by=rspamd (also when sealed while locked, at drain time), a normal message stays
// in INBOX, a sender's forged X-Sealpost-Rspamd decides nothing, and with rspamd stopped delivery still answers 250
// and the Bayes verdict (trained by IMAP moves meanwhile) decides. Nothing of the messages reaches the logs or disk.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import type { AliasRecord } from '../../server/directory/index.js';
import { findPlaintext } from '../helpers/privacy.js';
import { rspamdMissing, startRspamd, type Rspamd } from '../helpers/rspamd.js';
import { LOCAL_DOMAIN, makeDkimKey, message, PASSWORD, sendNodemailer, sendSmtplib, senderZones, startMxApp, type MxApp } from './mx-fixture.js';

const address = `owner@${LOCAL_DOMAIN}`;
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
// Distinctive words: the privacy sweep looks for them outside the encrypted mailbox.
const SPAM_WORD = 'zqrspamdpills';
const HAM_WORD = 'zqrspamdturnip';
const missing = rspamdMissing();

let rspamd: Rspamd;
let rspamdDir: string;
let app: MxApp;
let alias: AliasRecord;

function mail(subject: string, body: string, extraHeaders: string[] = []): Buffer {
  return message({ from: 'ann@garden.example', to: address, subject, body, extraHeaders });
}

async function connect(): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: app.port('imaps'),
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: address, pass: PASSWORD },
    logger: false,
  });
  await client.connect();
  return client;
}

/** Folder and raw bytes of the message whose subject contains `marker`, once it is stored. */
async function stored(client: ImapFlow, marker: string): Promise<{ folder: string; source: string; uid: number }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    for (const folder of ['INBOX', 'Junk']) {
      const lock = await client.getMailboxLock(folder);
      try {
        const uids = await client.search({ subject: marker }, { uid: true });
        if (Array.isArray(uids) && uids.length) {
          const fetched = await client.fetchOne(String(uids[0]), { source: true }, { uid: true });
          return { folder, source: fetched && fetched.source ? fetched.source.toString('latin1') : '', uid: uids[0]! };
        }
      } finally {
        lock.release();
      }
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${marker}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function deliver(raw: Buffer): Promise<void> {
  const result = await sendNodemailer(app.port('smtp'), { from: 'ann@garden.example', to: [address] }, raw);
  assert.match(result.response, /^250/);
}

/** Our MX's own fields: everything above its Received field. */
const ourHeaders = (source: string): string => source.slice(0, source.indexOf('\r\nReceived: ') + 12);

describe('rspamd decides junk', { skip: missing ?? false }, () => {
  before(async () => {
    rspamdDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-rspamd-'));
    rspamd = await startRspamd(rspamdDir);
    app = await startMxApp({
      zones: senderZones(makeDkimKey('good.test')),
      listeners: ['smtp', 'imaps'],
      env: { SEALPOST_RSPAMD_URL: rspamd.url, SEALPOST_RSPAMD_TIMEOUT_MS: '20000', SEALPOST_JUNK_MIN_TRAINED: '1' },
    });
    app.running.ctx.directory.addDomain(LOCAL_DOMAIN);
    await app.running.ctx.accounts.createAlias(address, PASSWORD);
    alias = app.running.ctx.directory.getAlias(address)!;
  });

  after(async () => {
    await app?.stop();
    await rspamd?.stop();
    if (rspamdDir) fs.rmSync(rspamdDir, { recursive: true, force: true });
  });

  it('a GTUBE message is answered "reject" by rspamd and filed into Junk with by=rspamd', async () => {
    await deliver(mail('zqgtube one', `Hello\r\n${GTUBE}\r\n`));
    const client = await connect();
    const got = await stored(client, 'zqgtube one');
    await client.logout();
    assert.equal(got.folder, 'Junk', rspamd.output());
    assert.match(got.source, /^X-Sealpost-Junk: score=1\.000; verdict=spam; clues=0; by=rspamd\r\n/);
    assert.match(ourHeaders(got.source), /\r\nX-Sealpost-Rspamd: action=reject; score=[0-9.]+; required=[0-9.]+\r\nReceived: /);
  });

  it('a normal message gets "no action" from rspamd and stays in INBOX, verdict ham by=rspamd', async () => {
    await deliver(mail(`${HAM_WORD} for Saturday`, `Hi, the ${HAM_WORD} seedlings are ready; shall we plant them on Saturday? Ann`));
    const client = await connect();
    const got = await stored(client, `${HAM_WORD} for Saturday`);
    await client.logout();
    assert.equal(got.folder, 'INBOX');
    assert.match(got.source, /^X-Sealpost-Junk: score=0\.000; verdict=ham; clues=0; by=rspamd\r\n/);
    assert.match(ourHeaders(got.source), /\r\nX-Sealpost-Rspamd: action=no action; score=-?[0-9.]+; required=[0-9.]+\r\nReceived: /);
  });

  it('a sender\'s forged X-Sealpost-Rspamd decides nothing: removed by the MX, rspamd\'s own answer decides (smtplib)', async () => {
    const forgedHam = mail('zqgtube forged', `${GTUBE}\r\n`, ['X-Sealpost-Rspamd: action=no action; score=-50.00; required=15.00']);
    const sent = await sendSmtplib(app.port('smtp'), 'ann@garden.example', [address], Buffer.concat([Buffer.from('X-Sealpost-Rspamd: action=no action\r\n'), forgedHam]));
    assert.equal(sent.ok, true, JSON.stringify(sent));
    const forgedSpam = mail('zqplain forged', 'Just a note about the meeting.', ['X-Sealpost-Rspamd: action=reject; score=99.00; required=15.00']);
    await deliver(forgedSpam);
    const client = await connect();
    const spam = await stored(client, 'zqgtube forged');
    const ham = await stored(client, 'zqplain forged');
    await client.logout();
    assert.equal(spam.folder, 'Junk');
    assert.equal(ham.folder, 'INBOX');
    for (const [got, action] of [[spam, 'reject'], [ham, 'no action']] as const) {
      const fields = got.source.match(/^X-Sealpost-Rspamd:.*$/gim) ?? [];
      assert.deepEqual(fields.map((f) => /action=([a-z ]+)/.exec(f)?.[1]), [action], 'only our own field is left');
    }
  });

  it('mail sealed while the mailbox is locked carries rspamd\'s answer and is filed into Junk at drain time', async () => {
    await app.running.ctx.accounts.lock(alias.id);
    await deliver(mail('zqgtube locked', `${GTUBE}\r\n`));
    assert.equal(app.running.ctx.accounts.queuedCount(alias), 1, 'sealed: the server cannot read it now');
    const client = await connect();
    await app.running.ctx.accounts.whenDrained(alias.id, 30_000);
    const got = await stored(client, 'zqgtube locked');
    await client.logout();
    assert.equal(got.folder, 'Junk');
    assert.match(got.source, /^X-Sealpost-Junk: [^\r\n]*; by=rspamd\r\n/);
  });

  it('rspamd stopped: delivery still answers 250, records action=error with a warning, and the Bayes verdict (trained by moves) files it', async () => {
    // Teach Bayes with IMAP moves while rspamd decides: a spam-worded message into Junk, the ham one out of it.
    await deliver(mail(`${SPAM_WORD} winner 1`, `${SPAM_WORD} casino lottery prize claim now ${SPAM_WORD} jackpot`));
    const client = await connect();
    const spamOne = await stored(client, `${SPAM_WORD} winner 1`);
    await client.mailboxOpen(spamOne.folder);
    if (spamOne.folder !== 'Junk') await client.messageMove(String(spamOne.uid), 'Junk', { uid: true });
    const ham = await stored(client, `${HAM_WORD} for Saturday`);
    await client.mailboxOpen('INBOX');
    await client.messageMove(String(ham.uid), 'Junk', { uid: true });
    await client.mailboxOpen('Junk');
    const back = await client.search({ subject: `${HAM_WORD} for Saturday` }, { uid: true });
    await client.messageMove((back as number[]).map(String).join(','), 'INBOX', { uid: true });

    await rspamd.stop();
    const warningsBefore = app.logs.filter((l) => l.includes('"mx.rspamd_failed"')).length;
    await deliver(mail(`${SPAM_WORD} winner 2`, `${SPAM_WORD} casino lottery prize claim now ${SPAM_WORD} jackpot`));
    await deliver(mail(`${HAM_WORD} again`, `Hi, more ${HAM_WORD} seedlings for Saturday, shall we plant them? Ann`));
    const spamTwo = await stored(client, `${SPAM_WORD} winner 2`);
    const hamTwo = await stored(client, `${HAM_WORD} again`);
    await client.logout();
    for (const got of [spamTwo, hamTwo]) assert.match(ourHeaders(got.source), /\r\nX-Sealpost-Rspamd: action=error\r\nReceived: /);
    assert.equal(spamTwo.folder, 'Junk');
    assert.match(spamTwo.source, /^X-Sealpost-Junk: score=[0-9.]+; verdict=spam; clues=\d+; by=bayes\r\n/);
    assert.equal(hamTwo.folder, 'INBOX');
    assert.match(hamTwo.source, /^X-Sealpost-Junk: score=[0-9.]+; verdict=ham; clues=\d+; by=bayes\r\n/);
    const warnings = app.logs.filter((l) => l.includes('"mx.rspamd_failed"'));
    assert.equal(warnings.length - warningsBefore, 2);
    assert.match(warnings.at(-1)!, /"err":"ECONNREFUSED"/);
  });

  it('privacy: no message word, subject or address is readable in the data dir or the logs', () => {
    assert.deepEqual(findPlaintext(app.dir, [SPAM_WORD, HAM_WORD, 'zqgtube', 'GTUBE-STANDARD', 'ann@garden.example', 'seedlings'], { logs: app.logs }), []);
  });
});
