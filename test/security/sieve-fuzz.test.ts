// Hostile Sieve scripts and messages: mutated scripts and random bytes get a line-numbered answer from checkSieve
// (never a throw), and every script that checks runs to an outcome within its limits on mutated messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSieve, compileSieve, messageView, runSieve, SIEVE_LIMITS } from '../../server/sieve/index.js';
import { mutateMime, Rng } from '../helpers/fuzz-inputs.js';

const SEED = Number(process.env.SEALPOST_FUZZ_SEED ?? 5228);

const SEEDS = [
  'require ["fileinto", "variables", "imap4flags", "body", "envelope", "vacation", "copy"];',
  'if header :matches "subject" "*[*]*" { set "x" "${1}${2}"; fileinto :copy "F.${x}"; }',
  'if anyof (not exists "x", size :over 1K, body :content "text" :contains "a") { addflag "\\\\Seen"; }',
  'elsif envelope :localpart :is "from" "a" { redirect "b@c.test"; } else { keep :flags "x"; }',
  'vacation :days 2 :subject "s" :from "a@b.test" :addresses ["c@d.test"] :handle "h" text:\nline\n..dot\n.\n;',
  'if string :comparator "i;octet" :matches "${x}" "?*" { discard; stop; }',
  '/* comment */ # another\n',
];

const MESSAGE = Buffer.from(
  'From: "A" <a@b.test>\r\nTo: me@x.test\r\nSubject: =?UTF-8?Q?[x]_y?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody a\r\n--b--\r\n',
);

test('mutated scripts: checkSieve answers ok or a line within the script, and whatever checks runs within limits', () => {
  const r = new Rng(SEED);
  const tight = { ...SIEVE_LIMITS, maxSteps: 200_000 };
  let ran = 0;
  for (let i = 0; i < 1200; i++) {
    const lines = Array.from({ length: 1 + r.int(6) }, () => r.pick(SEEDS));
    let text = lines.join('\n');
    for (let m = r.int(4); m > 0; m--) {
      const at = r.int(text.length + 1);
      const op = r.int(4);
      if (op === 0) text = text.slice(0, at) + text.slice(at + 1 + r.int(8));
      else if (op === 1) text = text.slice(0, at) + r.pick(['{', '}', '(', ')', '[', ']', ',', ';', '"', ':', 'text:', '\\', '${', '*', '\u0000', '\u00e9', '\n']) + text.slice(at);
      else if (op === 2) text = text.slice(0, at) + r.bytes(1 + r.int(6), true).toString('latin1') + text.slice(at);
      else text = text + text.slice(0, r.int(40));
    }
    const result = checkSieve(text);
    if (!result.ok) {
      assert.ok(result.line >= 1 && result.line <= text.split('\n').length + 1, `seed ${SEED} case ${i}: line ${result.line}`);
      assert.ok(result.message.length > 0 && !result.message.includes('\n    at '));
      continue;
    }
    const raw = r.chance(0.5) ? MESSAGE : mutateMime(r, MESSAGE);
    const outcome = runSieve(compileSieve(text), messageView(raw, { from: 'a@b.test', to: 'me@x.test' }, 4096), tight);
    if (outcome.error !== null) assert.deepEqual([outcome.stores, outcome.redirects, outcome.vacation], [[{ folder: null, flags: [] }], [], null], 'an error leaves only the implicit keep');
    ran++;
  }
  assert.ok(ran > 40, `only ${ran} mutated scripts checked ok`);
});

test('random bytes and huge inputs never throw from checkSieve', () => {
  const r = new Rng(SEED + 1);
  for (let i = 0; i < 500; i++) {
    const text = r.bytes(r.int(400), r.chance(0.5)).toString(r.chance(0.5) ? 'utf8' : 'latin1');
    const result = checkSieve(text);
    assert.ok(result.ok || result.line >= 1);
  }
  for (const text of ['"'.repeat(70_000), `require [${'"fileinto",'.repeat(6000)}"x"];`, '['.repeat(50_000), `${'{'.repeat(30_000)}`, `text:\n${'x\n'.repeat(30_000)}`]) {
    const result = checkSieve(text);
    assert.equal(result.ok, false);
  }
});
