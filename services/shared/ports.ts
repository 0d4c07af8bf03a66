import type { Direction, RuleFacts } from './model';

/** Where an AWS call goes: the account and region a resource lives in. */
export interface AwsTarget {
  account: string;
  region: string;
}

/** An EC2 instance as `/sg-run` sees it. */
export interface InstanceInfo {
  instanceId: string;
  /** The Name tag, when there is one. */
  name: string | null;
  /** pending, running, stopping, stopped, shutting-down, terminated. */
  state: string;
  tags: Record<string, string>;
}

/** Finds EC2 instances in one region: by ID, or by tags (every tag must match). */
export interface InstanceFinder {
  /** The instances with these IDs that exist (unknown IDs are left out). */
  instancesById(region: string, instanceIds: readonly string[]): Promise<InstanceInfo[]>;
  instancesByTags(region: string, tags: Record<string, string>): Promise<InstanceInfo[]>;
}

/** Finds the EC2 instances a security group is attached to, in one region. */
export interface GroupInstanceFinder {
  instancesInGroup(region: string, groupId: string): Promise<InstanceInfo[]>;
}

/** An instance as Systems Manager knows it. */
export interface ManagedInstance {
  instanceId: string;
  /** Online, ConnectionLost, Inactive. */
  pingStatus: string;
  platformType: string | null;
  lastPingAt: string | null;
}

/** What Run Command is asked to do. */
export interface SendCommandInput {
  region: string;
  document: string;
  instanceIds: readonly string[];
  parameters: Record<string, string[]>;
  /** At most 100 characters. */
  comment: string;
  /** How long the command may wait to start (SendCommand TimeoutSeconds). */
  timeoutSeconds: number;
  outputS3Bucket?: string;
  outputS3KeyPrefix?: string;
  outputLogGroup?: string;
}

/** One instance's invocation of a command, as GetCommandInvocation reports it. */
export interface CommandInvocation {
  status: string;
  statusDetails: string | null;
  /** The script's exit code; -1 or absent while it runs. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  stdoutUrl: string | null;
  stderrUrl: string | null;
}

/** Runs commands on managed instances (SSM Run Command). */
export interface CommandRunner {
  /** SSM's view of these instances; instances it does not manage are left out. */
  describeManagedInstances(region: string, instanceIds: readonly string[]): Promise<ManagedInstance[]>;
  /** Sends the command; resolves with SSM's command ID. Throws AwsCallError with SSM's code on failure. */
  sendCommand(input: SendCommandInput): Promise<{ commandId: string; requestId: string | null }>;
  /** One instance's invocation, or null while SSM does not know it yet. */
  getInvocation(region: string, commandId: string, instanceId: string): Promise<CommandInvocation | null>;
}

/** Which AWS accounts sg-warden watches and may act in (services/config/accounts.ts). */
export interface AccountScope {
  /** The bot's own account ID, when known. */
  readonly ownAccount: string | null;
  /** The bot's own account, by ID or as `self`. */
  isOwn(account: string): boolean;
  /** Events from this account are evaluated: the bot's own, or a member account the config watches. */
  isWatched(account: string): boolean;
  /** Why sg-warden cannot act (read or revoke) in the account, or null when it can try. */
  cannotAct(account: string): string | null;
}

/** Reads managed prefix lists as they are now. */
export interface PrefixListReader {
  /** The list's entries (CIDRs); [] when the list does not exist. */
  prefixListEntries(target: AwsTarget, prefixListId: string): Promise<string[]>;
  /** The security groups with a rule that names the list (GetManagedPrefixListAssociations); [] when none or no list. */
  groupsUsingPrefixList(target: AwsTarget, prefixListId: string): Promise<string[]>;
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

/** One ingress rule for a single host, as sg-warden grants it. */
export interface IngressGrant {
  groupId: string;
  /** tcp, udp, icmp, icmpv6 or all. */
  protocol: string;
  /** The port (tcp/udp), or null for all ports / ICMP types. */
  port: number | null;
  /** x.x.x.x/32 or …/128. */
  cidr: string;
  /** Within EC2's limits (255 characters, its character set). */
  description: string;
  tags: Record<string, string>;
}

/** Adds (and re-labels) security-group rules. */
export interface RuleAuthorizer {
  /** Adds the rule; resolves with its rule ID. Throws AwsCallError with EC2's code on failure. */
  authorizeIngress(
    target: AwsTarget,
    grant: IngressGrant,
  ): Promise<{ ruleId: string; requestId: string | null }>;
  /** Rules carrying this tag value (e.g. a grant ID), in any group of the region. */
  describeRulesTagged(target: AwsTarget, key: string, value: string): Promise<RuleFacts[]>;
  /** Rewrites a rule's description and tags (used when a grant is extended). */
  relabelRule(
    target: AwsTarget,
    groupId: string,
    ruleId: string,
    description: string,
    tags: Record<string, string>,
  ): Promise<void>;
}

/** One page of an account and region's security groups, as the scan reads them. */
export interface GroupPage {
  groups: GroupInfo[];
  /** Where the next page starts, or null after the last. */
  nextToken: string | null;
}

/** Reads every security group and rule of an account and region (the scan), page by page. */
export interface RuleInventory {
  /** The regions enabled in the bot's own account. */
  enabledRegions(): Promise<string[]>;
  /** One page of groups with their names and tags, from `token` (null: the first page). */
  groupsPage(target: AwsTarget, token: string | null): Promise<GroupPage>;
  /** Every rule of these groups (one or more pages of DescribeSecurityGroupRules); `calls`: how many. */
  rulesOfGroups(
    target: AwsTarget,
    groupIds: readonly string[],
  ): Promise<{ rules: RuleFacts[]; calls: number }>;
}
