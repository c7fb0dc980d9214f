// The Sieve interpreter (RFC 5228 §2.10, §4, §5) with fileinto, envelope, imap4flags (RFC 5232), body (RFC 5173),
// variables (RFC 5229), vacation (RFC 5230) and copy (RFC 3894). It decides; the caller acts. Any runtime error
// (a limit, a bad argument) ends the run with only the implicit keep (RFC 5228 §2.10.6): a script never loses mail.
import { bindArguments, COMMANDS, TESTS, type BoundArguments } from './grammar.js';
import { SIEVE_LIMITS, type SieveLimits } from './limits.js';
import { matchValue, SieveRuntimeError, StepBudget, type Comparator, type MatchType } from './match.js';
import type { SieveMessageView } from './message.js';
import type { SieveArgument, SieveCommandNode, SieveTestNode } from './parse.js';

/** Store a copy: folder null is "keep" (wherever the message was going before the script). */
export interface SieveStoreAction {
  readonly folder: string | null;
  readonly flags: readonly string[];
}

/** A vacation reply the script asks for (RFC 5230 §4); the caller decides whether one is due and sends it. */
export interface SieveVacationAction {
  readonly reason: string;
  /** Already clamped to the limits. */
  readonly days: number;
  readonly subject: string | null;
  readonly from: string | null;
  readonly addresses: readonly string[];
  readonly mime: boolean;
  /** The :handle, or one derived from the other arguments (RFC 5230 §4.2). */
  readonly handle: string;
}

export interface SieveOutcome {
  readonly stores: readonly SieveStoreAction[];
  readonly redirects: readonly string[];
  readonly vacation: SieveVacationAction | null;
  /** Why the run stopped early (then stores is the implicit keep only), or null. */
  readonly error: string | null;
}

class Stop {}

const implicitKeepOnly = (error: string): SieveOutcome => ({ stores: [{ folder: null, flags: [] }], redirects: [], vacation: null, error });

function flagList(values: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const v of values) {
    for (const flag of v.split(' ')) {
      if (!flag || seen.has(flag.toLowerCase())) continue;
      seen.add(flag.toLowerCase());
      out.push(flag);
    }
  }
  return out;
}

/** Runs a checked script against one message. */
export function runSieve(script: readonly SieveCommandNode[], message: SieveMessageView, limits: SieveLimits = SIEVE_LIMITS): SieveOutcome {
  const required = new Set<string>();
  for (const cmd of script) {
    if (cmd.name !== 'require') break;
    for (const arg of cmd.args) for (const ext of arg.kind === 'list' ? arg.value : [String(arg.value)]) required.add(ext.toLowerCase());
  }
  const useVariables = required.has('variables');
  const budget = new StepBudget(limits.maxSteps);
  const variables = new Map<string, string>();
  let matchVars: readonly string[] = [];
  let internalFlags: string[] = [];
  const stores: SieveStoreAction[] = [];
  const redirects: string[] = [];
  let vacation: SieveVacationAction | null = null;
  let actions = 0;
  let implicitKeep = true;

  const expand = (s: string): string => {
    if (!useVariables || !s.includes('${')) return s;
    const out = s.replace(/\$\{([^${}]*)\}/g, (whole, name: string) => {
      if (/^[0-9]+$/.test(name)) return matchVars[Number(name)] ?? '';
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return variables.get(name.toLowerCase()) ?? '';
      return whole;
    });
    budget.spend(out.length);
    return out;
  };
  const list = (v: string | readonly string[] | number): string[] => (typeof v === 'number' ? [String(v)] : typeof v === 'string' ? [expand(v)] : v.map(expand));
  const str = (v: string | readonly string[] | number): string => list(v)[0] ?? '';
  const tagValue = (b: BoundArguments, name: string): SieveArgument | null => {
    const t = b.tags.get(name);
    return t && t !== true ? t : null;
  };
  const tagString = (b: BoundArguments, name: string): string | null => {
    const t = tagValue(b, name);
    if (!t) return null;
    return expand(t.kind === 'list' ? (t.value[0] ?? '') : String(t.value));
  };
  const tagList = (b: BoundArguments, name: string): string[] | null => {
    const t = tagValue(b, name);
    if (!t) return null;
    return t.kind === 'list' ? t.value.map(expand) : [expand(String(t.value))];
  };
  const setVariable = (name: string, value: string): void => {
    const key = name.toLowerCase();
    if (!variables.has(key) && variables.size >= limits.maxVariables) throw new SieveRuntimeError(`The script set more than ${limits.maxVariables} variables`);
    variables.set(key, value.slice(0, limits.maxVariableLength));
  };
  const countAction = (): void => {
    if (++actions > limits.maxActions) throw new SieveRuntimeError(`The script took more than ${limits.maxActions} actions`);
  };

  /** True when any value matches any key; a successful :matches sets the match variables. */
  const compare = (b: BoundArguments, values: readonly string[], keys: readonly string[]): boolean => {
    const type: MatchType = b.tags.has('matches') ? 'matches' : b.tags.has('contains') ? 'contains' : 'is';
    const comparator = (tagString(b, 'comparator') ?? 'i;ascii-casemap').toLowerCase() as Comparator;
    for (const value of values) {
      for (const key of keys) {
        const m = matchValue(value, key, type, comparator, budget);
        if (m) {
          if (type === 'matches' && useVariables) matchVars = m.slice(0, limits.maxMatchVariables).map((s) => s.slice(0, limits.maxVariableLength));
          return true;
        }
      }
    }
    return false;
  };

  const addressPart = (b: BoundArguments, address: string): string => {
    const at = address.lastIndexOf('@');
    if (b.tags.has('localpart')) return at < 0 ? address : address.slice(0, at);
    if (b.tags.has('domain')) return at < 0 ? '' : address.slice(at + 1);
    return address;
  };

  const test = (node: SieveTestNode): boolean => {
    budget.spend(1);
    const spec = TESTS[node.name]!;
    const b = bindArguments(node, spec, 'test', required);
    const p = b.positional;
    switch (node.name) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'not':
        return !test(node.tests[0]!);
      case 'allof':
        return node.tests.every((t) => test(t));
      case 'anyof':
        return node.tests.some((t) => test(t));
      case 'size':
        return b.tags.has('over') ? message.size > (p[0] as number) : message.size < (p[0] as number);
      case 'exists':
        return list(p[0]!).every((name) => message.header(name).length > 0);
      case 'header':
        return compare(b, list(p[0]!).flatMap((name) => message.header(name)), list(p[1]!));
      case 'address':
        return compare(b, list(p[0]!).flatMap((name) => message.addresses(name).map((a) => addressPart(b, a))), list(p[1]!));
      case 'envelope': {
        const env = message.envelope;
        if (!env) return false;
        const values = list(p[0]!).flatMap((part) => {
          const which = part.toLowerCase();
          if (which === 'from') return [env.from === '' ? '' : addressPart(b, env.from)];
          if (which === 'to') return [addressPart(b, env.to)];
          return [];
        });
        return compare(b, values, list(p[1]!));
      }
      case 'body': {
        const keys = list(p[0]!);
        if (b.tags.has('raw')) return compare(b, [message.rawBody()], keys);
        const types = tagList(b, 'content');
        const parts = message.parts().filter((part) => {
          if (!types) return part.contentType.startsWith('text/');
          return types.some((t) => {
            const want = t.toLowerCase();
            return want === '' || part.contentType === want || (!want.includes('/') && part.contentType.startsWith(`${want}/`));
          });
        });
        return compare(b, parts.map((part) => part.text), keys);
      }
      case 'string':
        return compare(b, list(p[0]!), list(p[1]!));
      case 'hasflag': {
        const source = p.length === 2 ? flagList(list(p[0]!).map((name) => variables.get(name.toLowerCase()) ?? '')) : internalFlags;
        return compare(b, source, list(p[p.length - 1]!));
      }
      default:
        throw new SieveRuntimeError(`Unknown test "${node.name}"`);
    }
  };

  const flagsFor = (b: BoundArguments): string[] => {
    const given = tagList(b, 'flags');
    return given ? flagList(given) : [...internalFlags];
  };

  const store = (folder: string | null, flags: string[]): void => {
    if (stores.some((s) => s.folder === folder)) return;
    stores.push({ folder, flags });
  };

  const changeFlags = (b: BoundArguments, change: (current: string[], given: string[]) => string[]): void => {
    const p = b.positional;
    const given = flagList(list(p[p.length - 1]!));
    if (p.length === 2) {
      const name = str(p[0]!);
      setVariable(name, change(flagList([variables.get(name.toLowerCase()) ?? '']), given).join(' '));
    } else {
      internalFlags = change(internalFlags, given);
    }
  };

  const command = (cmd: SieveCommandNode): void => {
    budget.spend(1);
    const b = bindArguments(cmd, COMMANDS[cmd.name]!, 'command', required);
    const p = b.positional;
    switch (cmd.name) {
      case 'require':
        return;
      case 'stop':
        throw new Stop();
      case 'keep':
        countAction();
        implicitKeep = false;
        store(null, flagsFor(b));
        return;
      case 'discard':
        implicitKeep = false;
        return;
      case 'fileinto': {
        countAction();
        if (!b.tags.has('copy')) implicitKeep = false;
        const folder = str(p[0]!);
        store(folder.toUpperCase() === 'INBOX' ? 'INBOX' : folder, flagsFor(b));
        return;
      }
      case 'redirect': {
        countAction();
        const address = str(p[0]!).trim();
        if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address)) throw new SieveRuntimeError('redirect needs one e-mail address');
        if (!b.tags.has('copy')) implicitKeep = false;
        if (redirects.includes(address.toLowerCase())) return;
        if (redirects.length >= limits.maxRedirects) throw new SieveRuntimeError(`The script redirected more than ${limits.maxRedirects} times`);
        redirects.push(address.toLowerCase());
        return;
      }
      case 'setflag':
        changeFlags(b, (_current, given) => given);
        return;
      case 'addflag':
        changeFlags(b, (current, given) => flagList([...current, ...given]));
        return;
      case 'removeflag':
        changeFlags(b, (current, given) => current.filter((f) => !given.some((g) => g.toLowerCase() === f.toLowerCase())));
        return;
      case 'set': {
        let value = str(p[1]!);
        if (b.tags.has('lower')) value = value.toLowerCase();
        if (b.tags.has('upper')) value = value.toUpperCase();
        if (b.tags.has('lowerfirst')) value = value.charAt(0).toLowerCase() + value.slice(1);
        if (b.tags.has('upperfirst')) value = value.charAt(0).toUpperCase() + value.slice(1);
        if (b.tags.has('quotewildcard')) value = value.replace(/[*?\\]/g, (c) => `\\${c}`);
        if (b.tags.has('length')) value = String(Array.from(value).length);
        setVariable(str(p[0]!), value);
        return;
      }
      case 'vacation': {
        countAction();
        if (vacation) throw new SieveRuntimeError('vacation may be used once per script');
        const daysArg = tagValue(b, 'days');
        const days = daysArg && daysArg.kind === 'number' ? daysArg.value : 7;
        const reason = str(p[0]!);
        const subject = tagString(b, 'subject');
        const from = tagString(b, 'from');
        const mime = b.tags.has('mime');
        vacation = {
          reason,
          days: Math.min(limits.vacationMaxDays, Math.max(limits.vacationMinDays, days)),
          subject,
          from,
          addresses: tagList(b, 'addresses') ?? [],
          mime,
          handle: tagString(b, 'handle') ?? `${subject ?? ''}\u0000${from ?? ''}\u0000${mime ? 1 : 0}\u0000${reason}`,
        };
        return;
      }
      default:
        throw new SieveRuntimeError(`Unknown command "${cmd.name}"`);
    }
  };

  const block = (commands: readonly SieveCommandNode[]): void => {
    let chainTaken = false;
    for (const cmd of commands) {
      if (cmd.name === 'if' || cmd.name === 'elsif' || cmd.name === 'else') {
        if (cmd.name === 'if') chainTaken = false;
        if (chainTaken) continue;
        if (cmd.name === 'else' || test(cmd.tests[0]!)) {
          chainTaken = true;
          block(cmd.block ?? []);
        }
        continue;
      }
      command(cmd);
    }
  };

  try {
    block(script);
  } catch (error) {
    if (error instanceof SieveRuntimeError) return implicitKeepOnly(error.message);
    if (!(error instanceof Stop)) {
      // Only the error's class: its message might quote message data, and the reason is logged.
      return implicitKeepOnly(error instanceof RangeError ? 'The script ran out of stack' : `The script failed (${error instanceof Error ? error.name : 'unknown'})`);
    }
  }
  // RFC 5228 §2.10.2: the implicit keep stands unless an action cancelled it; it carries the internal flags (RFC 5232 §3).
  if (implicitKeep) store(null, [...internalFlags]);
  return { stores, redirects, vacation, error: null };
}
