// The login throttle on an injected clock: growing delays, lock-out, and a correct password accepted again
// once the lock-out window has passed. No wall-clock: time moves only when the test moves it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginThrottle, type ThrottlePolicy } from '../../server/accounts/index.js';

const POLICY: ThrottlePolicy = { freeFailures: 2, baseDelayMs: 100, maxDelayMs: 400, aliasLockAfter: 5, ipLockAfter: 8, lockMs: 60_000, windowMs: 120_000 };

function throttleAt(start = 1_000_000): { throttle: LoginThrottle; advance(ms: number): void } {
  let now = start;
  return { throttle: new LoginThrottle(POLICY, () => now), advance: (ms) => void (now += ms) };
}

describe('login throttle', () => {
  it('answers the first failures at once, then with doubling delays up to the cap', () => {
    const { throttle } = throttleAt();
    const delays = [1, 2, 3, 4].map((i) => throttle.recordFailure('198.51.100.1', `user${i}@example.test`));
    assert.deepEqual(delays, [0, 0, 100, 200], 'the IP counter grows across aliases');
    assert.equal(throttle.recordFailure('198.51.100.1', 'user5@example.test'), 400);
    assert.equal(throttle.recordFailure('198.51.100.1', 'user6@example.test'), 400, 'capped at maxDelayMs');
  });

  it('locks an alias out for lockMs from every IP, and lets the right password in once that has passed', () => {
    const { throttle, advance } = throttleAt();
    for (let i = 0; i < POLICY.aliasLockAfter; i++) throttle.recordFailure(`203.0.113.${i}`, 'alice@example.test');
    assert.equal(throttle.lockedFor('192.0.2.1', 'alice@example.test'), 60_000);
    assert.equal(throttle.lockedFor('192.0.2.1', 'bob@example.test'), 0, 'other aliases are not affected');
    advance(59_999);
    assert.equal(throttle.lockedFor('192.0.2.1', 'alice@example.test'), 1);
    advance(1);
    assert.equal(throttle.lockedFor('192.0.2.1', 'alice@example.test'), 0, 'the lock-out is over');
    throttle.recordSuccess('alice@example.test');
    assert.equal(throttle.recordFailure('192.0.2.1', 'alice@example.test'), 0, 'a success starts the alias count again');
  });

  it('forgets failures after a quiet window, but keeps an IP count a success on one alias cannot clear', () => {
    const { throttle, advance } = throttleAt();
    for (let i = 0; i < 7; i++) throttle.recordFailure('::ffff:198.51.100.9', `guess${i}@example.test`);
    throttle.recordSuccess('guess0@example.test');
    throttle.recordFailure('198.51.100.9', 'guess7@example.test');
    assert.equal(throttle.lockedFor('198.51.100.9', 'anyone@example.test'), 60_000, 'the 8th failure from one IP (IPv4-mapped counts too) locks it');
    advance(POLICY.lockMs + POLICY.windowMs + 1);
    assert.equal(throttle.lockedFor('198.51.100.9', 'anyone@example.test'), 0);
    assert.equal(throttle.recordFailure('198.51.100.9', 'guess8@example.test'), 0, 'the count started again from zero');
  });
});
