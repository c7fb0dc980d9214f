// ID (RFC 2971): the client's fields are checked against the RFC's bounds (at most 30 pairs, field names up to
// 30 octets, values up to 1024) and otherwise ignored; we answer with our name and version. Valid before login.
import { VERSION } from '../../config/version.js';
import type { CommandSpec } from '../engine/types.js';
import { ParseError, type Cursor } from '../wire/types.js';


/** RFC 2971 §3.3: "Implementations MUST NOT send more than 30 field-value pairs." */
const MAX_PAIRS = 30;
/** "Strings are not case-sensitive. Field strings MUST NOT be longer than 30 octets. Value strings MUST NOT be longer than 1024 octets." */
const MAX_FIELD = 30;
const MAX_VALUE = 1024;

function readPairs(args: Cursor): void {
  if (args.tryKeyword('NIL')) return;
  const items = args.list((c) => c.nstring(), true);
  if (items.length % 2 !== 0) throw new ParseError('ID needs field-value pairs');
  if (items.length / 2 > MAX_PAIRS) throw new ParseError('Too many ID fields');
  for (let i = 0; i < items.length; i += 2) {
    const field = items[i];
    const value = items[i + 1];
    if (!field || field.length > MAX_FIELD) throw new ParseError('Invalid ID field');
    if (value && value.length > MAX_VALUE) throw new ParseError('ID value too long');
  }
}

export const ID: CommandSpec = {
  name: 'ID',
  states: ['not-authenticated', 'authenticated', 'selected'],
  capabilities: ['ID'],
  async run({ session, args }) {
    readPairs(args);
    args.end();
    await session.untagged('ID', [{ string: 'name' }, { string: 'Sealpost' }, { string: 'version' }, { string: VERSION }]);
  },
};
