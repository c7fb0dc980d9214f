// The CLI's error line: "error: <what went wrong>. <what to do>." for every kind of failure, never a stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorLine, nativeBindingProblem } from '../../server/cli/report.js';
import { UserError } from '../../server/config/errors.js';

test('a user error is its message plus its hint, or the hint its code has, unless the message names a command already', () => {
  assert.equal(errorLine(new UserError('Something is off', 'X', { hint: 'Do this' })), 'error: Something is off. Do this.');
  assert.equal(errorLine(new UserError('There is no alias a@b.test.', 'UNKNOWN_ALIAS')), 'error: There is no alias a@b.test. List the aliases with: sealpost alias list.');
  assert.equal(errorLine(new UserError('The domain x.test is not set up here; add it first with: sealpost domain add x.test.', 'UNKNOWN_DOMAIN')), 'error: The domain x.test is not set up here; add it first with: sealpost domain add x.test.');
  assert.equal(errorLine(new UserError('Plain (as it is)', 'NO_TABLE_ENTRY')), 'error: Plain (as it is)');
});

test('a failed file-system call names its path and reason; anything else is one line asking for SEALPOST_DEBUG=1', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write', path: '/data/x' });
  assert.equal(errorLine(enospc), 'error: Cannot write /data/x: the disk is full (ENOSPC). Free some disk space and run the command again.');
  const bug = new TypeError("Cannot read properties of undefined (reading 'x')\n    at somewhere (file.ts:1:1)");
  assert.equal(errorLine(bug), "error: Cannot read properties of undefined (reading 'x'). This looks like a bug in Sealpost: run the command again with SEALPOST_DEBUG=1 to see the details, and report them.");
});

test('a native SQLite binding built for another Node is recognised (and only that binding)', () => {
  const abi = Object.assign(new Error("The module '/x/node_modules/better-sqlite3-multiple-ciphers/build/Release/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115."), { code: 'ERR_DLOPEN_FAILED' });
  assert.match(nativeBindingProblem(abi) ?? '', /^The SQLite module is not built for this Node\.js v\d+.* \(built for another Node\.js version\); run `npm rebuild better-sqlite3-multiple-ciphers` in \//);
  assert.match(errorLine(abi), /^error: The SQLite module is not built/);
  const other = Object.assign(new Error('/x/node_modules/@node-rs/argon2/argon2.node: invalid ELF header'), { code: 'ERR_DLOPEN_FAILED' });
  assert.equal(nativeBindingProblem(other), null);
});
