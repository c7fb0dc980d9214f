// TOTP as authenticator apps compute it: RFC 6238 appendix B vectors (SHA-1), base32 round trips, drift window, replay;
// and the enrolment QR code: well-formed SVG with nothing active in it, which a QR reader decodes back to the URI.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base32Decode, base32Encode, hotp, totpAt, totpQrSvg, totpUri, verifyTotp } from '../../server/admin/totp.js';
import { decodeQrPixels } from '../helpers/qr.js';

const RFC_SECRET = base32Encode(Buffer.from('12345678901234567890'));

/**
 * Rasterizes the SVG `qrcode` writes (one white background path, then one stroked path of horizontal runs:
 * `M x y.5 h n m dx 0 h n …`, one module per unit) into RGBA pixels for jsQR. Throws on any other shape, so
 * a change in the SVG's form fails here instead of passing unread.
 */
function rasterizeQrSvg(svg: string, scale = 4): { data: Uint8ClampedArray; width: number; height: number } {
  const size = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
  const runs = /<path stroke="#000000" d="([^"]+)"\/>/.exec(svg)?.[1];
  if (!size || !runs) throw new Error(`unexpected QR SVG: ${svg.slice(0, 200)}`);
  const dark: boolean[][] = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  let x = 0;
  let y = 0;
  for (const [, op, a, b] of runs.matchAll(/([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?/g)) {
    const first = Number(a);
    const second = Number(b ?? 0);
    if (op === 'M') [x, y] = [first, second];
    else if (op === 'm') [x, y] = [x + first, y + second];
    else {
      for (let i = 0; i < first; i++) (dark[Math.floor(y)] as boolean[])[x + i] = true;
      x += first;
    }
  }
  const width = size * scale;
  const data = new Uint8ClampedArray(width * width * 4);
  for (let py = 0; py < width; py++) {
    for (let px = 0; px < width; px++) {
      const v = dark[Math.floor(py / scale)]?.[Math.floor(px / scale)] ? 0 : 255;
      data.set([v, v, v, 255], (py * width + px) * 4);
    }
  }
  return { data, width, height: width };
}

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

  it('makes the enrolment QR code as a plain SVG that reads back as the otpauth URI', async () => {
    const uri = totpUri(RFC_SECRET, 'admin@mail.example.org');
    const svg = await totpQrSvg(uri);
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), svg.slice(0, 80));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.equal(svg.match(/<svg\b/g)?.length, 1, 'one svg element');
    assert.doesNotMatch(svg, /<script|<foreignObject|\son\w+=|javascript:|href=/i, 'nothing active or linked in it');
    assert.match(svg, /^[\x20-\x7e\n]+$/, 'ASCII only (the UI base64-encodes it with btoa)');
    const { data, width, height } = rasterizeQrSvg(svg);
    assert.equal(decodeQrPixels(data, width, height), uri);
  });

  it('refuses to make a QR code of anything but an otpauth://totp/ URI', async () => {
    await assert.rejects(totpQrSvg('https://example.org/'), /not an otpauth:\/\/totp\/ URI/);
  });
});
