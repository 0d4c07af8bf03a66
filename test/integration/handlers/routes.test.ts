import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  EventBridgeEvent,
} from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import type { AlertItem, ViolationItem } from '../../../services/violations/items';
import {
  authorize,
  createGroup,
  documentClient,
  ec2Client,
  liveRuleIds,
  uniqueName,
} from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import {
  APPROVER,
  blockActionBody,
  ENGINEER,
  type SlackUser,
  signedEvent,
  viewSubmissionBody,
} from '../../support/slack-requests';

/**
 * slack.routes through the real handlers (moto and the Slack emulator): an alert goes to the channel of
 * the first route its account, region, group's EC2 tags, severity or principal match (in the order the
 * config lists them), else to the alert channel;
 * the route's own revokers and approvers decide it, read from the violation as stored.
 */

type HttpHandler = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const PAYMENTS = 'C0PAYMENTS';
const EUROPE = 'C0EUROPE';
const ONCALL = 'S0PAYONCALL';
const MEMBER_CHANNEL = 'C0MEMBERACCT';
const CI_CHANNEL = 'C0CIDEPLOY';
const CRITICAL_CHANNEL = 'C0CRITICAL';
/** A member account (watched, reached through its role): moto hands out its credentials on AssumeRole. */
const MEMBER = '210987654321';
const MEMBER_ROLE = 'sg-warden-member';
/** A deploy pipeline's role, under a path: the `ci` route matches it with `**` across the path. */
const CI_ROLE = 'arn:aws:iam::123456789012:role/pipelines/payments-ci-deploy';
const context = {} as Context;

let env: HandlerEnv;
let slackHttp: HttpHandler;
let cloudtrail: CloudTrailHandler;
let wiring: Wiring;

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig(`  routes:
    - name: payments
      tags: { team: "pay*" }
      channel: ${PAYMENTS}
      revokers: { users: [${APPROVER.id}] }
      approvers: { users: [${APPROVER.id}] }
      mention: ${ONCALL}
    - name: europe
      regions: [eu-west-1]
      channel: ${EUROPE}
    - name: member
      accounts: ["${MEMBER}"]
      channel: ${MEMBER_CHANNEL}
    - name: ci
      principals: ["arn:aws:iam::*:role/**-ci-deploy", "arn:aws:sts::*:assumed-role/*/release-bot"]
      channel: ${CI_CHANNEL}
    - name: critical
      severities: [critical]
      channel: ${CRITICAL_CHANNEL}
accounts:
  roleName: ${MEMBER_ROLE}
  watched: ["${MEMBER}"]
policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
  # The emulator's groups have nothing attached: keep their severity (this is not about exposure).
  exposure: { unattached: keep }
decisions:
  revokers: { users: [${ENGINEER.id}, ${APPROVER.id}] }
  approvers: { users: [${ENGINEER.id}] }
`),
    slack: {
      channelMembers: {
        [ALERT_CHANNEL]: [ENGINEER.id, APPROVER.id],
        [PAYMENTS]: [ENGINEER.id, APPROVER.id],
        [EUROPE]: [ENGINEER.id, APPROVER.id],
        [MEMBER_CHANNEL]: [ENGINEER.id, APPROVER.id],
        [CI_CHANNEL]: [ENGINEER.id, APPROVER.id],
        [CRITICAL_CHANNEL]: [ENGINEER.id, APPROVER.id],
      },
    },
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(() => env.stop());

async function getItem<T>(pk: string, sk: string): Promise<T> {
  const out = await documentClient().send(new GetCommand({ TableName: env.tableName, Key: { pk, sk } }));
  return out.Item as T;
}

const violation = (id: string) => getItem<ViolationItem>(`VIOLATION#${id}`, 'VIOLATION');
const drain = () => wiring.drainJobs!();

async function tag(region: string, groupId: string, tags: Record<string, string>): Promise<void> {
  await ec2Client(region).send(
    new CreateTagsCommand({
      Resources: [groupId],
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
}

/** EC2 in a member account, as the member role (moto answers as that account with its credentials). */
async function memberEc2(account: string, region: string): Promise<EC2Client> {
  const endpoint = process.env.MOTO_URL!;
  const sts = new STSClient({ region, endpoint });
  const out = await sts.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${account}:role/${MEMBER_ROLE}`,
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

/** A world-open rule on a group (tagged in EC2 as given), its CloudTrail event delivered. */
async function raise(options: {
  region?: string;
  tags?: Record<string, string>;
  groupId?: string;
  port?: [number, number];
  /** The account the group is in (a member account: made there through its role). */
  account?: string;
  /** The assumed role that made the change (the session issuer); the SSO admin role unless told. */
  roleArn?: string;
  /** The caller's own ARN (the role session); the factory's SSO session unless told. */
  principalArn?: string;
}): Promise<{ alert: AlertItem; groupId: string; ruleId: string; violationId: string }> {
  const region = options.region ?? 'us-east-1';
  const [from, to] = options.port ?? [22, 22];
  const permission = {
    IpProtocol: 'tcp',
    FromPort: from,
    ToPort: to,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  };
  let groupId: string;
  let ruleId: string | undefined;
  if (options.account) {
    const ec2 = await memberEc2(options.account, region);
    groupId = (
      await ec2.send(
        new CreateSecurityGroupCommand({ GroupName: uniqueName('member'), Description: 'member group' }),
      )
    ).GroupId!;
    const out = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [permission] }),
    );
    ruleId = out.SecurityGroupRules?.[0]?.SecurityGroupRuleId;
  } else {
    groupId = options.groupId ?? (await createGroup(region)).groupId;
    if (options.tags) await tag(region, groupId, options.tags);
    [ruleId] = await authorize(region, groupId, permission);
  }
  const record = authorizeIngressRecord({
    groupId,
    region,
    rules: [{ ruleId: ruleId!, fromPort: from, toPort: to, cidr: '0.0.0.0/0' }],
    ...(options.account ? { account: options.account } : {}),
    ...(options.roleArn
      ? {
          roleArn: options.roleArn,
          principalArn: `arn:aws:sts::123456789012:assumed-role/${options.roleArn.split('/').at(-1)}/deploy-7`,
        }
      : {}),
    ...(options.principalArn ? { principalArn: options.principalArn } : {}),
  });
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = await getItem<AlertItem>(`ALERT#${record.eventID}`, 'ALERT');
  return { alert, groupId, ruleId: ruleId!, violationId: alert.violationIds[0]! };
}

function press(actionId: string, value: string, options: { user: SlackUser; channel: string; ts: string }) {
  const responseUrl = env.slack.responseUrl();
  const body = blockActionBody({
    actionId,
    value,
    user: options.user,
    channel: options.channel,
    messageTs: options.ts,
    responseUrl,
  });
  return { sent: slackHttp(signedEvent(body), context), responseUrl };
}

function said(responseUrl: string): string {
  const id = responseUrl.split('/').at(-1);
  return JSON.stringify(env.slack.responseUrlPosts.filter((p) => p.id === id).map((p) => p.body));
}

function submitKeep(user: SlackUser, alert: AlertItem, violationId: string) {
  const metadata = JSON.stringify({
    violationIds: [violationId],
    alertId: alert.alertId,
    channel: alert.channel,
    ts: alert.ts,
  });
  return slackHttp(
    signedEvent(
      viewSubmissionBody({
        callbackId: 'keep_modal',
        privateMetadata: metadata,
        user,
        values: {
          keep_justification: { justification_input: { type: 'plain_text_input', value: 'load test' } },
          keep_duration: {
            duration_select: {
              type: 'static_select',
              selected_option: { text: { type: 'plain_text', text: '1 hour' }, value: '3600' },
            },
          },
        },
      }),
    ),
    context,
  );
}

describe('routes: where an alert goes', () => {
  it('posts to the channel of the route the group’s EC2 tags match, and records route and channel', async () => {
    const r = await raise({ tags: { team: 'payments', env: 'prod' } });
    expect(r.alert).toMatchObject({ status: 'POSTED', route: 'payments', channel: PAYMENTS });
    const post = env.slack
      .callsTo('chat.postMessage')
      .find((c) => JSON.stringify(c.args.metadata ?? {}).includes(r.alert.alertId));
    expect(post?.args.channel).toBe(PAYMENTS);
    expect(await violation(r.violationId)).toMatchObject({ route: 'payments', channel: PAYMENTS });
    const audit = await wiring.store.auditFor(r.alert.alertId);
    expect(audit.find((e) => e.action === 'detect')?.details).toMatchObject({
      route: 'payments',
      channel: PAYMENTS,
    });
    expect(audit.find((e) => e.toState === 'POSTED')?.details).toMatchObject({ channel: PAYMENTS });
    expect((await wiring.store.auditFor(r.violationId))[0]?.details).toMatchObject({ route: 'payments' });
    // High, not critical: the route's on-call group is not mentioned.
    expect(String(post?.args.text)).not.toContain('subteam');
  });

  it('mentions the route’s user group on a critical alert', async () => {
    const r = await raise({ tags: { team: 'payroll' }, port: [0, 65535] });
    expect(r.alert).toMatchObject({ route: 'payments', channel: PAYMENTS, mention: ONCALL });
    const post = env.slack
      .callsTo('chat.postMessage')
      .find((c) => c.args.channel === PAYMENTS && String(c.args.text).includes('CRITICAL'));
    expect(String(post?.args.text)).toMatch(new RegExp(`^<!subteam\\^${ONCALL}> `));
    expect(JSON.stringify(post?.args.blocks)).toContain(`<!subteam^${ONCALL}>`);
  });

  it('routes by region, and sends what no route matches to slack.alertChannel', async () => {
    const europe = await raise({ region: 'eu-west-1' });
    expect(europe.alert).toMatchObject({ route: 'europe', channel: EUROPE, status: 'POSTED' });
    const plain = await raise({ tags: { team: 'platform' } });
    expect(plain.alert).toMatchObject({ route: null, channel: ALERT_CHANNEL, status: 'POSTED' });
    expect(plain.alert.mention).toBeUndefined();
    const audit = await wiring.store.auditFor(plain.alert.alertId);
    expect(audit.find((e) => e.action === 'detect')?.details).toMatchObject({
      route: null,
      channel: ALERT_CHANNEL,
    });
  });

  it('reads the tags from EC2 at each event: a group re-tagged is routed by its new tags', async () => {
    const first = await raise({ tags: { team: 'payments' } });
    expect(first.alert.route).toBe('payments');
    await ec2Client('us-east-1').send(
      new DeleteTagsCommand({ Resources: [first.groupId], Tags: [{ Key: 'team' }] }),
    );
    const second = await raise({ groupId: first.groupId, port: [3389, 3389] });
    expect(second.alert).toMatchObject({ route: null, channel: ALERT_CHANNEL });
  });
});

describe('routes: each condition, and the first route that matches', () => {
  it('routes by account ID: a member account’s alert goes to its route, the same rule in our own account does not', async () => {
    const member = await raise({ account: MEMBER });
    expect(member.alert).toMatchObject({
      status: 'POSTED',
      account: MEMBER,
      route: 'member',
      channel: MEMBER_CHANNEL,
    });
    const post = env.slack
      .callsTo('chat.postMessage')
      .find((c) => JSON.stringify(c.args.metadata ?? {}).includes(member.alert.alertId));
    expect(post?.args.channel).toBe(MEMBER_CHANNEL);
    expect(await violation(member.violationId)).toMatchObject({ route: 'member', channel: MEMBER_CHANNEL });
    const own = await raise({});
    expect(own.alert).toMatchObject({ account: '123456789012', route: null, channel: ALERT_CHANNEL });
  });

  it('routes by severity: a critical alert no earlier route takes goes to the severity route, a high one does not', async () => {
    const critical = await raise({ port: [0, 65535] });
    expect(critical.alert).toMatchObject({ status: 'POSTED', route: 'critical', channel: CRITICAL_CHANNEL });
    expect(await violation(critical.violationId)).toMatchObject({
      severity: 'critical',
      route: 'critical',
      channel: CRITICAL_CHANNEL,
    });
    const high = await raise({ port: [22, 22] });
    expect(high.alert).toMatchObject({ route: null, channel: ALERT_CHANNEL });
    expect((await violation(high.violationId)).severity).toBe('high');
  });

  it('routes by principal ARN pattern: the assumed role’s ARN (`**` across its path) or the caller’s session ARN', async () => {
    const ci = await raise({ roleArn: CI_ROLE });
    expect(ci.alert).toMatchObject({ status: 'POSTED', route: 'ci', channel: CI_CHANNEL });
    const audit = await wiring.store.auditFor(ci.alert.alertId);
    expect(audit.find((e) => e.action === 'detect')?.details).toMatchObject({
      route: 'ci',
      channel: CI_CHANNEL,
    });
    // Another role (no -ci-deploy at the end) is not the pipeline's.
    const other = await raise({ roleArn: 'arn:aws:iam::123456789012:role/pipelines/payments-ci-deploy-old' });
    expect(other.alert).toMatchObject({ route: null, channel: ALERT_CHANNEL });
    // The route's second pattern names the caller's session ARN (`*` within one segment): a role the first
    // pattern does not know, under a session name the second does.
    const bot = await raise({
      principalArn: 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/release-bot',
    });
    expect(bot.alert).toMatchObject({ route: 'ci', channel: CI_CHANNEL });
  });

  it('takes the first route that matches when several do, in the order the config lists them', async () => {
    // payments (tags), europe (region) and critical (severity) all match: payments is listed first.
    const all = await raise({ region: 'eu-west-1', tags: { team: 'payments' }, port: [0, 65535] });
    expect(all.alert).toMatchObject({ route: 'payments', channel: PAYMENTS, mention: ONCALL });
    // europe and critical match: europe is listed first.
    const europe = await raise({ region: 'eu-west-1', port: [0, 65535] });
    expect(europe.alert).toMatchObject({ route: 'europe', channel: EUROPE });
    // ci and critical match: ci is listed first.
    const ci = await raise({ roleArn: CI_ROLE, port: [0, 65535] });
    expect(ci.alert).toMatchObject({ route: 'ci', channel: CI_CHANNEL });
    for (const r of [all, europe, ci]) {
      const post = env.slack
        .callsTo('chat.postMessage')
        .filter((c) => JSON.stringify(c.args.metadata ?? {}).includes(r.alert.alertId));
      expect(post.map((c) => c.args.channel)).toEqual([r.alert.channel]);
    }
  });
});

describe('routes: the route’s own revokers and approvers', () => {
  it('refuses Revoke to someone who may revoke elsewhere but not on this route, and lets the route’s revoker', async () => {
    const r = await raise({ tags: { team: 'payments' } });
    const refused = press('violation_revoke', r.violationId, {
      user: ENGINEER,
      channel: PAYMENTS,
      ts: r.alert.ts!,
    });
    expect((await refused.sent).statusCode).toBe(200);
    await drain();
    expect(said(refused.responseUrl)).toContain('may revoke rules routed to payments');
    expect(said(refused.responseUrl)).toContain('NOT_AUTHORISED');
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    expect(await liveRuleIds('us-east-1', r.groupId)).toContain(r.ruleId);
    const entry = (await wiring.store.auditFor(r.violationId)).at(-1);
    expect(entry).toMatchObject({ action: 'revoke', result: 'refused', actorId: ENGINEER.id });

    const allowed = press('violation_revoke', r.violationId, {
      user: APPROVER,
      channel: PAYMENTS,
      ts: r.alert.ts!,
    });
    await allowed.sent;
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'REVOKED', decidedBy: APPROVER.id });
    expect(await liveRuleIds('us-east-1', r.groupId)).not.toContain(r.ruleId);
  });

  it('refuses Keep to a decisions approver on a route with its own approvers, and lets the route’s approver', async () => {
    const r = await raise({ tags: { team: 'payments' } });
    await submitKeep(ENGINEER, r.alert, r.violationId);
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    const refused = (await wiring.store.auditFor(r.violationId)).at(-1);
    expect(refused).toMatchObject({ action: 'keep', result: 'refused', actorId: ENGINEER.id });
    expect(refused?.error).toContain('may keep rules routed to payments');

    await submitKeep(APPROVER, r.alert, r.violationId);
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'KEPT', decidedBy: APPROVER.id });
  });

  it('keeps decisions.* for what no route with lists carries', async () => {
    const r = await raise({ tags: { team: 'platform' } });
    await submitKeep(APPROVER, r.alert, r.violationId);
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    await submitKeep(ENGINEER, r.alert, r.violationId);
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'KEPT', decidedBy: ENGINEER.id });
  });

  it('takes the route from the stored violation, never from the button: a press naming another channel is refused', async () => {
    const r = await raise({ tags: { team: 'payments' } });
    // The engineer may revoke in the alert channel; a forged press there naming the routed rule changes nothing.
    const forged = press('violation_revoke', r.violationId, {
      user: ENGINEER,
      channel: ALERT_CHANNEL,
      ts: r.alert.ts!,
    });
    await forged.sent;
    await drain();
    expect(said(forged.responseUrl)).toContain('WRONG_MESSAGE');
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    expect(await liveRuleIds('us-east-1', r.groupId)).toContain(r.ruleId);
  });
});
