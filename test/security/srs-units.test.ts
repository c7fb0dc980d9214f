// SRS hash and day stamp as pure functions with an injected clock: 65-bit keyed hash, expiry at the
// configured age on SRS0 and SRS1 alike, stamps from the future and from the old 4-character scheme refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Srs, SRS_HASH_LENGTH, SRS_MAX_AGE_DAYS, srsDayStamp, srsStampAgeDays } from '../../server/smtp/forward/srs.js';
import { forwardingSecret } from '../../server/smtp/mx/index.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);

test('the hash is 13 base32 characters (65 bits), keyed: another secret does not verify it', () => {
  const secret = randomBytes(32);
  const srs = new Srs(secret);
  const address = srs.forward('alice@origin.example', 'fwd.test', NOW);
  const [, hash] = /^SRS0=([^=]+)=/.exec(address) ?? [];
  assert.equal(hash?.length, SRS_HASH_LENGTH);
  assert.ok(SRS_HASH_LENGTH * 5 >= 64);
  assert.match(hash ?? '', /^[a-z2-7]+$/);
  assert.deepEqual(new Srs(Buffer.from(secret)).verify(address, NOW), { original: 'alice@origin.example' }, 'same secret (restart) verifies');
  assert.deepEqual(new Srs(randomBytes(32)).verify(address, NOW), { refused: 'srs-forged' });
});

test('the secret derived from the app key is stable: same key, same SRS hash; other key, refused', () => {
  const appKey = randomBytes(32);
  const one = new Srs(forwardingSecret(appKey)).forward('bob@origin.example', 'fwd.test', NOW);
  assert.equal(new Srs(forwardingSecret(Buffer.from(appKey))).forward('bob@origin.example', 'fwd.test', NOW), one);
  assert.equal(new Srs(forwardingSecret(randomBytes(32))).reverse(one, NOW), null);
});

test('day stamps: two base32 characters, age counted modulo 1024 days', () => {
  assert.match(srsDayStamp(NOW), /^[a-z2-7]{2}$/);
  assert.equal(srsStampAgeDays(srsDayStamp(NOW), NOW), 0);
  assert.equal(srsStampAgeDays(srsDayStamp(NOW - 5 * DAY), NOW), 5);
  assert.equal(srsStampAgeDays(srsDayStamp(NOW + DAY), NOW), 1023, 'a stamp from tomorrow looks 1023 days old');
  assert.equal(srsStampAgeDays(srsDayStamp(NOW).toUpperCase(), NOW), 0, 'case-folded on the way back');
  assert.equal(srsStampAgeDays('a', NOW), null);
  assert.equal(srsStampAgeDays('a1', NOW), null);
});

test(`SRS0 expires after ${SRS_MAX_AGE_DAYS} days by default; the limit is configurable`, () => {
  const srs = new Srs(randomBytes(32));
  const at = (days: number): string => srs.forward('carol@origin.example', 'fwd.test', NOW - days * DAY);
  assert.deepEqual(srs.verify(at(SRS_MAX_AGE_DAYS), NOW), { original: 'carol@origin.example' });
  assert.deepEqual(srs.verify(at(SRS_MAX_AGE_DAYS + 1), NOW), { refused: 'srs-expired' });
  assert.deepEqual(srs.verify(srs.forward('carol@origin.example', 'fwd.test', NOW + 2 * DAY), NOW), { refused: 'srs-expired' }, 'from the future');
  const short = new Srs(randomBytes(32), { maxAgeDays: 3 });
  assert.deepEqual(short.verify(short.forward('c@origin.example', 'fwd.test', NOW - 4 * DAY), NOW), { refused: 'srs-expired' });
  assert.throws(() => new Srs(randomBytes(32), { maxAgeDays: 1024 }), /1 to 1000/);
  assert.throws(() => new Srs(randomBytes(8)), /16 bytes/);
});

test('SRS1 carries our own stamp and expires like SRS0; a standard SRS1 from another forwarder is re-wrapped', () => {
  const srs = new Srs(randomBytes(32));
  const foreignSrs0 = 'SRS0=HHHH=TT=origin.example=dave@first.example';
  const srs1 = srs.forward(foreignSrs0, 'fwd.test', NOW - 2 * DAY);
  assert.match(srs1, /^SRS1=[a-z2-7]{13}=[a-z2-7]{2}=first\.example==HHHH=TT=origin\.example=dave@fwd\.test$/);
  assert.deepEqual(srs.verify(srs1, NOW), { original: foreignSrs0 });
  assert.deepEqual(srs.verify(srs1, NOW + 30 * DAY), { refused: 'srs-expired' });
  assert.deepEqual(srs.verify(srs1.replace('first.example', 'evil.example'), NOW), { refused: 'srs-forged' });
  // a standard (stamp-less) SRS1 seen as a sender keeps its first forwarder and tail
  const again = srs.forward('SRS1=xxxx=first.example==HHHH=TT=origin.example=dave@second.example', 'fwd.test', NOW);
  assert.deepEqual(srs.verify(again, NOW), { original: foreignSrs0 });
  // a standard SRS1 (no stamp, 4-char hash) addressed to us is refused
  assert.deepEqual(srs.verify('SRS1=abcd=first.example==HHHH=TT=origin.example=dave@fwd.test', NOW), { refused: 'srs-forged' });
});

test('forged, truncated, tampered and old-scheme addresses are refused as forged', () => {
  const srs = new Srs(randomBytes(32));
  const good = srs.forward('erin@origin.example', 'fwd.test', NOW);
  const [, hash] = /^SRS0=([^=]+)=/.exec(good) ?? ['', ''];
  const cases = [
    good.replace(hash!, 'a'.repeat(SRS_HASH_LENGTH)),
    good.replace(hash!, hash!.slice(0, 4)),
    good.replace(hash!, hash!.slice(0, -1)),
    good.replace(hash!, `${hash!}a`),
    good.replace('=erin@', '=mallory@'),
    good.replace('origin.example', 'other.example'),
    good.split('=').slice(0, 4).join('=') + '@fwd.test',
    'SRS0=@fwd.test',
    'not-srs@fwd.test',
  ];
  for (const address of cases) assert.deepEqual(srs.verify(address, NOW), { refused: 'srs-forged' }, address);
  assert.deepEqual(srs.verify(good.toUpperCase(), NOW), { original: 'ERIN@ORIGIN.EXAMPLE' }, 'case folding keeps it valid');
});
