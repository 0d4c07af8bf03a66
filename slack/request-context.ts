import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { SignedSlackRequest } from '../services/jobs/jobs';

/** What the Slack door knows about the request being handled, for the code Bolt calls on its behalf. */
interface SlackRequest {
  /** A hash of the request's Slack signature: the same signed request (a replay) has the same ID. */
  requestId: string;
  /** The request as Slack signed it: what a job carries to the worker as its proof. */
  signed: SignedSlackRequest;
}

const storage = new AsyncLocalStorage<SlackRequest>();

/** The ID of a signed Slack request: a digest of its signature (unique per timestamp and body). */
export function slackRequestId(signature: string): string {
  return createHash('sha256').update(signature).digest('hex').slice(0, 32);
}

/** Runs `fn` (Bolt handling one request) with the signed request available to listeners. */
export function withSlackRequest<T>(signed: SignedSlackRequest, fn: () => Promise<T>): Promise<T> {
  return storage.run({ requestId: slackRequestId(signed.signature), signed }, fn);
}

/** The ID of the Slack request being handled, or undefined outside the door. */
export function currentSlackRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** The signed Slack request being handled, or undefined outside the door. */
export function currentSignedRequest(): SignedSlackRequest | undefined {
  return storage.getStore()?.signed;
}
