// Hybrid sealed boxes and secret wrapping: round trips, every tampered byte refused, wrong key, wrong AAD.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { x25519 } from '@noble/curves/ed25519.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import {
  generateSealKeyPair, seal, unseal, sealOpener, sealPublicKeyOf, wrapSecret, unwrapSecret, SealError,
  SEAL_PUBLIC_KEY_BYTES, SEAL_PRIVATE_KEY_BYTES, SEAL_OVERHEAD_BYTES, timingSafeEqual, wipe, randomBytes,
} from '../../server/crypto/index.js';

const isSealError = (code?: string) => (err: unknown): boolean => {
  assert.ok(err instanceof SealError, `expected SealError, got ${String(err)}`);
  if (code) assert.equal(err.code, code);
  return true;
};

test('a message sealed to an alias opens with its private key, with and without AAD, empty and 1 MB', () => {
  const kp = generateSealKeyPair();
  assert.equal(kp.publicKey.length, SEAL_PUBLIC_KEY_BYTES);
  assert.equal(kp.privateKey.length, SEAL_PRIVATE_KEY_BYTES);
  assert.deepEqual(Buffer.from(sealPublicKeyOf(kp.privateKey)), Buffer.from(kp.publicKey));
  const msg = Buffer.from('Subject: lunch\r\n\r\nSee you at noon.\r\n');
  const box = seal(kp.publicKey, msg);
  assert.equal(box.length, msg.length + SEAL_OVERHEAD_BYTES);
  assert.deepEqual(unseal(kp.privateKey, box), msg);
  assert.equal(box.indexOf(Buffer.from('lunch')), -1, 'plaintext does not show through');
  const aad = Buffer.from('queue/1234');
  assert.deepEqual(unseal(kp.privateKey, seal(kp.publicKey, msg, aad), aad), msg);
  assert.deepEqual(unseal(kp.privateKey, seal(kp.publicKey, Buffer.alloc(0))), Buffer.alloc(0));
  const big = randomBytes(1024 * 1024);
  assert.deepEqual(unseal(kp.privateKey, seal(kp.publicKey, big)), big);
});

test('sealing the same message twice gives unrelated boxes', () => {
  const kp = generateSealKeyPair();
  const a = seal(kp.publicKey, Buffer.from('same'));
  const b = seal(kp.publicKey, Buffer.from('same'));
  assert.notDeepEqual(a, b);
  assert.notDeepEqual(a.subarray(1, 33), b.subarray(1, 33), 'fresh ephemeral key');
});

test('flipping any single byte of a sealed box (version, ephemeral key, KEM ciphertext, body, tag) is refused', () => {
  const kp = generateSealKeyPair();
  const box = seal(kp.publicKey, Buffer.from('tamper me'), Buffer.from('ctx'));
  // Every byte of the version, ephemeral key, body and tag; every 7th of the 1088-byte KEM ciphertext plus its ends.
  const kemStart = 33;
  const kemEnd = 33 + 1088;
  const positions = [...Array(box.length).keys()].filter((i) => i < kemStart || i >= kemEnd || (i - kemStart) % 7 === 0 || i === kemEnd - 1);
  let refused = 0;
  for (const i of positions) {
    const bad = Buffer.from(box);
    bad[i]! ^= 0x01 << (i % 8);
    assert.throws(() => unseal(kp.privateKey, bad, Buffer.from('ctx')), isSealError(), `byte ${i} tampered was accepted`);
    refused++;
  }
  assert.equal(refused, positions.length);
  assert.throws(() => unseal(kp.privateKey, box.subarray(0, box.length - 1), Buffer.from('ctx')), isSealError('auth-failed'));
  assert.throws(() => unseal(kp.privateKey, Buffer.concat([box, Buffer.of(0)]), Buffer.from('ctx')), isSealError('auth-failed'));
  assert.throws(() => unseal(kp.privateKey, box.subarray(0, 100), Buffer.from('ctx')), isSealError('bad-format'));
  const v2 = Buffer.from(box);
  v2[0] = 2;
  assert.throws(() => unseal(kp.privateKey, v2, Buffer.from('ctx')), isSealError('bad-version'));
  // An all-zero ephemeral key (low-order point) is refused, not a crash.
  const zero = Buffer.from(box);
  zero.fill(0, 1, 33);
  assert.throws(() => unseal(kp.privateKey, zero, Buffer.from('ctx')), isSealError('auth-failed'));
});

test('another alias\'s private key, a mismatched AAD or a malformed key cannot open a box', () => {
  const alice = generateSealKeyPair();
  const bob = generateSealKeyPair();
  const box = seal(alice.publicKey, Buffer.from('for alice'), Buffer.from('a'));
  assert.throws(() => unseal(bob.privateKey, box, Buffer.from('a')), isSealError('auth-failed'));
  assert.throws(() => unseal(alice.privateKey, box, Buffer.from('b')), isSealError('auth-failed'));
  assert.throws(() => unseal(alice.privateKey, box), isSealError('auth-failed'));
  assert.throws(() => unseal(alice.privateKey.subarray(1), box, Buffer.from('a')), isSealError('bad-key'));
  assert.throws(() => seal(alice.publicKey.subarray(0, 100), Buffer.from('x')), isSealError('bad-key'));
  // A private key with a swapped ML-KEM half: the recipient binding no longer matches.
  const mixed = Buffer.concat([Buffer.from(alice.privateKey.subarray(0, 65)), Buffer.from(bob.privateKey.subarray(65))]);
  assert.throws(() => unseal(mixed, box, Buffer.from('a')), isSealError('auth-failed'));
});

test('wrapped secrets round-trip and refuse the wrong key, wrong AAD and any tampering', () => {
  const key = randomBytes(32);
  const secret = Buffer.from('the alias private key bytes');
  const w = wrapSecret(key, secret, Buffer.from('alias-1'));
  assert.deepEqual(unwrapSecret(key, w, Buffer.from('alias-1')), secret);
  assert.notDeepEqual(wrapSecret(key, secret), wrapSecret(key, secret), 'random nonce');
  assert.throws(() => unwrapSecret(randomBytes(32), w, Buffer.from('alias-1')), isSealError('auth-failed'));
  assert.throws(() => unwrapSecret(key, w, Buffer.from('alias-2')), isSealError('auth-failed'));
  for (let i = 1; i < w.length; i++) {
    const bad = Buffer.from(w);
    bad[i]! ^= 0x80;
    assert.throws(() => unwrapSecret(key, bad, Buffer.from('alias-1')), isSealError());
  }
  assert.throws(() => unwrapSecret(key, w.subarray(0, 10)), isSealError('bad-format'));
  assert.throws(() => wrapSecret(key.subarray(0, 16), secret), isSealError('bad-key'));
});

test('timingSafeEqual compares contents, unequal lengths are unequal; wipe zeroes', () => {
  assert.equal(timingSafeEqual(Buffer.from('abc'), Buffer.from('abc')), true);
  assert.equal(timingSafeEqual(Buffer.from('abc'), Buffer.from('abd')), false);
  assert.equal(timingSafeEqual(Buffer.from('abc'), Buffer.from('abcd')), false);
  const b = Buffer.from('secret');
  wipe(b);
  assert.deepEqual(b, Buffer.alloc(6));
  wipe(null);
  wipe(undefined);
});

// A box sealed once by v1 and pinned: the documented layout must keep opening queued mail written by older builds.
const PINNED_BOX_V1 =
  'AV2WBIkpcWyt5LS+MOSeu9w4WiyA0kLPjkgx6IWA4DcA7RHYsvVT06lZMJzpNXNbQYGXc8AzG9KE0sMJFBGINADVnQbljG0YejwP' +
  'Y6vnbWVktRMHFzZRKhA+zXZct1JoSTPu50K+QVrXMqZ08ZbZolamsGwUCGVHQOD5H8yNwXxhiATPPUSRCeG5f5/psX6iNy0wrc8/' +
  'Ua7VQ1HS1XQB9ZRCTEdI0g+G/akh+b7ElytKutKyVYhMpxc+7yTtovdO5DrgCz6XrcVIswWj8rUiXg8+9y+MVWGLsE1Z0IeUOjI8' +
  'D07rR5fOKY/E5QSn1EaJ9Mlkeb/hvHczG75pGg4kk5DmQCWNIP69bNtct/EA7BMzfRowu87qQ5znSPPXbgSNoohIWToMmqmAAPOJ' +
  '31CZSG1fTMIMGfNAcp5Z75Efsvdn9NqUbERQVj8SQuGS7DBQfa7Okd210JHQBlyGoSj/uuqBunHo8XjPxurJtITFC83J5/8APyAq' +
  '8xBqy6suU3bgiJSEHAmRFVaKicQ/Nzhur0tGm5V8yVGCzQ4KBIGn1gwfQ5Ct3Wh+lrfswRILIBlVR4yAG71Q6qSZNaQulFNaTSEW' +
  'oOoHj/drjkAkK0MAalY/c9zvX5uKN30mGi7pzpTGf3+ogkCmMc3RXU/sL2v0FwsbwQncuaXKrc/sAlv20owH+WwD8HnYiAropOi3' +
  'lzmT4o4Ke9uCJovGq2jGHlQMBhjygBtabSeaQomgiJ0Z+jGnBJPk/oGkAfqD2ZbVunPk2+oJSQHc04DL59/JihhuiQ2FNf8tap0v' +
  '/whyjWFftRIX+T4UWeKc8bQxoF1c3qvzwee/Nx+h2an6edIqeZh8HgubNPw4kfa9m9Y4eOToZWYWVY9E2PTliTftPqYeTZM8PiAT' +
  'KmR9ucKx2ABrdm3/AMXwLfm6BtvGuzGGS2eEoYIYU9byCHAIlaQsMBh4+FPhWhsUTl3VXA1YnfRfDAToAAisB5c5ANTGaYgb8aoi' +
  'kPlpuON38rPCFgF0j7LI4Ymn2QnTNf1KE2RZTFJz4y8SUl1cRnGuV5ahb+GXXcsuPr/n2tnwOBJLYtmrrOtOGBwokXcExtas8ZDB' +
  'IdmFGCSQ8CWf+NMFCVuMHMd8TEh/I46s/2LEHbaAAubw11QVSgz/pk1aL+Os/48lJgfGjB1dBQllUGzSP7UWD58ImHySLDKDe6mC' +
  'oy7WJ+BmL1G8XuQq3/qg9LAmm30E8FhlfzKIOXKBG9P+ePhBbjsd/2zRzHlOdR5TqdZaIVQ9OwFuSqo6oOIZmWUoplBTXnPeD74x' +
  'DgISAuS1X8fTMiMpNgZ85wEtG/ThzGXvoZdDeh41I31mXXrPJrc2DoY3obWmB/CosQ/uWk1IOdaw1BnHyPkEDYLsmXhTFwBfiM9g' +
  'Ylkm9+EoBTbsudHjiJcOWhy0DEZbWTkuPrvvYAQF/ZLU2KlnF9x8tjkMmwYEB72sGeTUPIxmK1aAtfpLjvgkOT/vNd4l0zfKcYtV' +
  'EyWHAFufJBu4IvtWhQKqyCkjmzGQShiTNQlrtZi/DJovP69v';

test('a pinned v1 sealed box still opens with the key pair rebuilt from the documented layout', () => {
  const xSecret = new Uint8Array(32).fill(0x11);
  const kem = ml_kem768.keygen(new Uint8Array(64).fill(0x22));
  const privateKey = Buffer.concat([Buffer.of(1), xSecret, x25519.getPublicKey(xSecret), kem.secretKey]);
  assert.equal(privateKey.length, SEAL_PRIVATE_KEY_BYTES);
  const opened = unseal(privateKey, Buffer.from(PINNED_BOX_V1, 'base64'), Buffer.from('kat'));
  assert.equal(opened.toString(), 'Sealpost v1 known answer');
});

test('the native XChaCha20-Poly1305 and X25519 agree byte for byte with the @noble implementations', async () => {
  const { xchacha20poly1305 } = await import('@noble/ciphers/chacha.js');
  const { xchachaEncrypt, xchachaDecrypt, x25519Generate, x25519Shared, x25519PublicOf, x25519SecretKeyObject, x25519SharedWith } = await import('../../server/crypto/native.js');
  for (const len of [0, 1, 63, 64, 65, 1000, 70_000]) {
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const aad = randomBytes(len % 50);
    const msg = randomBytes(len);
    const ours = xchachaEncrypt(key, nonce, msg, aad);
    assert.deepEqual(ours, Buffer.from(xchacha20poly1305(key, nonce, aad).encrypt(msg)), `length ${len}`);
    assert.deepEqual(xchachaDecrypt(key, nonce, ours, aad), msg);
  }
  // draft-irtf-cfrg-xchacha-03 §A.3.1 test vector.
  const key = Buffer.from('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', 'hex');
  const nonce = Buffer.from('404142434445464748494a4b4c4d4e4f5051525354555657', 'hex');
  const aad = Buffer.from('50515253c0c1c2c3c4c5c6c7', 'hex');
  const pt = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
  const ct = xchachaEncrypt(key, nonce, pt, aad);
  assert.equal(ct.subarray(ct.length - 16).toString('hex'), 'c0875924c1c7987947deafd8780acf49');
  assert.equal(ct.subarray(0, 16).toString('hex'), 'bd6d179d3e83d43b9576579493c0e939');
  const a = x25519Generate();
  const b = x25519Generate();
  assert.deepEqual(x25519PublicOf(a.secretKey), a.publicKey);
  assert.deepEqual(Buffer.from(x25519.getPublicKey(a.secretKey)), a.publicKey);
  assert.deepEqual(x25519Shared(a.secretKey, b.publicKey), Buffer.from(x25519.getSharedSecret(b.secretKey, a.publicKey)));
  assert.throws(() => x25519Shared(a.secretKey, Buffer.alloc(32)));
  const held = x25519SecretKeyObject(a.secretKey, a.publicKey);
  assert.deepEqual(x25519SharedWith(held, b.publicKey), Buffer.from(x25519.getSharedSecret(b.secretKey, a.publicKey)));
  assert.throws(() => x25519SharedWith(held, Buffer.alloc(32)));
});

test('x25519Ephemeral: its public half and shared secret agree with @noble (RFC 7748 §6.1); a low-order peer is refused', async () => {
  const { x25519Ephemeral, x25519Generate } = await import('../../server/crypto/native.js');
  for (let i = 0; i < 20; i++) {
    const recipient = x25519Generate();
    const eph = x25519Ephemeral(recipient.publicKey);
    assert.equal(eph.publicKey.length, 32);
    assert.deepEqual(eph.shared, Buffer.from(x25519.getSharedSecret(recipient.secretKey, eph.publicKey)));
  }
  assert.throws(() => x25519Ephemeral(Buffer.alloc(32)));
  assert.throws(() => x25519Ephemeral(Buffer.alloc(31)));
});

test('hostile: 20,000 seals in a row with a small young generation finish (no deadlock between key export and garbage collection)', async (t) => {
  // Exporting each ephemeral public key as JWK (as x25519Ephemeral once did) hung this loop in 3 of 4 runs on Node 20,
  // the main thread waiting forever on a mutex it held itself. Plain node, not tsx: under tsx's loader the same loop
  // happened to finish, so the code is bundled first (esbuild, as scripts/build-server.mjs does).
  const { buildSync } = await import('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealpost-seal-loop-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bundle = path.join(dir, 'seal.mjs');
  buildSync({ entryPoints: [path.resolve('server/crypto/seal.ts')], bundle: true, format: 'esm', platform: 'node', outfile: bundle, logLevel: 'error' });
  const script = `import { generateSealKeyPair, seal } from ${JSON.stringify(bundle)};
    const keys = generateSealKeyPair();
    const message = Buffer.alloc(2000, 7);
    for (let i = 0; i < 20000; i++) seal(keys.publicKey, message);
    process.stdout.write('done');`;
  const child = spawnSync(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(child.signal, null, 'the loop did not finish within 180 s (killed): a deadlock');
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout, 'done');
});

test('one opener opens many boxes to its key and refuses a tampered box, a wrong AAD or another key\'s box, as unseal does', () => {
  const keys = generateSealKeyPair();
  const other = generateSealKeyPair();
  const open = sealOpener(keys.privateKey);
  for (let i = 0; i < 5; i++) {
    const text = Buffer.from(`message ${i}`);
    const box = seal(keys.publicKey, text, Buffer.from('row'));
    assert.deepEqual(open(box, Buffer.from('row')), text);
    assert.throws(() => open(box, Buffer.from('other row')), isSealError('auth-failed'));
    const tampered = Buffer.from(box);
    tampered[1 + i] = tampered[1 + i]! ^ 1;
    assert.throws(() => open(tampered, Buffer.from('row')), isSealError('auth-failed'));
  }
  assert.throws(() => open(seal(other.publicKey, Buffer.from('x'))), isSealError('auth-failed'));
  assert.throws(() => open(Buffer.alloc(10)), isSealError('bad-format'));
  assert.throws(() => sealOpener(Buffer.alloc(12)), isSealError('bad-key'));
});
