// ARC (RFC 8617) at the MX: a mailing list (list.test) seals the message it relays with mailauth's ARC sealing API,
// its key is published in the loopback DNS, and the message arrives over SMTP. The Authentication-Results field our
// MX stores with the message says arc=pass for an intact chain and arc=fail once anything the seal covers changed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sealMessage, type ARCSealOptions } from 'mailauth';
import type { AppContext } from '../../server/context.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, message, prependedHeaders, sendNodemailer, senderZones, startMxApp, type DkimKey, type MxApp } from './mx-fixture.js';

const LIST_SENDER = 'bounces@list.test';
const RECIPIENT = `arc@${LOCAL_DOMAIN}`;

/** What the list's own MX found when the post reached it (RFC 8617 §4.1.1: the ARC-Authentication-Results payload). */
const LIST_AUTH_RESULTS = 'mx.list.test; spf=pass smtp.mailfrom=poster@origin.test; dkim=none; dmarc=none header.from=origin.test';

/** Seals `raw` as an intermediary does (RFC 8617 §5.1): the next ARC set, with the intermediary's own auth results and cv=. */
async function sealedBy(raw: Buffer, key: DkimKey, authResults: string, cv: 'none' | 'pass'): Promise<Buffer> {
  // mailauth's typings omit the two fields its sealer reads for the ARC-Authentication-Results and the cv= tag.
  const seal: ARCSealOptions & { authResults: string; cv: string } = { signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey, authResults, cv };
  return Buffer.concat([await sealMessage(raw, seal), raw]);
}

/** Seals `raw` as list.test would relay it: the first ARC set, i=1, cv=none. */
async function sealedByList(raw: Buffer, key: DkimKey): Promise<Buffer> {
  const sealed = await sealedBy(raw, key, LIST_AUTH_RESULTS, 'none');
  assert.match(sealed.toString(), /^ARC-Seal: i=1; [^]*cv=none[^]*ARC-Message-Signature: i=1; [^]*ARC-Authentication-Results: i=1; mx\.list\.test;/);
  return sealed;
}

function post(subject: string, body: string): Buffer {
  return message({ from: 'poster@origin.test', to: RECIPIENT, subject, body, extraHeaders: ['List-Id: <talk.list.test>'] });
}

describe('ARC at the MX (RFC 8617)', () => {
  let app: MxApp;
  let ctx: AppContext;
  const listKey = makeDkimKey('list.test', 'arc');
  const forwarderKey = makeDkimKey('forwarder.test', 'seal');

  /** The messages in the recipient's INBOX, read by logging in. */
  async function inbox(): Promise<Buffer[]> {
    const session = await ctx.accounts.authenticate(RECIPIENT, PASSWORD, { ip: '127.0.0.1', protocol: 'imap' });
    try {
      assert.equal(await ctx.accounts.whenDrained(session.alias.id, 30_000), true, 'mail sealed while locked has drained');
      const out: Buffer[] = [];
      for (const meta of session.mailbox.listMessages('INBOX')) out.push(await session.mailbox.readMessage('INBOX', meta.uid));
      return out;
    } finally {
      session.release();
    }
  }

  /** Delivers `raw` from the list over SMTP and returns our MX's Authentication-Results field for it. */
  async function deliver(raw: Buffer): Promise<string> {
    const before = (await inbox()).length;
    const sent = await sendNodemailer(app.port('smtp'), { from: LIST_SENDER, to: [RECIPIENT] }, raw);
    assert.match(sent.response, /^250 /);
    const messages = await inbox();
    assert.equal(messages.length, before + 1, 'delivered to INBOX');
    const added = prependedHeaders(messages.at(-1) as Buffer, raw);
    const field = /^Authentication-Results: mx\.sealpost\.test;(?:.*)(?:\r\n[ \t].*)*/m.exec(added)?.[0];
    assert.ok(field, `our Authentication-Results among the added fields:\n${added}`);
    return field.replace(/\r\n[ \t]+/g, ' ');
  }

  before(async () => {
    const zones = {
      ...senderZones(makeDkimKey('good.test')),
      // The list relays from 127.0.0.1 and publishes its ARC key; origin.test publishes no DMARC policy.
      'list.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      [`${listKey.selector}._domainkey.list.test`]: { TXT: [listKey.txt] },
      [`${forwarderKey.selector}._domainkey.forwarder.test`]: { TXT: [forwarderKey.txt] },
      'origin.test': { TXT: ['v=spf1 ip4:192.0.2.7 -all'] },
    };
    app = await startMxApp({ zones });
    ctx = app.running.ctx;
    ctx.directory.addDomain(LOCAL_DOMAIN);
    await ctx.accounts.createAlias(RECIPIENT, PASSWORD);
  });

  after(async () => {
    await app?.stop();
  });

  test('RFC 8617 §5.2: a message with a valid ARC set (i=1, cv=none) sealed by the list gets arc=pass in the stored Authentication-Results', async () => {
    const results = await deliver(await sealedByList(post('Weekly digest', 'Hello list, this is the digest.'), listKey));
    assert.match(results, /\barc=pass\b/, results);
    assert.match(results, /\bspf=pass\b/, 'the list is allowed to send for list.test');
  });

  test('RFC 8617 §5.1: a second intermediary adds ARC set i=2 with cv=pass on top of the list\'s; the chain of two verifies: arc=pass', async () => {
    const first = await sealedByList(post('Forwarded digest', 'Relayed twice.'), listKey);
    const second = await sealedBy(first, forwarderKey, 'mx.forwarder.test; arc=pass', 'pass');
    assert.match(second.toString(), /^ARC-Seal: i=2; [^]*cv=pass/);
    const results = await deliver(second);
    assert.match(results, /\barc=pass\b/, results);
  });

  test('RFC 8617 §5.2 and §4.1.2: a body changed after sealing no longer matches the ARC-Message-Signature, so arc=fail', async () => {
    const sealed = await sealedByList(post('Weekly digest', 'Hello list, this is the digest.'), listKey);
    const tampered = Buffer.from(sealed.toString('utf8').replace('this is the digest.', 'this is NOT the digest.'), 'utf8');
    assert.notDeepEqual(tampered, sealed);
    const results = await deliver(tampered);
    assert.match(results, /\barc=fail\b/, results);
  });

  test('RFC 8617 §5.2 and §4.1.2: a signed header (Subject) changed after sealing makes arc=fail', async () => {
    const sealed = await sealedByList(post('Weekly digest', 'Hello again.'), listKey);
    const tampered = Buffer.from(sealed.toString('utf8').replace('Subject: Weekly digest', 'Subject: Urgent: verify your account'), 'utf8');
    assert.notDeepEqual(tampered, sealed);
    const results = await deliver(tampered);
    assert.match(results, /\barc=fail\b/, results);
  });

  test('RFC 8617 §4.1.3: an ARC-Seal whose signature was altered makes arc=fail', async () => {
    const sealed = (await sealedByList(post('Weekly digest', 'Third post.'), listKey)).toString('utf8');
    // Flip one character of the seal's b= value (base64, so still well-formed).
    const tampered = sealed.replace(/^(ARC-Seal: [^]*?\bb=)(.)/m, (_m, head: string, c: string) => `${head}${c === 'A' ? 'B' : 'A'}`);
    assert.notEqual(tampered, sealed);
    const results = await deliver(Buffer.from(tampered, 'utf8'));
    assert.match(results, /\barc=fail\b/, results);
  });

  test('a message without any ARC set gets no arc= result (mailauth reports ARC only when an ARC set is present)', async () => {
    const results = await deliver(post('Direct', 'No list in between.'));
    assert.doesNotMatch(results, /\barc=/, results);
    assert.match(results, /\bspf=pass\b/, 'the other methods still ran');
  });
});
