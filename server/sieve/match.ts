// Comparators (RFC 4790 via RFC 5228 §2.7.3) and match types (§2.7.1). :matches runs in O(text × pattern) steps
// (backtracking only to the last "*"), never exponentially, and every step is counted against the run's budget.

/** Thrown when a run exceeds a limit; the run stops and the message is kept (RFC 5228 §2.10.6). */
export class SieveRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SieveRuntimeError';
  }
}

export type Comparator = 'i;ascii-casemap' | 'i;octet';
export type MatchType = 'is' | 'contains' | 'matches';

/** Counts evaluation steps; throws SieveRuntimeError past the budget. */
export class StepBudget {
  private used = 0;
  constructor(private readonly max: number) {}
  spend(n: number): void {
    this.used += n;
    if (this.used > this.max) throw new SieveRuntimeError(`The script used more than ${this.max} evaluation steps`);
  }
}

const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const fold = (s: string, comparator: Comparator): string => (comparator === 'i;octet' ? s : asciiLower(s));

/** Result of one match: null for no match, else the match variables (${0} the whole value, ${1}.. per wildcard). */
export type MatchResult = null | readonly string[];

export function matchValue(value: string, key: string, type: MatchType, comparator: Comparator, budget: StepBudget): MatchResult {
  if (type === 'is') {
    budget.spend(value.length + 1);
    return fold(value, comparator) === fold(key, comparator) ? [] : null;
  }
  if (type === 'contains') {
    budget.spend(value.length + key.length + 1);
    return fold(value, comparator).includes(fold(key, comparator)) ? [] : null;
  }
  return wildcard(value, key, comparator, budget);
}

type PatternItem = { kind: 'star' } | { kind: 'one' } | { kind: 'char'; c: string };

function compile(pattern: string, comparator: Comparator): PatternItem[] {
  const out: PatternItem[] = [];
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\' && i + 1 < chars.length) out.push({ kind: 'char', c: fold(chars[++i]!, comparator) });
    else if (c === '*') out.push({ kind: 'star' });
    else if (c === '?') out.push({ kind: 'one' });
    else out.push({ kind: 'char', c: fold(c, comparator) });
  }
  return out;
}

/**
 * Glob match with "*" and "?" (RFC 5228 §2.7.1), each wildcard as short as it can be from the left (RFC 5229 §3.2),
 * returning the text each wildcard matched. On a mismatch only the last "*" grows, which suffices for globs and
 * bounds the work by text length × pattern length.
 */
function wildcard(value: string, pattern: string, comparator: Comparator, budget: StepBudget): MatchResult {
  const p = compile(pattern, comparator);
  const original = Array.from(value);
  const t = original.map((c) => fold(c, comparator));
  const starts: number[] = new Array<number>(p.length).fill(0);
  let ti = 0;
  let pi = 0;
  let starP = -1;
  let starT = 0;
  let steps = 0;
  while (ti < t.length || pi < p.length) {
    if (++steps > 4096) {
      budget.spend(steps);
      steps = 0;
    }
    const item = p[pi];
    if (item && item.kind === 'star') {
      starP = pi;
      starT = ti;
      starts[pi] = ti;
      pi++;
      continue;
    }
    if (item && ti < t.length && (item.kind === 'one' || item.c === t[ti])) {
      starts[pi] = ti;
      pi++;
      ti++;
      continue;
    }
    if (starP < 0 || starT >= t.length) {
      budget.spend(steps);
      return null;
    }
    starT++;
    pi = starP + 1;
    ti = starT;
  }
  budget.spend(steps);
  // Each wildcard's text: a star runs from its start to the next item's start (or the end).
  const groups: string[] = [original.join('')];
  for (let k = 0; k < p.length; k++) {
    const item = p[k]!;
    if (item.kind === 'char') continue;
    if (item.kind === 'one') {
      groups.push(original[starts[k]!]!);
      continue;
    }
    const end = k + 1 < p.length ? starts[k + 1]! : original.length;
    groups.push(original.slice(starts[k]!, end).join(''));
  }
  return groups;
}
