// Scoring a message from its tokens' counts: Gary Robinson's per-token probability with a prior for rare tokens,
// combined with Fisher's chi-square method into one indicator in [0, 1] (0 ham, 1 spam, 0.5 no opinion). Pure.

/** How often one token was seen in messages trained as spam and as ham. */
export interface TokenCounts {
  readonly spam: number;
  readonly ham: number;
}

/** What the store knows: messages trained per class, and the counts of the tokens asked for. */
export interface TrainingCounts {
  readonly spamMessages: number;
  readonly hamMessages: number;
  readonly tokens: ReadonlyMap<string, TokenCounts>;
}

export type JunkVerdict = 'spam' | 'ham' | 'unsure';

export interface JunkSettings {
  /** Score at or above which a message is spam (filed into Junk). */
  readonly threshold: number;
  /** Score below which a message is ham; between it and `threshold` the verdict is "unsure". */
  readonly hamBelow: number;
  /** Messages of each class trained before the classifier gives any verdict but "unsure". */
  readonly minTrained: number;
}

export const DEFAULT_JUNK_SETTINGS: JunkSettings = { threshold: 0.8, hamBelow: 0.2, minTrained: 5 };

export interface JunkScore {
  readonly score: number;
  readonly verdict: JunkVerdict;
  /** Tokens that took part (the strongest clues). */
  readonly clues: number;
}

/** Robinson's strength of the prior (s) and the prior itself (x) for a token seen rarely. */
const PRIOR_STRENGTH = 0.45;
const PRIOR = 0.5;
/** Tokens whose probability is within this of 0.5 say nothing and are left out. */
const MIN_DEVIATION = 0.1;
/** At most this many of the strongest tokens are combined. */
const MAX_CLUES = 150;

/** P(chi2 >= x2) for an even number of degrees of freedom `v` (closed form of the upper tail). */
function chi2Q(x2: number, v: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < v / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

/** Robinson's f(w): the token's spam probability, pulled toward the prior when seen rarely. */
export function tokenProbability(counts: TokenCounts, spamMessages: number, hamMessages: number): number {
  const spamRatio = counts.spam / Math.max(spamMessages, 1);
  const hamRatio = counts.ham / Math.max(hamMessages, 1);
  const p = spamRatio + hamRatio > 0 ? spamRatio / (spamRatio + hamRatio) : PRIOR;
  const n = counts.spam + counts.ham;
  return (PRIOR_STRENGTH * PRIOR + n * p) / (PRIOR_STRENGTH + n);
}

/** The chi-square indicator of a message's tokens: near 1 spam, near 0 ham, near 0.5 unsure or conflicting. */
export function junkIndicator(tokens: readonly string[], training: TrainingCounts): { score: number; clues: number } {
  const probabilities: number[] = [];
  for (const token of tokens) {
    const counts = training.tokens.get(token);
    if (!counts || counts.spam + counts.ham === 0) continue;
    const p = tokenProbability(counts, training.spamMessages, training.hamMessages);
    if (Math.abs(p - 0.5) >= MIN_DEVIATION) probabilities.push(p);
  }
  if (!probabilities.length) return { score: 0.5, clues: 0 };
  probabilities.sort((a, b) => Math.abs(b - 0.5) - Math.abs(a - 0.5));
  const clues = probabilities.slice(0, MAX_CLUES);
  // Sums of logs rather than products: hundreds of small probabilities would underflow.
  let hamLog = 0;
  let spamLog = 0;
  for (const p of clues) {
    spamLog += Math.log(Math.max(1 - p, 1e-200));
    hamLog += Math.log(Math.max(p, 1e-200));
  }
  const n = clues.length;
  const spamness = 1 - chi2Q(-2 * spamLog, 2 * n);
  const hamness = 1 - chi2Q(-2 * hamLog, 2 * n);
  return { score: (1 + spamness - hamness) / 2, clues: n };
}

/** Score and verdict of a message; "unsure" until both classes have `minTrained` messages. */
export function scoreMessage(tokens: readonly string[], training: TrainingCounts, settings: JunkSettings = DEFAULT_JUNK_SETTINGS): JunkScore {
  const { score, clues } = junkIndicator(tokens, training);
  const trained = training.spamMessages >= settings.minTrained && training.hamMessages >= settings.minTrained;
  const verdict: JunkVerdict = !trained ? 'unsure' : score >= settings.threshold ? 'spam' : score < settings.hamBelow ? 'ham' : 'unsure';
  return { score, verdict, clues };
}
