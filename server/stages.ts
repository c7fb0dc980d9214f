// Stage timing for profiling: wall time per named stage (count, total, max), so waits that a CPU profile cannot
// see (fsync, DNS, a hop to a worker thread, a lock) show up too. Off unless SEALPOST_PROFILE_STAGES names an
// output file; the flag is read once, and while off every function returns at once and allocates nothing.
//
//   await timeStage(stageStart('mailbox.append'), mailbox.append(...))   // a promise: timed until it settles
//   const tree = timeStage(stageStart('mime.parse'), parse(raw))          // a plain value: timed until it returns
//
// Arguments are evaluated left to right, so the clock starts before the wrapped call runs, including the
// synchronous part of an async function. Stage names are fixed words (plus a command name), never message data.
//
// While on, the main thread writes the totals as JSON to the file every second and on exit (write + rename, so a
// reader never sees half a file); SIGUSR2 clears them and writes at once (`epoch` counts the clears), so a
// benchmark can measure one window of a running server. Worker threads record nothing: the main thread's stage
// around the hop already holds their time.
import { renameSync, writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

/** Ends a stage started by stageStart: records its wall time. */
export type StageStop = () => void;

export interface StageTotals {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** The JSON written to the SEALPOST_PROFILE_STAGES file. */
export interface StagesFile {
  readonly pid: number;
  readonly epoch: number;
  /** performance.timeOrigin + performance.now() when the totals were last cleared, ms since the Unix epoch. */
  readonly since: number;
  readonly writtenAt: number;
  readonly stages: Record<string, StageTotals>;
}

const OUTPUT = isMainThread ? (process.env.SEALPOST_PROFILE_STAGES ?? '') : '';

/** True when stages are recorded in this process. */
export const stagesEnabled = OUTPUT !== '';

const NOOP: StageStop = () => undefined;
const totals = new Map<string, StageTotals>();
let epoch = 0;
let since = Date.now();

function record(name: string, ms: number): void {
  const t = totals.get(name);
  if (t) {
    t.count++;
    t.totalMs += ms;
    if (ms > t.maxMs) t.maxMs = ms;
  } else totals.set(name, { count: 1, totalMs: ms, maxMs: ms });
}

/** Starts the clock of one stage; `suffix` (e.g. a command name) is appended to `name` only while on. */
export function stageStart(name: string, suffix?: string): StageStop {
  if (!stagesEnabled) return NOOP;
  const full = suffix === undefined ? name : name + suffix;
  const t0 = performance.now();
  return () => record(full, performance.now() - t0);
}

/** Ends `stop` when `work` settles (a promise) or at once (any other value); returns `work` unchanged while off. */
export function timeStage<T>(stop: StageStop, work: T): T {
  if (!stagesEnabled) return work;
  if (work instanceof Promise) {
    return work.then(
      (value: unknown) => {
        stop();
        return value;
      },
      (error: unknown) => {
        stop();
        throw error;
      },
    ) as T;
  }
  stop();
  return work;
}

/** The totals recorded so far (a copy). */
export function stageTotals(): Record<string, StageTotals> {
  const out: Record<string, StageTotals> = {};
  for (const [name, t] of totals) out[name] = { ...t };
  return out;
}

function write(): void {
  const file: StagesFile = { pid: process.pid, epoch, since, writtenAt: Date.now(), stages: stageTotals() };
  const tmp = `${OUTPUT}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(file)}\n`);
    renameSync(tmp, OUTPUT);
  } catch {
    // Profiling output only: a full disk or a removed directory must not disturb the server.
  }
}

if (stagesEnabled) {
  setInterval(write, 1000).unref();
  process.on('exit', write);
  process.on('SIGUSR2', () => {
    totals.clear();
    epoch++;
    since = Date.now();
    write();
  });
}
