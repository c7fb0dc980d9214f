// Alias key derivation: argon2id known answers, HKDF (RFC 5869) known answers, determinism and separation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashRaw, type Algorithm } from '@node-rs/argon2';
import { argon2id } from '@noble/hashes/argon2.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { DEFAULT_KDF, deriveAliasKeys, newSalt, splitMaster, type KdfParams } from '../../server/crypto/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const SMALL: KdfParams = { algorithm: 'argon2id', memoryKiB: 1024, iterations: 2, parallelism: 1 };

test('the native argon2id matches the reference implementation test vector (argon2id v1.3, m=64 MiB, t=2, p=1)', async () => {
  // Known answer from the Argon2 reference test suite: password "password", salt "somesalt".
  const out = await hashRaw('password', { algorithm: 2 as Algorithm, memoryCost: 65536, timeCost: 2, parallelism: 1, outputLen: 32, salt: Buffer.from('somesalt') });
  assert.equal(out.toString('hex'), '09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7');
});

test('RFC 9106 argon2id vector holds for the cross-check implementation, which agrees with the native one', async () => {
  const rfc = argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), {
    t: 3, m: 32, p: 4, dkLen: 32, key: new Uint8Array(8).fill(3), personalization: new Uint8Array(12).fill(4),
  });
  assert.equal(hex(rfc), '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659');
  // Same inputs minus associated data (the native binding has no `ad`): both implementations agree.
  const js = argon2id(new Uint8Array(32).fill(1), new Uint8Array(16).fill(2), { t: 3, m: 32, p: 4, dkLen: 32, key: new Uint8Array(8).fill(3) });
  const native = await hashRaw(new Uint8Array(32).fill(1), {
    algorithm: 2 as Algorithm, memoryCost: 32, timeCost: 3, parallelism: 4, outputLen: 32, salt: new Uint8Array(16).fill(2), secret: new Uint8Array(8).fill(3),
  });
  assert.equal(native.toString('hex'), hex(js));
});

test('HKDF-SHA256 matches RFC 5869 test case 1', () => {
  const okm = hkdf(sha256, new Uint8Array(22).fill(0x0b), Buffer.from('000102030405060708090a0b0c', 'hex'), Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex'), 42);
  assert.equal(hex(okm), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
});

test('alias keys are argon2id then HKDF with distinct labels (pinned vector, recomputed independently)', async () => {
  const salt = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
  const keys = await deriveAliasKeys('correct horse battery staple', salt, SMALL);
  assert.equal(keys.mailboxKey.toString('hex'), '6e27eafd16e124fcb3c214364d894f08a63bf92a0349c09a4ad511b4bfa9ccaa');
  assert.equal(keys.verifier.toString('hex'), 'e7d59dd1b403357781ff2f014b9ba243066b23611044ffc88442e8828e6a7d8a');
  assert.equal(keys.wrappingKey.toString('hex'), '787d187b1e10272be585e6584db32cef0101dbe449ff56f2fb0ed6c81a6df3c6');
  // Independent recomputation with the pure-JS argon2id and the documented labels.
  const master = argon2id('correct horse battery staple', salt, { t: 2, m: 1024, p: 1, dkLen: 32 });
  const label = (s: string): Uint8Array => new TextEncoder().encode(`sealpost/alias/v1/${s}`);
  assert.equal(hex(hkdf(sha256, master, undefined, label('mailbox-key'), 32)), keys.mailboxKey.toString('hex'));
  assert.equal(hex(hkdf(sha256, master, undefined, label('verifier'), 32)), keys.verifier.toString('hex'));
  assert.equal(hex(hkdf(sha256, master, undefined, label('wrapping-key'), 32)), keys.wrappingKey.toString('hex'));
  assert.deepEqual(splitMaster(master), keys);
});

test('the same password and salt always give the same keys; any change gives different ones', async () => {
  const salt = newSalt();
  assert.equal(salt.length, 16);
  assert.notDeepEqual(newSalt(), salt);
  const a = await deriveAliasKeys('Tr0ub4dor&3-horse', salt, SMALL);
  const b = await deriveAliasKeys('Tr0ub4dor&3-horse', salt, SMALL);
  assert.deepEqual(a, b);
  const otherPw = await deriveAliasKeys('Tr0ub4dor&3-horsE', salt, SMALL);
  const otherSalt = await deriveAliasKeys('Tr0ub4dor&3-horse', newSalt(), SMALL);
  const otherCost = await deriveAliasKeys('Tr0ub4dor&3-horse', salt, { ...SMALL, iterations: 3 });
  for (const other of [otherPw, otherSalt, otherCost]) assert.notDeepEqual(other.mailboxKey, a.mailboxKey);
  const all = [a.mailboxKey, a.verifier, a.wrappingKey].map((k) => k.toString('hex'));
  assert.equal(new Set(all).size, 3, 'the three keys differ');
});

test('a password typed in a different Unicode normalization derives the same keys', async () => {
  const salt = newSalt();
  const composed = await deriveAliasKeys('caf\u00e9-au-lait-2024', salt, SMALL);
  const decomposed = await deriveAliasKeys('cafe\u0301-au-lait-2024', salt, SMALL);
  assert.deepEqual(composed, decomposed);
});

test('DEFAULT_KDF is argon2id with at least 64 MiB and derives 32-byte keys', async () => {
  assert.equal(DEFAULT_KDF.algorithm, 'argon2id');
  assert.ok(DEFAULT_KDF.memoryKiB >= 65536);
  assert.ok(DEFAULT_KDF.iterations >= 2);
  const keys = await deriveAliasKeys('a long enough password', newSalt(), DEFAULT_KDF);
  assert.equal(keys.mailboxKey.length, 32);
});

test('unusable KDF parameters and salts are refused with a clear error', async () => {
  await assert.rejects(deriveAliasKeys('pw-pw-pw-pw-pw', newSalt(), { ...SMALL, iterations: 0 }), /iterations/);
  await assert.rejects(deriveAliasKeys('pw-pw-pw-pw-pw', newSalt(), { ...SMALL, memoryKiB: 4 }), /memory/);
  await assert.rejects(deriveAliasKeys('pw-pw-pw-pw-pw', newSalt(), { ...SMALL, algorithm: 'scrypt' as 'argon2id' }), /Unsupported KDF/);
  await assert.rejects(deriveAliasKeys('pw-pw-pw-pw-pw', Buffer.alloc(4), SMALL), /salt/);
});
