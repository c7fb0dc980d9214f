// COMPRESS DEFLATE (RFC 4978): the tagged OK goes out uncompressed, then both directions are raw DEFLATE.
// The engine bounds how far the client's input may inflate (limits.inflateRatio / inflateSlackBytes).
import type { CommandSpec } from '../engine/types.js';

export const COMPRESS: CommandSpec = {
  name: 'COMPRESS',
  states: ['authenticated', 'selected'],
  async run({ session, args }) {
    const mechanism = args.atom();
    args.end();
    if (mechanism !== 'DEFLATE') return { status: 'BAD', text: 'Unsupported compression mechanism' };
    if (session.compressed) return { status: 'NO', code: 'COMPRESSIONACTIVE', text: 'DEFLATE is already active' };
    session.startCompression();
    return { status: 'OK', text: 'DEFLATE active' };
  },
};
