/** Who asked, as Slack tells us (IDs are checked against config and Slack user groups, never trusted from buttons). */
export interface SlackActor {
  userId: string;
  userName: string;
  teamId?: string;
}

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
  actor: SlackActor;
  reply: ReplyTarget;
  /** Kind-specific arguments (plain JSON: jobs cross a Lambda async invoke). */
  args: Record<string, unknown>;
  /** When the door received the request (ISO). */
  receivedAt: string;
}

/** Hands jobs to a worker: an async Lambda invoke in production, in-process locally and in tests. */
export interface JobQueue {
  enqueue(job: Job): Promise<void>;
}
