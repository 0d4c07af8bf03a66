import { keys, type StateStore } from '../kernel/state';
import type { Person } from '../shared/people';

/**
 * Who asked: the Person a signed Slack payload names (the ID is checked against config and Slack user
 * groups, never trusted from buttons), with the workspace it came from when the payload said.
 */
export type JobActor = Person & { teamId?: string };

/** Where a background job answers: the channel/message it came from and the interaction's response_url. */
export interface ReplyTarget {
  channel?: string;
  messageTs?: string;
  threadTs?: string;
  responseUrl?: string;
}

/**
 * Work the Slack door hands off after acknowledging, so no answer waits on AWS.
 * Each feature adds its own kinds; `kind` selects the runner registered for it.
 */
export interface Job {
  kind: string;
  actor: JobActor;
  reply: ReplyTarget;
  /** Kind-specific arguments (plain JSON: jobs cross a Lambda async invoke). */
  args: Record<string, unknown>;
  /** When Slack sent the request (its signed timestamp, ISO). */
  receivedAt: string;
  /**
   * The signed Slack request this job answers (a digest of its signature). A job runs at most once per
   * request and kind: a replayed request, or a job the queue delivers twice, does nothing the second time.
   */
  requestId: string;
}

/**
 * A Slack request exactly as Slack signed it: the raw body and the two headers the signature covers.
 * It is what a job carries to the worker, which verifies it again and derives the job from it.
 */
export interface SignedSlackRequest {
  body: string;
  /** `X-Slack-Signature`: `v0=` and the HMAC-SHA256 of `v0:<timestamp>:<body>` under the signing secret. */
  signature: string;
  /** `X-Slack-Request-Timestamp`: seconds since the epoch. */
  timestamp: string;
}

/**
 * What the door hands the worker (the async invoke's payload): the job kind it expects and the signed
 * request. Nothing else crosses: who asked, where to answer and the arguments are read back from the
 * signed body by the worker, so an invoker cannot add or change them.
 */
export interface JobEnvelope {
  kind: string;
  request: SignedSlackRequest;
}

/** Hands jobs to a worker: an async Lambda invoke in production, in-process locally and in tests. */
export interface JobQueue {
  enqueue(envelope: JobEnvelope): Promise<void>;
  /** Readies the hand-off (e.g. its AWS client) ahead of the first job, while the door waits on other work. */
  prepare?(): void;
}

/** How long a request's marker is kept (DynamoDB TTL): far beyond Slack's five-minute signature window. */
const REQUEST_MARKER_SECONDS = 86_400;

/**
 * Records that this job of this Slack request is being run; false when it already was (a replay of a
 * signed request, or a job delivered twice), in which case it must do nothing.
 */
export async function claimJob(store: StateStore, job: Job, now: Date): Promise<boolean> {
  return store.createAll(
    [
      {
        ...keys.marker(`slack-request#${job.requestId}#${job.kind}`),
        type: 'marker',
        kind: job.kind,
        userId: job.actor.id,
        createdAt: now.toISOString(),
        expiresAtEpoch: Math.floor(now.getTime() / 1000) + REQUEST_MARKER_SECONDS,
      },
    ],
    [],
  );
}
