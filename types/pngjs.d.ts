// Minimal declaration for pngjs (no bundled types; @types/pngjs is not installed). Only what the browser
// tests call: reading a screenshot PNG into RGBA pixels.
declare module 'pngjs' {
  export class PNG {
    width: number;
    height: number;
    /** RGBA, 4 bytes a pixel, row by row. */
    data: Buffer;
    static sync: { read(buffer: Buffer): PNG };
  }
}
