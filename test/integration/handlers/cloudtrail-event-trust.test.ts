import {
  AuthorizeSecurityGroupIngressCommand,
  CreateManagedPrefixListCommand,
  CreateSecurityGroupCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import type { StoredAuditEntry } from '../../../services/kernel/audit';
import {
  authorize,
  createGroup,
  documentClient,
  ec2Client,
  liveRuleIds,
  uniqueName,
} from '../../support/aws';
import {
  authorizeIngressRecord,
  eventBridgeEvent,
  type RuleSpec,
  revokeIngressRecord,
} from '../../support/cloudtrail-factory';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';

/**
 * The detection side of the trust boundary (#12 items 2 and 3, #19 cases 3 and 4), through the real
 * handler with moto and the Slack emulator: events are hints that EC2 must confirm; unwatched accounts
 * and events that do not add up are refused; a member account sg-warden cannot act in is said so;
 * principal rules match the caller; prefix lists are judged by their entries.
 */

type Handler = (
  event: EventBridgeEvent<string, unknown>,
) => Promise<{ processed: number; violations: number }>;

const REGION = 'us-east-1';
const MEMBER = '210987654321';
const UNWATCHED = '999988887777';
let env: HandlerEnv;
let handler: Handler;

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
  # These tests are about what detection trusts, not exposure (test/integration/handlers/exposure.test.ts).
  exposure: { enabled: false }
  principals:
    - arn: "arn:aws:iam::*:role/*-ci-deploy"
      action: notify
    - arn: "arn:aws:iam::123456789012:role/PlatformEngineer"
      invokedBy: cloudformation.amazonaws.com
      action: notify
    - arn: "arn:aws:iam::*:role/**-break-glass"
      action: notify
      allowCritical: true
accounts:
  watched: ["${MEMBER}"]
`),
  });
  ({ handler } = await import('../../../handlers/cloudtrail-event'));
});

afterAll(() => env.stop());

beforeEach(() => env.slack.reset());

function deliver(record: Record<string, unknown>, envelope: Record<string, unknown> = {}) {
  return handler({ ...eventBridgeEvent(record), ...envelope } as unknown as EventBridgeEvent<
    string,
    unknown
  >);
}

async function getItem(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
  return (await documentClient().send(new GetCommand({ TableName: env.tableName, Key: { pk, sk } }))).Item;
}

async function auditOf(subjectId: string): Promise<StoredAuditEntry[]> {
  const out = await documentClient().send(
    new QueryCommand({
      TableName: env.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `AUDIT#${subjectId}` },
    }),
  );
  return (out.Items ?? []) as StoredAuditEntry[];
}

async function openToWorld(port: number, protocol = 'tcp'): Promise<{ groupId: string; ruleId: string }> {
  const { groupId } = await createGroup(REGION);
  const [ruleId] = await authorize(REGION, groupId, {
    IpProtocol: protocol,
    ...(protocol === '-1' ? {} : { FromPort: port, ToPort: port }),
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  return { groupId, ruleId: ruleId! };
}

/** Delivers the authorize event of a world-open rule; returns the one violation it raised. */
async function raise(port = 22): Promise<{ groupId: string; ruleId: string; violationId: string }> {
  const { groupId, ruleId } = await openToWorld(port);
  const record = authorizeIngressRecord({ groupId, rules: [{ ruleId, fromPort: port, cidr: '0.0.0.0/0' }] });
  await deliver(record);
  const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
  return { groupId, ruleId, violationId: (alert!.violationIds as string[])[0]! };
}

async function violation(id: string) {
  return getItem(`VIOLATION#${id}`, 'VIOLATION');
}

function postedText(): string {
  return JSON.stringify(env.slack.callsTo('chat.postMessage').map((c) => c.args));
}

describe('#12.2 events are checked against AWS before they close anything', () => {
  it('#12.2 a forged revoke event leaves the violation PENDING, logged and audited, and the sweeper auto-revokes it at its deadline', async () => {
    const r = await raise();

    // The rule is still there: nobody revoked it, whatever the event says.
    const forged = revokeIngressRecord({ groupId: r.groupId, ruleIds: [r.ruleId] });
    const result = await deliver(forged);

    expect(result).toEqual({ processed: 1, violations: 0 });
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING', gsi1pk: 'DUE#DEADLINE' });
    expect(env.slack.callsTo('chat.update')).toHaveLength(0);
    expect((await auditOf(r.violationId)).at(-1)).toMatchObject({
      action: 'removed-outside',
      result: 'refused',
      fromState: 'PENDING',
      actorType: 'aws-principal',
      error: expect.stringContaining('EC2 still has it'),
      details: expect.objectContaining({ code: 'REMOVAL_NOT_CONFIRMED', eventId: forged.eventID }),
    });

    const { sweep } = await import('../../../services/kernel/sweep');
    const { dueHandlers } = await import('../../../handlers/wiring');
    const wiring = (await import('../../../handlers/wiring')).getWiring();
    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 16 * 60_000));

    expect(await violation(r.violationId)).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'timeout' });
    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleId);
  });

  it('#12.2 refuses a revoke event whose region is not the violation’s, and a group EC2 does not have there', async () => {
    const r = await raise();

    const elsewhere = revokeIngressRecord({ groupId: r.groupId, ruleIds: [r.ruleId], region: 'eu-west-1' });
    await deliver(elsewhere);

    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    expect((await auditOf(r.violationId)).at(-1)).toMatchObject({
      result: 'refused',
      error: expect.stringContaining(`which is in account 123456789012 ${REGION}`),
      details: expect.objectContaining({ code: 'EVENT_MISMATCH', eventRegion: 'eu-west-1' }),
    });

    // An authorize event naming this us-east-1 group and rule as if they were in eu-west-1.
    env.slack.reset();
    const misplaced = authorizeIngressRecord({
      groupId: r.groupId,
      region: 'eu-west-1',
      rules: [{ ruleId: r.ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
    });
    expect(await deliver(misplaced)).toEqual({ processed: 1, violations: 0 });
    expect(await getItem(`ALERT#${misplaced.eventID}`, 'ALERT')).toBeUndefined();
    expect(await auditOf(String(misplaced.eventID))).toEqual([
      expect.objectContaining({
        result: 'refused',
        details: expect.objectContaining({ code: 'EVENT_MISMATCH' }),
      }),
    ]);
    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(0);
  });

  it('#12.2 refuses an event whose envelope and record disagree about the account or region', async () => {
    const { groupId, ruleId } = await openToWorld(3389);
    const record = authorizeIngressRecord({
      groupId,
      rules: [{ ruleId, fromPort: 3389, cidr: '0.0.0.0/0' }],
    });

    await deliver(record, { region: 'eu-west-1' });
    const other = { ...record, eventID: crypto.randomUUID() };
    await deliver(other, { account: UNWATCHED });

    expect(await getItem(`ALERT#${record.eventID}`, 'ALERT')).toBeUndefined();
    expect(await getItem(`ALERT#${other.eventID}`, 'ALERT')).toBeUndefined();
    expect((await auditOf(String(record.eventID)))[0]).toMatchObject({
      result: 'refused',
      error: expect.stringContaining('the event says region eu-west-1, its CloudTrail record us-east-1'),
    });
    expect((await auditOf(String(other.eventID)))[0]).toMatchObject({
      result: 'refused',
      error: expect.stringContaining(`the event says account ${UNWATCHED}`),
    });
    expect(env.slack.calls).toHaveLength(0);
  });

  it('#12.2 refuses an event from an account that is not watched, without evaluating it in the central account', async () => {
    const { groupId, ruleId } = await openToWorld(22);
    // The same group and rule exist in the central account: a refusal must not look there.
    const record = authorizeIngressRecord({
      groupId,
      account: UNWATCHED,
      rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
    });

    expect(await deliver(record)).toEqual({ processed: 1, violations: 0 });

    expect(await getItem(`ALERT#${record.eventID}`, 'ALERT')).toBeUndefined();
    expect(await auditOf(String(record.eventID))).toEqual([
      expect.objectContaining({
        subjectType: 'alert',
        action: 'detect',
        result: 'refused',
        error: expect.stringContaining(
          `account ${UNWATCHED}, which sg-warden does not watch (accounts.watched)`,
        ),
        details: expect.objectContaining({ code: 'ACCOUNT_NOT_WATCHED' }),
      }),
    ]);
    expect(env.slack.calls).toHaveLength(0);
  });
});

describe('#12.3 member accounts without a role are an error, not a silence', () => {
  async function groupInMember(): Promise<{ groupId: string; ruleId: string }> {
    const endpoint = process.env.MOTO_URL!;
    const out = await new STSClient({ region: REGION, endpoint }).send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${MEMBER}:role/any`, RoleSessionName: 'test' }),
    );
    const c = out.Credentials!;
    const ec2 = new EC2Client({
      region: REGION,
      endpoint,
      credentials: {
        accessKeyId: c.AccessKeyId!,
        secretAccessKey: c.SecretAccessKey!,
        sessionToken: c.SessionToken!,
      },
    });
    const group = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: uniqueName('member'),
        Description: 'member account group',
      }),
    );
    const rule = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: group.GroupId!,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    return { groupId: group.GroupId!, ruleId: rule.SecurityGroupRules![0]!.SecurityGroupRuleId! };
  }

  it('#12.3 stores and posts a member-account event with the reason, notify-only, and never resolves it GONE', async () => {
    const { groupId, ruleId } = await groupInMember();
    const record = authorizeIngressRecord({
      groupId,
      account: MEMBER,
      rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
    });

    expect(await deliver(record)).toEqual({ processed: 1, violations: 1 });

    const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
    expect(alert).toMatchObject({ status: 'POSTED', account: MEMBER, channel: ALERT_CHANNEL });
    const violationId = (alert!.violationIds as string[])[0]!;
    expect(await violation(violationId)).toMatchObject({
      status: 'PENDING',
      action: 'notify',
      deadline: null,
      reasons: expect.arrayContaining([
        `sg-warden cannot act in account ${MEMBER}: accounts.roleName is not set; this rule was not checked in EC2 and will not be revoked`,
      ]),
    });
    expect(postedText()).toContain(`sg-warden cannot act in account ${MEMBER}: accounts.roleName is not set`);

    // The central account's EC2 does not know the rule; that does not make it gone.
    await deliver(revokeIngressRecord({ groupId, ruleIds: [ruleId], account: MEMBER }));

    expect(await violation(violationId)).toMatchObject({ status: 'PENDING' });
    expect((await auditOf(violationId)).at(-1)).toMatchObject({
      result: 'refused',
      error: expect.stringContaining(
        `sg-warden cannot act in account ${MEMBER}: accounts.roleName is not set`,
      ),
      details: expect.objectContaining({ code: 'ACCOUNT_UNREACHABLE' }),
    });
  });
});

describe('#19 case 3: principal rules match the principal that made the call', () => {
  async function findingFor(options: {
    port?: number;
    protocol?: string;
    principalArn: string;
    roleArn: string;
    invokedBy?: string;
  }): Promise<Record<string, unknown>> {
    const { groupId, ruleId } = await openToWorld(options.port ?? 22, options.protocol);
    const rule: RuleSpec =
      options.protocol === '-1'
        ? { ruleId, protocol: '-1', cidr: '0.0.0.0/0' }
        : { ruleId, fromPort: options.port ?? 22, cidr: '0.0.0.0/0' };
    const record = authorizeIngressRecord({
      groupId,
      rules: [rule],
      principalArn: options.principalArn,
      roleArn: options.roleArn,
      ...(options.invokedBy ? { invokedBy: options.invokedBy } : {}),
    });
    await deliver(record);
    const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
    return (await violation((alert!.violationIds as string[])[0]!))!;
  }

  const role = (name: string) => `arn:aws:iam::123456789012:role/${name}`;
  const session = (name: string) => `arn:aws:sts::123456789012:assumed-role/${name.split('/').at(-1)}/s`;

  it('case 3: an engineer’s own CloudFormation stack opening SSH to the world is an alert with a deadline', async () => {
    const v = await findingFor({
      principalArn: session('Developer'),
      roleArn: role('Developer'),
      invokedBy: 'cloudformation.amazonaws.com',
    });
    expect(v).toMatchObject({ severity: 'high', action: 'alert', deadline: expect.any(String) });
  });

  it('case 3: invokedBy narrows a rule that names the principal: the platform role through CloudFormation is notify-only', async () => {
    const viaStack = await findingFor({
      principalArn: session('PlatformEngineer'),
      roleArn: role('PlatformEngineer'),
      invokedBy: 'cloudformation.amazonaws.com',
    });
    const byHand = await findingFor({
      principalArn: session('PlatformEngineer'),
      roleArn: role('PlatformEngineer'),
    });
    expect(viaStack).toMatchObject({ action: 'notify', deadline: null });
    expect(byHand).toMatchObject({ action: 'alert', deadline: expect.any(String) });
  });

  it('case 3: `*` stays within one ARN segment and `**` crosses it', async () => {
    const pathedCi = await findingFor({
      principalArn: session('x-ci-deploy'),
      roleArn: role('team/x-ci-deploy'),
    });
    const ci = await findingFor({ principalArn: session('x-ci-deploy'), roleArn: role('x-ci-deploy') });
    const pathedBreakGlass = await findingFor({
      principalArn: session('ops-break-glass'),
      roleArn: role('team/ops-break-glass'),
    });
    expect(pathedCi).toMatchObject({ action: 'alert' });
    expect(ci).toMatchObject({ action: 'notify' });
    expect(pathedBreakGlass).toMatchObject({ action: 'notify' });
  });

  it('case 3: a critical finding stays an alert unless the principal rule sets allowCritical', async () => {
    const ci = await findingFor({
      protocol: '-1',
      principalArn: session('x-ci-deploy'),
      roleArn: role('x-ci-deploy'),
    });
    const breakGlass = await findingFor({
      protocol: '-1',
      principalArn: session('ops-break-glass'),
      roleArn: role('ops-break-glass'),
    });
    expect(ci).toMatchObject({ severity: 'critical', action: 'alert', deadline: expect.any(String) });
    expect(ci.reasons).toEqual(
      expect.arrayContaining([
        expect.stringContaining('but not for critical findings (the rule does not set allowCritical)'),
      ]),
    );
    expect(breakGlass).toMatchObject({ severity: 'critical', action: 'notify', deadline: null });
  });
});

describe('#19 case 4: rules whose source is a prefix list', () => {
  async function prefixListRule(entries: string[], port = 22) {
    const ec2 = ec2Client(REGION);
    const list = await ec2.send(
      new CreateManagedPrefixListCommand({
        PrefixListName: uniqueName('pl'),
        AddressFamily: 'IPv4',
        MaxEntries: 10,
        Entries: entries.map((Cidr) => ({ Cidr })),
      }),
    );
    const prefixListId = list.PrefixList!.PrefixListId!;
    const { groupId } = await createGroup(REGION);
    const [ruleId] = await authorize(REGION, groupId, {
      IpProtocol: 'tcp',
      FromPort: port,
      ToPort: port,
      PrefixListIds: [{ PrefixListId: prefixListId }],
    });
    const record = authorizeIngressRecord({
      groupId,
      rules: [{ ruleId: ruleId!, fromPort: port, prefixListId }],
    });
    return { prefixListId, record };
  }

  it('case 4: a prefix-list rule whose list holds 0.0.0.0/0 violates like the CIDR and the alert names the list; a list of private ranges raises nothing', async () => {
    const { prefixListId, record } = await prefixListRule(['10.0.0.0/8', '0.0.0.0/0']);
    const privateOnly = await prefixListRule(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']);

    expect(await deliver(record)).toEqual({ processed: 1, violations: 1 });
    expect(await deliver(privateOnly.record)).toEqual({ processed: 1, violations: 0 });

    const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
    expect(await violation((alert!.violationIds as string[])[0]!)).toMatchObject({
      severity: 'high',
      action: 'alert',
      rule: expect.objectContaining({ source: prefixListId, sourceKind: 'prefix-list' }),
      reasons: [
        `prefix list ${prefixListId} holds 0.0.0.0/0: admin or data port 22 (SSH) open: 0.0.0.0/0 is the whole internet`,
      ],
    });
    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(1);
    expect(postedText()).toContain(`prefix list ${prefixListId} holds 0.0.0.0/0`);
    expect(await getItem(`ALERT#${privateOnly.record.eventID}`, 'ALERT')).toBeUndefined();
  });
});
