// Generated passwords (≥128 bits, easy to type) and the strength check for chosen ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePassword, checkPasswordStrength, GENERATED_PASSWORD_BITS, PASSWORD_ALPHABET } from '../../server/crypto/index.js';

test('generated passwords have at least 128 bits, unambiguous characters, no quotes, and pass the strength check', () => {
  assert.ok(GENERATED_PASSWORD_BITS >= 128);
  assert.equal(PASSWORD_ALPHABET.length, 32);
  assert.equal(new Set(PASSWORD_ALPHABET).size, 32);
  for (const ambiguous of ['0', 'o', '1', 'l', 'O', 'I', '"', "'", '`', ' ']) assert.ok(!PASSWORD_ALPHABET.includes(ambiguous));
  const seen = new Set<string>();
  const counts = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const pw = generatePassword();
    assert.match(pw, /^[2-9a-km-np-z]{5}(-[2-9a-km-np-z]{5}){5}$/);
    assert.equal(checkPasswordStrength(pw, { address: 'alice@example.test' }), null, pw);
    seen.add(pw);
    for (const c of pw.replaceAll('-', '')) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  assert.equal(seen.size, 1000);
  // 30 000 symbols over 32 values ≈ 937 each; a broken generator would be far outside this band.
  assert.equal(counts.size, 32);
  for (const [c, n] of counts) assert.ok(n > 700 && n < 1200, `symbol ${c} appeared ${n} times`);
});

test('weak chosen passwords are refused with a sentence saying why', () => {
  const cases: Array<[string, RegExp, string?]> = [
    ['short-pw1', /too short/],
    ['aaaaaaaaaaaaaaaa', /different/],
    ['abababababababab', /different/],
    ['abcdefghijklmnop', /sequence/],
    ['1234567890123', /sequence/],
    ['qwertyuiopas', /one kind/],
    ['Password1234!', /commonly used/],
    ['iloveyou2024!!', /commonly used/],
    ['Alice-Secret-99', /address/, 'alice@example.test'],
    ['my-example-box-7', /domain/, 'bob@example.test'],
    ['tab\there-is-long', /control/],
    [' leading-space-pw', /space/],
  ];
  for (const [pw, why, address] of cases) {
    const reason = checkPasswordStrength(pw, address ? { address } : {});
    assert.ok(reason, `"${pw}" was accepted`);
    assert.match(reason, why, `"${pw}": ${reason}`);
    assert.match(reason, /\.$/, 'a full sentence');
  }
});

test('reasonable chosen passwords and passphrases are accepted', () => {
  for (const pw of ['correct horse battery staple', 'Tr0ub4dor&3-extra', 'lunch at 12:30 in Lyon!', 'zq8#Kp2!vLw9xR']) {
    assert.equal(checkPasswordStrength(pw, { address: 'carol@example.test' }), null, pw);
  }
});
