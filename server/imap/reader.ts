// The connection's input reader (installed as connection._parser in place of imap-core's IMAPStream): splits
// the byte stream into command lines and literals for imap-core's command machinery, with the same interface
// (oncommand, _remainder, _expecting) so guards.ts can bound it. It adds non-synchronizing literals
// (LITERAL+, RFC 7888): `{n+}` is handed on as `{n}` with `nonSync: true` (the guard then keeps imap-core's
// "+ Go ahead" off the wire), and when a command with such a literal is refused, the literal bytes the client
// sent anyway, and the rest of that command, are read and dropped instead of being run as commands.
import { PassThrough, Writable } from 'node:stream';
import type { ImapStreamCommand } from '@zone-eu/wildduck/imap-core/index.js';

export interface ReaderCommand extends ImapStreamCommand {
  /** The line ended with a non-synchronizing literal `{n+}` (value shows it as `{n}`). */
  readonly nonSync?: boolean;
}

type OnCommand = (command: ReaderCommand, callback?: (err?: Error | null) => void) => void;

const LITERAL = /\{(\d{1,15})(\+?)\}$/;

export class ImapReader extends Writable {
  /** Unterminated line carried over to the next chunk (guards.ts bounds its length). */
  _remainder = '';
  /** Literal bytes still to come. */
  _expecting = 0;
  private literal: PassThrough | null = null;
  private ready: Promise<void> | null = null;
  /** Reading (and dropping) the rest of a refused command that had a non-synchronizing literal. */
  private discarding = false;

  oncommand: OnCommand = () => {
    throw new Error('IMAP reader without a command handler');
  };

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.consume(chunk).then(
      () => done(),
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private command(command: ReaderCommand): Promise<Error | null> {
    return new Promise((resolve) => this.oncommand(command, (err) => resolve(err ?? null)));
  }

  private async consume(chunk: Buffer): Promise<void> {
    // 'binary' strings, as imap-core's parser expects (one char per byte).
    const data = this._remainder + chunk.toString('binary');
    this._remainder = '';
    let pos = 0;
    while (pos < data.length) {
      if (this._expecting > 0) {
        const take = Math.min(this._expecting, data.length - pos);
        const part = Buffer.from(data.slice(pos, pos + take), 'binary');
        pos += take;
        this._expecting -= take;
        const literal = this.literal;
        if (!literal) continue; // dropping a refused literal
        if (this._expecting > 0) {
          await new Promise<void>((resolve) => literal.write(part, () => resolve()));
          continue;
        }
        await this.finishLiteral(literal, part);
        continue;
      }
      const lf = data.indexOf('\n', pos);
      if (lf < 0) {
        this._remainder = data.slice(pos);
        return;
      }
      const line = data.slice(pos, data[lf - 1] === '\r' && lf > pos ? lf - 1 : lf);
      pos = lf + 1;
      const match = LITERAL.exec(line);
      if (this.discarding) {
        // The refused command goes on: skip its further non-synchronizing literals; it ends with a plain line
        // (or a synchronizing literal, which we never accept, so the client sends no bytes for it).
        if (match?.[2]) this._expecting = Number(match[1]);
        else this.discarding = false;
        continue;
      }
      if (!match) {
        await this.command({ value: line, final: true });
        continue;
      }
      const size = Number(match[1]);
      const nonSync = match[2] === '+';
      const literal = new PassThrough();
      let markReady: () => void = () => undefined;
      this.ready = new Promise<void>((resolve) => (markReady = resolve));
      const err = await this.command({
        value: nonSync ? `${line.slice(0, -match[0].length)}{${size}}` : line,
        final: false,
        expecting: size,
        literal,
        readyCallback: () => markReady(),
        nonSync,
      });
      if (err) {
        // Refused: a synchronising client sends nothing; a non-synchronising one already did.
        this.ready = null;
        if (nonSync) {
          this._expecting = size;
          this.discarding = true;
          this.literal = null;
        }
        continue;
      }
      this.literal = literal;
      this._expecting = size;
      if (size === 0) await this.finishLiteral(literal, Buffer.alloc(0));
    }
  }

  /** Ends the literal and waits until imap-core has taken it (readyCallback) before reading on. */
  private async finishLiteral(literal: PassThrough, last: Buffer): Promise<void> {
    const ready = this.ready;
    this.literal = null;
    this.ready = null;
    literal.end(last);
    if (ready) await ready;
  }
}
