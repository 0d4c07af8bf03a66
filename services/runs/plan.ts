import { createHash, randomBytes } from 'node:crypto';
import type { Refusal } from '../kernel/refusal';
import { keys } from '../kernel/state';
import { plusSeconds } from '../kernel/time';
import type { Person } from '../shared/people';
import type { CommandInvocation, InstanceInfo } from '../shared/ports';
import type { RunInvocation, RunItem, RunStatus } from './items';
import { runComment } from './params';
import type { RunSpec } from './spec';
import { isFinalInvocation, MAX_POST_ATTEMPTS, SEND_LEASE_SECONDS } from './states';

/** A run ID people can type: r- and ten lowercase letters or digits. */
export function newRunId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return `r-${[...randomBytes(10)].map((b) => alphabet[b % 36]).join('')}`;
}

/** Text cut to `max` characters for the audit trail, with an ellipsis when cut. */
export function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Hex digits of the command hash people see (on the message, the Approve button and `/sg-run status`). */
export const SHOWN_HASH_CHARS = 12;

/**
 * SHA-256 (hex) of exactly what SSM receives for a run: the JSON text of `[document, [[name, values],
 * …]]`, parameter names sorted. An approval carries its first 12 digits and is checked against the run
 * as stored, so what a person approved is what is sent.
 */
export function commandSha256(run: Pick<RunItem, 'document' | 'documentParameters'>): string {
  const names = Object.keys(run.documentParameters).sort();
  return sha256(JSON.stringify([run.document, names.map((name) => [name, run.documentParameters[name]])]));
}

/** The first 12 hex digits of the run's command hash: what the approver sees and the Approve button carries. */
export function shownCommandHash(run: Pick<RunItem, 'document' | 'documentParameters'>): string {
  return commandSha256(run).slice(0, SHOWN_HASH_CHARS);
}

/**
 * Longest script a run that needs approval may send (characters, all command lines together). Within it,
 * the approver can always be shown the whole script, escaped, in the message or in the full-command view.
 */
export const MAX_APPROVAL_SCRIPT_CHARS = 30000;

/** The script an approver must read, as one text (the `commands` lines), or null for other documents. */
export function scriptOf(parameters: Record<string, string[]>): string | null {
  return parameters.commands ? parameters.commands.join('\n') : null;
}

/** Refuses a script too long to be shown whole to the person who must approve it. */
export function scriptTooLong(
  spec: Pick<RunSpec, 'approvalRequired'>,
  parameters: Record<string, string[]>,
): Refusal | null {
  const length = Object.values(parameters).reduce((sum, values) => sum + values.join('\n').length, 0);
  if (!spec.approvalRequired || length <= MAX_APPROVAL_SCRIPT_CHARS) return null;
  return {
    code: 'BAD_INPUT',
    message: `Refused, nothing was sent: the script is ${length} characters, and a run that needs approval may send at most ${MAX_APPROVAL_SCRIPT_CHARS}, so the approver can read all of it.`,
  };
}

/** What a checked request stands for: its spec, the instances, the values and the exact document parameters. */
export interface PlannedRun {
  spec: RunSpec;
  instances: InstanceInfo[];
  values: Record<string, string>;
  parameters: Record<string, string[]>;
  target: string;
}

/** The run item a checked request is stored as: awaiting approval, or SENDING under the sender's lease. */
export function planRunItem(planned: PlannedRun, runId: string, by: Person, now: Date): RunItem {
  const { spec, instances, values, parameters, target } = planned;
  const status: RunStatus = spec.approvalRequired ? 'AWAITING_APPROVAL' : 'SENDING';
  const approvalExpiresAt = spec.approvalRequired ? plusSeconds(now, spec.approvalExpiry) : undefined;
  const due = approvalExpiresAt
    ? { kind: 'RUN_APPROVAL_EXPIRY' as const, at: approvalExpiresAt }
    : { kind: 'RUN_POLL' as const, at: plusSeconds(now, SEND_LEASE_SECONDS) };
  return {
    ...keys.run(runId),
    type: 'run',
    status,
    version: 1,
    dueKind: due.kind,
    dueAt: due.at,
    runId,
    runbook: spec.name,
    adHoc: spec.adHoc,
    document: spec.document,
    region: spec.region,
    target,
    instanceIds: instances.map((i) => i.instanceId),
    instanceNames: Object.fromEntries(instances.filter((i) => i.name).map((i) => [i.instanceId, i.name!])),
    values,
    documentParameters: parameters,
    comment: runComment(runId, by),
    timeoutSeconds: spec.timeout,
    maxOutputChars: spec.maxOutputChars,
    ...(spec.outputS3Bucket
      ? { outputS3Bucket: spec.outputS3Bucket, outputS3KeyPrefix: `sg-warden/${runId}` }
      : {}),
    ...(spec.outputLogGroup ? { outputLogGroup: spec.outputLogGroup } : {}),
    requestedBy: by.id,
    requestedByName: by.name,
    createdAt: now.toISOString(),
    approvalRequired: spec.approvalRequired,
    ...(approvalExpiresAt ? { approvalExpiresAt } : {}),
    invocations: {},
  };
}

/** The SendCommand input for a run, as stored. */
export function sendInput(run: RunItem) {
  return {
    region: run.region,
    document: run.document,
    instanceIds: run.instanceIds,
    parameters: run.documentParameters,
    comment: run.comment,
    timeoutSeconds: run.timeoutSeconds,
    ...(run.outputS3Bucket
      ? { outputS3Bucket: run.outputS3Bucket, outputS3KeyPrefix: run.outputS3KeyPrefix }
      : {}),
    ...(run.outputLogGroup ? { outputLogGroup: run.outputLogGroup } : {}),
  };
}

/** Past this time a run's instances that SSM still reports as unfinished (or not at all) are given up. */
export function giveUpAt(run: RunItem): string {
  return plusSeconds(new Date(run.sentAt ?? run.createdAt), 2 * run.timeoutSeconds + 1800);
}

/** An instance still to read: not final, or final but its result not yet posted (and attempts left). */
export function isUnsettled(invocation: RunInvocation | undefined): boolean {
  const i = invocation ?? { status: 'Pending', final: false };
  if (!i.final) return true;
  return !i.posted && (i.postAttempts ?? 0) < MAX_POST_ATTEMPTS;
}

/**
 * What SSM's answer means for one instance: the invocation as sg-warden records it (`Undetermined` past
 * every timeout), whether it is final, and the new record when its status changed (null when not).
 * `answer` null means SSM does not know the invocation (yet).
 */
export function planInvocation(
  before: RunInvocation,
  answer: CommandInvocation | null,
  now: Date,
  giveUp: string,
): { invocation: CommandInvocation; isFinal: boolean; next: RunInvocation | null } | null {
  const late = now.toISOString() >= giveUp;
  let invocation = answer;
  if (!invocation && late) {
    invocation = {
      status: 'Undetermined',
      statusDetails: 'SSM never reported this invocation',
      exitCode: null,
      stdout: '',
      stderr: '',
      stdoutUrl: null,
      stderrUrl: null,
    };
  }
  if (!invocation) return null;
  if (!isFinalInvocation(invocation.status) && late) {
    invocation = {
      ...invocation,
      status: 'Undetermined',
      statusDetails: `still ${invocation.status} past every timeout`,
    };
  }
  const isFinal = isFinalInvocation(invocation.status);
  if (invocation.status === before.status) return { invocation, isFinal, next: null };
  const next: RunInvocation = {
    status: invocation.status,
    final: isFinal,
    ...(invocation.statusDetails ? { statusDetails: invocation.statusDetails } : {}),
    postAttempts: 0,
    posted: false,
    ...(isFinal
      ? {
          ...(invocation.exitCode !== null ? { exitCode: invocation.exitCode } : {}),
          stdoutChars: invocation.stdout.length,
          stderrChars: invocation.stderr.length,
          stdoutSha256: sha256(invocation.stdout),
          stderrSha256: sha256(invocation.stderr),
          ...(invocation.stdoutUrl ? { stdoutUrl: invocation.stdoutUrl } : {}),
          ...(invocation.stderrUrl ? { stderrUrl: invocation.stderrUrl } : {}),
          finishedAt: now.toISOString(),
        }
      : {}),
  };
  return { invocation, isFinal, next };
}

/** Where a run ends once no instance is unsettled: SUCCEEDED when every one succeeded; null while any is. */
export function planFinish(run: RunItem): 'SUCCEEDED' | 'FAILED' | null {
  const all = run.instanceIds.map((id) => run.invocations[id]);
  if (all.some(isUnsettled)) return null;
  return all.every((i) => i?.status === 'Success') ? 'SUCCEEDED' : 'FAILED';
}
