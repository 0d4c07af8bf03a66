import { alertThread, disarmOrTell } from '../backstop/backstop';
import { dueViolation } from '../backstop/plan';
import { recordRefusal } from '../kernel/refusal';
import { keys } from '../kernel/state';
import { AccountAccessError, describeError } from '../shared/errors';
import { type SgEvent, sameRuleContent } from '../shared/model';
import type { AccountScope, AwsTarget, SecurityGroupReader } from '../shared/ports';
import { type AlertDeps, refreshAlertMessage } from '../violations/alerts';
import type { ViolationItem } from '../violations/items';
import { eventActor } from './own-rules';
import { principalName } from './principal-name';

export interface RemovalDeps extends AlertDeps {
  groups: SecurityGroupReader;
  accounts: AccountScope;
}

/** What a revoke or delete event came to for the pending violations it names. */
export interface RemovalResult {
  /** Confirmed gone in EC2 and resolved GONE. */
  gone: number;
  /** Named by the event but not resolved: EC2 still has the rule, it could not be asked, or the event does not match. */
  refused: number;
}

/** How an event names a violation: by its rule ID (unique in AWS), its group (deleted), or the rule's content. */
function namedBy(v: ViolationItem, event: SgEvent): 'rule-id' | 'group' | 'content' | null {
  if (v.rule.ruleId && event.ruleIds.includes(v.rule.ruleId)) return 'rule-id';
  if (event.kind === 'delete-group' && v.groupId === event.groupId) return 'group';
  if (v.groupId === event.groupId && event.rules.some((r) => sameRuleContent(r, v.rule))) return 'content';
  return null;
}

/**
 * Whether EC2, asked in the violation's own account and region, still has its rule. A group that no
 * longer exists takes its rules with it: gone.
 */
async function stillExists(groups: SecurityGroupReader, v: ViolationItem): Promise<boolean> {
  const target: AwsTarget = { account: v.account, region: v.region };
  if (v.rule.ruleId) return (await groups.describeRules(target, [v.rule.ruleId])).length > 0;
  const live = await groups.describeGroupRules(target, v.groupId);
  return live.some((r) => sameRuleContent(r, v.rule));
}

async function refuse(
  deps: RemovalDeps,
  event: SgEvent,
  v: ViolationItem,
  code: string,
  message: string,
): Promise<void> {
  deps.logger.warn(
    { violationId: v.violationId, eventId: event.eventId, eventName: event.eventName, code, why: message },
    'removal event not believed; violation stays pending',
  );
  await recordRefusal(deps, {
    subject: { id: v.violationId, type: 'violation' },
    action: 'removed-outside',
    by: eventActor(event, principalName(event.actor.arn)),
    refusal: { code, message },
    fromState: 'PENDING',
    details: {
      eventId: event.eventId,
      eventName: event.eventName,
      eventAccount: event.account,
      eventRegion: event.region,
      sourceIp: event.actor.sourceIp,
    },
  });
}

/**
 * A revoke or delete event is a hint, not a fact: each pending violation it names is resolved GONE
 * only once EC2, asked in the violation's account and region, no longer has the rule. When EC2 still
 * has it (a forged or stale event), when the event's account or region is not the violation's, or when
 * sg-warden cannot act in that account, the violation stays PENDING (its deadline still runs), and the
 * refusal is logged and audited.
 */
export async function confirmRemovals(deps: RemovalDeps, event: SgEvent): Promise<RemovalResult> {
  const pending = await deps.store.queryByStatus<ViolationItem>('violation', 'PENDING', 1000);
  const result: RemovalResult = { gone: 0, refused: 0 };
  for (const v of pending) {
    const how = namedBy(v, event);
    if (!how) continue;
    if (v.account !== event.account || v.region !== event.region) {
      // Content alone says nothing across accounts; a rule or group ID is unique, so naming it from
      // another account or region is an event that does not match AWS.
      if (how === 'content') continue;
      result.refused++;
      await refuse(
        deps,
        event,
        v,
        'EVENT_MISMATCH',
        `${event.eventName} from account ${event.account} ${event.region} names ${how === 'group' ? `group ${v.groupId}` : `rule ${v.rule.ruleId}`}, which is in account ${v.account} ${v.region}: not believed.`,
      );
      continue;
    }
    const cannotAct = deps.accounts.cannotAct(v.account);
    let exists: boolean;
    try {
      if (cannotAct) throw new AccountAccessError(v.account, cannotAct);
      exists = await stillExists(deps.groups, v);
    } catch (error) {
      if (!(error instanceof AccountAccessError)) throw error;
      result.refused++;
      await refuse(
        deps,
        event,
        v,
        'ACCOUNT_UNREACHABLE',
        `${error.message}; ${event.eventName} could not be checked in EC2, so the violation stays pending.`,
      );
      continue;
    }
    if (exists) {
      result.refused++;
      await refuse(
        deps,
        event,
        v,
        'REMOVAL_NOT_CONFIRMED',
        `${event.eventName} says ${v.rule.ruleId ?? 'the rule'} was removed, but EC2 still has it in account ${v.account} ${v.region}: not believed.`,
      );
      continue;
    }
    if (await resolveGone(deps, event, v)) result.gone++;
  }
  return result;
}

async function resolveGone(deps: RemovalDeps, event: SgEvent, v: ViolationItem): Promise<boolean> {
  const at = deps.clock().toISOString();
  try {
    await deps.store.transition({
      key: keys.violation(v.violationId),
      from: ['PENDING'],
      to: 'GONE',
      set: { decidedBy: event.actor.arn, decidedByName: event.actor.arn, decidedAt: at },
      due: null,
      audit: {
        subjectId: v.violationId,
        subjectType: 'violation',
        action: 'removed-outside',
        fromState: 'PENDING',
        toState: 'GONE',
        actorType: 'aws-principal',
        actorId: event.actor.arn,
        actorName: principalName(event.actor.arn),
        result: 'ok',
        details: {
          eventId: event.eventId,
          eventName: event.eventName,
          sourceIp: event.actor.sourceIp,
          confirmedInEc2: true,
        },
        at,
      },
    });
  } catch (error) {
    deps.logger.info({ violationId: v.violationId, err: describeError(error) }, 'violation already decided');
    return false;
  }
  if (dueViolation(v))
    await disarmOrTell(
      deps,
      { kind: 'violation', id: v.violationId, target: { account: v.account, region: v.region } },
      await alertThread(deps, v.alertId),
    );
  await refreshAlertMessage(deps, v.alertId);
  return true;
}
