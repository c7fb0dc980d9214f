// The junk classifier alone (server/junk): trained on a small fixed slice of the SpamAssassin public corpus, it
// separates held-out spam from ham; its tokenizer stays within its limits on hostile input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCorpus, MemoryTraining, isSpam } from '../../bench/junk.js';
import {
  DEFAULT_TOKENIZE_LIMITS, junkHeaderLine, readJunkHeader, scoreMessage, stripJunkHeaders, tokenize, trustedMxTokens,
} from '../../server/junk/index.js';

test('trained on a fixed slice of the SpamAssassin corpus, the classifier files held-out spam as spam and ham as ham', () => {
  const corpus = loadCorpus();
  const pick = (group: string, from: number, count: number) => corpus.filter((m) => m.group === group).slice(from, from + count);
  const training = new MemoryTraining();
  for (const m of [...pick('easy-ham-1', 0, 500), ...pick('hard-ham-1', 0, 100), ...pick('spam-1', 0, 300), ...pick('spam-2', 0, 300)]) {
    training.train(tokenize(Buffer.from(m.text, 'latin1')), isSpam(m));
  }
  const held = [...pick('easy-ham-1', 1000, 150), ...pick('easy-ham-2', 0, 50), ...pick('spam-1', 300, 100), ...pick('spam-2', 600, 100)];
  let caught = 0, spam = 0, falsePositives = 0, ham = 0;
  for (const m of held) {
    const tokens = tokenize(Buffer.from(m.text, 'latin1'));
    const { verdict } = scoreMessage(tokens, training.lookup(tokens));
    if (isSpam(m)) {
      spam++;
      if (verdict === 'spam') caught++;
    } else {
      ham++;
      if (verdict === 'spam') falsePositives++;
    }
  }
  assert.ok(caught / spam > 0.85, `recall ${caught}/${spam}`);
  assert.ok(falsePositives / ham < 0.02, `false positives ${falsePositives}/${ham}`);
});

test('with no training every message is "unsure"', () => {
  const tokens = tokenize(Buffer.from('Subject: cheap pills\r\n\r\nbuy now'));
  assert.equal(scoreMessage(tokens, { spamMessages: 0, hamMessages: 0, tokens: new Map() }).verdict, 'unsure');
});

test('hostile: a message of millions of tokens is read only up to the byte cap and yields at most maxTokens', () => {
  const words = Array.from({ length: 2_000_000 }, (_, i) => `w${i.toString(36)}`).join(' ');
  const raw = Buffer.from(`Subject: many\r\n\r\n${words}`);
  const limits = { ...DEFAULT_TOKENIZE_LIMITS, maxTokens: 500 };
  const tokens = tokenize(raw, limits);
  assert.equal(tokens.length, 500);
});

test('hostile: a 20 MB single line, deep MIME nesting and bad encodings are tokenized within the limits', () => {
  const line = Buffer.alloc(20 * 1024 * 1024, 'a');
  const huge = Buffer.concat([Buffer.from('Subject: one line\r\n\r\n'), line]);
  const tokens = tokenize(huge);
  assert.ok(tokens.includes('subject:one') && tokens.length < 20);
  let nested = 'Subject: deep\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n';
  for (let i = 1; i < 5000; i++) nested += `--b${i - 1}\r\nContent-Type: multipart/mixed; boundary="b${i}"\r\n\r\n`;
  nested += '--b4999\r\nContent-Type: text/plain; charset=x-no-such-charset\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64\xff\xfe\r\n';
  const deep = tokenize(Buffer.from(nested, 'latin1'));
  assert.ok(deep.includes('subject:deep'));
  const badQp = tokenize(Buffer.from('Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n<a href="http://1.2.3.4/x">click&#99999999;&bogus;</a>=E2=82', 'latin1'));
  assert.ok(badQp.includes('url:ip-address') && badQp.includes('html:a'));
});

test('a sender\'s X-Sealpost-Junk fields are removed, folded ones included, and ours reads back', () => {
  const forged = Buffer.from('X-Sealpost-Junk: score=0.000; verdict=ham\r\nSubject: x\r\nx-sealpost-junk: score=0.0;\r\n verdict=ham\r\n\r\nX-Sealpost-Junk: in the body stays\r\n');
  const stripped = stripJunkHeaders(forged).toString();
  assert.equal(stripped, 'Subject: x\r\n\r\nX-Sealpost-Junk: in the body stays\r\n');
  const line = junkHeaderLine({ score: 0.97345, verdict: 'spam', clues: 12 }, 'bayes');
  assert.deepEqual(readJunkHeader(Buffer.from(`${line}${stripped}`)), { score: 0.973, verdict: 'spam' });
});

test('RFC 8601 §5: only the Authentication-Results above our Received field and naming our authserv-id give auth tokens', () => {
  const ours = Buffer.from('Return-Path: <a@b>\r\nAuthentication-Results: mx.example.org; spf=fail smtp.mailfrom=b; dkim=none; dmarc=fail\r\nReceived: from x by mx.example.org\r\nAuthentication-Results: mx.example.org; spf=pass; dkim=pass; dmarc=pass\r\n\r\nbody');
  assert.deepEqual(trustedMxTokens(ours, 'mx.example.org'), ['auth:spf=fail', 'auth:dkim=none', 'auth:dmarc=fail']);
  const sendersOnly = Buffer.from('Return-Path: <a@b>\r\nReceived: from x by mx.example.org\r\nAuthentication-Results: mx.example.org; spf=pass; dkim=pass; dmarc=pass\r\n\r\nbody');
  assert.deepEqual(trustedMxTokens(sendersOnly, 'mx.example.org'), []);
  const otherId = Buffer.from('Authentication-Results: evil.example; spf=pass\r\nReceived: from x\r\n\r\nbody');
  assert.deepEqual(trustedMxTokens(otherId, 'mx.example.org'), []);
});

test('RFC 5782 §2.1/§2.4: blocklist query names reverse IPv4 octets and IPv6 nibbles', async () => {
  const { dnsblQueryName } = await import('../../server/smtp/mx/dnsbl.js');
  assert.equal(dnsblQueryName('192.0.2.99', 'bl.example'), '99.2.0.192.bl.example');
  assert.equal(dnsblQueryName('::ffff:192.0.2.99', 'bl.example'), '99.2.0.192.bl.example');
  assert.equal(dnsblQueryName('2001:db8:1:2:3:4:567:89ab', 'bl.example'), 'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example');
  assert.equal(dnsblQueryName('2001:db8::1', 'bl.example'), `1.0.0.0.${'0.'.repeat(20)}8.b.d.0.1.0.0.2.bl.example`);
  assert.equal(dnsblQueryName('not an ip', 'bl.example'), null);
});

test('the DNSBL header counts only above our Received field', () => {
  const ours = Buffer.from('Return-Path: <a@b>\r\nX-Sealpost-DNSBL: listed=bl.example; checked=1\r\nReceived: from x by mx\r\nX-Sealpost-DNSBL: listed=none; checked=1\r\n\r\nbody');
  assert.deepEqual(trustedMxTokens(ours), ['dnsbl:listed', 'dnsbl:bl.example']);
  const forged = Buffer.from('Received: from x by mx\r\nX-Sealpost-DNSBL: listed=none; checked=1\r\n\r\nbody');
  assert.deepEqual(trustedMxTokens(forged), []);
});

test('settings: junk and DNSBL variables have defaults and refuse bad values with one sentence', async () => {
  const { junkSettingsFromEnv } = await import('../../server/junk/index.js');
  const { loadMxSettings } = await import('../../server/smtp/mx/settings.js');
  const defaults = junkSettingsFromEnv({});
  assert.deepEqual([defaults.enabled, defaults.scoring.threshold, defaults.scoring.hamBelow, defaults.limits.maxBytes], [true, 0.8, 0.2, 256 * 1024]);
  assert.equal(junkSettingsFromEnv({ SEALPOST_JUNK: 'off', SEALPOST_JUNK_THRESHOLD: '0.95' }).scoring.threshold, 0.95);
  assert.throws(() => junkSettingsFromEnv({ SEALPOST_JUNK_THRESHOLD: '1.5' }), /SEALPOST_JUNK_THRESHOLD must be a number between 0 and 1/);
  assert.throws(() => junkSettingsFromEnv({ SEALPOST_JUNK_THRESHOLD: '0.1', SEALPOST_JUNK_HAM_BELOW: '0.5' }), /must not be above/);
  assert.throws(() => junkSettingsFromEnv({ SEALPOST_JUNK_MAX_TOKENS: '1' }), /SEALPOST_JUNK_MAX_TOKENS/);
  assert.deepEqual(loadMxSettings({}).dnsblZones, []);
  assert.deepEqual(loadMxSettings({ SEALPOST_SMTP_DNSBL: 'Zen.Example., bl.example' }).dnsblZones, ['zen.example', 'bl.example']);
  assert.throws(() => loadMxSettings({ SEALPOST_SMTP_DNSBL: 'not a zone!' }), /SEALPOST_SMTP_DNSBL must be DNS zone names/);
  assert.throws(() => loadMxSettings({ SEALPOST_SMTP_DNSBL: Array.from({ length: 9 }, (_, i) => `z${i}.example`).join(',') }), /more than 8 zones/);
});
