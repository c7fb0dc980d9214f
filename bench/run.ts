// `npm run bench -- NAME [WORD...] [NAME...] [--flag...]` runs bench/NAME.ts (each exports `run(args)`);
// no name runs all. A word that is not a benchmark's name belongs to the name before it
// (`npm run bench -- profile delivery` hands "delivery" to bench/profile.ts; every word after `profile` is
// its own); flags go to every one.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.d.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const runs: { name: string; words: string[] }[] = [];
for (const word of process.argv.slice(2).filter((a) => !a.startsWith('-'))) {
  // `profile` names workloads, some of which share a benchmark's name (drain, pop3): its words are all its own.
  if (available.includes(word) && runs[runs.length - 1]?.name !== 'profile') runs.push({ name: word, words: [] });
  else if (runs.length) runs[runs.length - 1]!.words.push(word);
  else {
    console.error(`unknown benchmark "${word}"; available: ${available.join(', ')}`);
    process.exit(2);
  }
}
if (!runs.length) runs.push(...available.map((name) => ({ name, words: [] })));
for (const { name, words } of runs) {
  const mod = (await import(join(here, `${name}.ts`))) as { run: (args: string[]) => Promise<void> };
  await mod.run([...words, ...flags]);
}
