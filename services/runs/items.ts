import type { StoredItem } from '../kernel/state';

/** Where an SSM run is (see services/runs.ts for the transitions). */
export type RunStatus =
  | 'AWAITING_APPROVAL' // waiting for a second person; due RUN_APPROVAL_EXPIRY
  | 'SENDING' // being sent to SSM (a lease: due RUN_POLL)
  | 'RUNNING' // SSM has it; due RUN_POLL
  | 'POLLING' // a sweep is reading results (a lease: due RUN_POLL)
  | 'SUCCEEDED' // every instance reported Success
  | 'FAILED' // at least one instance did not succeed (Failed, TimedOut, Cancelled, …)
  | 'REJECTED'
  | 'EXPIRED' // nobody approved in time
  | 'CANCELLED' // withdrawn, or its message could not be posted
  | 'SEND_FAILED' // SSM refused the command, or a target was no longer online
  | 'SEND_UNKNOWN'; // sg-warden stopped while sending: whether SSM has it is unknown

export const FINAL_RUN_STATUSES: readonly RunStatus[] = [
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
  'EXPIRED',
  'CANCELLED',
  'SEND_FAILED',
  'SEND_UNKNOWN',
];

/** One instance's part of a run, as SSM reported it. */
export interface RunInvocation {
  /** SSM's invocation status: Pending, InProgress, Delayed, Success, Failed, TimedOut, Cancelled, … */
  status: string;
  statusDetails?: string;
  final: boolean;
  exitCode?: number;
  stdoutChars?: number;
  stderrChars?: number;
  /** SHA-256 (hex) of the output SSM returned (stdout, then stderr). */
  stdoutSha256?: string;
  stderrSha256?: string;
  stdoutUrl?: string;
  stderrUrl?: string;
  finishedAt?: string;
  /** The result message was posted in the run's thread. */
  posted?: boolean;
  postAttempts?: number;
}

/** One `/sg-run` request: what was asked, who approved, what was sent, and each instance's result. */
export interface RunItem extends StoredItem {
  type: 'run';
  status: RunStatus;
  runId: string;
  /** The runbook alias, or "adhoc". */
  runbook: string;
  adHoc: boolean;
  document: string;
  region: string;
  /** The target as asked (an alias or an instance ID) and the instances it resolved to. */
  target: string;
  instanceIds: string[];
  instanceNames: Record<string, string>;
  /** The checked values (runbook parameters), or the ad-hoc command line. */
  values: Record<string, string>;
  /** The exact document parameters sent (or to be sent on approval). */
  documentParameters: Record<string, string[]>;
  comment: string;
  timeoutSeconds: number;
  maxOutputChars: number;
  outputS3Bucket?: string;
  outputS3KeyPrefix?: string;
  outputLogGroup?: string;
  requestedBy: string;
  requestedByName: string;
  createdAt: string;
  approvalRequired: boolean;
  approvalExpiresAt?: string;
  decidedBy?: string;
  decidedByName?: string;
  decidedAt?: string;
  /** The announcement message; results go in its thread. */
  channel?: string;
  ts?: string;
  commandId?: string;
  sentAt?: string;
  invocations: Record<string, RunInvocation>;
  lastError?: string;
  finishedAt?: string;
}
