import { groupsMovedBy } from '../exposure/moved';
import type { ChangeReader, NetworkReader } from '../exposure/ports';
import { type GroupRegrade, type RegradeDeps, regradeGroups } from '../exposure/regrade';
import { recordRefusal } from '../kernel/refusal';
import type { AccountScope, AwsTarget } from '../shared/ports';
import type { ExposureChangeEvent } from './exposure-events';
import { principalName } from './principal-name';

export interface ExposureChangeDeps extends RegradeDeps {
  accounts: AccountScope;
  /** Reads what the change touched (interfaces, route tables, load balancers). */
  network: ChangeReader & Pick<NetworkReader, 'routeTables'>;
}

export interface ExposureChangeResult {
  eventId: string;
  outcome: /** Not evaluated: an unwatched account, or a record that contradicts its envelope. */
    | 'refused'
    /** policy.exposure.enabled is false: exposure is not looked up at all. */
    | 'exposure-off'
    /** What the change touched could not be read (or sg-warden cannot act in the account): left to the scan. */
    | 'unreadable'
    | 'regraded';
  groups: GroupRegrade[];
  /** How many groups the change touched beyond the cap (left to the scan). */
  leftToScan: number;
}

/**
 * Handles one call that can change what groups expose without changing a rule (an address associated, an
 * interface moved, a route to an internet gateway, a public load balancer or database): finds the groups it
 * touched as EC2 and ELBv2 have them now (the event only says where to look), at most
 * `policy.exposure.maxGroupsPerEvent` of them (the cap is logged, the rest left to the scan), and re-grades
 * their rules by their exposure now (exposure/regrade.ts). Idempotent per event.
 */
export async function detectExposureChange(
  deps: ExposureChangeDeps,
  event: ExposureChangeEvent,
): Promise<ExposureChangeResult> {
  const log = deps.logger.child({ eventId: event.eventId, eventName: event.eventName, region: event.region });
  const result: ExposureChangeResult = {
    eventId: event.eventId,
    outcome: 'regraded',
    groups: [],
    leftToScan: 0,
  };
  const refusal = event.mismatch
    ? {
        code: 'EVENT_MISMATCH',
        message: `${event.eventName} ${event.eventId} does not add up: ${event.mismatch}.`,
      }
    : !deps.accounts.isWatched(event.account)
      ? {
          code: 'ACCOUNT_NOT_WATCHED',
          message: `${event.eventName} ${event.eventId} is from account ${event.account}, which sg-warden does not watch (accounts.watched): refused, not evaluated.`,
        }
      : null;
  if (refusal) {
    log.warn({ account: event.account, code: refusal.code, why: refusal.message }, 'event refused');
    await recordRefusal(deps, {
      subject: { id: event.eventId, type: 'alert' },
      action: 'detect',
      by: { type: 'aws-principal', id: event.actor.arn, name: principalName(event.actor.arn) },
      refusal,
      details: { eventName: event.eventName, account: event.account, region: event.region },
    });
    return { ...result, outcome: 'refused' };
  }
  const policy = deps.config.policy.exposure;
  if (!policy.enabled) return { ...result, outcome: 'exposure-off' };
  const cannotAct = deps.accounts.cannotAct(event.account);
  if (cannotAct) {
    log.warn(
      { account: event.account, why: cannotAct },
      'exposure change in an account sg-warden cannot read',
    );
    return { ...result, outcome: 'unreadable' };
  }
  const target: AwsTarget = { account: event.account, region: event.region };
  const moved = await groupsMovedBy(deps.network, target, event.changed, policy.maxGroupsPerEvent);
  if (moved.failure) {
    log.warn({ why: moved.failure, changed: event.changed }, 'exposure change not read; left to the scan');
    deps.metrics?.add('ExposureUnreadable', 1);
    return { ...result, outcome: 'unreadable' };
  }
  if (moved.capped) {
    result.leftToScan = moved.capped.found - moved.groupIds.length;
    log.warn(
      {
        found: moved.capped.found,
        atLeast: moved.capped.atLeast,
        regraded: moved.groupIds.length,
        maxGroupsPerEvent: policy.maxGroupsPerEvent,
      },
      'exposure change touched more groups than policy.exposure.maxGroupsPerEvent; the rest are left to the scan',
    );
    deps.metrics?.add('ExposureGroupsCapped', Math.max(result.leftToScan, 1));
  }
  result.groups = await regradeGroups(deps, target, moved.groupIds, {
    eventId: event.eventId,
    eventName: event.eventName,
    eventTime: event.eventTime,
    actor: event.actor,
    byName: principalName(event.actor.arn),
    what: event.what,
  });
  return result;
}
