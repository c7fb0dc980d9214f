// Child process for the locks test: `node --import tsx lock-holder-child.ts <kernel|file> <path>` takes the
// lock, prints "held" (or "busy") and then waits to be killed.
import { tryKernelLock, tryLock } from '../../server/locks.js';

const [kind, file] = process.argv.slice(2);
if (!file) throw new Error('usage: lock-holder-child.ts <kernel|file> <path>');
const held = kind === 'kernel' ? tryKernelLock(file) : tryLock(file, 'test holder');
process.stdout.write(held ? 'held\n' : 'busy\n');
setInterval(() => {}, 60_000);
