// A small pool of parse workers so multi-megabyte messages do not stall the event loop.
// Workers are unref'd while idle (they never keep the process alive) and respawned after a crash.
import type { Worker } from 'node:worker_threads';
import { deserialize } from 'node:v8';
import { availableParallelism } from 'node:os';
import type { ParsedMessage } from './types.js';
import type { ParseReply, ParseRequest } from './worker.js';
import type { MimeLimits, MimeShape } from './limits.js';
import { startModuleWorker, workerModuleUrl } from '../worker-thread.js';

interface Task {
  readonly id: number;
  readonly raw: Buffer;
  readonly limits: MimeLimits;
  readonly shape: MimeShape | undefined;
  readonly resolve: (p: ParsedMessage) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

const workerUrl = workerModuleUrl('worker', import.meta.url);
const startWorker = (): Worker => startModuleWorker(workerUrl);

export class ParsePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  /** Messages parsed in workers / worker failures (crash, exit) since start. */
  readonly stats = { parsed: 0, failed: 0 };

  constructor(private readonly size = Math.max(1, Math.min(2, availableParallelism() - 1))) {}

  /** Parses raw in a worker; `shape` is mimeShape(raw) when the caller has it (the worker then skips the scan). */
  parse(raw: Buffer, limits: MimeLimits, shape?: MimeShape): Promise<ParsedMessage> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, raw, limits, shape, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    for (const t of this.queue.splice(0)) t.reject(new Error('mime worker pool closed'));
    await Promise.all(
      slots.map(async (s) => {
        s.task?.reject(new Error('mime worker pool closed'));
        await s.worker.terminate();
      }),
    );
  }

  private pump(): void {
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.task);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const task = this.queue.shift() as Task;
      slot.task = task;
      slot.worker.ref();
      const req: ParseRequest = { id: task.id, raw: task.raw, limits: task.limits, ...(task.shape ? { shape: task.shape } : {}) };
      slot.worker.postMessage(req);
    }
  }

  private spawn(): Slot {
    const worker = startWorker();
    const slot: Slot = { worker, task: null };
    worker.unref();
    worker.on('message', (reply: ParseReply) => {
      const task = slot.task;
      if (!task || task.id !== reply.id) return;
      slot.task = null;
      worker.unref();
      try {
        task.resolve(deserialize(Buffer.from(reply.bytes)) as ParsedMessage);
        this.stats.parsed++;
      } catch (err) {
        task.reject(err instanceof Error ? err : new Error(String(err)));
      }
      this.pump();
    });
    const fail = (err: Error): void => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      if (slot.task) this.stats.failed++;
      slot.task?.reject(err);
      slot.task = null;
      this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`mime worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}
