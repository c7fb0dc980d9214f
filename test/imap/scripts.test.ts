// Every conversation script in test/imap/scripts/ as its own test, replayed over a real socket against
// Sealpost's IMAP server. The test name
// is the script's first comment line (its RFC section). Format: test/imap/scripts/README.md; runner: script-runner.ts.
import { after, before, test } from 'node:test';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedDirOptOut } from '../helpers/shared-dir.js';
import { loadScripts, runScript } from './script-runner.js';
import { startSealpostPeer } from './sealpost-peer.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scripts');
const scripts = loadScripts(dir, process.env.SEALPOST_SCRIPT_FILTER);
let peer: Awaited<ReturnType<typeof startSealpostPeer>> | null = null;

before(async () => {
  peer = await startSealpostPeer();
});
after(async () => {
  await peer?.close();
});

// Scripts that deliver a file of the shared corpus skip (and say why) only when SEALPOST_SHARED_DIR=none.
const optOut = sharedDirOptOut();
for (const script of scripts) {
  const usesShared = script.steps.some((s) => s.kind === 'deliver' && 'file' in s.message);
  test(`${script.title} [${path.basename(script.file)}]`, { skip: usesShared && optOut !== null ? optOut : false }, async () => {
    await runScript(script, peer!);
  });
}
