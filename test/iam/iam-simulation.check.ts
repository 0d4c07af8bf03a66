// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation ${…} placeholders, on purpose
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allowedContextKeysForRequest, runSimulation } from '@cloud-copilot/iam-simulate';
import { readCfnYaml } from '../support/cfn-yaml';
import { RECORD_DIR, type RecordedAwsCall } from '../support/iam-calls';
import {
  configStatements,
  functionRoleArns,
  functionsOf,
  type Json,
  list,
  type Resource,
  resolve,
  type Statement,
  staticStatements,
  template,
  type World,
  withDocumentAccount,
} from '../support/iam-policies';
import { type AuthorizationRequest, authorizationRequests } from '../support/iam-requests';

/**
 * IAM proven by simulation (the last step of `npm test`, after every other suite has run): each AWS call
 * a function made in the integration suites (recorded by test/support/iam-recording.ts) is evaluated by
 * @cloud-copilot/iam-simulate against that function's role policy in the packaged template
 * (.serverless/, from npm test's package step) plus the statements the deploy derives from the config
 * the call ran with (services/deploy/iam.ts, as serverless.yml does), or against the member-account
 * role (infra/member-account-role.yml) when it ran with that role. Every call must be allowed, and every
 * action granted must be made by some test, or be listed below with the reason it cannot be.
 * template.test.ts keeps the readable contract (the exact actions per function); this proves it.
 */

const root = join(__dirname, '..', '..');
const TEMPLATE = join(root, '.serverless', 'cloudformation-template-update-stack.json');
const OWN_ACCOUNT = '123456789012';

/** Actions granted that no test can make, with the reason. Key: `<function> <action>` or `member <action>`. */
const NOT_EXERCISED: Record<string, string> = {
  'member ec2:GetManagedPrefixListAssociations':
    'a prefix list gaining the internet in a member account: no test changes a member account’s list yet (the own-account path is tested in watched-changes.test.ts)',
  ...Object.fromEntries(
    ['cloudtrailEvent', 'slackHttp', 'slackWorker', 'sweeper', 'ipCapture', 'scan'].flatMap((fn) => [
      [`${fn} logs:CreateLogStream`, 'the Lambda runtime writes the function’s log, not its code'],
      [`${fn} logs:PutLogEvents`, 'the Lambda runtime writes the function’s log, not its code'],
    ]),
  ),
  ...Object.fromEntries(
    ['cloudtrailEvent', 'slackWorker', 'sweeper', 'scan'].map((fn) => [
      `${fn} sqs:SendMessage`,
      'Lambda itself puts a failed asynchronous invocation in the failed-events queue, as the role',
    ]),
  ),
  ...Object.fromEntries(
    ['backstopDeadLetters'].flatMap((fn) => [
      [`${fn} logs:CreateLogStream`, 'the Lambda runtime writes the function’s log, not its code'],
      [`${fn} logs:PutLogEvents`, 'the Lambda runtime writes the function’s log, not its code'],
    ]),
  ),
  ...Object.fromEntries(
    ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'].map((a) => [
      `backstopDeadLetters ${a}`,
      'Lambda’s SQS poller reads the backstop’s dead-letter queue as the role; the tests call the handler',
    ]),
  ),
  'ipCapture scheduler:UpdateSchedule':
    'only when the same rule is asked again through a link (the grant is extended): that path also relabels the rule, which ipCapture may not (ROLES_USING.whitelistExtend), so no recorded test takes it',
  'scan scheduler:UpdateSchedule':
    'only when a run judges a group again after an invocation died between arming its violations’ backstops and storing its alert (the same schedule names); the detection test of a re-delivered event makes the same call',
  'sweeper scheduler:UpdateSchedule':
    'a re-asked rule’s backstop is updated only when its schedule was already made (a sweep that died after CreateSchedule); the detection test of a re-delivered event makes the same call',
  'slackHttp lambda:InvokeFunction':
    'the tests run the door’s jobs in-process (InlineJobQueue); moto has no Lambda runtime to invoke',
};

function readRecords(): RecordedAwsCall[] {
  if (!existsSync(RECORD_DIR)) return [];
  return readdirSync(RECORD_DIR)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) =>
      readFileSync(join(RECORD_DIR, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as RecordedAwsCall),
    );
}

/**
 * Reads the wiring caches, made once per test file for every function it drives: in Lambda each function
 * makes them itself, at its own cold start. The Slack secrets read (ssm:GetParameters) stands for each
 * function that ran in that file; a member-account role assumed (sts:AssumeRole) for each function that
 * then acted in that account.
 */
/** Functions whose code never reads the Slack secrets. */
const NO_SLACK = new Set(['backstopDeadLetters']);

function withSharedReads(records: RecordedAwsCall[]): RecordedAwsCall[] {
  const ranIn = new Map<string, Set<string>>();
  const actedIn = new Map<string, Set<string>>();
  for (const r of records) {
    ranIn.set(r.testPath, (ranIn.get(r.testPath) ?? new Set()).add(r.fn));
    const account = r.callerArn ? /:sts::(\d{12}):/.exec(r.callerArn)?.[1] : undefined;
    if (account) {
      const key = `${r.testPath} ${account}`;
      actedIn.set(key, (actedIn.get(key) ?? new Set()).add(r.fn));
    }
  }
  const shared: RecordedAwsCall[] = [];
  for (const r of records) {
    let others: Set<string> | undefined;
    if (r.target === 'AmazonSSM.GetParameters') others = ranIn.get(r.testPath);
    // Reconciling the backstop's dead letters never talks to Slack: it reads no secret at cold start.
    others = others && new Set([...others].filter((fn) => !NO_SLACK.has(fn)));
    if (r.service === 'sts' && /Action=AssumeRole/.test(r.body)) {
      const account = /RoleArn=arn%3Aaws%3Aiam%3A%3A(\d{12})/.exec(r.body)?.[1];
      others = actedIn.get(`${r.testPath} ${account}`);
    }
    for (const fn of others ?? []) if (fn !== r.fn) shared.push({ ...r, fn });
  }
  return [...records, ...shared];
}

/**
 * The backstop's names in the template (stage prod: its schedule group, its execution role's name) → the
 * ones the recorded call ran with (SG_WARDEN_BACKSTOP_GROUP, SG_WARDEN_BACKSTOP_ROLE_ARN).
 */
function backstopRenames(
  t: { Resources: Record<string, Resource> },
  call: RecordedAwsCall,
): [string, string][] {
  const out: [string, string][] = [];
  const group = call.env.SG_WARDEN_BACKSTOP_GROUP;
  if (group) out.push(['schedule/sg-warden-prod-backstop/', `schedule/${group}/`]);
  const role = call.env.SG_WARDEN_BACKSTOP_ROLE_ARN?.split('/').at(-1);
  const templateRole = t.Resources.BackstopExecutionRole?.Properties.RoleName;
  if (role && typeof templateRole === 'string') out.push([templateRole, role]);
  return out;
}

/** Every config a function could be deployed with, in one: for the list of actions granted. */
const EVERY_FEATURE_CONFIG = `slack:
  alertChannel: C0ALERTS
whitelist:
  targets:
    bastion: { groupId: sg-0123456789abcdef0, region: eu-west-1, ports: [22], endSessions: true }
runbooks:
  targets:
    web: { region: eu-west-1, tags: { Role: web } }
  items:
    uptime: { region: eu-west-1, targets: [web, i-0123456789abcdef0], commands: ["uptime"] }
accounts:
  roleName: sg-warden-member
`;

/** The keys of a request's context that the authorization reference lists for its action and resource. */
async function listedContext(request: AuthorizationRequest): Promise<Record<string, string | string[]>> {
  const [service, action] = request.action.split(':') as [string, string];
  const allowed = await allowedContextKeysForRequest(service, action, request.resource, false, undefined);
  const patterns = allowed.map(
    (k) =>
      new RegExp(`^${k.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\\$\{tagkey\}|tag-key/g, '.+')}$`, 'i'),
  );
  return Object.fromEntries(
    Object.entries(request.context).filter(([key]) => patterns.some((p) => p.test(key))),
  );
}

interface Verdict {
  fn: string;
  principal: string;
  request: AuthorizationRequest;
  result: string;
  testPath: string;
}

const verdicts: Verdict[] = [];
let granted: Map<string, Set<string>>;
let memberGranted: Set<string>;
/** The verdicts on one call, as the simulation gives them. */
let judge: (call: RecordedAwsCall) => Promise<Verdict[]>;

beforeAll(async () => {
  if (!existsSync(TEMPLATE)) {
    throw new Error(
      `${TEMPLATE} is missing: npm test packages the deploy before the suites (npx serverless package)`,
    );
  }
  const records = withSharedReads(readRecords());
  if (records.length === 0) {
    throw new Error(
      `no AWS calls were recorded in ${RECORD_DIR}: run the integration suites first (npm test does)`,
    );
  }
  const t = template(TEMPLATE);
  const functions = functionsOf(t);
  const member = readCfnYaml(join(root, 'infra', 'member-account-role.yml')) as {
    Resources: Record<string, Resource>;
  };
  const memberRole = member.Resources.MemberRole!.Properties;
  const memberStatements = [
    ...(memberRole.Policies as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
      (p) => p.PolicyDocument.Statement,
    ),
    // Policies the member template attaches to the role apart (the backstop's schedules).
    ...Object.values(member.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .filter((r) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === 'MemberRole'))
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement),
  ];
  const configs = new Map<string, string>();
  const configText = (hash?: string) => {
    if (!hash) return null;
    if (!configs.has(hash))
      configs.set(hash, readFileSync(join(RECORD_DIR, 'configs', `${hash}.yml`), 'utf8'));
    return configs.get(hash)!;
  };
  const cache = new Map<string, string>();
  judge = async (call) => {
    const out: Verdict[] = [];
    const fn = functions[call.fn];
    if (!fn) throw new Error(`a call recorded for "${call.fn}", which the template has no function for`);
    const homeRegion = call.env.AWS_REGION ?? 'us-east-1';
    const ownAccount = call.env.SG_WARDEN_ACCOUNT_ID ?? OWN_ACCOUNT;
    const caller = call.callerArn
      ? /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(call.callerArn)
      : null;
    const inMember = !!caller && caller[2] !== ownAccount;
    const account = inMember ? caller![2]! : ownAccount;
    const world: World = {
      partition: 'aws',
      region: homeRegion,
      account,
      tableName: call.env.SG_WARDEN_TABLE ?? 'sg-warden-dev',
      renames: [
        ...backstopRenames(t, call),
        ...[
          'SLACK_BOT_TOKEN_PARAM',
          'SLACK_SIGNING_SECRET_PARAM',
          'SG_WARDEN_WORKER_FUNCTION',
          'SG_WARDEN_SCAN_FUNCTION',
        ]
          .map((name): [string, string] => [
            String(functions.slackHttp?.env[name] ?? fn.env[name] ?? ''),
            call.env[name] ?? '',
          ])
          .filter(([from, to]) => from && to)
          .flatMap(([from, to]): [string, string][] => [
            [`parameter${from}`, `parameter${to}`],
            [`function:${from}`, `function:${to}`],
          ]),
      ],
    };
    let principal: string;
    let policy: Json;
    let resourcePolicy: Json | undefined;
    if (inMember) {
      principal = `arn:aws:iam::${account}:role/${caller![3]}`;
      policy = {
        Version: '2012-10-17',
        Statement: resolve(
          memberStatements,
          {
            ...world,
            params: {
              RoleName: caller![3]!,
              BackstopGroupName: call.env.SG_WARDEN_BACKSTOP_GROUP ?? 'sg-warden-prod-backstop',
            },
          },
          member.Resources,
        ),
      };
    } else {
      principal = `arn:aws:iam::${account}:role/${String(resolve(t.Resources[fn.role]!.Properties.RoleName, world, t.Resources))}`;
      const statements = [
        ...staticStatements(t, fn.role),
        ...configStatements(configText(call.configHash), fn.role),
      ];
      policy = { Version: '2012-10-17', Statement: resolve(statements, world, t.Resources) };
    }
    if (call.service === 'sts' && !inMember) {
      // Assuming the member role is cross-account: its trust policy must let this function's role in too.
      const trusted = functionRoleArns(t, world);
      resourcePolicy = resolve(
        (memberRole.AssumeRolePolicyDocument as Json) ?? {},
        { ...world, params: { CentralAccountId: account, TrustedRoleArns: trusted } },
        member.Resources,
      ) as Json;
    }
    const requests = authorizationRequests(call, { account, partition: 'aws' }).map((r) => ({
      ...r,
      resource: withDocumentAccount(r.resource),
    }));
    for (const request of requests) {
      let listed: Record<string, string | string[]>;
      try {
        listed = await listedContext(request);
      } catch (error) {
        // The authorization reference does not know this resource for the action: a mapping to fix.
        out.push({
          fn: call.fn,
          principal: '',
          request,
          result: `error: ${(error as Error).message}`,
          testPath: call.testPath,
        });
        continue;
      }
      const context = {
        ...listed,
        'aws:PrincipalArn': principal,
        'aws:PrincipalAccount': account,
        'aws:RequestedRegion': call.region,
        'aws:SecureTransport': 'true',
      };
      const key = JSON.stringify([
        principal,
        request.action,
        request.resource,
        context,
        policy,
        resourcePolicy,
      ]);
      let result = cache.get(key);
      if (!result) {
        const simulated = await runSimulation(
          {
            request: {
              principal,
              action: request.action,
              resource: { resource: request.resource, accountId: request.account },
              contextVariables: context,
            },
            identityPolicies: [{ name: inMember ? 'member-account-role' : fn.role, policy }],
            ...(resourcePolicy && request.account !== account ? { resourcePolicy } : {}),
            serviceControlPolicies: [],
            resourceControlPolicies: [],
          },
          {},
        );
        result =
          simulated.resultType === 'error'
            ? `error: ${JSON.stringify(simulated.errors)}`
            : simulated.overallResult;
        cache.set(key, result);
      }
      out.push({
        fn: inMember ? 'member' : call.fn,
        principal,
        request: { ...request, context },
        result,
        testPath: call.testPath,
      });
    }
    return out;
  };
  for (const call of records) verdicts.push(...(await judge(call)));
  granted = new Map(
    Object.entries(functions).map(([name, { role }]) => [
      name,
      new Set(
        [...staticStatements(t, role), ...configStatements(EVERY_FEATURE_CONFIG, role)].flatMap((s) =>
          list(s.Action),
        ),
      ),
    ]),
  );
  memberGranted = new Set(memberStatements.flatMap((s) => list(s.Action)));
}, 120_000);

describe('IAM, proven by simulation over every recorded call', () => {
  it('allows every AWS call every function made in the tests', () => {
    const denied = verdicts
      .filter((v) => v.result !== 'Allowed')
      .map(
        (v) =>
          `${v.fn}: ${v.request.action} on ${v.request.resource} → ${v.result} (${v.testPath}) ${JSON.stringify(v.request.context)}`,
      );
    expect([...new Set(denied)]).toEqual([]);
    expect(verdicts.length).toBeGreaterThan(0);
  });

  it('makes every action each function role grants in some test, or says why no test can', () => {
    const exercised = new Set(
      verdicts.filter((v) => v.result === 'Allowed').map((v) => `${v.fn} ${v.request.action}`),
    );
    const unexercised = [...granted].flatMap(([fn, actions]) =>
      [...actions].map((a) => `${fn} ${a}`).filter((key) => !exercised.has(key)),
    );
    expect(unexercised.filter((key) => !(key in NOT_EXERCISED)).sort()).toEqual([]);
    // A reason for an action some test makes after all is stale: drop it.
    expect(Object.keys(NOT_EXERCISED).filter((key) => exercised.has(key))).toEqual([]);
  });

  it('makes every action of the member-account role in some test, or says why no test can', () => {
    const exercised = new Set(
      verdicts
        .filter((v) => v.fn === 'member' && v.result === 'Allowed')
        .map((v) => `member ${v.request.action}`),
    );
    const missing = [...memberGranted]
      .map((a) => `member ${a}`)
      .filter((key) => !exercised.has(key) && !(key in NOT_EXERCISED));
    expect(missing.sort()).toEqual([]);
  });
});

describe('the simulation can say no', () => {
  /** A call as the recorder writes it, for a function of the template. */
  function call(
    fields: Partial<RecordedAwsCall> & Pick<RecordedAwsCall, 'fn' | 'service' | 'body'>,
  ): RecordedAwsCall {
    return {
      testPath: 'test/iam/iam-simulation.check.ts',
      method: 'POST',
      host: '127.0.0.1:0',
      path: '/',
      region: 'us-east-1',
      accessKeyId: 'testing',
      status: 200,
      env: { SG_WARDEN_TABLE: 'sg-warden-dev', AWS_REGION: 'us-east-1' },
      ...fields,
    };
  }

  it('denies a revoke on a group tagged sg-warden:protected', async () => {
    const verdicts = await judge(
      call({
        fn: 'sweeper',
        service: 'ec2',
        body: 'Action=RevokeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-0aaaaaaaaaaaaaaaa&SecurityGroupRuleId.1=sgr-0aaaaaaaaaaaaaaaa',
        groups: { 'sg-0aaaaaaaaaaaaaaaa': { tags: { 'sg-warden:protected': 'yes' } } },
      }),
    );
    expect(verdicts.map((v) => v.result)).toEqual(['ImplicitlyDenied']);
  });

  it('denies the door any call beyond its own (reading security groups)', async () => {
    const verdicts = await judge(
      call({ fn: 'slackHttp', service: 'ec2', body: 'Action=DescribeSecurityGroups&Version=2016-11-15' }),
    );
    expect(verdicts.map((v) => v.result)).toEqual(['ImplicitlyDenied']);
  });

  it('denies a whitelist grant when the config names no whitelist target', async () => {
    const verdicts = await judge(
      call({
        fn: 'slackWorker',
        service: 'ec2',
        body: 'Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-0bbbbbbbbbbbbbbbb',
        groups: { 'sg-0bbbbbbbbbbbbbbbb': { tags: {} } },
      }),
    );
    expect(verdicts.map((v) => v.result)).toEqual(['ImplicitlyDenied']);
  });
});
