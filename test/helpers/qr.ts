// Reading QR codes back in tests, as an authenticator app's camera would: jsQR over RGBA pixels, from a
// PNG screenshot (pngjs) or from raw pixels.
import jsqr from 'jsqr';
import { PNG } from 'pngjs';

// jsqr is CommonJS whose declarations use `export default`: under NodeNext the default import is the
// module object, and its `.default` is the function (jsqr sets both at runtime).
const jsQR = jsqr.default;

/** The text of the QR code in RGBA pixels, or null when none is found. */
export function decodeQrPixels(rgba: Uint8ClampedArray, width: number, height: number): string | null {
  return jsQR(rgba, width, height)?.data ?? null;
}

/** The text of the QR code in a PNG image (a screenshot), or null when none is found. */
export function decodeQrPng(png: Buffer): string | null {
  const image = PNG.sync.read(png);
  return decodeQrPixels(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length), image.width, image.height);
}
