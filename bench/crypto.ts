// `npm run bench -- crypto`: argon2id cost at DEFAULT_KDF, and hybrid seal/unseal throughput for 10 KB and 1 MB messages.
import fs from 'node:fs';
import os from 'node:os';
import { SealedQueue } from '../server/queue/index.js';
import { DEFAULT_KDF, deriveAliasKeys, generateSealKeyPair, newSalt, randomBytes, seal, unseal } from '../server/crypto/index.js';

function mbPerSecond(bytes: number, ms: number): number {
  return Math.round((bytes / (1024 * 1024) / (ms / 1000)) * 10) / 10;
}

async function timeKdf(runs: number): Promise<{ medianMs: number; minMs: number }> {
  const times: number[] = [];
  await deriveAliasKeys('warm-up password', newSalt(), DEFAULT_KDF);
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await deriveAliasKeys(`bench password ${i}`, newSalt(), DEFAULT_KDF);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { medianMs: Math.round(times[Math.floor(times.length / 2)]! * 10) / 10, minMs: Math.round(times[0]! * 10) / 10 };
}

async function timeParallelKdf(n: number): Promise<number> {
  const t = performance.now();
  await Promise.all(Array.from({ length: n }, (_, i) => deriveAliasKeys(`parallel ${i}`, newSalt(), DEFAULT_KDF)));
  return Math.round(performance.now() - t);
}

function timeSeal(size: number, count: number): { sealMBs: number; unsealMBs: number; sealPerSec: number; unsealPerSec: number } {
  const kp = generateSealKeyPair();
  const msg = randomBytes(size);
  seal(kp.publicKey, msg); // warm-up (JIT)
  const boxes: Buffer[] = [];
  let t = performance.now();
  for (let i = 0; i < count; i++) boxes.push(seal(kp.publicKey, msg));
  const sealMs = performance.now() - t;
  t = performance.now();
  for (const b of boxes) unseal(kp.privateKey, b);
  const unsealMs = performance.now() - t;
  return {
    sealMBs: mbPerSecond(size * count, sealMs),
    unsealMBs: mbPerSecond(size * count, unsealMs),
    sealPerSec: Math.round(count / (sealMs / 1000)),
    unsealPerSec: Math.round(count / (unsealMs / 1000)),
  };
}

/** Sealed queue: durable (fsync'ed) enqueues of 10 KB messages one by one, then one drain. */
async function timeQueue(count: number): Promise<{ enqueuePerSec: number; drainPerSec: number }> {
  const dir = fs.mkdtempSync(os.tmpdir() + '/sealpost-bench-');
  try {
    const q = new SealedQueue(dir, randomBytes(32));
    const kp = generateSealKeyPair();
    const msg = randomBytes(10 * 1024);
    const id = '00000000-0000-4000-8000-000000000001';
    let t = performance.now();
    for (let i = 0; i < count; i++) await q.enqueue(id, kp.publicKey, msg, { receivedAt: new Date() });
    const enqueueMs = performance.now() - t;
    t = performance.now();
    await q.drain(id, kp.privateKey, async () => {});
    const drainMs = performance.now() - t;
    q.close();
    return { enqueuePerSec: Math.round(count / (enqueueMs / 1000)), drainPerSec: Math.round(count / (drainMs / 1000)) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(flags: string[]): Promise<void> {
  const quick = flags.includes('--quick');
  const kdf = await timeKdf(quick ? 3 : 7);
  const parallel4Ms = await timeParallelKdf(4);
  const small = timeSeal(10 * 1024, quick ? 100 : 400);
  const large = timeSeal(1024 * 1024, quick ? 5 : 20);
  const queue = await timeQueue(quick ? 50 : 200);
  const keygenStart = performance.now();
  for (let i = 0; i < 20; i++) generateSealKeyPair();
  const keygenMs = Math.round(((performance.now() - keygenStart) / 20) * 100) / 100;
  const result = {
    bench: 'crypto',
    cpus: os.cpus().length,
    node: process.version,
    kdf: { ...DEFAULT_KDF, ...kdf, fourConcurrentMs: parallel4Ms },
    sealKeyPairMs: keygenMs,
    seal10KB: small,
    seal1MB: large,
    queue10KB: queue,
  };
  console.log(JSON.stringify(result));
  console.log(
    `crypto: argon2id ${DEFAULT_KDF.memoryKiB / 1024} MiB t=${DEFAULT_KDF.iterations} p=${DEFAULT_KDF.parallelism} ≈ ${kdf.medianMs} ms (4 at once ${parallel4Ms} ms); ` +
      `seal/unseal 10 KB ${small.sealPerSec}/${small.unsealPerSec} msg/s (${small.sealMBs}/${small.unsealMBs} MB/s), 1 MB ${large.sealMBs}/${large.unsealMBs} MB/s; ` +
      `queue 10 KB enqueue ${queue.enqueuePerSec}/s (fsync each), drain ${queue.drainPerSec}/s`,
  );
}
