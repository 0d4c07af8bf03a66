import type { People } from '../config/config';
import type { Refusal } from '../kernel/refusal';
import { type Directory, isAllowed, type Person } from '../shared/people';
import type { RunItem } from './items';

/**
 * Who may do what with `/sg-run`: each rule returns the refusal (a code and the sentence the person
 * sees) or null when the person may. People come from the config; the Slack payload only names them.
 */

/** What these rules read from a run's spec (services/runs/spec.ts). */
export interface RunRules {
  name: string;
  adHoc: boolean;
  allowed: People;
  approvalRequired: boolean;
  approvers: People;
}

const notAuthorised = (message: string): Refusal => ({ code: 'NOT_AUTHORISED', message });

/** Running a runbook (or an ad-hoc command): the spec's `allowed` people. */
export async function runnerRefusal(
  directory: Directory,
  spec: RunRules,
  person: Person,
): Promise<Refusal | null> {
  if (await isAllowed(spec.allowed, person.id, directory)) return null;
  return notAuthorised(spec.adHoc ? 'You may not run ad-hoc commands.' : `You may not run ${spec.name}.`);
}

/**
 * Approving: an approver of the run's spec who is not its requester, while its runbook is still
 * configured (`spec` null when it is not).
 */
export async function approverRefusal(
  directory: Directory,
  run: RunItem,
  spec: RunRules | null,
  person: Person,
): Promise<Refusal | null> {
  if (person.id === run.requestedBy)
    return notAuthorised('You cannot approve your own run; another approver must.');
  if (!spec)
    return {
      code: 'BAD_INPUT',
      message: `Runbook ${run.runbook} is no longer configured, so run ${run.runId} cannot be approved.`,
    };
  if (await isAllowed(spec.approvers, person.id, directory)) return null;
  return notAuthorised(`You are not an approver of ${spec.name}.`);
}

/**
 * Approving binds to the command: the hash the approver was shown (the Approve button carries it) must
 * be the hash of the command stored for the run, so nobody approves a command they did not see.
 */
export function commandRefusal(run: RunItem, shown: string | null, stored: string): Refusal | null {
  if (shown === stored) return null;
  return {
    code: 'COMMAND_MISMATCH',
    message:
      shown === null
        ? `This Approve button does not say which command it approves, so run ${run.runId} was not approved and nothing was sent. Use the Approve button on the run's message.`
        : `The command you were shown (${shown.slice(0, 12)}) is not the one stored for run ${run.runId} (${stored}), so it was not approved and nothing was sent.`,
  };
}

/** True when the person rejecting a run is its requester: that is a withdrawal, always allowed. */
export function isWithdrawal(run: RunItem, person: Person): boolean {
  return person.id === run.requestedBy;
}

/** Rejecting: the requester (a withdrawal), or an approver of the run's spec. */
export async function rejecterRefusal(
  directory: Directory,
  run: RunItem,
  spec: RunRules | null,
  person: Person,
): Promise<Refusal | null> {
  if (isWithdrawal(run, person)) return null;
  if (spec && (await isAllowed(spec.approvers, person.id, directory))) return null;
  return notAuthorised(`You are not an approver of ${run.runbook}.`);
}

/**
 * Seeing a run (its status, its whole command): its requester, those who may run its runbook, and its
 * approvers when it needs approval.
 */
export async function viewerRefusal(
  directory: Directory,
  run: RunItem,
  spec: RunRules | null,
  person: Person,
): Promise<Refusal | null> {
  if (run.requestedBy === person.id) return null;
  if (
    spec &&
    ((await isAllowed(spec.allowed, person.id, directory)) ||
      (spec.approvalRequired && (await isAllowed(spec.approvers, person.id, directory))))
  )
    return null;
  return notAuthorised(`You may not see run ${run.runId}.`);
}
