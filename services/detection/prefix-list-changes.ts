import { AccountAccessError, AwsCallError, describeError } from '../shared/errors';
import type { SgEvent } from '../shared/model';
import type { AwsTarget } from '../shared/ports';
import { refuseEvent } from './intake';
import { internetEntries } from './policy';
import { judgeLiveRules, raiseAlert, type WatchDeps, type WatchResult } from './raise';
import { tagAlertId } from './tag-changes';

const ACCESS_DENIED = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'AuthFailure',
]);

/**
 * CreateManagedPrefixList / ModifyManagedPrefixList. A prefix list is no longer "never the internet" once
 * it holds 0.0.0.0/0, ::/0 or another range the policy counts as the internet: each security-group rule
 * that names the list then opens to it. The event is a hint: the list's entries and the groups that use
 * it are read in EC2 (in the list's account and region), each referencing rule is judged as EC2 has it
 * (its own grants, kept rules and rules whose violation is open left out), and one alert per group
 * raises its violating rules, saying which entries did it and who changed the list.
 */
export async function handlePrefixListChange(deps: WatchDeps, event: SgEvent): Promise<WatchResult> {
  const result: WatchResult = { outcome: 'not-a-rule-change', violations: 0, posted: false, skipped: [] };
  const listId = event.prefixList?.id;
  const log = deps.logger.child({ eventId: event.eventId, eventName: event.eventName, prefixListId: listId });
  if (!listId) {
    log.warn({}, 'prefix-list event names no list sg-warden can read; not evaluated');
    return result;
  }
  const target: AwsTarget = { account: event.account, region: event.region };
  const cannotAct = deps.accounts.cannotAct(event.account);
  let internet: string[];
  let groupIds: string[];
  try {
    if (cannotAct) throw new AccountAccessError(event.account, cannotAct);
    internet = internetEntries(await deps.prefixLists.prefixListEntries(target, listId), deps.config.policy);
    if (internet.length === 0) return { ...result, outcome: 'no-violations' };
    groupIds = await deps.prefixLists.groupsUsingPrefixList(target, listId);
  } catch (error) {
    const denied = error instanceof AwsCallError && ACCESS_DENIED.has(error.awsCode);
    if (!(error instanceof AccountAccessError) && !denied) throw error;
    // A member role from before prefix lists were watched, or no role at all: say so, never drop it quietly.
    await refuseEvent(deps, event, {
      code: 'ACCOUNT_UNREACHABLE',
      message: `${event.eventName} changed prefix list ${listId} in account ${event.account} ${event.region}, but sg-warden could not read it there (${describeError(error)}): the rules that use it were not checked.`,
    });
    return { ...result, outcome: 'refused' };
  }
  const holds = `${internet.slice(0, 3).join(', ')}${internet.length > 3 ? ` and ${internet.length - 3} more` : ''}`;
  let anyFinding = false;
  for (const groupId of groupIds) {
    const group = await deps.groups.describeGroup(target, groupId);
    if (!group) continue;
    const rules = (await deps.groups.describeGroupRules(target, groupId)).filter(
      (r) => r.sourceKind === 'prefix-list' && r.source === listId,
    );
    const judged = await judgeLiveRules(deps, event, rules, group);
    result.skipped.push(...judged.skipped);
    if (judged.findings.length === 0) continue;
    anyFinding = true;
    const raised = await raiseAlert(deps, {
      alertId: tagAlertId(event.eventId, groupId),
      event,
      groupId,
      groupName: group.name,
      notices: [
        `Prefix list ${listId} now holds ${holds}, which the policy counts as the internet (${event.eventName} by ${event.actor.arn}${event.actor.sourceIp ? ` from ${event.actor.sourceIp}` : ''}): every rule that names the list opens to it.`,
      ],
      findings: judged.findings,
      foundBy: 'prefix-list',
    });
    result.outcome = raised.outcome === 'stored' ? 'stored' : 'duplicate';
    result.violations += raised.violations;
    result.posted ||= raised.posted;
  }
  log.info({ groups: groupIds.length, internet, violations: result.violations }, 'prefix list change judged');
  if (!anyFinding) return { ...result, outcome: 'no-violations' };
  return result;
}
