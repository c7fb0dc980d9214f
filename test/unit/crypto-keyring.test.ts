// The in-memory key ring: copies, drops, idle timeout after the last session, remember, password-check cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once, EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyRing, randomBytes, generateSealKeyPair, type KeyRingDropReason } from '../../server/crypto/index.js';

// The ring's timers are unref'd (they must not keep a server alive), so a test waiting on one keeps the loop up itself.
async function nextDrop(events: EventEmitter): Promise<unknown[]> {
  const keepAlive = setInterval(() => {}, 1000);
  try {
    return await once(events, 'drop');
  } finally {
    clearInterval(keepAlive);
  }
}

function material(): { mailboxKey: Buffer; privateKey: Uint8Array } {
  return { mailboxKey: randomBytes(32), privateKey: generateSealKeyPair().privateKey };
}

function watchDrops(): { events: EventEmitter; log: Array<[string, KeyRingDropReason]>; onDrop: (id: string, r: KeyRingDropReason) => void } {
  const events = new EventEmitter();
  const log: Array<[string, KeyRingDropReason]> = [];
  return { events, log, onDrop: (id, r) => { log.push([id, r]); events.emit('drop', id, r); } };
}

test('an unlocked alias returns fresh copies of its keys; the caller wiping its copies changes nothing', () => {
  const ring = new KeyRing();
  const m = material();
  const expectKey = Buffer.from(m.mailboxKey);
  const expectPriv = Buffer.from(m.privateKey);
  ring.put('alias-a', m);
  m.mailboxKey.fill(0);
  m.privateKey.fill(0);
  const got = ring.get('alias-a');
  assert.ok(got);
  assert.deepEqual(got.mailboxKey, expectKey);
  assert.deepEqual(Buffer.from(got.privateKey), expectPriv);
  got.mailboxKey.fill(0);
  assert.deepEqual(ring.get('alias-a')?.mailboxKey, expectKey);
  assert.equal(ring.get('alias-b'), null);
  assert.deepEqual(ring.unlockedIds(), ['alias-a']);
  ring.dropAll();
});

test('drop locks an alias at once, reports it, and forgets its cached password', () => {
  const w = watchDrops();
  const ring = new KeyRing({ onDrop: w.onDrop });
  ring.put('a', material());
  ring.put('b', material());
  assert.equal(ring.rememberPassword('a', 'pw of a, long enough'), true);
  assert.equal(ring.drop('a'), true);
  assert.equal(ring.has('a'), false);
  assert.equal(ring.get('a'), null);
  assert.equal(ring.drop('a'), false);
  assert.equal(ring.checkCachedPassword('a', 'pw of a, long enough'), false);
  ring.put('a', material());
  assert.equal(ring.checkCachedPassword('a', 'pw of a, long enough'), false, 'a new unlock starts without a cached password');
  ring.dropAll();
  assert.deepEqual(w.log.map(([id, r]) => `${id}:${r}`).sort(), ['a:all', 'a:manual', 'b:all']);
  assert.deepEqual(ring.unlockedIds(), []);
});

test('an alias with open sessions stays unlocked; the idle timer drops it after the last session releases', async () => {
  const w = watchDrops();
  const ring = new KeyRing({ idleTimeoutMs: 30, onDrop: w.onDrop });
  ring.put('a', material());
  assert.equal(ring.acquire('a'), true);
  assert.equal(ring.acquire('a'), true);
  assert.equal(ring.sessions('a'), 2);
  await sleep(120);
  assert.equal(ring.has('a'), true, 'held by sessions');
  ring.release('a');
  await sleep(120);
  assert.equal(ring.has('a'), true, 'one session still open');
  const dropped = nextDrop(w.events);
  ring.release('a');
  ring.release('a'); // an extra release is harmless
  assert.deepEqual(await dropped, ['a', 'idle']);
  assert.equal(ring.has('a'), false);
  assert.equal(ring.acquire('a'), false, 'cannot acquire a locked alias');
});

test('a re-acquire before the idle timeout keeps the alias; an unlock with no session also times out', async () => {
  const w = watchDrops();
  const ring = new KeyRing({ idleTimeoutMs: 60, onDrop: w.onDrop });
  ring.put('a', material());
  ring.acquire('a');
  ring.release('a');
  ring.acquire('a'); // a new login arrives within the idle window
  await sleep(180);
  assert.equal(ring.has('a'), true);
  ring.put('b', material()); // e.g. unlocked from the UI without a protocol session
  const [id, reason] = await nextDrop(w.events);
  assert.equal(id, 'b');
  assert.equal(reason, 'idle');
  ring.dropAll();
});

test('"remember on this device" keeps an alias past the idle timeout until dropped explicitly', async () => {
  const ring = new KeyRing({ idleTimeoutMs: 10 });
  ring.put('a', material(), { remember: true });
  ring.acquire('a');
  ring.release('a');
  await sleep(80);
  assert.equal(ring.has('a'), true);
  assert.equal(ring.isRemembered('a'), true);
  ring.drop('a');
  assert.equal(ring.has('a'), false);
});

test('the cached password check accepts only the exact password of the same alias, and is forgotten on demand', () => {
  const ring = new KeyRing();
  ring.put('a', material());
  ring.put('ab', material());
  assert.equal(ring.checkCachedPassword('a', 'hunter22-but-longer'), false, 'nothing cached yet');
  ring.rememberPassword('a', 'hunter22-but-longer');
  assert.equal(ring.checkCachedPassword('a', 'hunter22-but-longer'), true);
  assert.equal(ring.checkCachedPassword('a', 'hunter22-but-longeR'), false);
  assert.equal(ring.checkCachedPassword('ab', 'hunter22-but-longer'), false);
  assert.equal(ring.checkCachedPassword('a', 'hunter22-but-longer'.slice(1)), false);
  ring.forgetPassword('a');
  assert.equal(ring.checkCachedPassword('a', 'hunter22-but-longer'), false);
  assert.equal(ring.rememberPassword('nobody', 'x'), false, 'only unlocked aliases cache a password');
  ring.dropAll();
});

test('a throwing onDrop callback does not stop the other aliases from being locked', () => {
  const ring = new KeyRing({ onDrop: () => { throw new Error('boom'); } });
  ring.put('a', material());
  ring.put('b', material());
  ring.dropAll();
  assert.deepEqual(ring.unlockedIds(), []);
});

test('two rings (two processes) cannot read each other\'s stored entries', () => {
  const one = new KeyRing();
  const two = new KeyRing();
  one.put('a', material());
  assert.equal(two.get('a'), null);
  one.dropAll();
});
