// The end-of-data gate on its own: one holder at a time, first come first served, withdrawn asks skipped,
// and a holder past its longest hold handed over (server/smtp/outbound/end-of-data-gate.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndOfDataGate } from '../../server/smtp/outbound/end-of-data-gate.js';

const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

test('one holder at a time, in the order asked; a withdrawn ask is skipped; a second release changes nothing', async () => {
  const gate = new EndOfDataGate(60_000);
  const a = gate.request();
  const b = gate.request();
  const c = gate.request();
  const d = gate.request();
  assert.equal(await settled(a.granted), true);
  assert.equal(await settled(b.granted), false, 'b waits while a holds');
  c.release(); // c's connection died while it waited
  a.release();
  assert.equal(await settled(b.granted), true);
  a.release(); // late duplicate release of a must not hand b's hold to d
  assert.equal(await settled(d.granted), false, 'd waits while b holds');
  b.release();
  assert.equal(await settled(c.granted), false, 'a withdrawn ask is never granted');
  assert.equal(await settled(d.granted), true);
  d.release();
  assert.equal(await settled(gate.request().granted), true, 'free again');
});

test('a holder past its longest hold is reported and the next ask is granted; its late release changes nothing', async () => {
  let overdue = 0;
  const gate = new EndOfDataGate(30, () => overdue++);
  const slow = gate.request();
  const next = gate.request();
  const last = gate.request();
  // the gate's timer does not keep a process alive (open sockets do); this test's own timer does
  const alive = setTimeout(() => undefined, 5_000);
  await slow.granted;
  await next.granted;
  clearTimeout(alive);
  assert.equal(overdue, 1);
  slow.release(); // the slow remote finally answered
  assert.equal(await settled(last.granted), false, 'next still holds');
  next.release();
  assert.equal(await settled(last.granted), true);
  last.release();
  assert.equal(overdue, 1, 'released holders are never reported');
});
