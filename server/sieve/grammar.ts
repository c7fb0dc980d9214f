// What each supported command and test accepts (RFC 5228 §4-5 and the extensions in SIEVE_EXTENSIONS), and the
// check that binds a parsed node to it: tagged arguments by name, positional ones by type, the test or block it
// takes, and the extension it needs in `require`. The interpreter runs only what this accepted.
import { SieveSyntaxError, type SieveArgument, type SieveCommandNode, type SieveTestNode } from './parse.js';

/** The extensions a script may require; the capability list of ManageSieve. */
export const SIEVE_EXTENSIONS: readonly string[] = Object.freeze([
  'fileinto',
  'envelope',
  'imap4flags',
  'body',
  'variables',
  'vacation',
  'copy',
  'comparator-i;octet',
  'comparator-i;ascii-casemap',
]);

type ArgType = 'string' | 'list' | 'number';

interface TagSpec {
  /** Tags in one group exclude each other (match types, address parts, body transforms). */
  readonly group?: string;
  /** The value the tag takes after it, if any. */
  readonly value?: ArgType;
  readonly extension?: string;
}

interface Spec {
  readonly extension?: string;
  readonly tags: Readonly<Record<string, TagSpec>>;
  /** Positional arguments in order; optional ones (from the left) are listed in `optionalLeading`. */
  readonly positional: readonly ArgType[];
  readonly optionalLeading?: number;
  readonly test?: 'one' | 'list';
  readonly block?: boolean;
}

const MATCH: Record<string, TagSpec> = { is: { group: 'match' }, contains: { group: 'match' }, matches: { group: 'match' }, comparator: { value: 'string' } };
const ADDRESS_PART: Record<string, TagSpec> = { all: { group: 'part' }, localpart: { group: 'part' }, domain: { group: 'part' } };

export const COMMANDS: Readonly<Record<string, Spec>> = {
  require: { tags: {}, positional: ['list'] },
  if: { tags: {}, positional: [], test: 'one', block: true },
  elsif: { tags: {}, positional: [], test: 'one', block: true },
  else: { tags: {}, positional: [], block: true },
  stop: { tags: {}, positional: [] },
  keep: { tags: { flags: { value: 'list', extension: 'imap4flags' } }, positional: [] },
  discard: { tags: {}, positional: [] },
  redirect: { tags: { copy: { extension: 'copy' } }, positional: ['string'] },
  fileinto: { extension: 'fileinto', tags: { copy: { extension: 'copy' }, flags: { value: 'list', extension: 'imap4flags' } }, positional: ['string'] },
  setflag: { extension: 'imap4flags', tags: {}, positional: ['string', 'list'], optionalLeading: 1 },
  addflag: { extension: 'imap4flags', tags: {}, positional: ['string', 'list'], optionalLeading: 1 },
  removeflag: { extension: 'imap4flags', tags: {}, positional: ['string', 'list'], optionalLeading: 1 },
  set: {
    extension: 'variables',
    tags: { lower: { group: 'case' }, upper: { group: 'case' }, lowerfirst: { group: 'first' }, upperfirst: { group: 'first' }, quotewildcard: {}, length: {} },
    positional: ['string', 'string'],
  },
  vacation: {
    extension: 'vacation',
    tags: { days: { value: 'number' }, subject: { value: 'string' }, from: { value: 'string' }, addresses: { value: 'list' }, mime: {}, handle: { value: 'string' } },
    positional: ['string'],
  },
};

export const TESTS: Readonly<Record<string, Spec>> = {
  address: { tags: { ...MATCH, ...ADDRESS_PART }, positional: ['list', 'list'] },
  envelope: { extension: 'envelope', tags: { ...MATCH, ...ADDRESS_PART }, positional: ['list', 'list'] },
  header: { tags: MATCH, positional: ['list', 'list'] },
  exists: { tags: {}, positional: ['list'] },
  size: { tags: { over: { group: 'size' }, under: { group: 'size' } }, positional: ['number'] },
  allof: { tags: {}, positional: [], test: 'list' },
  anyof: { tags: {}, positional: [], test: 'list' },
  not: { tags: {}, positional: [], test: 'one' },
  true: { tags: {}, positional: [] },
  false: { tags: {}, positional: [] },
  body: { extension: 'body', tags: { ...MATCH, raw: { group: 'transform' }, content: { group: 'transform', value: 'list' }, text: { group: 'transform' } }, positional: ['list'] },
  string: { extension: 'variables', tags: MATCH, positional: ['list', 'list'] },
  hasflag: { extension: 'imap4flags', tags: MATCH, positional: ['list', 'list'], optionalLeading: 1 },
};

/** A node's arguments sorted out: tags by name (true, or the value they took) and positional values in order. */
export interface BoundArguments {
  readonly tags: ReadonlyMap<string, true | SieveArgument>;
  /** Positional values; strings are one-item lists where a list is expected. Missing optional leading ones are absent. */
  readonly positional: readonly (string | readonly string[] | number)[];
}

const COMPARATORS = new Set(['i;ascii-casemap', 'i;octet']);

function typeOk(arg: SieveArgument, want: ArgType): boolean {
  if (want === 'number') return arg.kind === 'number';
  if (want === 'string') return arg.kind === 'string' || (arg.kind === 'list' && arg.value.length === 1);
  return arg.kind === 'string' || arg.kind === 'list';
}

const typeName = (t: ArgType): string => (t === 'list' ? 'a string or string list' : t === 'string' ? 'a string' : 'a number');

/** Binds a node to its spec; throws SieveSyntaxError naming the line and what is wrong. */
export function bindArguments(node: SieveTestNode, spec: Spec, kind: 'command' | 'test', required: ReadonlySet<string>): BoundArguments {
  const tags = new Map<string, true | SieveArgument>();
  const groups = new Map<string, string>();
  const positional: SieveArgument[] = [];
  const args = node.args;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.kind !== 'tag') {
      positional.push(arg);
      continue;
    }
    if (positional.length > 0) throw new SieveSyntaxError(arg.line, `Tagged argument :${arg.value} must come before the other arguments of ${node.name}`);
    const tag = spec.tags[arg.value];
    if (!tag) throw new SieveSyntaxError(arg.line, `${kind === 'command' ? 'Command' : 'Test'} "${node.name}" does not take :${arg.value}`);
    if (tag.extension && !required.has(tag.extension)) throw new SieveSyntaxError(arg.line, `:${arg.value} needs require "${tag.extension}"`);
    if (tags.has(arg.value)) throw new SieveSyntaxError(arg.line, `:${arg.value} given twice`);
    if (tag.group) {
      const other = groups.get(tag.group);
      if (other) throw new SieveSyntaxError(arg.line, `:${arg.value} cannot be combined with :${other}`);
      groups.set(tag.group, arg.value);
    }
    if (tag.value) {
      const value = args[i + 1];
      if (!value || value.kind === 'tag' || !typeOk(value, tag.value)) throw new SieveSyntaxError(arg.line, `:${arg.value} must be followed by ${typeName(tag.value)}`);
      tags.set(arg.value, value);
      i++;
    } else {
      tags.set(arg.value, true);
    }
  }
  const comparator = tags.get('comparator');
  if (comparator && comparator !== true) {
    const name = comparator.kind === 'list' ? comparator.value[0]! : String(comparator.value);
    if (!COMPARATORS.has(name.toLowerCase())) throw new SieveSyntaxError(comparator.line, `Unknown comparator "${name}": use "i;ascii-casemap" or "i;octet"`);
  }
  const want = spec.positional;
  const optional = spec.optionalLeading ?? 0;
  if (positional.length < want.length - optional || positional.length > want.length) {
    const count = optional ? `${want.length - optional} or ${want.length}` : String(want.length);
    throw new SieveSyntaxError(node.line, `"${node.name}" takes ${count} argument${want.length === 1 ? '' : 's'} besides its tags, got ${positional.length}`);
  }
  const types = want.slice(want.length - positional.length);
  const values = positional.map((arg, k) => {
    const t = types[k]!;
    if (!typeOk(arg, t)) throw new SieveSyntaxError(arg.line, `Argument ${k + 1} of "${node.name}" must be ${typeName(t)}`);
    if (t === 'number') return arg.value as number;
    if (t === 'string') return arg.kind === 'list' ? arg.value[0]! : (arg.value as string);
    return arg.kind === 'list' ? arg.value : [arg.value as string];
  });
  if (spec.test === 'one' && (node.tests.length !== 1 || node.testList)) throw new SieveSyntaxError(node.line, `"${node.name}" needs exactly one test`);
  if (spec.test === 'list' && (!node.testList || node.tests.length === 0)) throw new SieveSyntaxError(node.line, `"${node.name}" needs a list of tests in parentheses`);
  if (!spec.test && node.tests.length > 0) throw new SieveSyntaxError(node.line, `"${node.name}" does not take a test`);
  return { tags, positional: values };
}

/**
 * Checks a parsed script against the grammar: known commands and tests, `require` first and naming only supported
 * extensions, each extension required before use, elsif/else after if, blocks where they belong.
 */
export function checkTree(commands: readonly SieveCommandNode[]): void {
  const required = new Set<string>();
  let pastRequire = false;
  const checkTest = (test: SieveTestNode): void => {
    const spec = TESTS[test.name];
    if (!spec) throw new SieveSyntaxError(test.line, `Unknown test "${test.name}"`);
    if (spec.extension && !required.has(spec.extension)) throw new SieveSyntaxError(test.line, `Test "${test.name}" needs require "${spec.extension}"`);
    const bound = bindArguments(test, spec, 'test', required);
    if (test.name === 'size' && bound.tags.size !== 1) throw new SieveSyntaxError(test.line, '"size" needs :over or :under');
    for (const t of test.tests) checkTest(t);
  };
  const checkBlock = (block: readonly SieveCommandNode[], top: boolean): void => {
    let previous: string | null = null;
    for (const cmd of block) {
      const spec = COMMANDS[cmd.name];
      if (!spec) throw new SieveSyntaxError(cmd.line, `Unknown command "${cmd.name}"`);
      if (cmd.name === 'require') {
        if (!top || pastRequire) throw new SieveSyntaxError(cmd.line, '"require" must come before every other command');
        const bound = bindArguments(cmd, spec, 'command', required);
        for (const ext of bound.positional[0] as readonly string[]) {
          if (!SIEVE_EXTENSIONS.includes(ext.toLowerCase())) throw new SieveSyntaxError(cmd.line, `Extension "${ext}" is not supported (supported: ${SIEVE_EXTENSIONS.join(', ')})`);
          required.add(ext.toLowerCase());
        }
        if (cmd.block) throw new SieveSyntaxError(cmd.line, '"require" ends with ";", not a block');
        previous = cmd.name;
        continue;
      }
      pastRequire = true;
      if (spec.extension && !required.has(spec.extension)) throw new SieveSyntaxError(cmd.line, `Command "${cmd.name}" needs require "${spec.extension}"`);
      if ((cmd.name === 'elsif' || cmd.name === 'else') && previous !== 'if' && previous !== 'elsif') {
        throw new SieveSyntaxError(cmd.line, `"${cmd.name}" must follow "if" or "elsif"`);
      }
      const bound = bindArguments(cmd, spec, 'command', required);
      if (spec.block && !cmd.block) throw new SieveSyntaxError(cmd.line, `"${cmd.name}" needs a block in braces`);
      if (!spec.block && cmd.block) throw new SieveSyntaxError(cmd.line, `"${cmd.name}" ends with ";", not a block`);
      if (cmd.name === 'set' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(bound.positional[0] as string)) {
        throw new SieveSyntaxError(cmd.line, `Bad variable name "${String(bound.positional[0])}": use letters, digits and "_"`);
      }
      if (cmd.name === 'vacation') {
        const days = bound.tags.get('days');
        if (days && days !== true && days.kind === 'number' && days.value < 0) throw new SieveSyntaxError(days.line, ':days must be a positive number');
      }
      for (const t of cmd.tests) checkTest(t);
      if (cmd.block) checkBlock(cmd.block, false);
      previous = cmd.name;
    }
  };
  checkBlock(commands, true);
}
