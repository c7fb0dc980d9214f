// The login throttle on an injected clock: growing delays and lock-out per (IP, alias) pair, an IP guessing
// across aliases locked as a whole, the owner's own IPs and loopback never locked out by failures from
// elsewhere, a distributed attack on one alias slowing unknown IPs only, and the SEALPOST_LOGIN_* settings.
// No wall-clock: time moves only when the test moves it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_THROTTLE, LoginThrottle, isThrottleExempt, loginThrottleFromEnv, type ThrottlePolicy } from '../../server/accounts/index.js';

const POLICY: ThrottlePolicy = {
  freeFailures: 2,
  baseDelayMs: 100,
  maxDelayMs: 400,
  pairLockAfter: 5,
  ipLockAfter: 8,
  lockMs: 60_000,
  windowMs: 120_000,
  aliasSlowAfter: 6,
  trustMs: 3_600_000,
  exemptLoopback: true,
};

const ALICE = 'alice@example.test';

function throttleAt(policy: Partial<ThrottlePolicy> = {}, start = 1_000_000): { throttle: LoginThrottle; advance(ms: number): void } {
  let now = start;
  return { throttle: new LoginThrottle({ ...POLICY, ...policy }, () => now), advance: (ms) => void (now += ms) };
}

describe('login throttle', () => {
  it('answers the first failures at once, then with doubling delays up to the cap', () => {
    const { throttle } = throttleAt({ ipLockAfter: 100 });
    const delays = [1, 2, 3, 4].map((i) => throttle.recordFailure('198.51.100.1', `user${i}@example.test`).delayMs);
    assert.deepEqual(delays, [0, 0, 100, 200], 'the IP counter grows across aliases');
    assert.equal(throttle.recordFailure('198.51.100.1', 'user5@example.test').delayMs, 400);
    assert.equal(throttle.recordFailure('198.51.100.1', 'user6@example.test').delayMs, 400, 'capped at maxDelayMs');
  });

  it('failures from one IP on one alias lock only that (IP, alias) pair; the owner from another IP still gets in', () => {
    const { throttle, advance } = throttleAt();
    const outcomes = [1, 2, 3, 4, 5].map(() => throttle.recordFailure('203.0.113.7', ALICE));
    assert.deepEqual(
      outcomes.map((o) => o.locked),
      [null, null, null, null, 'pair'],
      'the 5th failure starts the lock-out',
    );
    assert.equal(throttle.lockedFor('203.0.113.7', ALICE), 60_000);
    assert.deepEqual(throttle.check('203.0.113.7', ALICE).scope, 'pair');
    assert.equal(throttle.lockedFor('198.51.100.1', ALICE), 0, 'another IP is not locked out of the alias');
    assert.equal(throttle.lockedFor('203.0.113.7', 'bob@example.test'), 0, 'the attacker IP is not locked out of other aliases (below ipLockAfter)');
    advance(59_999);
    assert.equal(throttle.lockedFor('203.0.113.7', ALICE), 1);
    advance(1);
    assert.equal(throttle.lockedFor('203.0.113.7', ALICE), 0, 'the lock-out is over');
  });

  it('locks out an IP that guesses across many aliases, for every alias', () => {
    const { throttle } = throttleAt();
    const locked = Array.from({ length: 8 }, (_, i) => throttle.recordFailure('::ffff:198.51.100.9', `guess${i}@example.test`).locked);
    assert.deepEqual(locked.slice(0, 7), Array(7).fill(null));
    assert.equal(locked[7], 'ip', 'the 8th failure from one IP (IPv4-mapped counts too) locks it');
    assert.deepEqual(throttle.check('198.51.100.9', 'anyone@example.test'), { lockedForMs: 60_000, scope: 'ip', slowdownMs: 0 });
    assert.equal(throttle.lockedFor('198.51.100.10', 'anyone@example.test'), 0, 'the neighbour IP is not');
  });

  it('a success clears the pair but not the IP count, so one good account cannot launder guesses', () => {
    const { throttle } = throttleAt();
    for (let i = 0; i < 4; i++) throttle.recordFailure('198.51.100.9', ALICE);
    throttle.recordSuccess('198.51.100.9', ALICE);
    assert.equal(throttle.recordFailure('198.51.100.9', ALICE).pairFailures, 1, 'the pair count started again');
    for (let i = 0; i < 3; i++) throttle.recordFailure('198.51.100.9', `other${i}@example.test`);
    assert.equal(throttle.check('198.51.100.9', 'x@example.test').scope, 'ip', '4 + 1 + 3 = 8 failures from the IP lock it');
  });

  it('forgets failures after a quiet window', () => {
    const { throttle, advance } = throttleAt();
    for (let i = 0; i < 5; i++) throttle.recordFailure('198.51.100.9', ALICE);
    advance(POLICY.lockMs + POLICY.windowMs + 1);
    assert.equal(throttle.lockedFor('198.51.100.9', ALICE), 0);
    assert.deepEqual(throttle.recordFailure('198.51.100.9', ALICE), { delayMs: 0, pairFailures: 1, locked: null }, 'the count started again from zero');
  });

  it('a distributed attack on one alias slows unknown IPs only, never locks them, and never touches the owner\'s IP', () => {
    const { throttle, advance } = throttleAt();
    throttle.recordSuccess('192.0.2.50', ALICE); // the owner's phone, earlier
    for (let i = 1; i <= 10; i++) throttle.recordFailure(`203.0.113.${i}`, ALICE); // one failure each, from ten IPs
    const unknown = throttle.check('198.51.100.77', ALICE);
    assert.equal(unknown.lockedForMs, 0, 'an unknown IP is not locked');
    assert.ok(unknown.slowdownMs > 0, 'but it is slowed down');
    assert.deepEqual(throttle.check('192.0.2.50', ALICE), { lockedForMs: 0, scope: null, slowdownMs: 0 }, 'the owner\'s IP is neither locked nor slowed');
    assert.equal(throttle.check('198.51.100.77', 'bob@example.test').slowdownMs, 0, 'other aliases are not slowed');
    advance(POLICY.trustMs + 1);
    for (let i = 1; i <= 10; i++) throttle.recordFailure(`203.0.113.${i}`, ALICE); // the attack goes on
    assert.ok(throttle.check('192.0.2.50', ALICE).slowdownMs > 0, 'trust in an IP lasts trustMs');
  });

  it('a trusted IP is still locked by its own repeated failures (pair), never by others\'', () => {
    const { throttle } = throttleAt();
    throttle.recordSuccess('192.0.2.50', ALICE);
    for (let i = 0; i < 5; i++) throttle.recordFailure('203.0.113.1', ALICE);
    assert.equal(throttle.lockedFor('192.0.2.50', ALICE), 0);
    for (let i = 0; i < 5; i++) throttle.recordFailure('192.0.2.50', ALICE);
    assert.equal(throttle.check('192.0.2.50', ALICE).scope, 'pair');
  });

  it('loopback (and the local CLI) are exempt while the setting is on, and counted like anyone when it is off', () => {
    assert.equal(isThrottleExempt('127.0.0.1', { exemptLoopback: true }), true);
    assert.equal(isThrottleExempt('::1', { exemptLoopback: true }), true);
    assert.equal(isThrottleExempt('::ffff:127.0.0.2', { exemptLoopback: true }), true);
    assert.equal(isThrottleExempt('local', { exemptLoopback: true }), true);
    assert.equal(isThrottleExempt('192.168.1.2', { exemptLoopback: true }), false);
    assert.equal(isThrottleExempt('127.0.0.1', { exemptLoopback: false }), false);

    const on = throttleAt().throttle;
    for (let i = 0; i < 50; i++) on.recordFailure('127.0.0.1', ALICE);
    assert.deepEqual(on.check('127.0.0.1', ALICE), { lockedForMs: 0, scope: null, slowdownMs: 0 }, 'never locked nor slowed');
    const off = throttleAt({ exemptLoopback: false }).throttle;
    for (let i = 0; i < 5; i++) off.recordFailure('127.0.0.1', ALICE);
    assert.equal(off.check('127.0.0.1', ALICE).scope, 'pair');
  });

  it('reads SEALPOST_LOGIN_* settings, keeps defaults for unset ones, and names a bad variable', () => {
    assert.deepEqual(loginThrottleFromEnv({}), DEFAULT_THROTTLE);
    const policy = loginThrottleFromEnv({ SEALPOST_LOGIN_PAIR_LOCK_AFTER: '4', SEALPOST_LOGIN_LOCK_MS: '120000', SEALPOST_LOGIN_EXEMPT_LOOPBACK: 'off', SEALPOST_LOGIN_TRUST_MS: '' });
    assert.equal(policy.pairLockAfter, 4);
    assert.equal(policy.lockMs, 120_000);
    assert.equal(policy.exemptLoopback, false);
    assert.equal(policy.trustMs, DEFAULT_THROTTLE.trustMs);
    assert.throws(() => loginThrottleFromEnv({ SEALPOST_LOGIN_IP_LOCK_AFTER: '0' }), /^ConfigError: SEALPOST_LOGIN_IP_LOCK_AFTER must be a whole number of at least 1, not "0"\.$/);
    assert.throws(() => loginThrottleFromEnv({ SEALPOST_LOGIN_EXEMPT_LOOPBACK: 'maybe' }), /SEALPOST_LOGIN_EXEMPT_LOOPBACK must be on or off/);
  });
});
