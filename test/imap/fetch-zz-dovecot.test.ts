// ENVELOPE next to Dovecot 2.3: the generated corpus, the shared python-email corpus (when present) and a set of
// hard address headers are delivered to a throw-away Dovecot and to our own engine, and `FETCH 1:* ENVELOPE`
// must agree field by field (RFC 3501 §7.4.2 leaves the treatment of comments, missing parts and repeated
// fields open; Dovecot is the reference answer). Known, deliberate differences are normalised and named below.
// Skipped where no dovecot binary is installed, or where the temp folder is private (scripts/run-tests.mjs runs
// tests in a 0700 folder, which Dovecot's auth process cannot read): run it with `node --import tsx --test`.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateCorpus, loadSharedCorpus } from '../helpers/corpus.js';
import { RawImap } from '../helpers/imap-raw.js';
import { dovecotAvailable, startDovecotPeer } from './dovecot-peer.js';
import { fetchResponses, plain } from './fetch-helpers.js';
import type { ScriptPeer } from './script-runner.js';
import { startSealpostPeer } from './sealpost-peer.js';

/** Why this comparison cannot run here, or null when it can. */
function unavailable(): string | null {
  if (!dovecotAvailable()) return 'dovecot is not installed';
  // Dovecot's unprivileged processes must traverse every folder above its temp dir.
  let dir = os.tmpdir();
  for (;;) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return `${dir} is private: Dovecot's auth process cannot read its users file`;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
const skipReason = unavailable();

const HARD = [
  'From: "Joe Q. Public" <john.q.public@example.com>, user@host (Real Name), (Comment Only) <c@d.e>',
  'Sender: <@route1,@route2:jdoe@machine.example>',
  'To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Undisclosed recipients:;',
  'Cc: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>',
  'Bcc: nodomain, "quoted@name" <q@x.y>, =?utf-8?q?J=C3=BCrgen?= <j@x.y>',
  'Reply-To: bad <>',
  'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and more',
  'Subject: the last one counts',
  'Date: Thu,',
  ' 13 Feb 1969 23:32:54 -0330',
  'Message-ID: <1234@local.machine.example>',
  'In-Reply-To: <a@b> <c@d>',
  '',
  'body',
  '',
].join('\r\n');

const MORE = [
  ['From: "john doe"@x.y, Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>', 'To: group: ;', 'Cc: =?utf-8?q?Gr?= =?utf-8?q?oup?=: "x" <a@b>;'],
  ['From: <>', 'To: "a, b" <ab@c.d>, "\\"q\\"" <q@r.s>', 'Subject:'],
  ['From: Some One <some.one@example.com> (work)', 'To: x@[192.168.0.1]'],
  ['To: a@b.c'],
].map((fields) => [...fields, '', 'x', ''].join('\r\n'));

/** FETCH 1:* ENVELOPE from a peer after delivering `messages` to a fresh user's INBOX, as parsed values. */
async function envelopes(peer: ScriptPeer, messages: readonly Buffer[]): Promise<unknown[]> {
  const user = await peer.addUser('env');
  for (const raw of messages) await peer.deliver(user, 'INBOX', raw, {});
  const client = await RawImap.connect(peer.port, { host: peer.host });
  try {
    assert.match((await client.command(`LOGIN "${user.login}" "${user.password}"`)).tagged, / OK/);
    await client.command('EXAMINE INBOX');
    const reply = await client.command('FETCH 1:* (ENVELOPE)', 60_000);
    assert.match(reply.tagged, / OK/);
    return fetchResponses(reply.lines)
      .sort((a, b) => a.seq - b.seq)
      .map((r) => normalise(plain(r.items.get('ENVELOPE'))));
  } finally {
    client.close();
  }
}

/**
 * Differences on purpose: we trim the leading space a folded field keeps after its colon (Dovecot sends
 * `" <id@x>"`), and send raw 8-bit header text to a 7-bit client as RFC 2047 words (Dovecot sends the raw
 * bytes in a literal); both sides are reduced to the decoded text here.
 */
function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value !== 'string') return value;
  const decoded = /^=\?UTF-8\?B\?/.test(value)
    ? value.split(' ').map((w) => Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(w)?.[1] ?? '', 'base64').toString('utf8')).join('')
    : value;
  return decoded.trim();
}

describe('ENVELOPE next to Dovecot 2.3 (RFC 3501 §7.4.2)', { skip: skipReason ?? false }, () => {
  let dovecot: ScriptPeer;
  let sealpost: ScriptPeer;
  before(async () => {
    dovecot = await startDovecotPeer();
    sealpost = await startSealpostPeer();
  });
  after(async () => {
    await dovecot?.close();
    await sealpost?.close();
  });

  const compare = async (messages: readonly Buffer[]): Promise<void> => {
    const [ours, theirs] = await Promise.all([envelopes(sealpost, messages), envelopes(dovecot, messages)]);
    assert.equal(ours.length, messages.length);
    assert.equal(theirs.length, messages.length);
    for (let i = 0; i < messages.length; i++) assert.deepEqual(ours[i], theirs[i], `message ${i + 1}`);
  };

  test('RFC 3501 §7.4.2: groups, comments, source routes, missing parts and repeated fields as Dovecot reports them', async () => {
    await compare([Buffer.from(HARD), ...MORE.map((m) => Buffer.from(m))]);
  });

  test('RFC 3501 §7.4.2: every message of the generated corpus', async () => {
    await compare(generateCorpus(48, 9).map((m) => m.raw));
  });

  const shared = loadSharedCorpus();
  test('RFC 3501 §7.4.2: every message of the shared python-email corpus', { skip: shared.length === 0 }, async () => {
    await compare(shared.map((m) => m.raw));
  });
});
