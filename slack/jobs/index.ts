import { claimJob, type Job } from '../../services/jobs/jobs';
import type { AuditActor } from '../../services/kernel/audit';
import { recordRefusal, refusalOf, refusalText } from '../../services/kernel/refusal';
import {
  BadInputError,
  describeError,
  NotAuthorisedError,
  NotFoundError,
} from '../../services/shared/errors';
import type { SlackDeps } from '../deps';
import { escapeMrkdwn } from '../mrkdwn';
import { Replier } from '../replier';
import { checkProof, MAX_JOB_AGE_SECONDS, type ProofFailure } from './proof';
import { jobFromBody, parseSlackBody } from './sources';

/** Runs one kind of background job. */
export type JobRunner = (job: Job, deps: SlackDeps, reply: Replier) => Promise<void>;

const runners = new Map<string, JobRunner>();

/** Registers the runner for a job kind (each feature registers its own in slack/listeners/index.ts). */
export function registerJobRunner(kind: string, runner: JobRunner): void {
  runners.set(kind, runner);
}

/** Lambda does not name who invoked the worker: a refused job's actor is that unnamed invoker. */
const WORKER_INVOKER: AuditActor = {
  type: 'aws-principal',
  id: 'unknown',
  name: 'the worker function’s invoker',
};

const REFUSALS: Record<ProofFailure, { code: string; message: string }> = {
  malformed: {
    code: 'JOB_MALFORMED',
    message: 'The job is not a signed Slack request, so nothing was done.',
  },
  unsigned: { code: 'JOB_UNSIGNED', message: 'The job carries no Slack signature, so nothing was done.' },
  forged: {
    code: 'JOB_FORGED',
    message: 'The job’s Slack signature does not verify with the signing secret, so nothing was done.',
  },
  stale: {
    code: 'JOB_STALE',
    message: `The job’s Slack request is more than ${MAX_JOB_AGE_SECONDS / 60} minutes old (or dated ahead), so nothing was done.`,
  },
  unreadable: {
    code: 'JOB_UNREADABLE',
    message:
      'The signed Slack request asks sg-warden for nothing it runs in the background, so nothing was done.',
  },
  mismatch: {
    code: 'JOB_MISMATCH',
    message: 'The signed Slack request asks for another job than the one it came with, so nothing was done.',
  },
  replayed: {
    code: 'JOB_REPLAYED',
    message:
      'This signed Slack request was already acted on (a replay, or a job delivered twice), so nothing was done.',
  },
};

/**
 * The worker's door: takes a job only with its proof. The envelope must carry a Slack request signed with
 * the signing secret, at most MAX_JOB_AGE_SECONDS old; the job (who, what, where to answer) is read from
 * that signed body with the same sources the door's listeners use, and must be the kind claimed; and it
 * runs once per signed request (a marker written first). A job that fails any check acts on nothing,
 * calls no one, and is logged and audited as refused (subject `request`).
 */
export async function acceptJob(
  deps: SlackDeps,
  signingSecret: string,
  envelope: unknown,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<void> {
  const run = () => checkAndRunJob(deps, signingSecret, envelope, nowSeconds);
  // The Home tabs this job changed, built again after it (the person who pressed sees it at once): part
  // of the worker's work wherever the job runs (the worker Lambda, or in-process locally and in tests).
  await (deps.homesAfter ? deps.homesAfter('rebuild', run) : run());
}

async function checkAndRunJob(
  deps: SlackDeps,
  signingSecret: string,
  envelope: unknown,
  nowSeconds: number,
): Promise<void> {
  const proof = checkProof(envelope, signingSecret, nowSeconds);
  if (!proof.ok) return refuseJob(deps, proof.reason, proof.kind, proof.requestId);
  const body = parseSlackBody(proof.request.body);
  const spec = body ? jobFromBody(body, deps.config) : null;
  if (!spec) return refuseJob(deps, 'unreadable', proof.kind, proof.requestId);
  if (spec.kind !== proof.kind)
    return refuseJob(deps, 'mismatch', proof.kind, proof.requestId, { derivedKind: spec.kind });
  const job: Job = { ...spec, receivedAt: proof.sentAt.toISOString(), requestId: proof.requestId };
  if ((await runJob(deps, job)) === 'replayed')
    return refuseJob(deps, 'replayed', proof.kind, proof.requestId, { slackUser: job.actor.id });
}

async function refuseJob(
  deps: SlackDeps,
  reason: ProofFailure,
  kind: string | null,
  requestId: string | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  deps.logger.warn({ reason, job: kind, requestId }, 'worker job refused');
  await recordRefusal(deps, {
    subject: { id: requestId ?? 'unsigned', type: 'request' },
    action: 'slack-job',
    by: WORKER_INVOKER,
    refusal: REFUSALS[reason],
    details: { reason, kind, requestId, ...details },
  });
}

/**
 * Runs a job whose proof was checked (acceptJob), once per signed request: 'replayed' when its marker was
 * already written. Known errors reach the asker as one sentence and a code; anything else as a generic
 * sentence — never a stack trace. Errors are logged with the job's keys.
 */
async function runJob(deps: SlackDeps, job: Job): Promise<'ran' | 'replayed'> {
  const logger = deps.logger.child({ job: job.kind, slackUser: job.actor.id, slackRequestId: job.requestId });
  const client = await deps.slack();
  const reply = new Replier(client, job, logger);
  const runner = runners.get(job.kind);
  if (!runner) {
    logger.error('no runner for job kind');
    await reply
      .ephemeral(
        escapeMrkdwn(
          refusalText({ code: 'UNKNOWN_JOB', message: `sg-warden cannot handle "${job.kind}" requests.` }),
        ),
      )
      .catch(() => {});
    return 'ran';
  }
  try {
    // The replay guard: the same signed request (replayed, or delivered twice by Lambda) acts only once.
    if (!(await claimJob(deps.store, job, deps.clock()))) return 'replayed';
    await runner(job, deps, reply);
  } catch (error) {
    // A person's mistake (a bad value, not allowed, no such thing) is answered, not an error of ours.
    const isUserMistake =
      error instanceof BadInputError || error instanceof NotAuthorisedError || error instanceof NotFoundError;
    if (isUserMistake) logger.info({ err: describeError(error) }, 'job refused the request');
    else logger.error({ err: describeError(error) }, 'job failed');
    const sentence = refusalText(
      refusalOf(error) ?? {
        code: 'INTERNAL',
        message:
          'Something went wrong on our side; nothing was changed that is not shown above. Try again, or check /sg-status.',
      },
    );
    // Error messages can quote user or AWS input: escape them like everything else we echo.
    await reply.ephemeral(`:warning: ${escapeMrkdwn(sentence)}`).catch(() => {});
  }
  return 'ran';
}
