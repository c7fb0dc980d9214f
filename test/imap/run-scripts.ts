// Dev command (not part of `npm test`): replays the conversation scripts against a peer and prints a pass list.
//   node --import tsx test/imap/run-scripts.ts --peer dovecot|sealpost [filter]
// `dovecot` starts a throw-away loopback Dovecot 2.3 to check the scripts themselves; `sealpost` starts Sealpost.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDovecotPeer } from './dovecot-peer.js';
import { loadScripts, runScript, type ScriptPeer } from './script-runner.js';
import { startSealpostPeer } from './sealpost-peer.js';

const args = process.argv.slice(2);
let peerName = 'dovecot';
let verbose = false;
const filters: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--peer') peerName = args[++i] ?? '';
  else if (args[i] === '-v') verbose = true;
  else filters.push(args[i]!);
}
if (!['dovecot', 'sealpost'].includes(peerName)) {
  console.error('usage: run-scripts.ts --peer dovecot|sealpost [-v] [filter...]');
  process.exit(2);
}
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scripts');
const all = loadScripts(dir);
const scripts = filters.length ? all.filter((s) => filters.some((f) => path.basename(s.file).includes(f) || s.title.includes(f))) : all;
const peer: ScriptPeer = peerName === 'dovecot' ? await startDovecotPeer() : await startSealpostPeer();
// Ctrl-C or a kill must not leave a Dovecot master (or a temp data dir) behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void peer.close().finally(() => process.exit(130));
  });
}
let passed = 0;
const failed: string[] = [];
try {
  for (const script of scripts) {
    const name = path.basename(script.file);
    const known = script.known.get(peerName === 'dovecot' ? 'dovecot' : 'sealpost');
    try {
      await runScript(script, peer);
      passed++;
      console.log(`pass  ${name}${known ? '   (marked @known, yet passes)' : ''}`);
    } catch (error) {
      failed.push(name);
      const message = error instanceof Error ? error.message : String(error);
      console.log(`FAIL  ${name}${known ? `   (known: ${known})` : ''}`);
      if (verbose || !known) console.log(message.replace(/^/gm, '      '));
    }
  }
} finally {
  // A server that does not stop (e.g. a connection it will not let go) must not hang the command.
  const stopped = await Promise.race([
    peer.close().then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 15_000).unref()),
  ]);
  if (!stopped) console.log(`${peer.name} did not stop within 15 s`);
}
console.log(`\n${peer.name}: ${passed} of ${scripts.length} scripts pass`);
if (failed.length) console.log(`failing: ${failed.join(' ')}`);
process.exit(failed.length ? 1 : 0);
