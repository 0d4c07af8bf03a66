import type { Config } from '../config/config';
import { runCommandIamStatements } from '../runs/iam';

/**
 * IAM that depends on the configuration, for serverless.yml (through infra/iam-from-config.js): which
 * groups `/sg-whitelist` may open, which documents and instances `/sg-run` may use, which role sg-warden
 * assumes in member accounts, and the organisation's event-bus policy. Nothing is granted for a feature
 * the config does not use.
 */

/** A security group with this tag is out of sg-warden's reach: no revoke, no grant (IAM conditions). */
export const PROTECTED_TAG = 'sg-warden:protected';
/** Tag the whitelist puts on every rule it creates (services/grants.ts GRANT_TAGS.grantId). */
export const GRANT_ID_TAG = 'sg-warden:grant-id';

type Sub = { 'Fn::Sub': string };
type GetAtt = { 'Fn::GetAtt': [string, string] };
type ConditionValue = string | string[];
export interface CfnStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: (Sub | GetAtt)[] | Sub | GetAtt | string;
  Condition?: Record<string, Record<string, ConditionValue>>;
}
export interface CfnResources {
  Resources: Record<
    string,
    {
      Type: string;
      DeletionPolicy?: string;
      UpdateReplacePolicy?: string;
      Properties: Record<string, unknown>;
    }
  >;
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const PARTITION = '${AWS::Partition}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub placeholders, on purpose
const ACCOUNT = '${AWS::AccountId}';

const sub = (template: string): Sub => ({ 'Fn::Sub': template });
const unique = (values: string[]): string[] => [...new Set(values)].sort();

/** The function roles (serverless.yml logical IDs) that call each config-driven API. */
export const ROLES_USING = {
  /** The grant jobs (worker) and the `me` link's POST (ipCapture) authorize and tag new rules. */
  whitelist: ['SlackWorkerRole', 'IpCaptureRole'],
  /** Only `/sg-whitelist extend` (a worker job) relabels and re-tags a grant's rule. */
  whitelistExtend: ['SlackWorkerRole'],
  /** The `me` link's POST removes a rule at once when the grant could not be recorded (GRANT_NOT_RECORDED). */
  whitelistUndo: ['IpCaptureRole'],
  /** Every function that calls EC2 on a security group may have to do it in a member account. */
  memberAccounts: ['CloudtrailEventRole', 'SlackWorkerRole', 'SweeperRole', 'IpCaptureRole', 'ScanRole'],
  /**
   * The backstop's schedules: detection (a violation's deadline; a rule gone or changed), the worker (a
   * grant; Keep, Revoke, Extend), the sweeper (a re-asked rule; the deadline, the expiry) create, move and
   * delete them; the `me` link's POST creates a grant's (and moves it when the same rule is asked again);
   * the scan creates a violation's it raised (and replaces it when a run judges the group again).
   */
  backstop: ['CloudtrailEventRole', 'SlackWorkerRole', 'SweeperRole'],
  backstopCreateOnly: ['IpCaptureRole', 'ScanRole'],
  /**
   * Exposure is looked up when a violation is raised (detection, the scan), before an auto-revoke (sweeper)
   * and in `/sg-status <group>` (worker).
   */
  exposure: ['CloudtrailEventRole', 'SlackWorkerRole', 'SweeperRole', 'ScanRole'],
} as const;

/** The read-only calls an exposure lookup makes (services/aws/ec2-network.ts). */
export const EXPOSURE_ACTIONS = [
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeRouteTables',
  'ec2:DescribeTags',
  'elasticloadbalancing:DescribeLoadBalancers',
] as const;

/** The configured target groups' ARNs and their rules' ARNs (empty: no whitelist targets). */
function whitelistTargets(config: Config): { groups: string[]; rules: string[] } {
  const targets = Object.values(config.whitelist.targets);
  const groups = unique(
    targets.map(
      (t) => `arn:${PARTITION}:ec2:${t.region}:${t.account ?? ACCOUNT}:security-group/${t.groupId}`,
    ),
  );
  const rules = unique(
    targets.map((t) => `arn:${PARTITION}:ec2:${t.region}:${t.account ?? ACCOUNT}:security-group-rule/*`),
  );
  return { groups, rules };
}

const OWN_TAG_KEYS = { 'ForAllValues:StringLike': { 'aws:TagKeys': ['sg-warden:*'] } };

/**
 * `/sg-whitelist`: authorize only on the configured target groups (never on a protected one), and tag
 * only the rule being created, only with sg-warden's own tag keys.
 */
export function whitelistStatements(config: Config): CfnStatement[] {
  const { groups, rules } = whitelistTargets(config);
  if (groups.length === 0) return [];
  return [
    {
      Sid: 'WhitelistAuthorize',
      Effect: 'Allow',
      // The rule resource is listed because the grant is tagged as it is created; the group ARN limits it.
      Action: ['ec2:AuthorizeSecurityGroupIngress'],
      Resource: [...groups, ...rules].map(sub),
      Condition: { Null: { [`aws:ResourceTag/${PROTECTED_TAG}`]: 'true' } },
    },
    {
      Sid: 'WhitelistTagNewRule',
      Effect: 'Allow',
      Action: ['ec2:CreateTags'],
      Resource: rules.map(sub),
      Condition: { StringEquals: { 'ec2:CreateAction': 'AuthorizeSecurityGroupIngress' }, ...OWN_TAG_KEYS },
    },
  ];
}

/**
 * `/sg-whitelist extend`: rewrite a grant rule's description only on the target groups (never on a
 * protected one), and re-tag only a rule that already carries sg-warden's grant tag, with its own keys.
 */
export function whitelistExtendStatements(config: Config): CfnStatement[] {
  const { groups, rules } = whitelistTargets(config);
  if (groups.length === 0) return [];
  return [
    {
      Sid: 'WhitelistRelabel',
      Effect: 'Allow',
      Action: ['ec2:UpdateSecurityGroupRuleDescriptionsIngress'],
      Resource: groups.map(sub),
      Condition: { Null: { [`aws:ResourceTag/${PROTECTED_TAG}`]: 'true' } },
    },
    {
      Sid: 'WhitelistRetagGrantRule',
      Effect: 'Allow',
      Action: ['ec2:CreateTags'],
      Resource: rules.map(sub),
      Condition: { Null: { [`aws:ResourceTag/${GRANT_ID_TAG}`]: 'false' }, ...OWN_TAG_KEYS },
    },
  ];
}

/**
 * ipCapture has no general revoke (the worker and sweeper do): it may remove a rule it has just added,
 * on the configured target groups only, when the grant could not be recorded.
 */
export function whitelistUndoStatements(config: Config): CfnStatement[] {
  const authorize = whitelistStatements(config)[0];
  if (!authorize) return [];
  return [{ ...authorize, Sid: 'WhitelistUndo', Action: ['ec2:RevokeSecurityGroupIngress'] }];
}

/** The backstop's schedule group of a stage (serverless.yml BackstopScheduleGroup), in every account. */
export function backstopGroupName(stage: string): string {
  return `sg-warden-${stage}-backstop`;
}

/**
 * The backstop (config backstop.enabled): schedules only in sg-warden's own group, in this account (member
 * accounts' go through their role), and the execution role passed only to EventBridge Scheduler.
 * `deleting: false` for a function that only creates and moves them.
 */
export function backstopStatements(config: Config, stage: string, deleting = true): CfnStatement[] {
  if (!config.backstop.enabled) return [];
  return [
    {
      Sid: 'BackstopSchedules',
      Effect: 'Allow',
      Action: [
        'scheduler:CreateSchedule',
        'scheduler:UpdateSchedule',
        ...(deleting ? ['scheduler:DeleteSchedule'] : []),
      ],
      Resource: [sub(`arn:${PARTITION}:scheduler:*:${ACCOUNT}:schedule/${backstopGroupName(stage)}/*`)],
    },
    {
      Sid: 'BackstopPassExecutionRole',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: [{ 'Fn::GetAtt': ['BackstopExecutionRole', 'Arn'] }],
      Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    },
  ];
}

/** Member accounts: assume only the configured role name (the role itself trusts only these roles). */
export function memberAccountStatements(config: Config): CfnStatement[] {
  const roleName = config.accounts.roleName;
  if (!roleName) return [];
  return [
    {
      Sid: 'AssumeMemberAccountRole',
      Effect: 'Allow',
      Action: ['sts:AssumeRole'],
      Resource: [sub(`arn:${PARTITION}:iam::*:role/${roleName}`)],
    },
  ];
}

/**
 * Exposure (policy.exposure, on by default): what a group is attached to, its subnets' routes, its load
 * balancers' schemes, its instances' Name tags. Read only; Describe calls support no resource-level
 * permissions, so the resource is "*". Nothing when policy.exposure.enabled is false.
 */
export function exposureStatements(config: Config): CfnStatement[] {
  if (!config.policy.exposure.enabled) return [];
  return [{ Sid: 'ReadExposure', Effect: 'Allow', Action: [...EXPOSURE_ACTIONS], Resource: '*' }];
}

function asCfn(statements: ReturnType<typeof runCommandIamStatements>['worker']): CfnStatement[] {
  return statements.map((s) => ({
    ...s,
    Resource: Array.isArray(s.Resource) ? s.Resource.map(sub) : s.Resource === '*' ? '*' : sub(s.Resource),
  }));
}

/** One AWS::IAM::Policy per capability and role, for what the config uses; `{}` when it uses nothing. */
export function configIamResources(config: Config, stage = 'prod'): CfnResources {
  const runs = runCommandIamStatements(config);
  const policies: [string, CfnStatement[], readonly string[]][] = [
    ['Whitelist', whitelistStatements(config), ROLES_USING.whitelist],
    ['WhitelistExtend', whitelistExtendStatements(config), ROLES_USING.whitelistExtend],
    ['WhitelistUndo', whitelistUndoStatements(config), ROLES_USING.whitelistUndo],
    ['Runbooks', asCfn(runs.worker), ['SlackWorkerRole']],
    ['RunResults', asCfn(runs.sweeper), ['SweeperRole']],
    ['MemberAccounts', memberAccountStatements(config), ROLES_USING.memberAccounts],
    ['Backstop', backstopStatements(config, stage), ROLES_USING.backstop],
    ['BackstopCreate', backstopStatements(config, stage, false), ROLES_USING.backstopCreateOnly],
    ['Exposure', exposureStatements(config), ROLES_USING.exposure],
  ];
  const Resources: CfnResources['Resources'] = {};
  for (const [name, statements, roles] of policies) {
    if (statements.length === 0) continue;
    for (const role of roles) {
      Resources[`${role}${name}Policy`] = {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: `${name.toLowerCase()}-from-config`,
          Roles: [{ Ref: role }],
          PolicyDocument: { Version: '2012-10-17', Statement: statements },
        },
      };
    }
  }
  return { Resources };
}

/**
 * With an AWS Organizations ID, every account of the organisation may put the CloudTrail events detection
 * reads (and nothing else) on this region's default bus: what infra/region-forwarder.yml sends.
 */
export function organizationResources(
  organizationId: string | undefined,
  stage = 'dev',
  /** The EventBridge sources detection reads (services/deploy/event-pattern.ts). */
  sources: readonly string[] = ['aws.ec2'],
): CfnResources {
  if (!organizationId) return { Resources: {} };
  if (!/^o-[a-z0-9]{10,32}$/.test(organizationId)) {
    throw new Error(`organizationId "${organizationId}" is not an AWS Organizations ID (o-…)`);
  }
  return {
    Resources: {
      OrganizationEventBusPolicy: {
        Type: 'AWS::Events::EventBusPolicy',
        // Removed from the template (a deploy that lost the organisation ID), the statement stays on the
        // bus: member accounts' events keep arriving. `aws events remove-permission` ends it on purpose.
        DeletionPolicy: 'Retain',
        // Replaced (e.g. a new statement ID), the old statement stays too until removed by hand.
        UpdateReplacePolicy: 'Retain',
        Properties: {
          // One statement per stage: two stages in one account and region share the default bus.
          StatementId: `sg-warden-${stage}-organization`,
          Statement: {
            Effect: 'Allow',
            Principal: '*',
            Action: 'events:PutEvents',
            Resource: sub(`arn:${PARTITION}:events:\${AWS::Region}:${ACCOUNT}:event-bus/default`),
            Condition: {
              StringEquals: {
                'aws:PrincipalOrgID': organizationId,
                'events:source': sources.length === 1 ? sources[0]! : [...sources],
                'events:detail-type': 'AWS API Call via CloudTrail',
              },
            },
          },
        },
      },
    },
  };
}

/** The scan function's events for serverless.yml: its schedule from config `scan.schedule`, none when `off`. */
export function scanEvents(config: Config): { schedule: string }[] {
  const schedule = config.scan.schedule;
  return schedule === 'off' ? [] : [{ schedule }];
}
