import type { Logger } from '../shared/logger';
import type { Job, JobQueue } from './jobs';

/**
 * Runs jobs in this process, after the current request has been answered: the local sandbox and
 * the tests use it in place of the async Lambda invoke. `drain()` waits for every job started so far.
 */
export class InlineJobQueue implements JobQueue {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly run: (job: Job) => Promise<void>;
  private readonly logger: Logger;

  constructor(options: { run: (job: Job) => Promise<void>; logger: Logger }) {
    this.run = options.run;
    this.logger = options.logger;
  }

  async enqueue(job: Job): Promise<void> {
    const task = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.run(job))
      .catch((error) =>
        this.logger.error({ err: (error as Error).message, job: job.kind }, 'inline job failed'),
      )
      .finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
  }

  /** Resolves when every job (including jobs enqueued by those jobs) has finished. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
