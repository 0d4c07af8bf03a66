import type { Job } from '../../services/jobs/jobs';
import type { SlackDeps } from '../deps';
import { currentSlackRequestId } from '../request-context';

/**
 * Hands a job to the worker after the listener has acked. If the hand-off itself fails the asker is
 * told at once (through `respond`) — a click is never silently dropped.
 */
export async function handOff(
  deps: SlackDeps,
  job: Omit<Job, 'receivedAt'>,
  respond: (message: {
    response_type: 'ephemeral';
    text: string;
    replace_original: false;
  }) => Promise<unknown>,
): Promise<void> {
  const requestId = job.requestId ?? currentSlackRequestId();
  try {
    await deps.jobs.enqueue({
      ...job,
      receivedAt: deps.clock().toISOString(),
      ...(requestId ? { requestId } : {}),
    });
  } catch (error) {
    deps.logger.error({ err: (error as Error).message, job: job.kind }, 'job hand-off failed');
    await respond({
      response_type: 'ephemeral',
      replace_original: false,
      text: ':warning: sg-warden could not start this request, so nothing was changed. Please try again. (HANDOFF_FAILED)',
    }).catch(() => {});
  }
}
