import {
  AuthorizeSecurityGroupIngressCommand,
  CreateManagedPrefixListCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import type { StoredAuditEntry } from '../../../services/kernel/audit';
import type { ScanCursorItem } from '../../../services/scan/plan';
import { GROUPS_PER_CHUNK, type ScanOutcome } from '../../../services/scan/scan';
import type { ViolationItem } from '../../../services/violations/items';
import { authorize, createGroup, ec2Client, uniqueName } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { allAudit, tableState } from '../../support/fault-harness';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';

// Each scan reads every group of its regions, and the moto server is shared by every test file: these
// tests use regions no other suite touches, one region (or set of regions) per test.
const FIRST = 'ap-southeast-2';
const RACE = 'ap-northeast-3';
const RESUME = 'eu-south-1';
const MEMBER_REGION = 'eu-west-3';
const MEMBER = '210987654321';

let env: HandlerEnv;
let scan: (event?: unknown, context?: Context) => Promise<ScanOutcome>;
let detect: (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

function config(regions: string[], extra = ''): string {
  // The emulator's groups have nothing attached: keep their severity (exposure has its own scan tests).
  return baseConfig(
    `policy:\n  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }\n  exposure: { unattached: keep }\nscan:\n  regions: [${regions.join(', ')}]\n${extra}`,
  );
}

/** Loads the handlers afresh with this config (the wiring reads it once per module load). */
async function loadHandlers(yaml: string): Promise<void> {
  env.writeConfig(yaml);
  jest.resetModules();
  ({ handler: scan } = await import('../../../handlers/scan'));
  ({ handler: detect } = await import('../../../handlers/cloudtrail-event'));
}

/** A Lambda context whose time left is `remaining()`. */
function contextWith(remaining: () => number): Context {
  return { awsRequestId: uniqueName('req'), getRemainingTimeInMillis: remaining } as unknown as Context;
}

async function violationsOf(ruleId: string): Promise<ViolationItem[]> {
  const items = [...(await tableState(env.tableName)).values()];
  return items.filter(
    (i) => i.type === 'violation' && (i.rule as { ruleId?: string }).ruleId === ruleId,
  ) as unknown as ViolationItem[];
}

const postsNaming = (text: string) =>
  env.slack.callsTo('chat.postMessage').filter((c) => JSON.stringify(c.args).includes(text));

async function openSsh(
  region: string,
  description = 'temporary debugging',
): Promise<{ groupId: string; ruleId: string }> {
  const { groupId } = await createGroup(region);
  await ec2Client(region).send(
    new CreateTagsCommand({ Resources: [groupId], Tags: [{ Key: 'Team', Value: 'payments' }] }),
  );
  const [ruleId] = await authorize(region, groupId, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0', Description: description }],
  });
  return { groupId, ruleId: ruleId! };
}

/** An EC2 client acting in the member account (moto hands out that account's credentials). */
async function memberEc2(region: string): Promise<EC2Client> {
  const endpoint = process.env.MOTO_URL!;
  const out = await new STSClient({ region, endpoint }).send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${MEMBER}:role/sg-warden-member`,
      RoleSessionName: 'test',
    }),
  );
  const c = out.Credentials!;
  return new EC2Client({
    region,
    endpoint,
    credentials: {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    },
  });
}

beforeAll(async () => {
  env = await startHandlerEnv({ config: config([FIRST]) });
});

afterAll(async () => {
  await env.stop();
});

beforeEach(() => env.slack.reset());

describe('scan handler', () => {
  it('raises a violating rule that no event told of, posts it as found by the scan, and the sweeper revokes it at its deadline', async () => {
    await loadHandlers(config([FIRST]));
    const { groupId, ruleId } = await openSsh(FIRST);

    const outcome = await scan(
      undefined,
      contextWith(() => 600_000),
    );

    expect(outcome.state).toBe('done');
    expect(outcome.totals).toMatchObject({ violationsRaised: 1, errors: 0 });
    expect(outcome.totals.rulesRead).toBeGreaterThanOrEqual(2);
    const [violation, ...others] = await violationsOf(ruleId);
    expect(others).toEqual([]);
    expect(violation).toMatchObject({
      status: 'PENDING',
      foundBy: 'scan',
      severity: 'high',
      groupId,
      region: FIRST,
      channel: ALERT_CHANNEL,
      rule: expect.objectContaining({ ruleId, description: 'temporary debugging' }),
    });
    const deadlineIn = Date.parse(violation!.deadline!) - Date.now();
    expect(deadlineIn).toBeGreaterThan(14 * 60_000);

    const [post, ...more] = postsNaming(ruleId);
    expect(more).toEqual([]);
    const shown = JSON.stringify(post!.args.blocks);
    expect(shown).toContain('Found by the scan');
    expect(shown).toContain('not known (no CloudTrail event)');
    expect(shown).toContain('Team=payments');
    expect(shown).toContain('temporary debugging');
    expect(String(post!.args.text)).toContain('found by the scan');
    expect(shown).toContain('violation_revoke');
    expect(shown).toContain('violation_keep');

    // The audit trail: the violation raised by sg-warden (found by the scan), and one summary entry.
    const audit = await allAudit(env.tableName);
    expect(audit.filter((e) => e.subjectId === violation!.violationId)).toEqual([
      expect.objectContaining({
        action: 'detect',
        actorType: 'system',
        toState: 'PENDING',
        details: expect.objectContaining({ foundBy: 'scan' }),
      }),
    ]);
    const summaries = audit.filter((e) => e.subjectType === 'scan' && e.toState === 'DONE');
    expect(summaries).toEqual([
      expect.objectContaining({
        action: 'scan',
        result: 'ok',
        subjectId: outcome.runId,
        details: expect.objectContaining({
          rulesRead: outcome.totals.rulesRead,
          groups: outcome.totals.groups,
          violationsRaised: 1,
          alreadyKnown: 0,
          errors: 0,
          tookSeconds: expect.any(Number),
        }),
      }),
    ]);

    // Nobody answers: the sweeper revokes it at its deadline, as for an event's violation.
    const { sweep } = await import('../../../services/kernel/sweep');
    const { dueHandlers, getWiring } = await import('../../../handlers/wiring');
    const wiring = getWiring();
    await sweep(wiring, dueHandlers(wiring), new Date(Date.parse(violation!.deadline!) + 1_000));
    expect((await violationsOf(ruleId))[0]).toMatchObject({ status: 'AUTO_REVOKED' });
    const live = await ec2Client(FIRST).send(
      new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
    );
    expect(live.SecurityGroupRules?.map((r) => r.SecurityGroupRuleId)).not.toContain(ruleId);
  });

  it('raises nothing new when the rule the scan raised then arrives as an event, nor on the next scan', async () => {
    await loadHandlers(config([FIRST]));
    const { groupId, ruleId } = await openSsh(FIRST);
    await scan(
      undefined,
      contextWith(() => 600_000),
    );
    expect(await violationsOf(ruleId)).toHaveLength(1);
    env.slack.reset();

    const record = authorizeIngressRecord({
      groupId,
      region: FIRST,
      rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
    });
    await detect(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
    const second = await scan(
      undefined,
      contextWith(() => 600_000),
    );

    expect(await violationsOf(ruleId)).toEqual([
      expect.objectContaining({ foundBy: 'scan', status: 'PENDING' }),
    ]);
    expect(postsNaming(ruleId)).toEqual([]);
    expect(second.totals.violationsRaised).toBe(0);
    expect(second.totals.alreadyKnown).toBeGreaterThanOrEqual(1);
  });

  it('raises one violation and posts once when the scan and the event race for one rule', async () => {
    await loadHandlers(config([RACE]));
    // A few rounds, each a new rule that the scan and its event find at the same time.
    for (let round = 0; round < 3; round++) {
      const { groupId, ruleId } = await openSsh(RACE);
      const record = authorizeIngressRecord({
        groupId,
        region: RACE,
        rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
      });
      await Promise.all([
        scan(
          undefined,
          contextWith(() => 600_000),
        ),
        detect(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>),
      ]);
      const violations = await violationsOf(ruleId);
      expect(violations).toHaveLength(1);
      expect(postsNaming(ruleId)).toHaveLength(1);
    }
  });

  it('resumes a scan cut off half-way where it stopped, and finishes with no duplicates', async () => {
    await loadHandlers(config([RESUME], '  concurrency: 1\n'));
    const ec2 = ec2Client(RESUME);
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }));
    const seeded: string[] = [];
    // 120 groups and the region's default ones: chunks of 100 groups (the unit of progress), every tenth with RDP open.
    for (let i = 0; i < 120; i++) {
      const group = await ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: uniqueName('resume'),
          Description: 'resume',
          VpcId: vpc.Vpc!.VpcId,
        }),
      );
      if (i % 10 === 0) {
        const [ruleId] = await authorize(RESUME, group.GroupId!, {
          IpProtocol: 'tcp',
          FromPort: 3389,
          ToPort: 3389,
          IpRanges: [{ CidrIp: '0.0.0.0/0' }],
        });
        seeded.push(ruleId!);
      }
    }

    // Time runs out after the first chunk of groups.
    let checks = 0;
    const first = await scan(
      undefined,
      contextWith(() => (++checks <= 2 ? 600_000 : 1_000)),
    );
    expect(first.state).toBe('paused');
    // One chunk judged, the rest left to the next invocation.
    expect(first.totals.groups).toBe(GROUPS_PER_CHUNK);
    expect(first.totals.violationsRaised).toBeLessThanOrEqual(seeded.length);

    const second = await scan(
      undefined,
      contextWith(() => 600_000),
    );
    expect(second).toMatchObject({ state: 'done', runId: first.runId });
    expect(second.totals.groups).toBeGreaterThan(120);
    expect(second.totals.violationsRaised).toBe(seeded.length);
    expect(second.totals.alreadyKnown).toBe(0);
    for (const ruleId of seeded) expect(await violationsOf(ruleId)).toHaveLength(1);
    const summaries = (await allAudit(env.tableName)).filter(
      (e: StoredAuditEntry) => e.subjectId === first.runId && e.toState === 'DONE',
    );
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.details).toMatchObject({ violationsRaised: seeded.length, invocations: 2 });
  }, 120_000);

  it('reads a member account through its role and judges a prefix-list rule by the list’s entries', async () => {
    await loadHandlers(
      config([MEMBER_REGION], `accounts:\n  roleName: sg-warden-member\n  watched: ["${MEMBER}"]\n`),
    );
    const ec2 = await memberEc2(MEMBER_REGION);
    const list = await ec2.send(
      new CreateManagedPrefixListCommand({
        PrefixListName: uniqueName('everyone'),
        AddressFamily: 'IPv4',
        MaxEntries: 5,
        Entries: [{ Cidr: '0.0.0.0/0' }],
      }),
    );
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.50.0.0/16' }));
    const group = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: uniqueName('member'),
        Description: 'member',
        VpcId: vpc.Vpc!.VpcId,
      }),
    );
    const added = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: group.GroupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 22,
            ToPort: 22,
            PrefixListIds: [{ PrefixListId: list.PrefixList!.PrefixListId }],
          },
        ],
      }),
    );
    const ruleId = added.SecurityGroupRules![0]!.SecurityGroupRuleId!;
    // In the bot's own account, a rule from a list of private ranges: read through the list, and clean.
    const privateList = await ec2Client(MEMBER_REGION).send(
      new CreateManagedPrefixListCommand({
        PrefixListName: uniqueName('offices'),
        AddressFamily: 'IPv4',
        MaxEntries: 5,
        Entries: [{ Cidr: '10.0.0.0/8' }],
      }),
    );
    const { groupId: ownGroup } = await createGroup(MEMBER_REGION);
    const [privateRule] = await authorize(MEMBER_REGION, ownGroup, {
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      PrefixListIds: [{ PrefixListId: privateList.PrefixList!.PrefixListId }],
    });

    const outcome = await scan(
      undefined,
      contextWith(() => 600_000),
    );

    expect(outcome).toMatchObject({ state: 'done', totals: expect.objectContaining({ errors: 0 }) });
    const [violation] = await violationsOf(ruleId);
    expect(violation).toMatchObject({
      account: MEMBER,
      region: MEMBER_REGION,
      foundBy: 'scan',
      severity: 'high',
    });
    expect(violation!.reasons.join(' ')).toContain(
      `prefix list ${list.PrefixList!.PrefixListId} holds 0.0.0.0/0`,
    );
    expect(await violationsOf(privateRule!)).toEqual([]);
  });

  it('reads every region enabled in the bot’s account when scan.regions is not set', async () => {
    await loadHandlers(baseConfig());
    // No time to read anything: the run only plans its targets, then pauses.
    const outcome = await scan(
      undefined,
      contextWith(() => 1_000),
    );
    expect(outcome.state).toBe('paused');
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const { documentClient } = await import('../../support/aws');
    const cursor = (
      await documentClient().send(
        new GetCommand({ TableName: env.tableName, Key: { pk: 'SCAN#cursor', sk: 'SCAN' } }),
      )
    ).Item as ScanCursorItem;
    const regions = Object.values(cursor.targets).map((t) => t.region);
    expect(regions).toEqual(expect.arrayContaining(['us-east-1', 'eu-west-1', FIRST, RESUME]));
    expect(regions.length).toBeGreaterThan(10);
  });
});
