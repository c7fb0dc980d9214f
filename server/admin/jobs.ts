// Long-running admin actions (backup now, password re-key, restore, push, export) run as jobs the UI polls:
// POST returns { job }, GET /api/jobs/:id returns its phase, progress and result.
import crypto from 'node:crypto';
import { isUserError } from '../config/errors.js';
import type { Logger } from '../log.js';

export interface JobProgress {
  /** What is happening now, in words the UI shows ("snapshot", "upload", "re-key"). */
  readonly phase: string;
  /** Steps done and total (aliases, files, bytes — whatever the job counts). */
  readonly done: number;
  readonly total: number;
}

export type JobState = 'running' | 'done' | 'failed';

export interface JobView {
  readonly id: string;
  readonly kind: string;
  readonly state: JobState;
  readonly progress: JobProgress;
  readonly result: unknown;
  readonly error: string | null;
  readonly started: string;
  readonly finished: string | null;
}

interface Job {
  id: string;
  kind: string;
  state: JobState;
  progress: JobProgress;
  result: unknown;
  /** Shown once (a generated password), then forgotten. */
  secretResult: Record<string, string> | null;
  error: string | null;
  started: Date;
  finished: Date | null;
  done: Promise<void>;
}

export type ProgressReporter = (progress: JobProgress) => void;

export interface JobOutcome {
  readonly result?: unknown;
  readonly secret?: Record<string, string>;
}

const KEEP_FINISHED_MS = 60 * 60_000;
const MAX_JOBS = 100;

export class Jobs {
  private readonly jobs = new Map<string, Job>();

  constructor(private readonly logger: Logger) {}

  /** Starts fn now; its rejection becomes the job's error (a user error's sentence, else a generic one). */
  start(kind: string, fn: (report: ProgressReporter, jobId: string) => Promise<JobOutcome | void>): JobView {
    this.prune();
    const job: Job = {
      id: crypto.randomUUID(),
      kind,
      state: 'running',
      progress: { phase: 'starting', done: 0, total: 1 },
      result: null,
      secretResult: null,
      error: null,
      started: new Date(),
      finished: null,
      done: Promise.resolve(),
    };
    this.jobs.set(job.id, job);
    const report: ProgressReporter = (progress) => {
      if (job.state === 'running') job.progress = progress;
    };
    job.done = (async () => {
      try {
        await Promise.resolve(); // let start() return the job before fn runs
        const outcome = (await fn(report, job.id)) ?? {};
        job.result = outcome.result ?? null;
        job.secretResult = outcome.secret ?? null;
        job.state = 'done';
        job.progress = { phase: 'done', done: Math.max(job.progress.total, 1), total: Math.max(job.progress.total, 1) };
      } catch (error) {
        job.state = 'failed';
        job.error = isUserError(error) ? error.message : 'The job failed unexpectedly; see the server log.';
        this.logger.warn({ event: 'admin.job_failed', jobId: job.id, kind, err: error instanceof Error ? error.message : String(error) }, 'admin job failed');
      } finally {
        job.finished = new Date();
      }
    })();
    return this.view(job);
  }

  /** The job as the UI sees it; a secret result is handed out with the first finished view only. */
  get(id: string): (JobView & { secret?: Record<string, string> }) | null {
    const job = this.jobs.get(id);
    if (!job) return null;
    const view = this.view(job);
    if (job.state === 'done' && job.secretResult) {
      const secret = job.secretResult;
      job.secretResult = null;
      return { ...view, secret };
    }
    return view;
  }

  /** Waits for a job (tests, export download). */
  async wait(id: string): Promise<void> {
    await this.jobs.get(id)?.done;
  }

  /** Waits for every running job (service stop). */
  async settle(): Promise<void> {
    await Promise.all([...this.jobs.values()].map((j) => j.done));
  }

  list(): JobView[] {
    return [...this.jobs.values()].map((j) => this.view(j));
  }

  private view(job: Job): JobView {
    return {
      id: job.id,
      kind: job.kind,
      state: job.state,
      progress: job.progress,
      result: job.result,
      error: job.error,
      started: job.started.toISOString(),
      finished: job.finished ? job.finished.toISOString() : null,
    };
  }

  private prune(): void {
    const cutoff = Date.now() - KEEP_FINISHED_MS;
    for (const [id, job] of this.jobs) if (job.finished && job.finished.getTime() < cutoff) this.jobs.delete(id);
    while (this.jobs.size >= MAX_JOBS) {
      const oldest = [...this.jobs.values()].find((j) => j.state !== 'running');
      if (!oldest) break;
      this.jobs.delete(oldest.id);
    }
  }
}
