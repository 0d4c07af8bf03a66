import type { SignedSlackRequest } from '../../services/jobs/jobs';
import { slackRequestId } from '../request-context';
import { isValidSignature, MAX_BODY_BYTES, MAX_SKEW_SECONDS } from '../request-guard';

/**
 * How long the worker takes a job at most (10 minutes from Slack's timestamp): the door accepts a request up
 * to 5 minutes old (Slack's rule, MAX_SKEW_SECONDS), and Lambda's queue may hold the async invoke up to
 * 5 more minutes (the worker's maximumEventAge in serverless.yml; retries included). Anything older is
 * not a hand-off but a replay, and Slack's response_url would have little time left to answer anyway.
 */
export const HANDOFF_SECONDS = 300;
export const MAX_JOB_AGE_SECONDS = MAX_SKEW_SECONDS + HANDOFF_SECONDS;

/** Why the worker would not take a job. */
export type ProofFailure =
  | 'malformed' // not an envelope of a kind and a signed request
  | 'unsigned' // no signature
  | 'forged' // a signature that does not verify under the signing secret
  | 'stale' // correctly signed, but older than MAX_JOB_AGE_SECONDS (or too far ahead)
  | 'unreadable' // correctly signed, but no Slack request sg-warden hands off
  | 'mismatch' // correctly signed, but it asks for another job than the one claimed
  | 'replayed'; // correctly signed, and already acted on

/** What the proof check found: the verified request, or why not (with what could be read safely). */
export type Proof =
  | { ok: true; kind: string; request: SignedSlackRequest; requestId: string; sentAt: Date }
  | { ok: false; reason: ProofFailure; kind: string | null; requestId: string | null };

function isSignedRequest(value: unknown): value is SignedSlackRequest {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r.body === 'string' && typeof r.signature === 'string' && typeof r.timestamp === 'string';
}

/**
 * Checks the proof a job carries: a Slack request signed with the signing secret, at most
 * MAX_JOB_AGE_SECONDS old. Only the kind and the signed request are read from the envelope; anything an
 * invoker adds beside them is ignored.
 */
export function checkProof(envelope: unknown, signingSecret: string, nowSeconds: number): Proof {
  const e = (typeof envelope === 'object' && envelope !== null ? envelope : {}) as Record<string, unknown>;
  const kind = typeof e.kind === 'string' && e.kind.length > 0 && e.kind.length <= 64 ? e.kind : null;
  const request = e.request;
  if (!kind || !isSignedRequest(request) || Buffer.byteLength(request.body) > MAX_BODY_BYTES)
    return { ok: false, reason: 'malformed', kind, requestId: null };
  if (request.signature === '') return { ok: false, reason: 'unsigned', kind, requestId: null };
  const requestId = slackRequestId(request.signature);
  if (!isValidSignature(signingSecret, request.timestamp, request.body, request.signature))
    return { ok: false, reason: 'forged', kind, requestId };
  // The signature covers the timestamp: from here on it is Slack's.
  const sent = /^\d{1,12}$/.test(request.timestamp) ? Number(request.timestamp) : Number.NaN;
  const age = nowSeconds - sent;
  if (!(age <= MAX_JOB_AGE_SECONDS && age >= -MAX_SKEW_SECONDS))
    return { ok: false, reason: 'stale', kind, requestId };
  return { ok: true, kind, request, requestId, sentAt: new Date(sent * 1000) };
}
