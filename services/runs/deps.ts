import type { Config } from '../config/config';
import type { AuditActor } from '../kernel/audit';
import { RefusedError } from '../kernel/refusal';
import { keys, type StateStore } from '../kernel/state';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Directory, Person } from '../shared/people';
import type { CommandInvocation, CommandRunner, InstanceFinder, MessageRef } from '../shared/ports';
import type { RunItem } from './items';

/** How `/sg-run` tells people about a run (Slack in production; built by handlers/wiring.ts). */
export interface RunNotifier {
  /** Posts the run's announcement in `channel` (with Approve / Reject while it awaits approval). */
  announce(channel: string, run: RunItem): Promise<MessageRef>;
  /** Re-renders the announcement from the run as it is now. */
  refresh(run: RunItem): Promise<void>;
  /** Posts one instance's result and output in the run's thread; says how much of the output it showed. */
  postResult(
    run: RunItem,
    instanceId: string,
    invocation: CommandInvocation,
  ): Promise<{ shownChars: number; cutChars: number }>;
  /** A short line in the run's thread (rejected, expired, could not be sent). */
  postNote(run: RunItem, note: RunNote): Promise<void>;
}

/**
 * What a note in a run's thread says. The notifier words it (and escapes what it quotes: an error can
 * name an instance by its Name tag, which anyone who may tag instances chooses).
 */
export type RunNote =
  | { kind: 'not-sent'; error: string }
  | { kind: 'withdrawn' | 'rejected'; by: string }
  | { kind: 'expired' }
  | { kind: 'send-unknown' };

/** The AWS ports `/sg-run` needs, built once per container by the wiring. */
export interface RunPorts {
  instances: InstanceFinder;
  commands: CommandRunner;
}

export interface RunDeps extends RunPorts {
  config: Config;
  store: StateStore;
  clock: () => Date;
  logger: Logger;
  directory: Directory;
  notifier: RunNotifier;
}

/** A Slack user as the audit trail records them. */
export function actorOf(person: Person): AuditActor {
  return { type: 'slack-user', id: person.id, name: person.name };
}

/** SSM reporting an instance's invocation. */
export const SSM_ACTOR: AuditActor = { type: 'aws-principal', id: 'ssm', name: 'ssm' };

/** Re-renders the run's message; a failure is logged (the next change renders it again). */
export async function refresh(deps: Pick<RunDeps, 'notifier' | 'logger'>, run: RunItem): Promise<void> {
  try {
    await deps.notifier.refresh(run);
  } catch (error) {
    deps.logger.warn({ runId: run.runId, err: describeError(error) }, 'run message not updated');
  }
}

/** Re-renders the run's message and adds a note in its thread. */
export async function tell(
  deps: Pick<RunDeps, 'notifier' | 'logger'>,
  run: RunItem,
  note: RunNote,
): Promise<void> {
  await refresh(deps, run);
  try {
    await deps.notifier.postNote(run, note);
  } catch (error) {
    deps.logger.warn({ runId: run.runId, err: describeError(error) }, 'run note not posted');
  }
}

/** The run, or a refusal naming the run that is not there. */
export async function loadRun(deps: Pick<RunDeps, 'store'>, runId: string): Promise<RunItem> {
  const run = await deps.store.get<RunItem>(keys.run(runId));
  if (!run) throw new RefusedError({ code: 'NOT_FOUND', message: `There is no run ${runId}.` });
  return run;
}
