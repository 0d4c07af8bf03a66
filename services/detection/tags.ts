import type { PolicyConfig } from '../config/config';
import type { AuditEntry } from '../kernel/audit';
import { keys, type StateStore, type StoredItem, tryTransition } from '../kernel/state';
import type { Actor } from '../shared/model';
import type { AwsTarget } from '../shared/ports';
import { isWatchedTagKey, type TagSetter } from './policy';

/**
 * Who last set one tag of one security group, as sg-warden saw it: written when a CreateTags (or a
 * CreateSecurityGroup with tags) event arrives and EC2 confirms the group has that tag with that value;
 * REMOVED when a DeleteTags event arrives and EC2 confirms the tag is gone. An exemption tag counts only
 * while this record names a trusted tagger and the value the group carries (policy.ts `tagExemptions`).
 */
export interface TagSetterItem extends StoredItem {
  type: 'tagset';
  status: 'SET' | 'REMOVED';
  account: string;
  region: string;
  groupId: string;
  tagKey: string;
  /** The value set (null once removed). */
  value: string | null;
  /** The principal of the last CreateTags / DeleteTags that EC2 confirmed. */
  actor: Actor;
  eventId: string;
  eventName: string;
  /** CloudTrail's time of that call: an older event never overwrites a newer one. */
  eventTime: string;
  createdAt: string;
  updatedAt: string;
}

/** What one confirmed tag change asks the record to become. */
export interface TagRecordChange {
  target: AwsTarget;
  groupId: string;
  tagKey: string;
  /** The value set, or null for a removal. */
  value: string | null;
  actor: Actor;
  eventId: string;
  eventName: string;
  eventTime: string;
  /** The alert the change is told in: the audit entry's subject. */
  alertId: string;
  now: string;
}

/**
 * Records a confirmed tag change. Returns false when the record already holds this event (a redelivery)
 * or a later one (events can arrive out of order); conditional writes decide between racing deliveries.
 */
export async function recordTagChange(store: StateStore, change: TagRecordChange): Promise<boolean> {
  const key = keys.tagSetter(change.target.account, change.target.region, change.groupId, change.tagKey);
  const status = change.value === null ? 'REMOVED' : 'SET';
  const fields = {
    account: change.target.account,
    region: change.target.region,
    groupId: change.groupId,
    tagKey: change.tagKey,
    value: change.value,
    actor: change.actor,
    eventId: change.eventId,
    eventName: change.eventName,
    eventTime: change.eventTime,
    updatedAt: change.now,
  };
  const audit = (fromState: string | null): AuditEntry => ({
    subjectId: change.alertId,
    subjectType: 'alert',
    action: status === 'SET' ? 'tag-set' : 'tag-removed',
    fromState,
    toState: status,
    actorType: 'aws-principal',
    actorId: change.actor.arn,
    result: 'ok',
    details: {
      groupId: change.groupId,
      account: change.target.account,
      region: change.target.region,
      tagKey: change.tagKey,
      value: change.value,
      eventId: change.eventId,
      eventName: change.eventName,
      sourceIp: change.actor.sourceIp,
      confirmedInEc2: true,
    },
    at: change.now,
  });
  // A lost race is read again: the winner may be older (then this one still applies) or newer.
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await store.get<TagSetterItem>(key);
    if (!current) {
      // createdAt keys the status index (every item on it has one).
      const item = { ...key, type: 'tagset', status, version: 1, createdAt: change.now, ...fields };
      if (await store.createAll([item], [audit(null)])) return true;
      continue;
    }
    if (current.eventId === change.eventId || current.eventTime > change.eventTime) return false;
    const moved = await tryTransition(store, {
      key,
      from: [current.status],
      expectVersion: current.version,
      to: status,
      set: { type: 'tagset', ...fields },
      due: null,
      audit: audit(current.status),
    });
    if (moved) return true;
  }
  return false;
}

/**
 * Who set each watched tag the group carries (exemption and protection tags), from the records: what
 * `evaluate()` takes as `tagSetters`. Tags sg-warden does not watch are not looked up.
 */
export async function tagSettersFor(
  store: StateStore,
  policy: PolicyConfig,
  target: AwsTarget,
  groupId: string,
  tags: Record<string, string> | null,
): Promise<Record<string, TagSetter>> {
  const watched = Object.keys(tags ?? {}).filter((key) => isWatchedTagKey(policy, key));
  const records = await Promise.all(
    watched.map((key) =>
      store.get<TagSetterItem>(keys.tagSetter(target.account, target.region, groupId, key)),
    ),
  );
  const setters: Record<string, TagSetter> = {};
  for (const r of records) {
    if (r?.status !== 'SET' || r.value === null) continue;
    setters[r.tagKey] = { value: r.value, arn: r.actor.arn, roleArn: r.actor.roleArn };
  }
  return setters;
}
