// The 20,000-part message arriving the way an attacker would send it: over SMTP to the MX, for an alias whose
// mailbox is unlocked (so it is parsed and stored at once). Another alias's IMAP session keeps being answered
// while it is parsed, the MX answers 250, and IMAP serves it with BODYSTRUCTURE capped and BODY[] unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AppContext } from '../../server/context.js';
import { DEFAULT_MIME_LIMITS, mimeParsesInProgress } from '../../server/mime/index.js';
import { RawImap } from '../helpers/imap-raw.js';
import { compactPartsMessage } from '../helpers/mime-bombs.js';
import { LOCAL_DOMAIN, PASSWORD, makeDkimKey, sendNodemailer, senderZones, startMxApp, type MxApp } from '../integration/mx-fixture.js';

let app: MxApp;
let ctx: AppContext;
const open: RawImap[] = [];
const ALICE = `alice@${LOCAL_DOMAIN}`;
const BOB = `bob@${LOCAL_DOMAIN}`;

async function login(address: string): Promise<RawImap> {
  const r = await RawImap.connect(app.port('imap'));
  open.push(r);
  assert.match((await r.command(`LOGIN "${address}" "${PASSWORD}"`)).tagged, /^t1 OK/);
  return r;
}

before(async () => {
  app = await startMxApp({ zones: senderZones(makeDkimKey('good.test')), listeners: ['smtp', 'imap'] });
  ctx = app.running.ctx;
  ctx.directory.addDomain(LOCAL_DOMAIN);
  await ctx.accounts.createAlias(ALICE, PASSWORD);
  await ctx.accounts.createAlias(BOB, PASSWORD);
});

after(async () => {
  for (const r of open.splice(0)) r.close();
  await app?.stop();
});

describe('MIME bomb over the MX', () => {
  it('a 20,000-part message delivered over SMTP: 250, another alias answered while it is parsed, BODYSTRUCTURE capped, BODY[] unchanged', async () => {
    const raw = compactPartsMessage(20_000);
    const a = await login(ALICE); // unlocks alice: the MX parses and stores at once
    const b = await login(BOB);
    assert.match((await b.command('SELECT INBOX')).tagged, / OK /);

    const events: string[] = [];
    let sending = true;
    const sent = sendNodemailer(app.port('smtp'), { from: 'bomb@good.test', to: [ALICE] }, raw).finally(() => {
      events.push('delivered');
      sending = false;
    });
    let noops = 0;
    while (sending) {
      assert.match((await b.command('NOOP')).tagged, / OK /);
      if (sending) events.push(mimeParsesInProgress() > 0 ? `noop${++noops}-during-parse` : `noop${++noops}`);
    }
    const result = await sent;
    assert.match(result.response, /^250 /);
    const duringParse = events.filter((e) => e.endsWith('-during-parse'));
    assert.ok(duringParse.length >= 1, `a NOOP answered while the message was parsed: ${events.join(' ')}`);
    assert.ok(events.indexOf(duringParse[0] as string) < events.indexOf('delivered'), `order of replies: ${events.join(' ')}`);

    assert.match((await a.command('SELECT INBOX')).tagged, / OK /);
    const reply = await a.command('FETCH 1 (BODYSTRUCTURE RFC822.SIZE)', 60_000);
    assert.match(reply.tagged, / OK /);
    const structure = reply.lines.join('\n');
    assert.equal(structure.match(/\("TEXT" "PLAIN"/g)?.length, DEFAULT_MIME_LIMITS.maxParts - 2);
    assert.equal(structure.match(/"APPLICATION" "OCTET-STREAM"/g)?.length, 1, 'the parts past the cap are one opaque part');
    // The stored message is the original plus the headers the MX prepends (Received, Authentication-Results).
    const size = Number(/RFC822\.SIZE (\d+)/.exec(structure)?.[1]);
    assert.ok(size > raw.length, `stored size ${size} holds the whole message (${raw.length} bytes) plus trace headers`);
    const body = await a.command('FETCH 1 (BODY.PEEK[TEXT])', 60_000);
    assert.match(body.tagged, / OK /);
    const text = body.lines.join('\n');
    assert.ok(text.includes('--b\r\n\r\n20000\r\n--b--'), 'the last part is served unchanged');
    assert.match((await b.command('NOOP')).tagged, / OK /);
  });
});
