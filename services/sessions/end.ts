import { type AuditActor, type AuditSubject, auditEntry } from '../kernel/audit';
import { keys, tryTransition } from '../kernel/state';
import { step } from '../kernel/step';
import { plusSeconds } from '../kernel/time';
import { newRunId, planInvocation } from '../runs/plan';
import { MAX_INSTANCES } from '../runs/spec';
import { nextPollSeconds } from '../runs/states';
import { describeError } from '../shared/errors';
import type { CommandInvocation } from '../shared/ports';
import type { SessionDeps, SessionNotifier } from './deps';
import type { SessionInvocation, SessionsItem } from './items';
import {
  documentParameters,
  parseEndSessionsOutput,
  SCRIPT_ERRORS,
  type SessionScope,
  type SessionSource,
  sessionScope,
} from './plan';

/** SSM reporting what the command did on an instance. */
const SSM_ACTOR: AuditActor = { type: 'aws-principal', id: 'ssm', name: 'ssm' };
/** How long SSM may take to deliver the command (its minimum is 30 s). */
const DELIVERY_TIMEOUT_SECONDS = 60;
/** After this, an instance that has not answered is recorded as Undetermined. */
const GIVE_UP_SECONDS = 600;

/** Ending the sessions a grant or a revoked rule let in. */
export interface SessionRequest {
  subject: AuditSubject & { type: 'grant' | 'violation' };
  /** Who ended the grant or revoked the rule (the audit entry's actor). */
  by: AuditActor;
  account: string;
  region: string;
  groupId: string;
  source: SessionSource;
  notify: SessionsItem['notify'];
}

/** What became of the request, right after the rule was removed. */
export type SessionsStart =
  /** One command was sent; the count follows when every instance has answered. */
  | {
      kind: 'sent';
      sessionsId: string;
      scope: SessionScope;
      instanceIds: string[];
      skipped: SessionsItem['skipped'];
    }
  /** Nothing to end: no running instance has the group. */
  | { kind: 'none'; reason: string }
  /** It could not be done (no SSM-managed instance, SSM refused, another account, not deployed). */
  | { kind: 'failed'; reason: string }
  /** The address or ports were not what they claim to be: nothing was sent. */
  | { kind: 'refused'; reason: string };

async function record(
  deps: SessionDeps,
  request: SessionRequest,
  start: Exclude<SessionsStart, { kind: 'sent' }>,
  details: Record<string, unknown> = {},
): Promise<SessionsStart> {
  const result = start.kind === 'none' ? 'ok' : start.kind === 'refused' ? 'refused' : 'error';
  try {
    await deps.store.appendAudit(
      auditEntry(request.subject, request.by, {
        action: 'end-sessions',
        fromState: null,
        toState: null,
        result,
        ...(result === 'ok' ? {} : { error: start.reason }),
        at: deps.clock().toISOString(),
        details: { sent: false, reason: start.reason, groupId: request.groupId, ...details },
      }),
    );
  } catch (error) {
    deps.logger.error(
      { subject: request.subject, err: describeError(error) },
      'end-sessions audit not written',
    );
  }
  if (result !== 'ok')
    deps.logger.warn({ subject: request.subject, reason: start.reason }, 'sessions not ended');
  return start;
}

/**
 * Sends ONE end-sessions command (the fixed document, services/sessions/document.ts) to the running,
 * SSM-managed, online Linux instances that have the group, for the request's address and ports, each
 * checked as such first. Records what it did on the subject's audit trail and, when sent, a SESSIONS item
 * the sweeper polls (SESSIONS_POLL) until every instance has printed its count. Never throws: the rule is
 * already gone, and a failure here is audited and told, not retried.
 */
export async function endSessions(deps: SessionDeps, request: SessionRequest): Promise<SessionsStart> {
  const planned = sessionScope(request.source);
  if ('refused' in planned) return record(deps, request, { kind: 'refused', reason: planned.refused });
  const { scope } = planned;
  const ports = deps.sessions;
  if (!ports?.document)
    return record(deps, request, {
      kind: 'failed',
      reason: 'the end-sessions document is not deployed here',
    });
  if (!ports.isOwnAccount(request.account))
    return record(deps, request, {
      kind: 'failed',
      reason: `sg-warden runs commands only in its own account, and ${request.account} is another`,
    });
  try {
    const all = (await ports.instances.instancesInGroup(request.region, request.groupId)).filter(
      (i) => i.state === 'running',
    );
    if (all.length === 0)
      return record(deps, request, { kind: 'none', reason: `no running instance has ${request.groupId}` });
    const managed = await ports.commands.describeManagedInstances(
      request.region,
      all.map((i) => i.instanceId),
    );
    const skipped: SessionsItem['skipped'] = [];
    const ready: typeof all = [];
    for (const instance of all) {
      const info = managed.find((m) => m.instanceId === instance.instanceId);
      if (!info) skipped.push({ instanceId: instance.instanceId, why: 'not managed by SSM' });
      else if (info.pingStatus !== 'Online')
        skipped.push({ instanceId: instance.instanceId, why: `offline (SSM: ${info.pingStatus})` });
      else if (info.platformType !== 'Linux')
        skipped.push({
          instanceId: instance.instanceId,
          why: `not Linux (${info.platformType ?? 'unknown'})`,
        });
      else if (ready.length >= MAX_INSTANCES)
        skipped.push({
          instanceId: instance.instanceId,
          why: `Run Command takes at most ${MAX_INSTANCES} at once`,
        });
      else ready.push(instance);
    }
    if (ready.length === 0)
      return record(
        deps,
        request,
        {
          kind: 'failed',
          reason: `none of the ${all.length} running ${all.length === 1 ? 'instance' : 'instances'} with ${request.groupId} is an online SSM-managed Linux host`,
        },
        { skipped },
      );
    // The run room's ID form, its own prefix: s- and ten lowercase letters or digits.
    const sessionsId = `s-${newRunId().slice(2)}`;
    const sent = await ports.commands.sendCommand({
      region: request.region,
      document: ports.document,
      instanceIds: ready.map((i) => i.instanceId),
      parameters: documentParameters(scope),
      comment: `sg-warden: end sessions for ${request.subject.id}`.slice(0, 100),
      timeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
    });
    const now = deps.clock();
    const item: SessionsItem = {
      ...keys.sessions(sessionsId),
      type: 'sessions',
      status: 'RUNNING',
      version: 1,
      sessionsId,
      subject: request.subject,
      notify: request.notify,
      account: request.account,
      region: request.region,
      groupId: request.groupId,
      scope,
      document: ports.document,
      commandId: sent.commandId,
      instanceIds: ready.map((i) => i.instanceId),
      instanceNames: Object.fromEntries(ready.filter((i) => i.name).map((i) => [i.instanceId, i.name!])),
      skipped,
      invocations: {},
      createdAt: now.toISOString(),
      sentAt: now.toISOString(),
      giveUpAt: plusSeconds(now, GIVE_UP_SECONDS),
      dueKind: 'SESSIONS_POLL',
      dueAt: plusSeconds(now, 2),
    };
    const audit = auditEntry(request.subject, request.by, {
      action: 'end-sessions',
      fromState: null,
      toState: null,
      result: 'ok',
      at: item.sentAt,
      ...(sent.requestId ? { awsRequestId: sent.requestId } : {}),
      details: {
        sent: true,
        sessionsId,
        commandId: sent.commandId,
        document: ports.document,
        instanceIds: item.instanceIds,
        address: scope.address,
        fromPort: scope.fromPort,
        toPort: scope.toPort,
        ...(skipped.length ? { skipped } : {}),
      },
    });
    await deps.store.createAll([item as unknown as Record<string, unknown>], [audit]);
    return { kind: 'sent', sessionsId, scope, instanceIds: item.instanceIds, skipped };
  } catch (error) {
    return record(deps, request, { kind: 'failed', reason: describeError(error) });
  }
}

/** One instance's record from SSM's answer (null: nothing new yet). */
function readInvocation(
  before: SessionInvocation,
  answer: CommandInvocation | null,
  now: Date,
  giveUp: string,
): SessionInvocation | null {
  const planned = planInvocation({ status: before.status, final: before.final }, answer, now, giveUp);
  if (!planned?.next) return null;
  const { invocation, isFinal } = planned;
  if (!isFinal) return { status: invocation.status, final: false };
  const parsed = parseEndSessionsOutput(invocation.stdout);
  if (parsed && 'ended' in parsed) return { status: invocation.status, final: true, ...parsed };
  const error = parsed
    ? (SCRIPT_ERRORS[parsed.error] ?? parsed.error)
    : invocation.status === 'Success'
      ? 'the command printed no count'
      : `${invocation.status}${invocation.statusDetails ? ` (${invocation.statusDetails})` : ''}`;
  return { status: invocation.status, final: true, error };
}

/** Totals over the instances that answered with a count. */
export function sessionTotals(item: Pick<SessionsItem, 'instanceIds' | 'invocations'>): {
  ended: number;
  remaining: number;
  failed: string[];
} {
  let ended = 0;
  let remaining = 0;
  const failed: string[] = [];
  for (const id of item.instanceIds) {
    const i = item.invocations[id];
    if (i?.ended !== undefined) {
      ended += i.ended;
      remaining += i.remaining ?? 0;
    } else failed.push(id);
  }
  return { ended, remaining, failed };
}

/**
 * SESSIONS_POLL: asks SSM for each instance that has not answered; when all have (or were given up on),
 * records the count on the subject's audit trail (DONE) and tells the owner or the alert's thread. Two
 * sweeps racing write once: every write is conditional on the version read.
 */
export async function pollSessions(
  deps: SessionDeps,
  notifier: SessionNotifier,
  seen: SessionsItem,
  now: Date,
): Promise<SessionsItem | null> {
  const ports = deps.sessions;
  if (seen.status !== 'RUNNING' || !ports) return null;
  const invocations = { ...seen.invocations };
  for (const instanceId of seen.instanceIds) {
    const before = invocations[instanceId] ?? { status: 'Pending', final: false };
    if (before.final) continue;
    let answer: CommandInvocation | null;
    try {
      answer = await ports.commands.getInvocation(seen.region, seen.commandId, instanceId);
    } catch (error) {
      deps.logger.warn(
        { sessionsId: seen.sessionsId, instanceId, err: describeError(error) },
        'invocation not read',
      );
      continue;
    }
    const next = readInvocation(before, answer, now, seen.giveUpAt);
    if (next) invocations[instanceId] = next;
  }
  const at = now.toISOString();
  const done = seen.instanceIds.every((id) => invocations[id]?.final);
  if (!done) {
    return tryTransition<SessionsItem>(
      deps.store,
      step(seen, {
        to: 'RUNNING',
        action: 'poll',
        by: SSM_ACTOR,
        at,
        set: { invocations },
        due: { kind: 'SESSIONS_POLL', at: plusSeconds(now, nextPollSeconds(seen.sentAt, now)) },
        unaudited: true,
      }),
    );
  }
  const totals = sessionTotals({ instanceIds: seen.instanceIds, invocations });
  const finished = step(seen, {
    to: 'DONE',
    action: 'sessions-ended',
    by: SSM_ACTOR,
    at,
    set: { invocations, finishedAt: at },
    due: null,
    result: totals.failed.length === 0 ? 'ok' : 'error',
    ...(totals.failed.length
      ? {
          error: `${totals.failed.length} of ${seen.instanceIds.length} instances gave no count: ${totals.failed.join(', ')}`,
        }
      : {}),
    details: {
      sessionsId: seen.sessionsId,
      commandId: seen.commandId,
      ended: totals.ended,
      remaining: totals.remaining,
      address: seen.scope.address,
      fromPort: seen.scope.fromPort,
      toPort: seen.scope.toPort,
      instances: invocations,
    },
  });
  // The entry is about the grant or violation: its own states are not the command's.
  const after = await tryTransition<SessionsItem>(deps.store, {
    ...finished,
    audit: finished.audit && { ...finished.audit, fromState: null, toState: null },
  });
  if (!after) return null;
  try {
    await notifier.sessionsEnded(after);
  } catch (error) {
    deps.logger.warn({ sessionsId: seen.sessionsId, err: describeError(error) }, 'sessions count not told');
  }
  return after;
}
