import { shellOf } from '../config/config';
import { auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import { RefusedError, recordRefusal, refusalOf } from '../kernel/refusal';
import { keys } from '../kernel/state';
import { plusSeconds } from '../kernel/time';
import { AwsCallError, describeError, SgWardenError, StateConflictError } from '../shared/errors';
import type { Person } from '../shared/people';
import type { MessageRef } from '../shared/ports';
import { actorOf, type RunDeps, refresh, tell } from './deps';
import type { RunInvocation, RunItem } from './items';
import {
  adHocParameters,
  checkAdHocCommand,
  documentParameters,
  parseRunCommand,
  type RunRequest,
  resolveParameters,
} from './params';
import {
  clip,
  commandSha256,
  newRunId,
  type PlannedRun,
  planRunItem,
  scriptTooLong,
  sendInput,
} from './plan';
import { ADHOC, checkOnline, resolveTarget, specFor, targetOf } from './spec';
import { moveRun, nextPollSeconds } from './states';
import { runnerRefusal } from './who-may';

/**
 * Reads the text of `/sg-run`. A command that cannot be read (a stray word such as a newline-split
 * `rm -rf /`, an open quote) is refused and audited like any other refused request.
 */
export async function parseRequest(
  deps: Pick<RunDeps, 'store' | 'clock' | 'logger'>,
  person: Person,
  text: string,
  channel: string,
): Promise<RunRequest> {
  try {
    return parseRunCommand(text);
  } catch (error) {
    const refusal = refusalOf(error);
    if (!refusal) throw error;
    await recordRefusal(deps, {
      subject: { id: newRunId(), type: 'run' },
      action: 'request',
      by: actorOf(person),
      refusal,
      details: { text: clip(text, 2000), channel },
    });
    throw error;
  }
}

type RunAsked = Extract<RunRequest, { kind: 'run' | 'adhoc' }>;

/**
 * `/sg-run <runbook> <target> …` and `/sg-run adhoc …`: checks who asks, the values and the targets
 * (instances exist, are allowed, are managed by SSM and online) before anything is stored or sent.
 * The run is stored, then announced — in `channel`, or where the config says for ad-hoc commands —
 * (results go to that message's thread), then sent, or left for a second person's approval. Every
 * refusal is audited and thrown as one sentence.
 */
export async function requestRun(
  deps: RunDeps,
  person: Person,
  request: RunAsked,
  channel: string,
): Promise<RunItem> {
  const runId = newRunId();
  const name = request.kind === 'adhoc' ? ADHOC : request.runbook;
  const asked = {
    runbook: name,
    target: request.target,
    channel,
    ...(request.kind === 'adhoc'
      ? { command: clip(request.command, 2000) }
      : { given: Object.fromEntries(request.assignments.map(([k, v]) => [clip(k, 64), clip(v)])) }),
  };
  let planned: PlannedRun;
  try {
    planned = await prepareRun(deps, person, request, runId);
  } catch (error) {
    const refusal = error instanceof AwsCallError ? null : refusalOf(error);
    if (refusal) {
      await recordRefusal(deps, {
        subject: { id: runId, type: 'run' },
        action: 'request',
        by: actorOf(person),
        refusal,
        details: asked,
      });
    } else {
      await deps.store.appendAudit(
        auditEntry({ id: runId, type: 'run' }, actorOf(person), {
          action: 'request',
          fromState: null,
          toState: null,
          result: 'error',
          error: describeError(error),
          details: asked,
          at: deps.clock().toISOString(),
        }),
      );
    }
    throw error;
  }
  const now = deps.clock();
  const run = planRunItem(planned, runId, person, now);
  const created = await deps.store.createAll(
    [run as unknown as Record<string, unknown>],
    [
      auditEntry({ id: runId, type: 'run' }, actorOf(person), {
        action: 'request',
        fromState: null,
        toState: run.status,
        result: 'ok',
        details: {
          ...asked,
          document: run.document,
          region: run.region,
          instanceIds: run.instanceIds,
          values: run.values,
          documentParameters: run.documentParameters,
          commandSha256: commandSha256(run),
          approvalRequired: run.approvalRequired,
        },
        at: now.toISOString(),
      }),
    ],
  );
  if (!created) throw new StateConflictError(`Run ${runId} exists already; please ask again.`);

  // Ad-hoc requests go where the config says, never where the requester chose to ask.
  const postIn = planned.spec.channel ?? channel;
  let ref: MessageRef;
  try {
    ref = await deps.notifier.announce(postIn, run);
  } catch (error) {
    deps.logger.warn({ runId, err: describeError(error) }, 'run announcement not posted');
    await deps.store
      .transition(
        moveRun(run, {
          to: 'CANCELLED',
          from: [run.status],
          anyVersion: true,
          action: 'announce',
          by: SYSTEM_ACTOR,
          at: deps.clock().toISOString(),
          set: {
            lastError: `announcement not posted: ${describeError(error)}`,
            finishedAt: deps.clock().toISOString(),
          },
          due: null,
          result: 'error',
          error: describeError(error),
          details: { channel: postIn },
        }),
      )
      .catch((e) => deps.logger.error({ runId, err: describeError(e) }, 'run not cancelled'));
    throw new SgWardenError(
      'CHANNEL_UNAVAILABLE',
      postIn === channel
        ? `sg-warden could not post in this channel, so run ${runId} was cancelled and nothing was sent. Invite the bot here, or ask in a channel it is in.`
        : `sg-warden could not post in channel ${postIn} (runbooks.adHoc.channel), so run ${runId} was cancelled and nothing was sent. Invite the bot there.`,
      { cause: error },
    );
  }
  await deps.store.patch(keys.run(runId), { channel: ref.channel, ts: ref.ts });
  const announced: RunItem = { ...run, channel: ref.channel, ts: ref.ts };
  if (run.approvalRequired) return announced;
  return sendRun(deps, announced, { recheck: false });
}

/** Checks a request and works out exactly what would be sent; throws a refusal (or an AWS failure). */
async function prepareRun(
  deps: RunDeps,
  person: Person,
  request: RunAsked,
  runId: string,
): Promise<PlannedRun> {
  const name = request.kind === 'adhoc' ? ADHOC : request.runbook;
  const spec = specFor(deps.config, name);
  if (!spec) {
    throw new RefusedError({
      code: 'BAD_INPUT',
      message:
        name === ADHOC
          ? 'Ad-hoc commands are turned off (runbooks.allowAdHoc); use a runbook. `/sg-run list` shows the ones you may run.'
          : `There is no runbook "${clip(name, 64)}". \`/sg-run list\` shows the ones you may run.`,
    });
  }
  const notAllowed = await runnerRefusal(deps.directory, spec, person);
  if (notAllowed) throw new RefusedError(notAllowed);
  // Values are checked before any AWS call, so a refused value never reaches an instance or a log line of SSM.
  let values: Record<string, string>;
  let parameters: Record<string, string[]>;
  if (request.kind === 'adhoc') {
    const command = checkAdHocCommand(request.command);
    values = { command };
    parameters = adHocParameters({ timeout: spec.timeout }, command);
  } else {
    values = resolveParameters(spec.runbook!, request.assignments);
    parameters = documentParameters(spec.runbook!, values, shellOf(spec.document));
  }
  const tooLong = scriptTooLong(spec, parameters);
  if (tooLong) throw new RefusedError(tooLong);
  const target = targetOf(spec, request.target);
  const { instances } = await resolveTarget(deps, spec, target);
  await checkOnline(deps, spec.region, instances);
  deps.logger.info({ runId, runbook: spec.name, instances: instances.length }, 'run planned');
  return { spec, instances, values, parameters, target };
}

/** Sends a run in SENDING to SSM and records the command ID (→ RUNNING), or the failure (→ SEND_FAILED). */
export async function sendRun(deps: RunDeps, run: RunItem, options: { recheck: boolean }): Promise<RunItem> {
  const fail = async (error: unknown, stage: string): Promise<RunItem> => {
    const now = deps.clock().toISOString();
    const failed = await deps.store.transition<RunItem>(
      moveRun(run, {
        to: 'SEND_FAILED',
        from: ['SENDING'],
        anyVersion: true,
        action: stage,
        by: SYSTEM_ACTOR,
        at: now,
        set: { lastError: describeError(error), finishedAt: now },
        due: null,
        result: 'error',
        error: describeError(error),
        ...(error instanceof AwsCallError && error.requestId ? { awsRequestId: error.requestId } : {}),
        details: error instanceof AwsCallError ? { awsCode: error.awsCode } : {},
      }),
    );
    await tell(deps, failed, { kind: 'not-sent', error: describeError(error) });
    return failed;
  };
  if (options.recheck) {
    const instances = run.instanceIds.map((id) => ({ instanceId: id, name: run.instanceNames[id] ?? null }));
    try {
      await checkOnline(deps, run.region, instances);
    } catch (error) {
      return fail(error, 'precheck');
    }
  }
  let sent: { commandId: string; requestId: string | null };
  try {
    sent = await deps.commands.sendCommand(sendInput(run));
  } catch (error) {
    return fail(error, 'send');
  }
  const now = deps.clock();
  const invocations: Record<string, RunInvocation> = Object.fromEntries(
    run.instanceIds.map((id) => [id, { status: 'Pending', final: false }]),
  );
  const { region: _region, document, instanceIds, parameters, ...rest } = sendInput(run);
  const details = { commandId: sent.commandId, document, parameters, instanceIds, ...rest };
  let running: RunItem;
  try {
    running = await deps.store.transition<RunItem>(
      moveRun(run, {
        to: 'RUNNING',
        from: ['SENDING'],
        anyVersion: true,
        action: 'send',
        by: SYSTEM_ACTOR,
        at: now.toISOString(),
        set: { commandId: sent.commandId, sentAt: now.toISOString(), invocations },
        due: { kind: 'RUN_POLL', at: plusSeconds(now, nextPollSeconds(undefined, now)) },
        ...(sent.requestId ? { awsRequestId: sent.requestId } : {}),
        details,
      }),
    );
  } catch (error) {
    // SSM has the command but the run left SENDING (its lease ran out): keep the command ID on record.
    await deps.store.appendAudit(
      auditEntry({ id: run.runId, type: 'run' }, SYSTEM_ACTOR, {
        action: 'send',
        fromState: 'SENDING',
        toState: null,
        result: 'error',
        error: `sent, but not recorded as RUNNING: ${describeError(error)}`,
        details,
        at: now.toISOString(),
      }),
    );
    throw error;
  }
  await refresh(deps, running);
  return running;
}
