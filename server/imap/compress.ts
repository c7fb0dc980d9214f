// COMPRESS=DEFLATE (RFC 4978) with a bound on inflated bytes: a client may expand its input at most
// `inflateRatio` times (plus a slack for one large APPEND); beyond that the connection ends (zip bomb guard).
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { ImapCommandModule, ImapConnection } from '@zone-eu/wildduck/imap-core/index.js';
import { attrText } from './protocol.js';
import { runtimeOf } from './runtime.js';
import { stateOf } from './state.js';

class ByteCounter extends Transform {
  constructor(private readonly count: (bytes: number) => boolean) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.count(chunk.length)) done(null, chunk);
    else done(); // over the bound: swallow; the connection is being closed
  }
}

function activate(connection: ImapConnection): void {
  const parser = connection._parser;
  if (!parser || connection._closing || connection._closed) {
    connection.close();
    return;
  }
  const { limits, logger } = runtimeOf(connection._server);
  const state = stateOf(connection.session);
  // Z_SYNC_FLUSH on every write: each response reaches the client at once without explicit flushes.
  const deflate = zlib.createDeflateRaw({ windowBits: 15, flush: zlib.constants.Z_SYNC_FLUSH });
  const inflate = zlib.createInflateRaw();
  let tripped = false;
  const onError = (): void => connection.close();
  deflate.once('error', onError);
  inflate.once('error', () => {
    if (!connection._closing && !connection._closed) logger.info({ cid: connection.id }, 'IMAP client sent invalid DEFLATE data');
    onError();
  });

  const compressed = new ByteCounter((bytes) => {
    state.compressedIn += bytes;
    return !tripped;
  });
  const inflated = new ByteCounter((bytes) => {
    state.inflatedIn += bytes;
    if (!tripped && state.inflatedIn > limits.inflateSlackBytes + limits.inflateRatio * state.compressedIn) {
      tripped = true;
      logger.warn({ cid: connection.id, compressed: state.compressedIn, inflated: state.inflatedIn }, 'IMAP COMPRESS expansion bound exceeded');
      connection.send('* BYE Compressed input expands too much');
      setImmediate(() => connection.close());
    }
    return !tripped;
  });

  // Everything imap-core sends right before closing (LOGOUT's BYE and OK, timeouts) sits in deflate's
  // buffer: close only after it has reached the socket, or the client sees EOF instead of the reply.
  const close = connection.close.bind(connection);
  connection.close = (force?: boolean): void => {
    if (connection._closing || connection._closed) return close(force);
    const fallback = setTimeout(() => close(force), 2000);
    fallback.unref();
    deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      clearTimeout(fallback);
      setImmediate(() => close(force));
    });
  };

  connection.compression = true;
  connection._deflate = deflate;
  connection._inflate = inflate;
  connection.writeStream.unpipe(connection._socket);
  connection.writeStream.pipe(deflate).pipe(connection._socket);
  connection._socket.unpipe(parser);
  connection._socket.pipe(compressed).pipe(inflate).pipe(inflated).pipe(parser);
}

export const compressCommand: ImapCommandModule = {
  state: ['Authenticated', 'Selected'],
  schema: [{ name: 'mechanism', type: 'string' }],
  handler(this: ImapConnection, command, callback) {
    const mechanism = attrText(command.attributes[0]).toUpperCase();
    if (mechanism !== 'DEFLATE') return callback(null, { response: 'BAD', message: 'Unsupported compression mechanism' });
    if (this.compression) return callback(null, { response: 'NO', code: 'COMPRESSIONACTIVE', message: 'DEFLATE is already active' });
    // The tagged OK must leave uncompressed; switch streams once it is written.
    setImmediate(() => activate(this));
    callback(null, { response: 'OK', message: 'DEFLATE active' });
  },
};
