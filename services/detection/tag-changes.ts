import { PROTECTED_TAG } from '../deploy/iam';
import { keys } from '../kernel/state';
import { AccountAccessError } from '../shared/errors';
import type { Finding, SgEvent, TagChange } from '../shared/model';
import type { AwsTarget, GroupInfo } from '../shared/ports';
import type { AlertItem } from '../violations/items';
import { isExemptionTag, isTrustedTagger, isWatchedTagKey } from './policy';
import { judgeLiveRules, raiseAlert, type WatchDeps, type WatchResult } from './raise';
import { recordTagChange } from './tags';

/** The alert of one tag event for one group (an event may tag several groups). */
export function tagAlertId(eventId: string, groupId: string): string {
  return `${eventId}:${groupId}`;
}

/** The tags of a change that sg-warden watches: exemption and protection tags set, or their keys removed. */
function watchedTags(deps: WatchDeps, event: SgEvent, change: TagChange): TagChange['tags'] {
  const policy = deps.config.policy;
  return change.tags.filter((t) =>
    event.kind === 'tags-removed'
      ? isWatchedTagKey(policy, t.key)
      : t.value !== null && isExemptionTag(policy, t.key, t.value),
  );
}

/** "arn (from 198.51.100.7)": who, as a notice names them. */
function who(event: SgEvent): string {
  return `${event.actor.arn}${event.actor.sourceIp ? ` (from ${event.actor.sourceIp})` : ''}`;
}

/** What a confirmed exemption or protection tag now does, in one sentence. */
function addedNotice(deps: WatchDeps, event: SgEvent, tag: string, key: string): string {
  const protection = key === PROTECTED_TAG;
  if (isTrustedTagger(deps.config.policy, event.actor)) {
    return protection
      ? `Tag ${tag} added by ${who(event)}, a trusted tagger (policy.exceptions.trustedTaggers): sg-warden leaves this group alone from now on (its rules are not raised, and IAM stops sg-warden revoking here).`
      : `Tag ${tag} added by ${who(event)}, a trusted tagger (policy.exceptions.trustedTaggers): this group's rules are exempt from the policy from now on.`;
  }
  const iam = protection
    ? ' While the tag stays, IAM stops sg-warden revoking here: remove it, or revoke by hand.'
    : '';
  return `Tag ${tag} added by ${who(event)}, who is not a trusted tagger (policy.exceptions.trustedTaggers): the tag is ignored and exempts nothing; this group's rules are still evaluated and raised.${iam}`;
}

/**
 * CreateTags / DeleteTags (and CreateSecurityGroup with tags) on security groups. For each group among
 * the resources whose exemption or protection tags the call set or removed: confirm in EC2 (the event is
 * a hint), record who set the tag (an exemption tag counts only while a trusted tagger set it), and post
 * one alert for the group saying who did what and what it means. A removed tag ends the exemption at
 * once: the group's rules, read from EC2, are evaluated again and each violating rule is raised in that
 * alert. Tags sg-warden does not watch, and resources that are not security groups, are left alone.
 */
export async function handleTagChange(deps: WatchDeps, event: SgEvent): Promise<WatchResult> {
  const result: WatchResult = { outcome: 'not-a-rule-change', violations: 0, posted: false, skipped: [] };
  const change = event.tagChange;
  if (!change) return result;
  const watched = watchedTags(deps, event, change);
  if (watched.length === 0) return result;
  const target: AwsTarget = { account: event.account, region: event.region };
  const log = deps.logger.child({ eventId: event.eventId, eventName: event.eventName });
  for (const groupId of change.groupIds) {
    const alertId = tagAlertId(event.eventId, groupId);
    const existing = await deps.store.get<AlertItem>(keys.alert(alertId));
    if (existing && existing.status !== 'STORING') {
      // A redelivery: nothing is read or recorded again (raiseAlert only posts what was not posted).
      const again = await raiseAlert(deps, {
        alertId,
        event,
        groupId,
        groupName: null,
        notices: [],
        findings: [],
        foundBy: 'tag-change',
      });
      result.outcome = 'duplicate';
      result.posted ||= again.posted;
      continue;
    }
    let unreachable = deps.accounts.cannotAct(event.account);
    let group: GroupInfo | null = null;
    if (!unreachable) {
      try {
        group = await deps.groups.describeGroup(target, groupId);
      } catch (error) {
        if (!(error instanceof AccountAccessError)) throw error;
        unreachable = error.message;
      }
    }
    if (!unreachable && group === null) {
      // Deleted since (its tags went with it), or an event that does not match AWS: nothing to guard.
      result.skipped.push({
        ruleId: null,
        why: `${groupId} is not in EC2 in ${event.account} ${event.region}`,
      });
      continue;
    }
    const notices: string[] = [];
    let reevaluate = false;
    const now = deps.clock().toISOString();
    for (const t of watched) {
      const tag = t.value === null ? t.key : `${t.key}=${t.value}`;
      const verb = event.kind === 'tags-removed' ? 'removed' : 'added';
      if (unreachable || !group) {
        notices.push(
          `${event.eventName} says tag ${tag} was ${verb} by ${who(event)}, but sg-warden cannot read account ${event.account} (${unreachable}): not checked in EC2, so nothing is recorded and the tag exempts nothing.`,
        );
        continue;
      }
      const live = group.tags[t.key];
      const record = (value: string | null) =>
        recordTagChange(deps.store, {
          target,
          groupId,
          tagKey: t.key,
          value,
          actor: event.actor,
          eventId: event.eventId,
          eventName: event.eventName,
          eventTime: event.eventTime,
          alertId,
          now,
        });
      if (event.kind !== 'tags-removed') {
        if (live !== t.value) {
          notices.push(
            `${event.eventName} says tag ${tag} was added by ${who(event)}, but EC2 ${live === undefined ? 'does not have that tag' : `has ${t.key}=${live}`} on the group now (changed since, or the event does not match AWS): not recorded, and the tag exempts nothing.`,
          );
          continue;
        }
        await record(live);
        notices.push(addedNotice(deps, event, tag, t.key));
        continue;
      }
      const gone = live === undefined || (t.value !== null && live !== t.value);
      if (!gone) {
        notices.push(
          `DeleteTags says tag ${tag} was removed by ${who(event)}, but EC2 still has ${t.key}=${live} on the group: not believed.`,
        );
        continue;
      }
      await record(null);
      reevaluate = true;
      notices.push(`Tag ${tag} removed by ${who(event)}: the group's rules were evaluated again at once.`);
    }
    let findings: Finding[] = [];
    if (reevaluate && group) {
      const rules = await deps.groups.describeGroupRules(target, groupId);
      const judged = await judgeLiveRules(deps, event, rules, group);
      findings = judged.findings;
      result.skipped.push(...judged.skipped);
      notices.push(
        findings.length === 0
          ? `None of its ${rules.length} rules raises anything new.`
          : `${findings.length} of its ${rules.length} rules break the policy: each is below, with its deadline.`,
      );
    }
    const raised = await raiseAlert(deps, {
      alertId,
      event,
      groupId,
      groupName: group?.name ?? null,
      notices,
      findings,
      foundBy: 'tag-change',
    });
    log.info({ groupId, alertId, violations: raised.violations, outcome: raised.outcome }, 'tag change told');
    result.outcome = raised.outcome === 'stored' ? 'stored' : 'duplicate';
    result.violations += raised.violations;
    result.posted ||= raised.posted;
  }
  return result;
}
