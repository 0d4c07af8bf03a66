import type { Logger } from '../shared/logger';
import type { JobEnvelope, JobQueue } from './jobs';

/**
 * Runs jobs in this process, after the current request has been answered: the local sandbox and
 * the tests use it in place of the async Lambda invoke. `drain()` waits for every job started so far.
 */
export class InlineJobQueue implements JobQueue {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly run: (envelope: JobEnvelope) => Promise<void>;
  private readonly logger: Logger;

  constructor(options: { run: (envelope: JobEnvelope) => Promise<void>; logger: Logger }) {
    this.run = options.run;
    this.logger = options.logger;
  }

  async enqueue(envelope: JobEnvelope): Promise<void> {
    const task = new Promise<void>((resolve) => setImmediate(resolve))
      // Through JSON, as the async invoke's payload is: the worker sees what Lambda would hand it.
      .then(() => this.run(JSON.parse(JSON.stringify(envelope)) as JobEnvelope))
      .catch((error) =>
        this.logger.error({ err: (error as Error).message, job: envelope.kind }, 'inline job failed'),
      )
      .finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
  }

  /** Resolves when every job (including jobs enqueued by those jobs) has finished. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
