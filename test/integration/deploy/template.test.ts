// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation ${…} placeholders in expected templates, on purpose
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { AUDIT_KEY_PREFIX } from '../../../services/aws/dynamodb-store';
import { REVOKE_LEASE_SECONDS as DECISION_LEASE_SECONDS } from '../../../services/decisions/states';
import { SECURITY_GROUP_EVENT_NAMES } from '../../../services/detection/cloudtrail';
import { REVOKE_LEASE_SECONDS as GRANT_LEASE_SECONDS } from '../../../services/grants/plan';
import { HANDOFF_SECONDS } from '../../../slack/jobs/proof';
import { readCfnYaml } from '../../support/cfn-yaml';
import { packageDeploy } from '../../support/package-deploy';
import { withPackageLock } from '../../support/package-lock';

/**
 * The deploy as CloudFormation will see it: `serverless package` (offline, the real osls + esbuild) with a
 * config that turns on every feature (whitelist targets, runbooks, a member-account role) and an
 * organisation ID, then checks of the template it writes. The exact IAM actions per function are pinned
 * here: a change to what a function may do must change this test, on purpose.
 */

const root = join(__dirname, '..', '..', '..');

const FULL_CONFIG = `slack:
  alertChannel: C0ALERTS
whitelist:
  targets:
    bastion: { groupId: sg-0123456789abcdef0, region: eu-west-1, ports: [22], endSessions: true, allowed: { users: [U0ALICE] } }
runbooks:
  targets:
    web: { region: eu-west-1, tags: { Role: web } }
  items:
    uptime:
      region: eu-west-1
      targets: [web, i-0123456789abcdef0]
      allowed: { users: [U0ALICE] }
      commands: ["uptime"]
accounts:
  roleName: sg-warden-member
http:
  throttle: { rate: 5, burst: 10 }
`;

/** Actions AWS cannot scope to a resource (Service Authorization Reference): the only ones allowed on "*". */
const UNSCOPABLE: Record<string, string> = {
  'ec2:DescribeSecurityGroupRules': 'EC2 Describe* calls support no resource-level permissions',
  'ec2:DescribeSecurityGroups': 'EC2 Describe* calls support no resource-level permissions',
  'ec2:DescribeRegions': 'EC2 Describe* calls support no resource-level permissions',
  'ec2:DescribeInstances': 'EC2 Describe* calls support no resource-level permissions',
  'ssm:DescribeInstanceInformation': 'a List/Describe call with no resource type',
  'ssm:GetCommandInvocation': 'GetCommandInvocation has no resource type to scope to',
  'ec2:DescribeNetworkInterfaces': 'EC2 Describe* calls support no resource-level permissions',
  'ec2:DescribeRouteTables': 'EC2 Describe* calls support no resource-level permissions',
  'ec2:DescribeTags': 'EC2 Describe* calls support no resource-level permissions',
  'elasticloadbalancing:DescribeLoadBalancers': 'ELB Describe* calls support no resource-level permissions',
};

const LOGS = ['logs:CreateLogStream', 'logs:PutLogEvents'];
const SECRETS = ['ssm:GetParameters'];
const STATE = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
const READ_GROUPS = ['ec2:DescribeSecurityGroupRules', 'ec2:DescribeSecurityGroups'];
const REVOKE = ['ec2:RevokeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress'];
const WHITELIST = [
  'ec2:AuthorizeSecurityGroupIngress',
  'ec2:UpdateSecurityGroupRuleDescriptionsIngress',
  'ec2:CreateTags',
];
const MEMBER = ['sts:AssumeRole'];
/** Exposure lookups (policy.exposure): interfaces, route tables, instance Name tags, load-balancer schemes. */
const EXPOSURE = [
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeRouteTables',
  'ec2:DescribeTags',
  'elasticloadbalancing:DescribeLoadBalancers',
];
/** The backstop's schedules (config backstop.enabled, on by default): made, moved, deleted; the role passed. */
const SCHEDULES = [
  'scheduler:CreateSchedule',
  'scheduler:UpdateSchedule',
  'scheduler:DeleteSchedule',
  'iam:PassRole',
];
/** Lambda's SQS poller reads the backstop's dead-letter queue as the reconciling function's role. */
const DEAD_LETTER_POLLER = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'];
/** Lambda itself sends a failed asynchronous invocation to the failed-events queue, as the function's role. */
const FAILED_EVENTS = ['sqs:SendMessage'];
/** The functions invoked asynchronously (EventBridge rule, async invoke by the door, schedule). */
const ASYNC_FUNCTIONS = ['cloudtrailEvent', 'slackWorker', 'sweeper', 'scan'];
const SYNC_FUNCTIONS = ['slackHttp', 'ipCapture'];
/** Polled from an SQS queue: a failed message stays in it, so no dead-letter queue of its own. */
const POLLED_FUNCTIONS = ['backstopDeadLetters'];
const ALARM_TOPIC = 'arn:aws:sns:eu-west-1:111122223333:sg-warden-ops';

/** Per function, exactly the actions its code makes (see serverless.yml and services/deploy-iam.ts). */
const EXPECTED: Record<string, string[]> = {
  cloudtrailEvent: [
    ...LOGS,
    ...STATE,
    // An alert's violations in one read (#24).
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    ...READ_GROUPS,
    // A rule whose source is a prefix list is judged by the list's entries (#19 case 4).
    'ec2:GetManagedPrefixListEntries',
    // A list that gains the internet raises the rules of the groups that use it (#13).
    'ec2:GetManagedPrefixListAssociations',
    ...SECRETS,
    ...MEMBER,
    ...FAILED_EVENTS,
    // The group's exposure steps a finding's severity (#14).
    ...EXPOSURE,
    ...SCHEDULES,
    // The backstop fired (its revoke's event): the grant's or the violation's sessions end (#22), the
    // stack's own document only; the sweeper reads the results.
    'ssm:SendCommand',
    'ec2:DescribeInstances',
    'ssm:DescribeInstanceInformation',
  ],
  slackHttp: [...LOGS, 'lambda:InvokeFunction', ...SECRETS],
  slackWorker: [
    ...LOGS,
    ...STATE,
    // An alert's violations in one read (#24).
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    ...READ_GROUPS,
    ...REVOKE,
    ...WHITELIST,
    'ssm:SendCommand',
    'ec2:DescribeInstances',
    'ssm:DescribeInstanceInformation',
    ...SECRETS,
    ...MEMBER,
    ...FAILED_EVENTS,
    // `/sg-status <group>` shows the group's exposure (#14).
    ...EXPOSURE,
    ...SCHEDULES,
  ],
  sweeper: [
    ...LOGS,
    ...STATE,
    // An alert's violations in one read (#24).
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    ...READ_GROUPS,
    ...REVOKE,
    'ssm:GetCommandInvocation',
    // Ending a grant's sessions at expiry (whitelist endSessions, #22): the stack's own document only.
    'ssm:SendCommand',
    'ec2:DescribeInstances',
    'ssm:DescribeInstanceInformation',
    ...SECRETS,
    ...MEMBER,
    ...FAILED_EVENTS,
    // The exposure is looked up again, for the record, before an auto-revoke (#14).
    ...EXPOSURE,
    ...SCHEDULES,
  ],
  scan: [
    ...LOGS,
    ...STATE,
    // An alert's violations in one read (#24).
    'dynamodb:BatchGetItem',
    // A burst waiting for the channel is posted as digests; a re-grade reads the pending violations (index/status).
    'dynamodb:Query',
    ...READ_GROUPS,
    // Without scan.regions: the regions enabled in the account.
    'ec2:DescribeRegions',
    'ec2:GetManagedPrefixListEntries',
    // A run out of time carries on in a fresh invocation of itself.
    'lambda:InvokeFunction',
    ...SECRETS,
    ...MEMBER,
    ...FAILED_EVENTS,
    // What it raises is graded by the group's exposure, as detection's is (#14).
    ...EXPOSURE,
    // A violation it raises gets its backstop (#22); it never deletes one.
    'scheduler:CreateSchedule',
    'scheduler:UpdateSchedule',
    'iam:PassRole',
  ],
  ipCapture: [
    ...LOGS,
    ...STATE,
    'ec2:DescribeSecurityGroupRules',
    // Adds a grant and tags it as it is created; only the worker's extend relabels (UpdateSecurityGroupRuleDescriptionsIngress).
    'ec2:AuthorizeSecurityGroupIngress',
    'ec2:CreateTags',
    // Only on the target groups: undoes a rule whose grant could not be recorded.
    'ec2:RevokeSecurityGroupIngress',
    ...SECRETS,
    ...MEMBER,
    // Makes a grant's backstop (and moves it when the same rule is asked again); never deletes one.
    'scheduler:CreateSchedule',
    'scheduler:UpdateSchedule',
    'iam:PassRole',
  ],
  // Reconciles the backstop's dead letters: is the rule still there? One audit entry each.
  // Its queue holds the dead letters of this account and region only: no member role.
  backstopDeadLetters: [...LOGS, ...DEAD_LETTER_POLLER, 'dynamodb:PutItem', 'ec2:DescribeSecurityGroupRules'],
};

type Json = Record<string, unknown>;
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

let template: { Resources: Record<string, { Type: string; Properties: Json }>; Outputs?: Json };
let fullConfigPath: string;

beforeAll(() => {
  // IAM from the every-feature config; the packaged config stays the repo's (never deployed).
  const packaged = packageDeploy(FULL_CONFIG, {
    params: ['--param=organizationId=o-abcde12345', `--param=alarmTopicArn=${ALARM_TOPIC}`],
  });
  fullConfigPath = packaged.configPath;
  template = packaged.template as typeof template;
}, 180_000);

function functionsByName(): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([, r]) => [String(r.Properties.FunctionName).replace(/^sg-warden-prod-/, ''), r.Properties]),
  );
}

/** Every statement that applies to a role: its inline policies and any AWS::IAM::Policy attached to it. */
function statementsOf(roleId: string): Statement[] {
  const role = template.Resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role`);
  const inline = (
    (role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]) ?? []
  ).flatMap((p) => p.PolicyDocument.Statement);
  const attached = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  return [...inline, ...attached];
}

function roleOf(fn: Json): string {
  return ((fn.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'] ?? [])[0];
}

describe('deploy template', () => {
  describe('IAM, one role per function', () => {
    it('gives every function its own role', () => {
      const fns = functionsByName();
      expect(Object.keys(fns).sort()).toEqual(Object.keys(EXPECTED).sort());
      const roles = Object.values(fns).map(roleOf);
      expect(new Set(roles).size).toBe(roles.length);
    });

    it.each(Object.keys(EXPECTED))('grants %s exactly the actions its code uses', (name) => {
      const statements = statementsOf(roleOf(functionsByName()[name]!));
      const actions = new Set(statements.flatMap((s) => list(s.Action)));
      expect([...actions].sort()).toEqual([...new Set(EXPECTED[name])].sort());
      expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
    });

    it('never grants Action "*" or a service wildcard, and Resource "*" only for actions AWS cannot scope', () => {
      const everyStatement = Object.values(template.Resources)
        .filter((r) => r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::Policy')
        .flatMap((r) =>
          r.Type === 'AWS::IAM::Policy'
            ? (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement
            : ((r.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]) ?? []).flatMap(
                (p) => p.PolicyDocument.Statement,
              ),
        );
      expect(everyStatement.length).toBeGreaterThan(20);
      for (const s of everyStatement) {
        for (const action of list(s.Action)) expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z]+$/);
        if (list(s.Resource).includes('*')) {
          for (const action of list(s.Action)) {
            expect({ action, unscopable: action in UNSCOPABLE }).toEqual({ action, unscopable: true });
          }
        }
      }
    });

    it('scopes state to the table, and queries to the one index each function uses', () => {
      const fns = functionsByName();
      const queryResources = (name: string) =>
        statementsOf(roleOf(fns[name]!))
          .filter((s) => list(s.Action).includes('dynamodb:Query'))
          .flatMap((s) => list(s.Resource))
          .map((r) => JSON.stringify(r));
      expect(queryResources('sweeper')).toEqual([
        JSON.stringify({ 'Fn::Sub': '${StateTable.Arn}/index/due' }),
        JSON.stringify({ 'Fn::Sub': '${StateTable.Arn}/index/status' }),
        JSON.stringify({ 'Fn::Sub': '${StateTable.Arn}/index/audit' }),
      ]);
      expect(queryResources('cloudtrailEvent')).toEqual([
        JSON.stringify({ 'Fn::Sub': '${StateTable.Arn}/index/status' }),
      ]);
      expect(queryResources('scan')).toEqual([
        JSON.stringify({ 'Fn::Sub': '${StateTable.Arn}/index/status' }),
      ]);
      expect(queryResources('slackWorker')).toHaveLength(3);
      expect(queryResources('ipCapture')).toEqual([]);
    });

    it('limits revoke and whitelist to unprotected groups, whitelist to the configured group, tagging to its own rules', () => {
      const worker = statementsOf(roleOf(functionsByName().slackWorker!));
      const revoke = worker.find((s) => list(s.Action).includes('ec2:RevokeSecurityGroupIngress'))!;
      expect(revoke.Condition).toEqual({ Null: { 'aws:ResourceTag/sg-warden:protected': 'true' } });
      const authorize = worker.find((s) => list(s.Action).includes('ec2:AuthorizeSecurityGroupIngress'))!;
      expect(JSON.stringify(authorize.Resource)).toContain('security-group/sg-0123456789abcdef0');
      expect(JSON.stringify(authorize.Resource)).not.toContain('security-group/*');
      expect(authorize.Condition).toEqual({ Null: { 'aws:ResourceTag/sg-warden:protected': 'true' } });
      const tagging = worker.filter((s) => list(s.Action).includes('ec2:CreateTags'));
      expect(tagging.map((s) => s.Condition)).toEqual([
        {
          StringEquals: { 'ec2:CreateAction': 'AuthorizeSecurityGroupIngress' },
          'ForAllValues:StringLike': { 'aws:TagKeys': ['sg-warden:*'] },
        },
        {
          Null: { 'aws:ResourceTag/sg-warden:grant-id': 'false' },
          'ForAllValues:StringLike': { 'aws:TagKeys': ['sg-warden:*'] },
        },
      ]);
    });

    it('lets only cloudtrailEvent and the scan read prefix-list entries, on prefix-list resources (#19 case 4)', () => {
      const fns = functionsByName();
      const readers = Object.keys(fns).filter((name) =>
        statementsOf(roleOf(fns[name]!)).some((s) =>
          list(s.Action).includes('ec2:GetManagedPrefixListEntries'),
        ),
      );
      expect(readers.sort()).toEqual(['cloudtrailEvent', 'scan']);
      // Detection also finds the groups that use a list (a list that gained the internet); the scan reads entries only.
      const actions = {
        cloudtrailEvent: ['ec2:GetManagedPrefixListEntries', 'ec2:GetManagedPrefixListAssociations'],
        scan: ['ec2:GetManagedPrefixListEntries'],
      };
      for (const name of readers) {
        const read = statementsOf(roleOf(fns[name]!)).filter((s) =>
          list(s.Action).includes('ec2:GetManagedPrefixListEntries'),
        );
        expect(read.map((s) => [list(s.Action), s.Resource])).toEqual([
          [
            actions[name as keyof typeof actions],
            { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:*:*:prefix-list/*' },
          ],
        ]);
      }
    });

    it('lets ipCapture revoke only on the configured target groups', () => {
      const revoke = statementsOf(roleOf(functionsByName().ipCapture!)).filter((s) =>
        list(s.Action).includes('ec2:RevokeSecurityGroupIngress'),
      );
      expect(revoke).toHaveLength(1);
      expect(JSON.stringify(revoke[0]!.Resource)).toContain('security-group/sg-0123456789abcdef0');
      expect(JSON.stringify(revoke[0]!.Resource)).not.toContain('security-group/*');
      expect(revoke[0]!.Condition).toEqual({ Null: { 'aws:ResourceTag/sg-warden:protected': 'true' } });
    });

    it('sends commands only with the configured document, to the configured instance or tagged instances', () => {
      const worker = statementsOf(roleOf(functionsByName().slackWorker!));
      const send = worker.filter((s) => list(s.Action).includes('ssm:SendCommand'));
      expect(send.map((s) => JSON.stringify(s.Resource))).toEqual([
        JSON.stringify([{ 'Fn::Sub': 'arn:${AWS::Partition}:ssm:eu-west-1::document/AWS-RunShellScript' }]),
        JSON.stringify([
          { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:eu-west-1:${AWS::AccountId}:instance/i-0123456789abcdef0' },
        ]),
        JSON.stringify([{ 'Fn::Sub': 'arn:${AWS::Partition}:ec2:eu-west-1:${AWS::AccountId}:instance/*' }]),
        JSON.stringify([
          {
            'Fn::Sub':
              'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:document/sg-warden-prod-end-sessions',
          },
          { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*' },
        ]),
      ]);
      expect(send[2]!.Condition).toEqual({ StringEquals: { 'ssm:resourceTag/Role': 'web' } });
    });

    it('#22 ends sessions only through the stack’s own end-sessions document, which runs one fixed script', () => {
      const doc = template.Resources.EndSessionsDocument!;
      expect(doc.Type).toBe('AWS::SSM::Document');
      expect(doc.Properties).toMatchObject({
        Name: 'sg-warden-prod-end-sessions',
        DocumentType: 'Command',
        UpdateMethod: 'NewVersion',
      });
      const content = doc.Properties.Content as {
        parameters: Record<string, { allowedPattern: string }>;
        mainSteps: { action: string; inputs: { runCommand: string[] } }[];
      };
      expect(Object.keys(content.parameters).sort()).toEqual(['address', 'fromPort', 'toPort']);
      for (const p of Object.values(content.parameters)) expect(p.allowedPattern).toMatch(/^\^.*\$$/);
      expect(content.mainSteps.map((s) => s.action)).toEqual(['aws:runShellScript']);
      expect(content.mainSteps[0]!.inputs.runCommand.join('\n')).toContain(
        'ss -K -H -t -n state established',
      );
      const fns = functionsByName();
      for (const name of ['slackWorker', 'sweeper', 'cloudtrailEvent']) {
        const send = statementsOf(roleOf(fns[name]!)).filter((s) => s.Sid === 'EndSessionsSend');
        expect(send).toHaveLength(1);
        expect(JSON.stringify(send[0]!.Resource)).toContain('document/sg-warden-prod-end-sessions');
        expect(JSON.stringify(send[0]!.Resource)).not.toContain('AWS-RunShellScript');
        expect((fns[name]!.Environment as { Variables: Json }).Variables.SG_WARDEN_SESSIONS_DOCUMENT).toBe(
          'sg-warden-prod-end-sessions',
        );
      }
      for (const name of ['slackHttp', 'ipCapture'])
        expect(statementsOf(roleOf(fns[name]!)).some((s) => list(s.Action).includes('ssm:SendCommand'))).toBe(
          false,
        );
      // Detection sends it only when the backstop fired; it never reads results (the sweeper polls them).
      expect(
        statementsOf(roleOf(fns.cloudtrailEvent!)).some((s) =>
          list(s.Action).includes('ssm:GetCommandInvocation'),
        ),
      ).toBe(false);
    });

    it('reads only the two Slack secrets under /sg-warden/<stage>/, and invokes only the worker', () => {
      const fns = functionsByName();
      for (const [name, fn] of Object.entries(fns)) {
        const secrets = statementsOf(roleOf(fn)).filter((s) => list(s.Action).includes('ssm:GetParameters'));
        expect(
          secrets.flatMap((s) => list(s.Resource)).map((r) => (r as { 'Fn::Sub': string })['Fn::Sub']),
        ).toEqual(
          // Reconciling dead letters never talks to Slack: no secret at all.
          POLLED_FUNCTIONS.includes(name)
            ? []
            : [
                'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/sg-warden/prod/slack-bot-token',
                'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/sg-warden/prod/slack-signing-secret',
              ],
        );
      }
      const invoke = statementsOf(roleOf(fns.slackHttp!)).find((s) =>
        list(s.Action).includes('lambda:InvokeFunction'),
      )!;
      expect(invoke.Resource).toEqual({
        'Fn::Sub':
          'arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:sg-warden-prod-slackWorker',
      });
      expect((fns.slackHttp!.Environment as { Variables: Json }).Variables.SG_WARDEN_WORKER_FUNCTION).toBe(
        'sg-warden-prod-slackWorker',
      );
    });

    it('writes logs only to the function’s own log group', () => {
      for (const [name, fn] of Object.entries(functionsByName())) {
        const logs = statementsOf(roleOf(fn)).filter((s) =>
          list(s.Action).some((a) => a.startsWith('logs:')),
        );
        expect(logs.map((s) => (s.Resource as { 'Fn::Sub': string })['Fn::Sub'])).toEqual([
          `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/sg-warden-prod-${name}:*`,
        ]);
      }
    });

    it('gives the member-account role every EC2 (and load-balancer read) action a function may make in a member account, and no other', () => {
      // Every function that may assume the member role (config accounts.roleName) makes its EC2 calls there,
      // and reads load balancers' schemes there for exposure.
      const memberPaths = Object.values(EXPECTED)
        .filter((actions) => actions.includes('sts:AssumeRole'))
        .flatMap((actions) =>
          actions.filter((a) => a.startsWith('ec2:') || a.startsWith('elasticloadbalancing:')),
        )
        // /sg-run finds its instances, and the scan the enabled regions, in the bot's own account only.
        .filter((a) => a !== 'ec2:DescribeInstances' && a !== 'ec2:DescribeRegions');
      const role = (
        readCfnYaml(join(root, 'infra', 'member-account-role.yml')) as {
          Resources: {
            MemberRole: { Properties: { Policies: { PolicyDocument: { Statement: Statement[] } }[] } };
          };
        }
      ).Resources.MemberRole.Properties;
      const granted = role.Policies.flatMap((p) => p.PolicyDocument.Statement).flatMap((s) => list(s.Action));
      expect([...new Set(granted)].sort()).toEqual([...new Set(memberPaths)].sort());
      const statements = role.Policies.flatMap((p) => p.PolicyDocument.Statement);
      // The extend path relabels and re-tags a grant's rule: only on whitelist targets, only sg-warden's own rules.
      expect(statements.find((s) => s.Sid === 'WhitelistRelabel')?.Condition).toEqual({
        Null: {
          'aws:ResourceTag/sg-warden:whitelist-target': 'false',
          'aws:ResourceTag/sg-warden:protected': 'true',
        },
      });
      expect(statements.find((s) => s.Sid === 'WhitelistRetagGrantRule')?.Condition).toEqual({
        Null: { 'aws:ResourceTag/sg-warden:grant-id': 'false' },
        'ForAllValues:StringLike': { 'aws:TagKeys': ['sg-warden:*'] },
      });
    });

    it('grants every action some code path makes, and makes every call it grants (no stale permission)', () => {
      const used = sdkActionsInCode();
      const granted = new Set(Object.values(EXPECTED).flat());
      // Not SDK calls of ours: the Lambda runtime writes the logs, Lambda keeps failed invocations.
      for (const a of [...LOGS, ...FAILED_EVENTS]) granted.delete(a);
      // Not SDK calls either: Scheduler's own check of the role a schedule names, Lambda's SQS poller.
      for (const a of ['iam:PassRole', ...DEAD_LETTER_POLLER]) granted.delete(a);
      expect([...granted].sort()).toEqual([...used].sort());
    });
  });

  describe('the backstop (#22)', () => {
    const EXECUTION_ROLE_ARN = { 'Fn::GetAtt': ['BackstopExecutionRole', 'Arn'] };

    it('has its own schedule group, and tells every function its name and the execution role', () => {
      expect(template.Resources.BackstopScheduleGroup).toEqual({
        Type: 'AWS::Scheduler::ScheduleGroup',
        Properties: { Name: 'sg-warden-prod-backstop' },
      });
      for (const [name, fn] of Object.entries(functionsByName())) {
        const env = (fn.Environment as { Variables: Json }).Variables;
        expect({ name, group: env.SG_WARDEN_BACKSTOP_GROUP, role: env.SG_WARDEN_BACKSTOP_ROLE_ARN }).toEqual({
          name,
          group: 'sg-warden-prod-backstop',
          role: EXECUTION_ROLE_ARN,
        });
      }
    });

    it('runs the schedules as a role trusted by Scheduler alone that may only revoke rules (and file a dead letter)', () => {
      const role = template.Resources.BackstopExecutionRole!.Properties;
      expect(role.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      });
      const statements = statementsOf('BackstopExecutionRole');
      const ec2 = statements.flatMap((s) => list(s.Action)).filter((a) => !a.startsWith('sqs:'));
      expect(ec2.sort()).toEqual(['ec2:RevokeSecurityGroupEgress', 'ec2:RevokeSecurityGroupIngress']);
      expect(statements.find((s) => s.Sid === 'RevokeRules')?.Condition).toEqual({
        Null: { 'aws:ResourceTag/sg-warden:protected': 'true' },
      });
      // Scheduler delivers a dead letter as the execution role: only to sg-warden's dead-letter queues.
      expect(statements.find((s) => s.Sid === 'DeadLetters')).toMatchObject({
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:sqs:*:${AWS::AccountId}:sg-warden-prod-backstop-dlq' },
      });
      expect(statements.filter((s) => s.Sid !== 'RevokeRules' && s.Sid !== 'DeadLetters')).toEqual([]);
    });

    it('passes the execution role only to Scheduler, only from the functions that schedule, in its own group', () => {
      for (const [name, fn] of Object.entries(functionsByName())) {
        const statements = statementsOf(roleOf(fn));
        const pass = statements.filter((s) => list(s.Action).includes('iam:PassRole'));
        const schedules = statements.filter((s) => list(s.Action).some((a) => a.startsWith('scheduler:')));
        const schedules_ = ['cloudtrailEvent', 'slackWorker', 'sweeper', 'ipCapture', 'scan'].includes(name);
        expect({ name, pass: pass.length, schedules: schedules.length }).toEqual({
          name,
          pass: schedules_ ? 1 : 0,
          schedules: schedules_ ? 1 : 0,
        });
        if (!schedules_) continue;
        expect(pass[0]).toMatchObject({
          Resource: [EXECUTION_ROLE_ARN],
          Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        });
        expect(schedules[0]!.Resource).toEqual([
          {
            'Fn::Sub':
              'arn:${AWS::Partition}:scheduler:*:${AWS::AccountId}:schedule/sg-warden-prod-backstop/*',
          },
        ]);
      }
    });

    it('keeps failed runs in a dead-letter queue of its own, read by backstopDeadLetters', () => {
      expect(template.Resources.BackstopDeadLetterQueue!.Properties).toEqual({
        QueueName: 'sg-warden-prod-backstop-dlq',
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 1_209_600,
        VisibilityTimeout: 60,
      });
      const mapping = Object.values(template.Resources).find(
        (r) => r.Type === 'AWS::Lambda::EventSourceMapping',
      )!;
      expect(mapping.Properties).toMatchObject({
        EventSourceArn: { 'Fn::GetAtt': ['BackstopDeadLetterQueue', 'Arn'] },
        FunctionName: { 'Fn::GetAtt': ['BackstopDeadLettersLambdaFunction', 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
      // A dead letter left unreconciled is its own alarm (services/deploy/operations.ts), apart from the page.
      expect(template.Resources.BackstopDeadLettersAlarm!.Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: 'sg-warden-prod-backstop-dlq' }],
      });
      expect(template.Resources.BackstopFiredAlarm!.Properties).toMatchObject({
        MetricName: 'BackstopFired',
        AlarmDescription: expect.stringContaining('Backstop fired: the sweeper was late'),
      });
    });

    it('lets the member-account role schedule only in sg-warden’s group and pass only its execution role', () => {
      const member = readCfnYaml(join(root, 'infra', 'member-account-role.yml')) as {
        Resources: Record<string, { Type: string; Properties: Json }>;
      };
      const execution = member.Resources.BackstopExecutionRole!.Properties;
      const revokeOnly = (execution.Policies as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
        (p) => p.PolicyDocument.Statement,
      );
      expect(revokeOnly.flatMap((s) => list(s.Action)).sort()).toEqual([
        'ec2:RevokeSecurityGroupEgress',
        'ec2:RevokeSecurityGroupIngress',
        'sqs:SendMessage',
      ]);
      const policy = member.Resources.MemberBackstopPolicy!.Properties;
      expect(policy.Roles).toEqual([{ Ref: 'MemberRole' }]);
      expect((policy.PolicyDocument as { Statement: Statement[] }).Statement).toEqual([
        expect.objectContaining({
          Action: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule'],
          Resource: {
            'Fn::Sub': 'arn:${AWS::Partition}:scheduler:*:${AWS::AccountId}:schedule/${BackstopGroupName}/*',
          },
        }),
        expect.objectContaining({
          Action: 'iam:PassRole',
          Resource: { 'Fn::GetAtt': ['BackstopExecutionRole', 'Arn'] },
          Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        }),
      ]);
    });
  });

  describe('failed asynchronous invocations', () => {
    const QUEUE_ARN = { 'Fn::GetAtt': ['FailedEventsQueue', 'Arn'] };

    function invokeConfigOf(name: string): Json | undefined {
      const logicalId = `${name[0]!.toUpperCase()}${name.slice(1)}LambdaFunction`;
      return Object.values(template.Resources).find(
        (r) =>
          r.Type === 'AWS::Lambda::EventInvokeConfig' &&
          (r.Properties.FunctionName as { Ref?: string }).Ref === logicalId,
      )?.Properties;
    }

    it('keeps the whole event of every asynchronous function in the queue (a dead-letter queue, not a destination)', () => {
      const fns = functionsByName();
      for (const name of ASYNC_FUNCTIONS) {
        expect({ name, dlq: fns[name]!.DeadLetterConfig }).toEqual({ name, dlq: { TargetArn: QUEUE_ARN } });
        // An on-failure destination would send an invocation record instead, without the event when too big.
        expect({ name, destinations: invokeConfigOf(name)?.DestinationConfig }).toEqual({
          name,
          destinations: {},
        });
      }
      for (const name of [...SYNC_FUNCTIONS, ...POLLED_FUNCTIONS]) {
        expect({ name, dlq: fns[name]!.DeadLetterConfig }).toEqual({ name, dlq: undefined });
        expect(invokeConfigOf(name)).toBeUndefined();
      }
    });

    it('retries detection and jobs twice, sweeps never, and bounds how old an event may run', () => {
      const settings = Object.fromEntries(
        ASYNC_FUNCTIONS.map((name) => {
          const config = invokeConfigOf(name)!;
          return [name, [config.MaximumRetryAttempts, config.MaximumEventAgeInSeconds]];
        }),
      );
      expect(settings).toEqual({
        // Lambda's maxima: ride out ~3 minutes of DynamoDB/Slack trouble before the queue keeps the event.
        cloudtrailEvent: [2, 21_600],
        // The worker's share of a job's age bound (#12.1): the door's 5 minutes plus Lambda's queue.
        slackWorker: [2, HANDOFF_SECONDS],
        // The next minute's sweep is the retry.
        sweeper: [0, 300],
        // A failed invocation gives the cursor back: the retry resumes the run.
        scan: [2, 3600],
      });
    });

    it('lets only the asynchronous functions send, only to that queue, and nothing else on it', () => {
      for (const [name, fn] of Object.entries(functionsByName())) {
        const sqs = statementsOf(roleOf(fn)).filter((s) => list(s.Action).some((a) => a.startsWith('sqs:')));
        const expected = ASYNC_FUNCTIONS.includes(name)
          ? [{ action: ['sqs:SendMessage'], resource: [QUEUE_ARN], condition: undefined }]
          : POLLED_FUNCTIONS.includes(name)
            ? [
                {
                  action: DEAD_LETTER_POLLER,
                  resource: [{ 'Fn::GetAtt': ['BackstopDeadLetterQueue', 'Arn'] }],
                  condition: undefined,
                },
              ]
            : [];
        expect({
          name,
          sqs: sqs.map((s) => ({
            action: list(s.Action),
            resource: list(s.Resource),
            condition: s.Condition,
          })),
        }).toEqual({ name, sqs: expected });
      }
    });

    it('encrypts the queue with SSE-SQS and keeps messages 14 days', () => {
      const queue = template.Resources.FailedEventsQueue!;
      expect(queue.Type).toBe('AWS::SQS::Queue');
      expect(queue.Properties).toEqual({
        QueueName: 'sg-warden-prod-failed-events',
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 1_209_600,
      });
    });

    it('has its own queue policy: TLS only, and only the asynchronous functions’ roles may send', () => {
      const policies = Object.values(template.Resources).filter((r) => r.Type === 'AWS::SQS::QueuePolicy');
      expect(policies).toHaveLength(1);
      const policy = policies[0]!.Properties;
      expect(policy.Queues).toEqual([{ Ref: 'FailedEventsQueue' }]);
      const statements = (policy.PolicyDocument as { Statement: (Statement & { Principal: unknown })[] })
        .Statement;
      expect(statements.every((s) => s.Effect === 'Deny' && s.Principal === '*')).toBe(true);
      expect(statements.map((s) => [s.Action, s.Resource, s.Condition])).toEqual([
        ['sqs:*', QUEUE_ARN, { Bool: { 'aws:SecureTransport': 'false' } }],
        [
          'sqs:SendMessage',
          QUEUE_ARN,
          {
            ArnNotEquals: {
              'aws:PrincipalArn': ASYNC_FUNCTIONS.map((name) => ({
                'Fn::GetAtt': [roleOf(functionsByName()[name]!), 'Arn'],
              })),
            },
          },
        ],
      ]);
    });

    it('alarms as soon as the queue holds a message, notifying the configured topic', () => {
      const alarm = template.Resources.FailedEventsAlarm!;
      expect(alarm.Type).toBe('AWS::CloudWatch::Alarm');
      expect(alarm.Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['FailedEventsQueue', 'QueueName'] } }],
        Statistic: 'Maximum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [ALARM_TOPIC],
        OKActions: [ALARM_TOPIC],
      });
    });

    it('alarms when Lambda could not keep a failed invocation of any asynchronous function', () => {
      const alarm = template.Resources.FailedEventsNotKeptAlarm!.Properties;
      const metrics = alarm.Metrics as {
        Expression?: string;
        MetricStat?: { Metric: { MetricName: string; Dimensions: { Value: unknown }[] } };
      }[];
      expect(metrics.filter((m) => m.Expression).map((m) => m.Expression)).toEqual(['SUM(METRICS())']);
      const watched = metrics
        .filter((m) => m.MetricStat)
        .map((m) => [m.MetricStat!.Metric.MetricName, m.MetricStat!.Metric.Dimensions[0]!.Value]);
      expect(watched).toEqual(
        ASYNC_FUNCTIONS.map((name) => [
          'DeadLetterErrors',
          { Ref: `${name[0]!.toUpperCase()}${name.slice(1)}LambdaFunction` },
        ]),
      );
      expect(alarm).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
      expect(alarm.AlarmActions).toEqual([ALARM_TOPIC]);
    });

    it('accepts no dead-letter queue in checkov except for the synchronous functions', () => {
      expect(readFileSync(join(root, '.checkov.yml'), 'utf8')).not.toMatch(/^\s*-\s*CKV_AWS_116\b/m);
      const skipped = Object.entries(functionsByName())
        .filter(([name]) => {
          const logicalId = `${name[0]!.toUpperCase()}${name.slice(1)}LambdaFunction`;
          const skips =
            (template.Resources[logicalId] as { Metadata?: { checkov?: { skip?: { id: string }[] } } })
              .Metadata?.checkov?.skip ?? [];
          return skips.some((s) => s.id === 'CKV_AWS_116');
        })
        .map(([name]) => name);
      expect(skipped.sort()).toEqual([...SYNC_FUNCTIONS, ...POLLED_FUNCTIONS].sort());
    });
  });

  describe('environment', () => {
    it('holds parameter names, never a secret value', () => {
      for (const fn of Object.values(functionsByName())) {
        const vars = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
        expect(vars.SLACK_BOT_TOKEN_PARAM).toBe('/sg-warden/prod/slack-bot-token');
        expect(vars.SLACK_SIGNING_SECRET_PARAM).toBe('/sg-warden/prod/slack-signing-secret');
        const text = JSON.stringify(vars);
        expect(text).not.toMatch(/xox[abpr]-|SLACK_BOT_TOKEN"|SIGNING_SECRET"|secret":/i);
        for (const value of Object.values(vars)) {
          if (typeof value === 'string') expect(value).not.toMatch(/^[0-9a-f]{32}$/);
        }
      }
      expect(JSON.stringify(template)).not.toMatch(/xox[abpr]-/);
    });

    it('points no function at an emulator', () => {
      for (const fn of Object.values(functionsByName())) {
        const names = Object.keys((fn.Environment as { Variables: Json }).Variables);
        expect(names.filter((n) => /^AWS_ENDPOINT_URL|MOTO|SLACK_API_URL/.test(n))).toEqual([]);
      }
    });

    it('refuses to package IAM for a config other than the one the functions load', () => {
      const out = withPackageLock(() =>
        spawnSync(
          'npx',
          ['serverless', 'package', '--package', mkdtempSync(join(tmpdir(), 'sg-warden-package-refused-'))],
          {
            cwd: root,
            env: { ...process.env, SG_WARDEN_CONFIG: fullConfigPath, SLS_TELEMETRY_DISABLED: '1' },
            encoding: 'utf8',
            timeout: 170_000,
          },
        ),
      );
      expect(out.status).not.toBe(0);
      expect(`${out.stdout}${out.stderr}`).toContain(
        `SG_WARDEN_CONFIG is ${fullConfigPath}, but the functions are packaged with config/sg-warden.yml`,
      );
    }, 180_000);
  });

  describe('timeouts', () => {
    it('ends every revoking function before its revoke lease, so no sweep takes over a revoke still running', () => {
      const fns = functionsByName();
      for (const name of ['slackWorker', 'sweeper']) {
        expect({ name, timeout: fns[name]!.Timeout }).toEqual({ name, timeout: expect.any(Number) });
        expect(fns[name]!.Timeout as number).toBeLessThan(
          Math.min(DECISION_LEASE_SECONDS, GRANT_LEASE_SECONDS),
        );
      }
    });
  });

  describe('events and routes', () => {
    it('sends the security-group CloudTrail events to cloudtrailEvent', () => {
      const rules = Object.values(template.Resources).filter(
        (r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern,
      );
      expect(rules).toHaveLength(1);
      const pattern = rules[0]!.Properties.EventPattern as Json;
      expect(pattern['detail-type']).toEqual(['AWS API Call via CloudTrail']);
      // One branch per service (#20): each name only from the service that records it.
      expect(pattern.$or).toEqual([
        {
          source: ['aws.ec2'],
          detail: {
            eventSource: ['ec2.amazonaws.com'],
            eventName: [
              'AuthorizeSecurityGroupIngress',
              'AuthorizeSecurityGroupEgress',
              'ModifySecurityGroupRules',
              'RevokeSecurityGroupIngress',
              'RevokeSecurityGroupEgress',
              'CreateSecurityGroup',
              'DeleteSecurityGroup',
              // #13: the calls that can silence sg-warden without adding a rule.
              'UpdateSecurityGroupRuleDescriptionsIngress',
              'UpdateSecurityGroupRuleDescriptionsEgress',
              'CreateTags',
              'DeleteTags',
              'CreateManagedPrefixList',
              'ModifyManagedPrefixList',
              // #20: the calls that change what a group exposes without changing a rule.
              'ModifyNetworkInterfaceAttribute',
              'ModifyInstanceAttribute',
              'RunInstances',
              'CreateNetworkInterface',
              'AttachNetworkInterface',
              'AssociateAddress',
              'AssignIpv6Addresses',
              'ModifySubnetAttribute',
              'CreateRoute',
              'ReplaceRoute',
              'AttachInternetGateway',
              'AssociateRouteTable',
              'ReplaceRouteTableAssociation',
            ],
          },
        },
        {
          source: ['aws.elasticloadbalancing'],
          detail: {
            eventSource: ['elasticloadbalancing.amazonaws.com'],
            eventName: ['CreateLoadBalancer', 'SetSecurityGroups'],
          },
        },
        {
          source: ['aws.rds'],
          detail: { eventSource: ['rds.amazonaws.com'], eventName: ['ModifyDBInstance', 'CreateDBInstance'] },
        },
      ]);
      // Every call detection parses is matched: the parser's list is the rule's one source (the forwarder
      // is held to this rule by the #20 test below).
      const ec2Names = (pattern.$or as { detail: { eventName: string[] } }[])[0]!.detail.eventName;
      expect(ec2Names.slice(0, SECURITY_GROUP_EVENT_NAMES.length)).toEqual([...SECURITY_GROUP_EVENT_NAMES]);
      expect(JSON.stringify(rules[0]!.Properties.Targets)).toContain('CloudtrailEventLambdaFunction');
    });

    it('#20 has the region forwarder send exactly the events detection’s rule matches', () => {
      const [rule] = Object.values(template.Resources).filter(
        (r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern,
      );
      const forwarder = readCfnYaml(join(root, 'infra', 'region-forwarder.yml')) as {
        Resources: Record<string, { Properties: Json }>;
      };
      expect(forwarder.Resources.ForwardRule!.Properties.EventPattern).toEqual(rule!.Properties.EventPattern);
    });

    it('runs the sweeper at rate(1 minute) and the scan at the config’s schedule (default rate(6 hours))', () => {
      const schedules = Object.values(template.Resources).filter(
        (r) => r.Type === 'AWS::Events::Rule' && r.Properties.ScheduleExpression,
      );
      const targets = schedules.map(
        (r) =>
          `${r.Properties.ScheduleExpression} -> ${JSON.stringify(r.Properties.Targets).match(/(\w+)LambdaFunction/)?.[1]}`,
      );
      expect(targets.sort()).toEqual(['rate(1 minute) -> Sweeper', 'rate(6 hours) -> Scan']);
    });

    it('lets the scan invoke only itself, to carry on a run out of time', () => {
      const fn = functionsByName().scan!;
      const invoke = statementsOf(roleOf(fn)).filter((s) => list(s.Action).includes('lambda:InvokeFunction'));
      expect(invoke.map((s) => s.Resource)).toEqual([
        {
          'Fn::Sub':
            'arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:sg-warden-prod-scan',
        },
      ]);
      expect((fn.Environment as { Variables: Json }).Variables.SG_WARDEN_SCAN_FUNCTION).toBe(
        'sg-warden-prod-scan',
      );
    });

    it('routes POST /slack/events to the door and GET/POST /ip/{token} to ipCapture', () => {
      const routes = Object.values(template.Resources)
        .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
        .map(
          (r) =>
            `${r.Properties.RouteKey} -> ${JSON.stringify(r.Properties.Target).match(/HttpApiIntegration(\w+)/)?.[1]}`,
        )
        .sort();
      expect(routes).toEqual([
        'GET /ip/{token} -> IpCapture',
        'POST /ip/{token} -> IpCapture',
        'POST /slack/events -> SlackHttp',
      ]);
    });

    it('#12.6 throttles every route of the HTTP API at the configured rate and burst', () => {
      const stages = Object.values(template.Resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Stage');
      expect(stages).toHaveLength(1);
      expect(stages[0]!.Properties.DefaultRouteSettings).toEqual({
        DetailedMetricsEnabled: false,
        ThrottlingRateLimit: 5,
        ThrottlingBurstLimit: 10,
      });
      // No route is exempted by route settings of its own.
      expect(stages[0]!.Properties.RouteSettings).toBeUndefined();
    });

    it('names the bus statement per stage and keeps it when a deploy drops the organisation', () => {
      const policy = template.Resources.OrganizationEventBusPolicy as unknown as Json & { Properties: Json };
      expect(policy.Properties.StatementId).toBe('sg-warden-prod-organization');
      expect(policy.DeletionPolicy).toBe('Retain');
      expect(policy.UpdateReplacePolicy).toBe('Retain');
    });

    it('lets the organisation put only the CloudTrail events detection reads on the bus', () => {
      const policy = template.Resources.OrganizationEventBusPolicy!;
      expect((policy.Properties.Statement as Statement).Condition).toEqual({
        StringEquals: {
          'aws:PrincipalOrgID': 'o-abcde12345',
          // EC2's, and with policy.exposure on ELBv2's and RDS's exposure changes (#20).
          'events:source': ['aws.ec2', 'aws.elasticloadbalancing', 'aws.rds'],
          'events:detail-type': 'AWS API Call via CloudTrail',
        },
      });
    });
  });

  describe('state and logs', () => {
    it('keeps the table: on demand, point-in-time recovery, encryption, deletion protection, retained', () => {
      const table = template.Resources.StateTable as unknown as Json & { Properties: Json };
      // Retained on stack deletion and replacement; removed only when the first deploy rolls back, so
      // that deploying again does not meet a leftover table of the same name.
      expect(table.DeletionPolicy).toBe('RetainExceptOnCreate');
      expect(table.UpdateReplacePolicy).toBe('Retain');
      expect(table.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
        TimeToLiveSpecification: { Enabled: true },
      });
    });

    it('#12.4 grants UpdateItem only outside the audit partitions, and DeleteItem to no function', () => {
      for (const [name, fn] of Object.entries(functionsByName())) {
        const statements = statementsOf(roleOf(fn));
        const actions = statements.flatMap((s) => list(s.Action));
        expect({
          name,
          deletes: actions.filter((a) => /^dynamodb:(DeleteItem|BatchWriteItem|PartiQL|\*)/.test(a)),
        }).toEqual({ name, deletes: [] });
        for (const s of statements.filter((st) => list(st.Action).includes('dynamodb:UpdateItem'))) {
          expect({ name, sid: s.Sid, action: s.Action, condition: s.Condition }).toEqual({
            name,
            sid: 'StateUpdates',
            action: 'dynamodb:UpdateItem',
            condition: {
              Null: { 'dynamodb:LeadingKeys': 'false' },
              'ForAllValues:StringNotLike': { 'dynamodb:LeadingKeys': [`${AUDIT_KEY_PREFIX}*`] },
            },
          });
        }
      }
    });

    it('#12.4 lets every function with state put audit entries but never update or delete one (IAM simulated)', async () => {
      const withState = Object.entries(functionsByName()).filter(([, fn]) =>
        statementsOf(roleOf(fn)).some((s) => list(s.Action).includes('dynamodb:PutItem')),
      );
      expect(withState.map(([name]) => name).sort()).toEqual([
        'backstopDeadLetters',
        'cloudtrailEvent',
        'ipCapture',
        'scan',
        'slackWorker',
        'sweeper',
      ]);
      for (const [name, fn] of withState) {
        const policy = { Version: '2012-10-17', Statement: simulatable(statementsOf(roleOf(fn))) };
        const decide = async (action: string, partitionKey: string) => {
          const result = await runSimulation(
            {
              identityPolicies: [{ name, policy }],
              serviceControlPolicies: [],
              resourceControlPolicies: [],
              request: {
                action,
                principal: `arn:aws:iam::${ACCOUNT}:role/sg-warden-prod-eu-west-1-${name}`,
                resource: { resource: TABLE_ARN, accountId: ACCOUNT },
                contextVariables: { 'dynamodb:LeadingKeys': [partitionKey] },
              },
            },
            {},
          );
          if (result.resultType !== 'single') throw new Error(`simulation failed: ${JSON.stringify(result)}`);
          return result.overallResult;
        };
        const audit = `${AUDIT_KEY_PREFIX}v-0123456789ab`;
        expect({
          name,
          putAudit: await decide('dynamodb:PutItem', audit),
          updateAudit: await decide('dynamodb:UpdateItem', audit),
          deleteAudit: await decide('dynamodb:DeleteItem', audit),
          updateState: await decide('dynamodb:UpdateItem', 'VIOLATION#v-0123456789ab'),
        }).toEqual({
          name,
          putAudit: 'Allowed',
          updateAudit: 'ImplicitlyDenied',
          deleteAudit: 'ImplicitlyDenied',
          // Reconciling a dead letter only adds to the trail: it changes no item's state.
          updateState: POLLED_FUNCTIONS.includes(name) ? 'ImplicitlyDenied' : 'Allowed',
        });
      }
    });

    it('#12.4 without audit.archiveBucket: no table stream, no archive bucket, no archive function', () => {
      expect(template.Resources.StateTable!.Properties.StreamSpecification).toBeUndefined();
      expect(Object.keys(template.Resources).filter((id) => id.startsWith('AuditArchive'))).toEqual([]);
      expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::S3::Bucket')).toHaveLength(1);
    });

    it('sets a retention on every log group', () => {
      const groups = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Logs::LogGroup');
      // One per function (seven) and the HTTP API's.
      expect(groups.length).toBe(8);
      for (const g of groups) expect(g.Properties.RetentionInDays).toBe(90);
    });

    it('uses AWS-owned keys and grants no KMS permission unless the config asks for a key', () => {
      expect(Object.values(template.Resources).filter((r) => r.Type.startsWith('AWS::KMS::'))).toEqual([]);
      const actions = Object.values(template.Resources)
        .filter((r) => r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::Policy')
        .flatMap((r) => JSON.stringify(r.Properties).match(/"kms:[A-Za-z*]+"/g) ?? []);
      expect(actions).toEqual([]);
      expect(template.Resources.FailedEventsQueue!.Properties.KmsMasterKeyId).toBeUndefined();
      expect(template.Resources.StateTable!.Properties.SSESpecification).toEqual({ SSEEnabled: true });
      for (const g of Object.values(template.Resources).filter((r) => r.Type === 'AWS::Logs::LogGroup')) {
        expect(g.Properties.KmsKeyId).toBeUndefined();
      }
    });
  });
});

const ACCOUNT = '123456789012';
const TABLE_ARN = `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/sg-warden-prod`;

/** A role's DynamoDB statements with the table's ARN filled in, for the IAM simulator. */
function simulatable(statements: Statement[]): Statement[] {
  const resolve = (value: unknown): string | null => {
    if (typeof value === 'string') return value;
    const v = value as Json;
    const getAtt = v['Fn::GetAtt'] as string[] | undefined;
    if (getAtt) return getAtt[0] === 'StateTable' && getAtt[1] === 'Arn' ? TABLE_ARN : null;
    const sub = v['Fn::Sub'];
    if (typeof sub !== 'string') return null;
    const text = sub
      .replaceAll('${StateTable.Arn}', TABLE_ARN)
      .replaceAll('${AWS::Partition}', 'aws')
      .replaceAll('${AWS::Region}', 'eu-west-1')
      .replaceAll('${AWS::AccountId}', ACCOUNT);
    return text.includes('${') ? null : text;
  };
  return statements
    .filter((s) => list(s.Action).some((a) => a.startsWith('dynamodb:')))
    .map((s) => ({
      ...s,
      Resource: list(s.Resource)
        .map(resolve)
        .filter((r): r is string => r !== null),
    }));
}

/** IAM actions of the AWS SDK commands the Lambda code sends (handlers/, services/, slack/). */
function sdkActionsInCode(): Set<string> {
  const documentClient: Record<string, string[]> = {
    GetCommand: ['dynamodb:GetItem'],
    BatchGetCommand: ['dynamodb:BatchGetItem'],
    PutCommand: ['dynamodb:PutItem'],
    UpdateCommand: ['dynamodb:UpdateItem'],
    DeleteCommand: ['dynamodb:DeleteItem'],
    QueryCommand: ['dynamodb:Query'],
    ScanCommand: ['dynamodb:Scan'],
    // A transaction is authorised per item operation: its Puts and Updates.
    TransactWriteCommand: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
  };
  // Adapters take command classes from the SDK loaders in services/aws/sdk.ts (`const { XCommand } =
  // ec2Sdk();`), which load each package on first use: loader name → package.
  const loaders = new Map<string, string>();
  for (const m of readFileSync(join(root, 'services', 'aws', 'sdk.ts'), 'utf8').matchAll(
    /export const (\w+) = lazyModule\(\s*\(\)\s*=>\s*require\('@aws-sdk\/(client-[a-z0-9-]+|lib-dynamodb)'\)/g,
  )) {
    loaders.set(m[1]!, m[2]!);
  }
  const actions = new Set<string>();
  const files = ['handlers', 'services', 'slack'].flatMap((dir) => walk(join(root, dir)));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const taken: { names: string; pkg: string }[] = [];
    for (const m of text.matchAll(
      /import\s*{([^}]*)}\s*from\s*'@aws-sdk\/(client-[a-z0-9-]+|lib-dynamodb)'/g,
    )) {
      taken.push({ names: m[1]!, pkg: m[2]! });
    }
    for (const m of text.matchAll(/const\s*{([^}]*)}\s*=\s*(\w+)\(\)/g)) {
      const pkg = loaders.get(m[2]!);
      if (pkg) taken.push({ names: m[1]!, pkg });
    }
    for (const { names: list, pkg } of taken) {
      const names = list
        .split(',')
        .map((n) => n.replace(/^\s*type\s+/, '').trim())
        .filter((n) => n.endsWith('Command'));
      for (const name of names) {
        if (!new RegExp(`new ${name}\\(`).test(text)) continue;
        if (pkg === 'lib-dynamodb') {
          const mapped = documentClient[name];
          if (!mapped)
            throw new Error(`${relative(root, file)}: map ${name} to its IAM actions in this test`);
          for (const a of mapped) actions.add(a);
        } else {
          const action = `${IAM_PREFIX[pkg] ?? pkg.replace(/^client-/, '')}:${name.replace(/Command$/, '')}`;
          // Lambda's Invoke API is authorised as lambda:InvokeFunction.
          actions.add(action === 'lambda:Invoke' ? 'lambda:InvokeFunction' : action);
        }
      }
    }
  }
  return actions;
}

/** SDK packages whose IAM service prefix is not their name. */
const IAM_PREFIX: Record<string, string> = { 'client-elastic-load-balancing-v2': 'elasticloadbalancing' };

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? walk(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}
