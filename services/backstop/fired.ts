import { endViolationSessions, trackingAtRevoke } from '../decisions/sessions';
import { VIOLATION_MOVES } from '../decisions/states';
import type { GrantNotifier, GrantSessions } from '../grants/deps';
import type { GrantItem } from '../grants/items';
import { GRANT_MOVES } from '../grants/states';
import { BACKSTOP_ACTOR } from '../kernel/audit';
import { keys, type StoredItem, type Transition, tryTransition } from '../kernel/state';
import { step } from '../kernel/step';
import type { SessionPorts } from '../sessions/deps';
import type { ConnectionTracking } from '../sessions/tracking';
import { describeError } from '../shared/errors';
import type { SgEvent } from '../shared/model';
import type { AccountScope, AwsTarget, SecurityGroupReader } from '../shared/ports';
import { type AlertDeps, refreshAlertMessage } from '../violations/alerts';
import type { ViolationItem } from '../violations/items';
import type { Backstop } from './ports';

/**
 * When the backstop fires, EC2's revoke is CloudTrail's like any other: detection hands a revoke made by
 * the backstop's execution role here. The event is a hint: each rule it names is confirmed gone in EC2
 * (in the event's account and region) before its grant or violation ends, as the backstop's (actor
 * `backstop`): a grant EXPIRED, a violation AUTO_REVOKED. Both are conditional moves: a sweep or a person
 * that got there first wins, and nothing is recorded twice. What follows a removal follows this one too:
 * a grant's sessions end (whitelist `endSessions`), and a violation's alert says whether its connections
 * were cut, and `policy.endSessionsOnRevoke` ends them, as after a person's Revoke or the deadline.
 */

export interface FiredDeps extends AlertDeps {
  backstop: Backstop;
  groups: SecurityGroupReader;
  accounts: AccountScope;
  /** Tells a grant's owner that it ended. */
  grantNotifier?: Pick<GrantNotifier, 'ended'>;
  /** Ends the grant's sessions once its rule is gone (whitelist `endSessions`); absent: not ended here. */
  endGrantSessions?: (grant: GrantItem) => Promise<GrantSessions>;
  /** Run Command for `policy.endSessionsOnRevoke` (the wiring's); absent: a violation's sessions are not ended. */
  sessions?: SessionPorts;
}

/** How long a claim the backstop's record takes lasts (it is written straight after). */
const CLAIM_SECONDS = 60;

/** The details every backstop entry carries: which event, and that EC2 confirmed it. */
function details(event: SgEvent, ruleId: string): Record<string, unknown> {
  return {
    ruleId,
    eventId: event.eventId,
    eventName: event.eventName,
    principal: event.actor.arn,
    confirmedInEc2: true,
    note: 'the backstop schedule revoked the rule: the sweeper was late',
  };
}

/** Claims then settles, the way the sweeper would have: the trail shows the state the item was really in. */
async function claimThenSettle<T extends StoredItem>(
  deps: FiredDeps,
  claim: Transition,
  settle: (claimed: T) => Transition | Promise<Transition>,
  fromState: string,
): Promise<T | null> {
  const claimed = await tryTransition<T>(deps.store, claim);
  if (!claimed) return null;
  const t = await settle(claimed);
  return deps.store.transition<T>(t.audit ? { ...t, audit: { ...t.audit, fromState } } : t);
}

async function endGrant(deps: FiredDeps, event: SgEvent, ruleId: string): Promise<boolean> {
  const record = await deps.store.get<StoredItem & { grantId?: string }>(keys.ownRule(event.region, ruleId));
  const grant = record?.grantId ? await deps.store.get<GrantItem>(keys.grant(record.grantId)) : null;
  if (!grant || grant.ruleId !== ruleId || grant.region !== event.region || !sameAccount(deps, grant, event))
    return false;
  if (grant.status !== 'ACTIVE' && grant.status !== 'REVOKE_FAILED') return false;
  const now = deps.clock();
  const at = now.toISOString();
  const ended = await claimThenSettle<GrantItem>(
    deps,
    step(grant, {
      from: GRANT_MOVES.claim.from,
      to: 'REVOKING',
      action: 'claim',
      by: BACKSTOP_ACTOR,
      at,
      set: { endAs: 'EXPIRED', endedBy: BACKSTOP_ACTOR.id },
      due: { kind: 'GRANT_EXPIRY', at: new Date(now.getTime() + CLAIM_SECONDS * 1000).toISOString() },
      unaudited: true,
    }),
    (claimed) =>
      step(claimed, {
        to: 'EXPIRED',
        action: 'expire',
        by: BACKSTOP_ACTOR,
        at,
        set: { endedAt: at },
        remove: ['lastError'],
        due: null,
        details: { ...details(event, ruleId), expiresAt: grant.expiresAt },
      }),
    grant.status,
  );
  if (!ended) return false;
  deps.logger.warn({ grantId: grant.grantId, ruleId }, 'backstop revoked a grant the sweeper had not ended');
  try {
    // As at an expiry by the sweeper: the sessions the rule let in end with it (never throws).
    const sessions = (await deps.endGrantSessions?.(ended)) ?? { kind: 'off' };
    await deps.grantNotifier?.ended(ended, sessions);
  } catch (error) {
    deps.logger.warn({ grantId: grant.grantId, err: describeError(error) }, 'grant owner not told');
  }
  return true;
}

/** The grant is in the event's account (targets without an account are the bot's own). */
function sameAccount(deps: FiredDeps, grant: GrantItem, event: SgEvent): boolean {
  if (grant.account === event.account) return true;
  return deps.accounts.isOwn(grant.account) && deps.accounts.isOwn(event.account);
}

async function endViolations(deps: FiredDeps, event: SgEvent, ruleId: string): Promise<number> {
  const open = [
    ...(await deps.store.queryByStatus<ViolationItem>('violation', 'PENDING', 1000)),
    ...(await deps.store.queryByStatus<ViolationItem>('violation', 'REVOKE_RETRY', 1000)),
  ].filter((v) => v.rule.ruleId === ruleId && v.account === event.account && v.region === event.region);
  let ended = 0;
  for (const v of open) {
    const now = deps.clock();
    const at = now.toISOString();
    let tracking: ConnectionTracking | null = null;
    const after = await claimThenSettle<ViolationItem>(
      deps,
      step(v, {
        from: VIOLATION_MOVES.claim.from,
        to: 'REVOKING',
        action: 'revoke-start',
        by: BACKSTOP_ACTOR,
        at,
        set: { revokeBy: BACKSTOP_ACTOR },
        due: { kind: 'RECONCILE', at: new Date(now.getTime() + CLAIM_SECONDS * 1000).toISOString() },
        unaudited: true,
      }),
      async (claimed) => {
        // Whether its connections outlived it, from the group's rules as EC2 has them now (the rule just
        // went; the rest of the group is what decides), as a person's Revoke or the deadline records it.
        const connections = await trackingAtRevoke(
          { ec2: deps.groups, logger: deps.logger },
          { account: claimed.account, region: claimed.region },
          claimed.rule,
        );
        tracking = connections;
        return step(claimed, {
          to: 'AUTO_REVOKED',
          action: 'revoke',
          by: BACKSTOP_ACTOR,
          at,
          set: {
            decidedBy: BACKSTOP_ACTOR.id,
            decidedByName: BACKSTOP_ACTOR.name,
            decidedAt: at,
            connections,
          },
          due: null,
          details: { ...details(event, ruleId), deadline: v.deadline, connections: connections.verdict },
        });
      },
      v.status,
    );
    if (!after) continue;
    ended++;
    deps.logger.warn(
      { violationId: v.violationId, ruleId },
      'backstop revoked a violation the sweeper had not',
    );
    // policy.endSessionsOnRevoke: the same command a person's Revoke or the deadline sends (never throws).
    await endViolationSessions(deps, after, after.rule, tracking, BACKSTOP_ACTOR);
    await refreshAlertMessage(deps, v.alertId);
  }
  return ended;
}

/**
 * Records the backstop's revoke of the rules `event` names: each confirmed gone in EC2 ends its grant or
 * violation as the backstop's. Returns how many items it ended (0: nothing of sg-warden's, or EC2 still
 * has the rule, which leaves everything as it was for the sweeper).
 */
export async function recordBackstopRevoke(deps: FiredDeps, event: SgEvent): Promise<number> {
  const target: AwsTarget = { account: event.account, region: event.region };
  const live = new Set(
    (await deps.groups.describeRules(target, event.ruleIds)).map((r) => r.ruleId).filter((id) => id),
  );
  let ended = 0;
  for (const ruleId of event.ruleIds) {
    if (live.has(ruleId)) {
      deps.logger.warn(
        { ruleId, eventId: event.eventId },
        'backstop event names a rule EC2 still has: not believed',
      );
      continue;
    }
    if (await endGrant(deps, event, ruleId)) ended++;
    ended += await endViolations(deps, event, ruleId);
  }
  return ended;
}
