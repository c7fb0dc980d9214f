// TOTP as authenticator apps compute it: RFC 6238 appendix B vectors (SHA-1), base32 round trips, drift window, replay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base32Decode, base32Encode, hotp, totpAt, verifyTotp } from '../../server/admin/totp.js';

const RFC_SECRET = base32Encode(Buffer.from('12345678901234567890'));

describe('admin TOTP (RFC 6238)', () => {
  it('matches the RFC 6238 SHA-1 test vectors (8 digits)', () => {
    const vectors: [number, string][] = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
      [20000000000, '65353130'],
    ];
    for (const [seconds, code] of vectors) assert.equal(totpAt(RFC_SECRET, seconds * 1000, 8), code, `T=${seconds}`);
  });

  it('matches the RFC 4226 HOTP vectors', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expected.forEach((code, counter) => assert.equal(hotp(Buffer.from('12345678901234567890'), counter), code));
  });

  it('base32 round-trips and ignores case, spaces and padding', () => {
    const bytes = Buffer.from('any bytes \u0000\u00ff at all');
    const text = base32Encode(bytes);
    assert.deepEqual(base32Decode(text.toLowerCase().replace(/(.{4})/g, '$1 ') + '==='), bytes);
    assert.throws(() => base32Decode('not base32!'));
  });

  it('accepts the previous, current and next step once each, and refuses replays and other codes', () => {
    const now = 1_700_000_000_000;
    const current = totpAt(RFC_SECRET, now);
    const step = verifyTotp(RFC_SECRET, current, now);
    assert.equal(step, Math.floor(now / 30_000));
    assert.equal(verifyTotp(RFC_SECRET, current, now, step ?? 0), null, 'the same code cannot be used twice');
    assert.notEqual(verifyTotp(RFC_SECRET, totpAt(RFC_SECRET, now - 30_000), now), null, 'one step of clock drift is fine');
    assert.equal(verifyTotp(RFC_SECRET, totpAt(RFC_SECRET, now - 120_000), now), null, 'four steps old is refused');
    assert.equal(verifyTotp(RFC_SECRET, 'abcdef', now), null);
    assert.equal(verifyTotp(RFC_SECRET, '12345', now), null);
  });
});
