import { RefusedError, recordRefusal } from '../kernel/refusal';
import type { Person } from '../shared/people';
import { actorOf, loadRun, type RunDeps } from './deps';
import type { RunItem } from './items';
import { specOf } from './spec';
import { viewerRefusal } from './who-may';

/**
 * A run for a person who asks to see it: its requester, those who may run its runbook, and its
 * approvers. A look at someone else's run is refused like any other request: on record, with who asked.
 * `action` names the look on the audit trail (`status`, `show-command`).
 */
export async function runFor(
  deps: Pick<RunDeps, 'store' | 'config' | 'directory' | 'clock' | 'logger'>,
  runId: string,
  person: Person,
  action: 'status' | 'show-command',
): Promise<RunItem> {
  const run = await loadRun(deps, runId);
  const refusal = await viewerRefusal(deps.directory, run, specOf(deps.config, run), person);
  if (!refusal) return run;
  await recordRefusal(deps, {
    subject: { id: run.runId, type: 'run' },
    action,
    by: actorOf(person),
    refusal,
    fromState: run.status,
  });
  throw new RefusedError(refusal);
}

/** `/sg-run status <run>`: the run, for its requester, those who may run its runbook, and its approvers. */
export function runStatus(deps: RunDeps, runId: string, person: Person): Promise<RunItem> {
  return runFor(deps, runId, person, 'status');
}
