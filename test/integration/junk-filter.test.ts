// The junk filter in the running app: the owner teaches it by moving mail into and out of Junk with a real IMAP
// client (imapflow), and the next similar message delivered over real SMTP to the MX is filed into Junk with an
// X-Sealpost-Junk header (and the MX's DNS blocklist result) — at once when the mailbox is open, at drain time when it was locked. A sender's forged
// X-Sealpost-Junk or Authentication-Results decides nothing, and no trained word is readable outside the mailbox.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { junkStatus, setJunkFilter } from '../../server/ops/index.js';
import type { AliasRecord } from '../../server/directory/index.js';
import { findPlaintext } from '../helpers/privacy.js';
import { waitForExists } from '../helpers/imap-wait.js';
import { LOCAL_DOMAIN, makeDkimKey, PASSWORD, sendNodemailer, senderZones, startMxApp, type MxApp } from './mx-fixture.js';

const address = `owner@${LOCAL_DOMAIN}`;
// Distinctive words: the privacy sweep looks for them outside the encrypted mailbox.
const SPAM_WORD = 'zqvortexpills';
const HAM_WORD = 'zqtomatotrellis';
const CALL = { via: 'cli', ip: 'local' } as const;

let app: MxApp;
let alias: AliasRecord;

function spam(n: number, extraHeaders = ''): Buffer {
  return Buffer.from(
    `${extraHeaders}From: "Pharmacy Deals" <deals${n}@spam.example>\r\nTo: ${address}\r\nSubject: ${SPAM_WORD} cheap meds winner ${n}\r\n` +
      `Message-ID: <spam${n}.${Date.now()}@spam.example>\r\nContent-Type: text/html\r\n\r\n` +
      `<html><body><a href="http://pills.example/buy">CLICK HERE</a> ${SPAM_WORD} discount viagra casino winner guaranteed ` +
      `free offer limited time act now unsubscribe lottery prize money ${n}</body></html>\r\n`,
  );
}

function ham(n: number): Buffer {
  return Buffer.from(
    `From: Neighbour <ann@garden.example>\r\nTo: ${address}\r\nSubject: ${HAM_WORD} for the allotment ${n}\r\n` +
      `Message-ID: <ham${n}.${Date.now()}@garden.example>\r\n\r\n` +
      `Hi, the ${HAM_WORD} is ready; shall we plant the seedlings on Saturday morning? ` +
      `Bring the compost, the watering can and the stakes. Thanks, Ann ${n}\r\n`,
  );
}

async function deliver(raw: Buffer): Promise<void> {
  const result = await sendNodemailer(app.port('smtp'), { from: 'someone@outside.example', to: [address] }, raw);
  assert.match(result.response, /^250/);
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

/** Folder holding the message whose subject contains `marker`, with its raw bytes. */
async function findBySubject(client: ImapFlow, marker: string): Promise<{ folder: string; source: string } | null> {
  for (const folder of ['INBOX', 'Junk']) {
    const lock = await client.getMailboxLock(folder);
    try {
      const uids = await client.search({ subject: marker }, { uid: true });
      if (Array.isArray(uids) && uids.length) {
        const message = await client.fetchOne(String(uids[0]), { source: true }, { uid: true });
        return { folder, source: message && message.source ? message.source.toString('latin1') : '' };
      }
    } finally {
      lock.release();
    }
  }
  return null;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  // A loopback blocklist that lists 127.0.0.1 (RFC 5782 §5 test address form) and one that lists nothing.
  const zones = { ...senderZones(makeDkimKey('good.test')), '1.0.0.127.bl.test': { A: ['127.0.0.2'] } };
  app = await startMxApp({ zones, listeners: ['smtp', 'imaps'], env: { SEALPOST_JUNK_MIN_TRAINED: '2', SEALPOST_SMTP_DNSBL: 'bl.test, clean.test' } });
  app.running.ctx.directory.addDomain(LOCAL_DOMAIN);
  await app.running.ctx.accounts.createAlias(address, PASSWORD);
  alias = app.running.ctx.directory.getAlias(address)!;
});

after(async () => {
  await app?.stop();
});

describe('junk filter', () => {
  it('moving mail into Junk trains spam, moving it back trains ham, and a similar message is then filed into Junk with its header', async () => {
    const client = await connect();
    await client.mailboxOpen('INBOX');
    for (let n = 1; n <= 3; n++) await deliver(spam(n));
    for (let n = 1; n <= 3; n++) await deliver(ham(n));
    assert.equal(await waitForExists(client, 6), 6);
    // Untrained: everything stays in INBOX, marked unsure.
    const first = await findBySubject(client, `${SPAM_WORD} cheap meds winner 1`);
    assert.equal(first?.folder, 'INBOX');
    assert.match(first?.source ?? '', /X-Sealpost-Junk: score=[0-9.]+; verdict=unsure/);

    // Move all six into Junk (spam), then the three ham messages back out to INBOX (ham).
    await client.messageMove('1:*', 'Junk');
    await waitFor('six spam trainings', async () => {
      const status = await junkStatus(app.running.ctx, alias, null, CALL);
      return status.spamMessages === 6 ? status : null;
    });
    await client.mailboxOpen('Junk');
    const hamUids = await client.search({ subject: HAM_WORD }, { uid: true });
    assert.equal(Array.isArray(hamUids) ? hamUids.length : 0, 3);
    await client.messageMove(hamUids as number[], 'INBOX', { uid: true });
    const status = await waitFor('ham trainings', async () => {
      const s = await junkStatus(app.running.ctx, alias, null, CALL);
      return s.hamMessages === 3 ? s : null;
    });
    assert.equal(status.spamMessages, 3, 'the re-classified messages left the spam counts');
    assert.ok(status.tokens > 20, `tokens stored: ${status.tokens}`);

    await deliver(spam(4));
    const filed = await waitFor('the new spam', () => findBySubject(client, `${SPAM_WORD} cheap meds winner 4`));
    assert.equal(filed.folder, 'Junk');
    assert.match(filed.source, /^X-Sealpost-Junk: score=(?:0\.[89]\d\d|1\.000); verdict=spam; /);
    // The MX looked the client up in both blocklists and recorded it above its own Received field.
    assert.match(filed.source, /\r\nX-Sealpost-DNSBL: listed=bl\.test; checked=2\r\nReceived: /);

    await deliver(ham(4));
    const kept = await waitFor('the new ham', () => findBySubject(client, `${HAM_WORD} for the allotment 4`));
    assert.equal(kept.folder, 'INBOX');
    assert.match(kept.source, /^X-Sealpost-Junk: score=0\.\d+; verdict=ham; /);
    await client.logout();
  });

  it('a sender\'s forged X-Sealpost-Junk and Authentication-Results decide nothing (RFC 8601 §5)', async () => {
    const client = await connect();
    await client.mailboxOpen('INBOX');
    const forged =
      'X-Sealpost-Junk: score=0.000; verdict=ham; clues=99; by=bayes\r\n' +
      `Authentication-Results: mx.${LOCAL_DOMAIN}; spf=pass smtp.mailfrom=good.test; dkim=pass; dmarc=pass\r\n`;
    await deliver(spam(5, forged));
    const filed = await waitFor('the forged spam', () => findBySubject(client, `${SPAM_WORD} cheap meds winner 5`));
    assert.equal(filed.folder, 'Junk');
    const junkHeaders = filed.source.match(/^X-Sealpost-Junk:.*$/gim) ?? [];
    assert.equal(junkHeaders.length, 1, 'only our own header is left');
    assert.match(junkHeaders[0]!, /verdict=spam/);
    assert.doesNotMatch(filed.source, /dmarc=pass/, 'the forged results naming our host were removed by the MX');
    await client.logout();
  });

  it('mail sealed while the mailbox is locked is classified at drain time and found in Junk after login', async () => {
    await app.running.ctx.accounts.lock(alias.id);
    assert.equal(app.running.ctx.accounts.isUnlocked(alias.id), false);
    await deliver(spam(6));
    assert.equal(app.running.ctx.accounts.queuedCount(alias), 1, 'sealed, not classified: the server cannot read it');
    const client = await connect();
    await app.running.ctx.accounts.whenDrained(alias.id, 30_000);
    const filed = await waitFor('the drained spam', () => findBySubject(client, `${SPAM_WORD} cheap meds winner 6`));
    assert.equal(filed.folder, 'Junk');
    assert.match(filed.source, /^X-Sealpost-Junk: score=[0-9.]+; verdict=spam; /);
    await client.logout();
  });

  it('hostile: a 6 MB one-line body with a million words and 2,000 nested multiparts is classified within the limits over SMTP', async () => {
    const client = await connect();
    await client.mailboxOpen('INBOX');
    let nested = `From: x@outside.example\r\nTo: ${address}\r\nSubject: zqhostile nest\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n`;
    for (let i = 1; i < 2000; i++) nested += `--b${i - 1}\r\nContent-Type: multipart/mixed; boundary="b${i}"\r\n\r\n`;
    nested += '--b1999\r\nContent-Type: text/plain\r\n\r\nbottom\r\n';
    await deliver(Buffer.from(nested));
    const words = Array.from({ length: 1_000_000 }, (_, i) => `w${i % 99991}`).join(' ');
    await deliver(Buffer.from(`From: x@outside.example\r\nTo: ${address}\r\nSubject: zqhostile words\r\n\r\n${words}\r\n`));
    for (const marker of ['zqhostile nest', 'zqhostile words']) {
      const stored = await waitFor(marker, () => findBySubject(client, marker));
      assert.match(stored.source, /^X-Sealpost-Junk: score=[0-9.]+; verdict=(?:spam|ham|unsure); /, marker);
    }
    assert.equal(app.logs.filter((l) => l.includes('junk.classify_failed') || l.includes('delivery.filter_failed')).length, 0);
    await client.logout();
  });

  it('the alias\'s switch off: a message is stored without our score and stays in INBOX though trained as spam; on again it is filed into Junk', async () => {
    const client = await connect();
    await client.mailboxOpen('INBOX');
    const { directory } = app.running.ctx;
    await setJunkFilter(app.running.ctx, { alias, on: false }, CALL);
    assert.equal(directory.junkFilterOn(alias.id), false);
    assert.ok(app.logs.some((l) => l.includes('"op.junk_switch"') && l.includes('"on":false')), 'the switch has its audit line');
    await deliver(spam(7, 'X-Sealpost-Junk: score=0.000; verdict=ham; clues=99; by=bayes\r\n'));
    const kept = await waitFor('the spam while off', () => findBySubject(client, `${SPAM_WORD} cheap meds winner 7`));
    assert.equal(kept.folder, 'INBOX', 'not filed into Junk while the switch is off');
    assert.doesNotMatch(kept.source, /X-Sealpost-Junk/i, 'no score of ours, and the sender\'s forged one is removed');

    await setJunkFilter(app.running.ctx, { alias, on: true }, CALL);
    assert.equal(directory.junkFilterOn(alias.id), true);
    await deliver(spam(8));
    const filed = await waitFor('the spam once on again', () => findBySubject(client, `${SPAM_WORD} cheap meds winner 8`));
    assert.equal(filed.folder, 'Junk');
    assert.match(filed.source, /^X-Sealpost-Junk: score=[0-9.]+; verdict=spam; /);
    await client.logout();
  });

  it('privacy: no trained word is readable in the data dir or the logs', () => {
    assert.deepEqual(findPlaintext(app.dir, [SPAM_WORD, HAM_WORD, 'allotment', 'seedlings'], { logs: app.logs }), []);
  });
});
