// The connection's writer: response bytes are batched per response group (one gathered socket write for the
// untagged lines and the tagged reply that follow each other), written with backpressure (a command waits while more
// than HIGH_WATER bytes sit unsent, so a client that does not read cannot make us buffer without bound), and
// large literals are streamed piece by piece as the socket drains.
import type { Writable } from 'node:stream';
import { SEPARATE_PIECE_BYTES, type EncodedPiece } from '../wire/encode.js';
import type { StreamedLiteral } from '../wire/types.js';

/** Unsent bytes above which writers wait for 'drain'. */
export const HIGH_WATER = 1024 * 1024;
/** Batched bytes written to the sink at once. */
const BATCH_BYTES = 64 * 1024;
/** Bytes of a streamed literal read and written per step. */
export const STREAM_PIECE = 256 * 1024;

export class Output {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private closed = false;

  constructor(private sink: Writable) {}

  /** Switches the byte sink (TLS socket after STARTTLS, the deflate stream after COMPRESS). */
  setSink(sink: Writable): void {
    this.sink = sink;
  }

  /** Stops writing for good (the connection is gone). */
  close(): void {
    this.closed = true;
    this.batch = [];
    this.batchBytes = 0;
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** Writers waiting for 'drain' (woken by close() too: a sink that never drains must not hold them). */
  private readonly waiting: (() => void)[] = [];

  /** Bytes batched here or waiting in the sink. */
  get unsentBytes(): number {
    return this.batchBytes + this.sink.writableLength;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Adds one complete line (CRLF appended). */
  async line(text: string | Buffer): Promise<void> {
    await this.push(typeof text === 'string' ? Buffer.from(`${text}\r\n`, 'utf8') : Buffer.concat([text, Buffer.from('\r\n')]));
  }

  /** Adds encoded pieces (wire/encode.ts: bytes, and streamed literal bodies after their `{n}` header). */
  async pieces(pieces: readonly EncodedPiece[]): Promise<void> {
    for (const piece of pieces) {
      if (Buffer.isBuffer(piece)) await this.push(piece);
      else await this.stream(piece);
    }
  }

  /** Writes what is batched to the sink and waits while too much is unsent. */
  async flush(): Promise<void> {
    if (this.closed) return;
    if (this.batchBytes > 0) {
      const batch = this.batch;
      this.batch = [];
      this.batchBytes = 0;
      this.writeGathered(batch);
    }
    await this.drained();
  }

  /**
   * One gathered write (the socket's writev) of the batch: runs of small buffers (response text) are joined,
   * large ones (message bodies) go as they are, so a FETCH BODY[] copies no body on its way to the socket.
   */
  private writeGathered(batch: readonly Buffer[]): void {
    if (batch.length === 1) {
      this.sink.write(batch[0] as Buffer);
      return;
    }
    const sink = this.sink;
    let run: Buffer[] = [];
    let runBytes = 0;
    const writeRun = (): void => {
      if (run.length === 0) return;
      sink.write(run.length === 1 ? (run[0] as Buffer) : Buffer.concat(run, runBytes));
      run = [];
      runBytes = 0;
    };
    sink.cork();
    try {
      for (const data of batch) {
        if (data.length >= SEPARATE_PIECE_BYTES) {
          writeRun();
          sink.write(data);
        } else {
          run.push(data);
          runBytes += data.length;
        }
      }
      writeRun();
    } finally {
      sink.uncork();
    }
  }

  private async push(data: Buffer): Promise<void> {
    if (this.closed) return;
    this.batch.push(data);
    this.batchBytes += data.length;
    if (this.batchBytes >= BATCH_BYTES) await this.flush();
  }

  private async drained(): Promise<void> {
    const sink = this.sink;
    while (!this.closed && sink.writableLength > HIGH_WATER && !sink.destroyed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          sink.off('drain', done);
          sink.off('close', done);
          sink.off('error', done);
          const at = this.waiting.indexOf(done);
          if (at >= 0) this.waiting.splice(at, 1);
          resolve();
        };
        this.waiting.push(done);
        sink.once('drain', done);
        sink.once('close', done);
        sink.once('error', done);
      });
    }
  }

  private async stream(literal: StreamedLiteral): Promise<void> {
    for (let offset = 0; offset < literal.length && !this.closed; offset += STREAM_PIECE) {
      const end = Math.min(literal.length, offset + STREAM_PIECE);
      const piece = await literal.read(offset, end);
      if (piece.length !== end - offset) throw new Error('streamed literal returned a short read');
      await this.push(piece);
      await this.flush();
    }
  }
}
