// The hook wrapper: whatever a hook does (throw, reject, answer twice) imap-core sees exactly one callback,
// and a throw inside imap-core's own continuation is contained.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../server/log.js';
import { NoSuchFolder } from '../../server/mailbox/errors.js';
import { wrapHook } from '../../server/imap/wrap.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('IMAP hook wrapper', () => {
  it('passes results through, and turns throws and rejections into one refusal', async () => {
    const calls: unknown[][] = [];
    const callback = (...args: unknown[]): void => {
      calls.push(args);
    };
    wrapHook(silentLogger(), { name: 'ok', role: 'folder' }, () => [true, 'x'])('arg', {}, callback);
    wrapHook(silentLogger(), { name: 'sync', role: 'folder' }, () => {
      throw new NoSuchFolder();
    })('arg', {}, callback);
    wrapHook(silentLogger(), { name: 'async', role: 'destination' }, async () => {
      throw new TypeError('boom');
    })('arg', {}, callback);
    await tick();
    assert.equal(calls.length, 3);
    assert.deepEqual(calls[0], [null, true, 'x']);
    assert.ok(calls[1]?.[0] instanceof Error && (calls[1][0] as Error & { code?: string }).code === 'NONEXISTENT');
    assert.ok(calls[2]?.[0] instanceof Error && (calls[2][0] as Error & { code?: string }).code === 'SERVERBUG');
  });

  it('contains a throwing imap-core continuation and never calls back twice', async () => {
    let calls = 0;
    const throwing = (): void => {
      calls++;
      throw new Error('imap-core blew up');
    };
    wrapHook(silentLogger(), { name: 'cont', role: 'folder' }, async () => [true])({}, throwing);
    await tick();
    assert.equal(calls, 1, 'the failure of the continuation is not retried as a refusal');
    let missing = 0;
    wrapHook(silentLogger(), { name: 'nocb', role: 'folder' }, () => {
      missing++;
      return [true];
    })('only-args');
    await tick();
    assert.equal(missing, 0, 'no callback: the hook is not run');
  });
});
