import type { SlackDeps } from '../deps';
import { jobFromBody, parseSlackBody } from '../jobs/sources';
import { currentSignedRequest } from '../request-context';

const HANDOFF_FAILED =
  ':warning: sg-warden could not start this request, so nothing was changed. Please try again. (HANDOFF_FAILED)';

/**
 * Hands the request being handled to the worker after the listener has acked: the job kind and the
 * request exactly as Slack signed it, nothing else. The worker verifies the signature and reads the job
 * from the signed body itself; so does this door first (the same job sources), and a request that does not
 * ask for `kind` is not handed off. If the hand-off fails the asker is told at once (through `respond`) —
 * a click is never silently dropped. No AWS call but the invoke itself: the door still answers in time.
 */
export async function handOff(
  deps: SlackDeps,
  kind: string,
  respond: (message: {
    response_type: 'ephemeral';
    text: string;
    replace_original: false;
  }) => Promise<unknown>,
): Promise<void> {
  const request = currentSignedRequest();
  try {
    const body = request ? parseSlackBody(request.body) : null;
    const derived = body ? jobFromBody(body, deps.config)?.kind : undefined;
    if (!request || derived !== kind)
      throw new Error(`the signed request asks for ${derived ?? 'no job'}, not ${kind}`);
    await deps.jobs.enqueue({ kind, request });
  } catch (error) {
    deps.logger.error({ err: (error as Error).message, job: kind }, 'job hand-off failed');
    await respond({ response_type: 'ephemeral', replace_original: false, text: HANDOFF_FAILED }).catch(
      () => {},
    );
  }
}
