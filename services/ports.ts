import type { Direction, RuleFacts } from './model';
import type { AlertItem, ViolationItem } from './store';

/** Where an AWS call goes: the account and region a resource lives in. */
export interface AwsTarget {
  account: string;
  region: string;
}

export interface GroupInfo {
  groupId: string;
  name: string | null;
  vpcId: string | null;
  tags: Record<string, string>;
}

/** Reads security groups and their rules as they are now. */
export interface SecurityGroupReader {
  /** The rules with these IDs that exist now (missing ones are left out). */
  describeRules(target: AwsTarget, ruleIds: readonly string[]): Promise<RuleFacts[]>;
  /** Every rule of a group; [] when the group does not exist. */
  describeGroupRules(target: AwsTarget, groupId: string): Promise<RuleFacts[]>;
  /** The group's name and tags, or null when it does not exist. */
  describeGroup(target: AwsTarget, groupId: string): Promise<GroupInfo | null>;
}

/** Removes security-group rules by rule ID. */
export interface RuleRemover {
  /** Revokes the rules; resolves with EC2's request ID. Throws AwsCallError on failure. */
  revokeRules(
    target: AwsTarget,
    groupId: string,
    direction: Direction,
    ruleIds: readonly string[],
  ): Promise<{ requestId: string | null }>;
}

export interface MessageRef {
  channel: string;
  ts: string;
}

/** What an alert message shows: the event, its violations as they are now, and the time it is rendered. */
export interface AlertView {
  alert: AlertItem;
  violations: ViolationItem[];
  accountAlias: string | null;
  now: Date;
}

/** Tells people about alerts (Slack in production). */
export interface AlertNotifier {
  postAlert(channel: string, view: AlertView): Promise<MessageRef>;
  updateAlert(ref: MessageRef, view: AlertView): Promise<void>;
  /** A plain alert to the channel (e.g. a revoke that failed for good), in the alert's thread when known. */
  postNotice(channel: string, text: string, threadTs?: string): Promise<void>;
}
