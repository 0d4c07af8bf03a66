import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  EventBridgeEvent,
} from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import { dmChannelFor } from '../../../local/shared/slack-emulator';
import type { RecordedCall } from '../../../local/shared/slack-emulator-types';
import type { AskItem } from '../../../services/actors/items';
import type { AlertItem, ViolationItem } from '../../../services/violations/items';
import { authorize, createGroup, documentClient, ec2Client, liveRuleIds } from '../../support/aws';
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
 * Asking the change's author (#21 item 2) through the real handlers, moto and the Slack emulator: who they
 * are (decisions.principalToSlack, or their Identity Center session / IAM user e-mail looked up in Slack),
 * the direct message with Revoke it now and I need it, the answer on the channel's alert, the self-approval
 * refusal, and a DM that cannot be sent.
 */

type HttpHandler = (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const ACCOUNT = '123456789012';
const PAYMENTS = 'C0PAYMENTS';
const PAY_APPROVERS = 'S0PAYAPPROVERS';
/** A deploy role's session the principal map names as the engineer. */
const MAPPED = `arn:aws:sts::${ACCOUNT}:assumed-role/deploy-role/erin`;
const SSO_ROLE = `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PowerUser_0a1b`;
const ssoSession = (email: string) =>
  `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_PowerUser_0a1b/${email}`;
const ENGINEER_DM = dmChannelFor(ENGINEER.id);
const context = {} as Context;

let env: HandlerEnv;
let slackHttp: HttpHandler;
let cloudtrail: CloudTrailHandler;
let wiring: Wiring;

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig(`  routes:
    - name: payments
      tags: { team: payments }
      channel: ${PAYMENTS}
      revokers: { users: [${APPROVER.id}] }
      approvers: { users: [${ENGINEER.id}, ${APPROVER.id}], userGroups: [${PAY_APPROVERS}] }
policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
decisions:
  principalToSlack:
    "${MAPPED}": ${ENGINEER.id}
    "arn:aws:sts::*:assumed-role/deploy-role/ghost": U0GONE
`),
    slack: {
      users: {
        [ENGINEER.id]: { name: ENGINEER.name, realName: 'Erin Engineer', email: 'Erin.Engineer@example.com' },
        [APPROVER.id]: { name: APPROVER.name, realName: 'Alex Approver', email: 'alex.approver@example.com' },
      },
      userGroups: { [PAY_APPROVERS]: [] },
      channelMembers: { [ALERT_CHANNEL]: [ENGINEER.id, APPROVER.id], [PAYMENTS]: [ENGINEER.id, APPROVER.id] },
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
const askOf = (alertId: string) => getItem<AskItem | undefined>(`ASK#${alertId}`, 'ASK');
const alertOf = (alertId: string) => getItem<AlertItem>(`ALERT#${alertId}`, 'ALERT');
const drain = () => wiring.drainJobs!();

interface Raised {
  alert: AlertItem;
  groupId: string;
  ruleId: string;
  violationId: string;
}

/** A world-open SSH rule on a payments group, made by `principal` (with its role), its event delivered. */
async function raise(
  principal: string,
  roleArn = `arn:aws:iam::${ACCOUNT}:role/deploy-role`,
): Promise<Raised> {
  const { groupId } = await createGroup('us-east-1');
  await ec2Client('us-east-1').send(
    new CreateTagsCommand({ Resources: [groupId], Tags: [{ Key: 'team', Value: 'payments' }] }),
  );
  const [ruleId] = await authorize('us-east-1', groupId, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  const record = authorizeIngressRecord({
    groupId,
    principalArn: principal,
    roleArn,
    rules: [{ ruleId: ruleId!, fromPort: 22, cidr: '0.0.0.0/0' }],
  });
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = await alertOf(String(record.eventID));
  return { alert, groupId, ruleId: ruleId!, violationId: alert.violationIds[0]! };
}

/** The direct messages sent to a user's ID that mention this alert's group. */
function dmsAbout(user: string, r: Raised): RecordedCall[] {
  return env.slack
    .callsTo('chat.postMessage')
    .filter((c) => c.args.channel === user && JSON.stringify(c.args.blocks).includes(r.groupId));
}

function press(
  actionId: string,
  value: string,
  options: { user: SlackUser; channel: string; ts: string; triggerId?: string },
) {
  const responseUrl = env.slack.responseUrl();
  const body = blockActionBody({
    actionId,
    value,
    user: options.user,
    channel: options.channel,
    messageTs: options.ts,
    responseUrl,
    ...(options.triggerId ? { triggerId: options.triggerId } : {}),
  });
  return { sent: slackHttp(signedEvent(body), context), responseUrl };
}

function said(responseUrl: string): string {
  const id = responseUrl.split('/').at(-1);
  return JSON.stringify(env.slack.responseUrlPosts.filter((p) => p.id === id).map((p) => p.body));
}

function submitNeed(user: SlackUser, metadata: string, reason: string) {
  return slackHttp(
    signedEvent(
      viewSubmissionBody({
        callbackId: 'actor_need_modal',
        privateMetadata: metadata,
        user,
        values: { actor_need_reason: { justification_input: { type: 'plain_text_input', value: reason } } },
      }),
    ),
    context,
  );
}

function submitKeep(user: SlackUser, alert: AlertItem, violationId: string) {
  return slackHttp(
    signedEvent(
      viewSubmissionBody({
        callbackId: 'keep_modal',
        privateMetadata: JSON.stringify({
          violationIds: [violationId],
          alertId: alert.alertId,
          channel: alert.channel,
          ts: alert.ts,
        }),
        user,
        values: {
          keep_justification: { justification_input: { type: 'plain_text_input', value: 'needed' } },
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

/** The last chat.update of a message. */
function lastUpdate(channel: string, ts: string): string {
  const call = env.slack
    .callsTo('chat.update')
    .filter((c) => c.args.channel === channel && c.args.ts === ts)
    .at(-1);
  return JSON.stringify(call?.args.blocks ?? null);
}

describe('asking the author: who they are', () => {
  it('sends the person decisions.principalToSlack names a direct message: what, where, the deadline, two buttons', async () => {
    const r = await raise(MAPPED);
    expect(r.alert).toMatchObject({ status: 'POSTED', channel: PAYMENTS });
    const [dm] = dmsAbout(ENGINEER.id, r);
    expect(dm).toBeDefined();
    const blocks = JSON.stringify(dm!.args.blocks);
    expect(blocks).toContain(r.groupId);
    expect(blocks).toContain('TCP 22 (SSH) from 0.0.0.0/0');
    expect(blocks).toContain(`account ${ACCOUNT}`);
    expect(blocks).toContain('us-east-1');
    expect(blocks).toContain(
      `<!date^${Math.floor(new Date((await violation(r.violationId)).deadline!).getTime() / 1000)}^`,
    );
    expect(blocks).toContain(`<#${PAYMENTS}>`);
    expect(blocks).toContain('"action_id":"actor_revoke"');
    expect(blocks).toContain('"action_id":"actor_need"');
    // The DM is the app's conversation with them (D…), as Slack answers a post to a user's ID.
    expect(await askOf(r.alert.alertId)).toMatchObject({
      status: 'ASKED',
      user: ENGINEER.id,
      via: 'map',
      channel: ENGINEER_DM,
    });
    expect(await violation(r.violationId)).toMatchObject({ actorUser: ENGINEER.id });
    const audit = await wiring.store.auditFor(r.alert.alertId);
    expect(audit.find((e) => e.action === 'ask-actor')).toMatchObject({
      fromState: 'SENDING',
      toState: 'ASKED',
      result: 'ok',
      details: expect.objectContaining({ user: ENGINEER.id, via: 'map', channel: PAYMENTS }),
    });
    expect(
      env.slack.callsTo('users.lookupByEmail').filter((c) => String(c.args.email).includes('erin')),
    ).toHaveLength(0);
  });

  it('finds an Identity Center user by the e-mail their session is named, looked up once per container', async () => {
    const before = env.slack.callsTo('users.lookupByEmail').length;
    const first = await raise(ssoSession('erin.engineer@example.com'), SSO_ROLE);
    const second = await raise(ssoSession('ERIN.engineer@example.com'), SSO_ROLE);
    for (const r of [first, second]) {
      expect(dmsAbout(ENGINEER.id, r)).toHaveLength(1);
      expect(await askOf(r.alert.alertId)).toMatchObject({
        status: 'ASKED',
        user: ENGINEER.id,
        via: 'email',
      });
    }
    const lookups = env.slack.callsTo('users.lookupByEmail').slice(before);
    expect(lookups.map((c) => c.args.email)).toEqual(['erin.engineer@example.com']);
  });

  it('never believes an e-mail session name on a role that is not Identity Center’s', async () => {
    const before = env.slack.callsTo('users.lookupByEmail').length;
    const r = await raise(`arn:aws:sts::${ACCOUNT}:assumed-role/anyone-can-assume/alex.approver@example.com`);
    expect(env.slack.callsTo('users.lookupByEmail').length).toBe(before);
    expect(await askOf(r.alert.alertId)).toBeUndefined();
    expect(dmsAbout(APPROVER.id, r)).toHaveLength(0);
  });

  it('asks once, however often the event is delivered', async () => {
    const r = await raise(MAPPED);
    await cloudtrail(
      eventBridgeEvent(
        authorizeIngressRecord({
          groupId: r.groupId,
          principalArn: MAPPED,
          eventId: r.alert.eventId,
          rules: [{ ruleId: r.ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
        }),
      ) as unknown as EventBridgeEvent<string, unknown>,
    );
    expect(dmsAbout(ENGINEER.id, r)).toHaveLength(1);
  });
});

describe('asking the author: a DM that cannot be sent', () => {
  it('records a lookup that finds nobody, and posts the alert all the same', async () => {
    const r = await raise(ssoSession('nobody@example.com'), SSO_ROLE);
    expect(r.alert.status).toBe('POSTED');
    expect(await askOf(r.alert.alertId)).toMatchObject({ status: 'FAILED', user: '' });
    const entry = (await wiring.store.auditFor(r.alert.alertId)).find((e) => e.action === 'ask-actor');
    expect(entry).toMatchObject({
      toState: 'FAILED',
      result: 'error',
      error: 'no Slack user has the e-mail address nobody@example.com',
    });
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    expect((await violation(r.violationId)).actorUser).toBeUndefined();
  });

  it('records a lookup Slack could not answer', async () => {
    env.slack.failNext('users.lookupByEmail', { kind: 'error', error: 'missing_scope' });
    const r = await raise(ssoSession('someone.new@example.com'), SSO_ROLE);
    expect(r.alert.status).toBe('POSTED');
    const entry = (await wiring.store.auditFor(r.alert.alertId)).find((e) => e.action === 'ask-actor');
    expect(entry).toMatchObject({ toState: 'FAILED', result: 'error' });
    expect(entry?.error).toContain('Slack could not look up someone.new@example.com');
    expect(entry?.error).toContain('missing_scope');
  });

  it('records a direct message Slack refuses (no such user), and the alert stands', async () => {
    const r = await raise(`arn:aws:sts::${ACCOUNT}:assumed-role/deploy-role/ghost`);
    expect(r.alert.status).toBe('POSTED');
    expect(await askOf(r.alert.alertId)).toMatchObject({ status: 'FAILED', user: 'U0GONE' });
    const entry = (await wiring.store.auditFor(r.alert.alertId)).find((e) => e.action === 'ask-actor');
    expect(entry).toMatchObject({ fromState: 'SENDING', toState: 'FAILED', result: 'error' });
    expect(entry?.error).toContain('channel_not_found');
  });
});

describe('asking the author: their answers', () => {
  it('Revoke it now: revokes their change though they are no revoker, shows it on the alert, and clears the DM', async () => {
    const r = await raise(MAPPED);
    const ask = (await askOf(r.alert.alertId))!;
    const p = press('actor_revoke', r.alert.alertId, { user: ENGINEER, channel: ENGINEER_DM, ts: ask.ts! });
    expect((await p.sent).statusCode).toBe(200);
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
    expect(await liveRuleIds('us-east-1', r.groupId)).not.toContain(r.ruleId);
    expect(await askOf(r.alert.alertId)).toMatchObject({ status: 'REVOKED' });
    const alert = await alertOf(r.alert.alertId);
    expect(alert.actorAsk).toMatchObject({ user: ENGINEER.id, status: 'REVOKED' });
    expect(lastUpdate(PAYMENTS, alert.ts!)).toContain(`<@${ENGINEER.id}> took their own change back`);
    const dm = lastUpdate(ENGINEER_DM, ask.ts!);
    expect(dm).toContain('You revoked it');
    expect(dm).not.toContain('actor_revoke');
    expect(
      (await wiring.store.auditFor(r.alert.alertId)).find((e) => e.action === 'actor-answer'),
    ).toMatchObject({
      fromState: 'ASKED',
      toState: 'REVOKED',
      actorType: 'slack-user',
      actorId: ENGINEER.id,
    });
    // Pressed again: refused, nothing revoked twice.
    const again = press('actor_revoke', r.alert.alertId, {
      user: ENGINEER,
      channel: ENGINEER_DM,
      ts: ask.ts!,
    });
    await again.sent;
    await drain();
    expect(said(again.responseUrl)).toContain('ALREADY_DECIDED');
  });

  it('the author may revoke their own change from the channel’s alert too', async () => {
    const r = await raise(MAPPED);
    const p = press('violation_revoke', r.violationId, {
      user: ENGINEER,
      channel: PAYMENTS,
      ts: r.alert.ts!,
    });
    await p.sent;
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
  });

  it('I need it: the reason goes to the thread for the approvers, the audit and the alert; nothing is kept', async () => {
    const r = await raise(ssoSession('erin.engineer@example.com'), SSO_ROLE);
    const ask = (await askOf(r.alert.alertId))!;
    const triggerId = `${Date.now()}.need`;
    const opened = press('actor_need', r.alert.alertId, {
      user: ENGINEER,
      channel: ENGINEER_DM,
      ts: ask.ts!,
      triggerId,
    });
    expect((await opened.sent).statusCode).toBe(200);
    const open = env.slack.callsTo('views.open').find((c) => c.args.trigger_id === triggerId)!;
    const view = open.args.view as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe('actor_need_modal');
    expect(JSON.parse(view.private_metadata)).toEqual({
      alertId: r.alert.alertId,
      channel: ENGINEER_DM,
      ts: ask.ts,
    });

    const empty = await submitNeed(ENGINEER, view.private_metadata, '  ');
    expect(JSON.parse(empty.body!)).toEqual({
      response_action: 'errors',
      errors: { actor_need_reason: expect.stringContaining('Say why') },
    });
    const reason = 'Vendor <support> needs SSH during the migration\n(until Friday)';
    expect((await submitNeed(ENGINEER, view.private_metadata, reason)).statusCode).toBe(200);
    await drain();

    expect(await askOf(r.alert.alertId)).toMatchObject({ status: 'NEEDED', justification: reason });
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    const entry = (await wiring.store.auditFor(r.alert.alertId)).find((e) => e.toState === 'NEEDED');
    expect(entry).toMatchObject({ action: 'actor-answer', actorId: ENGINEER.id, justification: reason });
    const alert = await alertOf(r.alert.alertId);
    const thread = env.slack
      .callsTo('chat.postMessage')
      .find((c) => c.args.channel === PAYMENTS && c.args.thread_ts === alert.ts);
    const notice = String(thread?.args.text);
    expect(notice).toContain(`<@${ENGINEER.id}> made this change and says they need it`);
    expect(notice).toContain(`<@${APPROVER.id}>`);
    expect(notice).toContain(`<!subteam^${PAY_APPROVERS}>`);
    expect(notice).toContain('Vendor &lt;support&gt; needs SSH');
    const shown = lastUpdate(PAYMENTS, alert.ts!);
    expect(shown).toContain('says they need it');
    expect(shown).toContain('Vendor &lt;support&gt;');
    // The DM keeps only Revoke it now.
    const dm = lastUpdate(ENGINEER_DM, ask.ts!);
    expect(dm).toContain('actor_revoke');
    expect(dm).not.toContain('actor_need');
  });

  it('still refuses the author keeping their own change (self-approval), found by e-mail; another approver may', async () => {
    const r = await raise(ssoSession('erin.engineer@example.com'), SSO_ROLE);
    await submitKeep(ENGINEER, r.alert, r.violationId);
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    expect((await wiring.store.auditFor(r.violationId)).at(-1)).toMatchObject({
      action: 'keep',
      result: 'refused',
      actorId: ENGINEER.id,
      error: expect.stringContaining('your own AWS identity'),
    });
    await submitKeep(APPROVER, r.alert, r.violationId);
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'KEPT', decidedBy: APPROVER.id });
  });

  it('refuses the buttons to anyone but the author, and from any message but the DM', async () => {
    const r = await raise(MAPPED);
    const ask = (await askOf(r.alert.alertId))!;
    const other = press('actor_revoke', r.alert.alertId, {
      user: APPROVER,
      channel: ENGINEER_DM,
      ts: ask.ts!,
    });
    await other.sent;
    await drain();
    expect(said(other.responseUrl)).toContain('NOT_YOURS');
    const elsewhere = press('actor_revoke', r.alert.alertId, {
      user: ENGINEER,
      channel: PAYMENTS,
      ts: r.alert.ts!,
    });
    await elsewhere.sent;
    await drain();
    expect(said(elsewhere.responseUrl)).toContain('WRONG_MESSAGE');
    const forgedNeed = await submitNeed(
      ENGINEER,
      JSON.stringify({ alertId: r.alert.alertId, channel: ENGINEER_DM, ts: '1700000000.000001' }),
      'because',
    );
    expect(forgedNeed.statusCode).toBe(200);
    await drain();
    expect(await askOf(r.alert.alertId)).toMatchObject({ status: 'ASKED' });
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    const refusals = (await wiring.store.auditFor(r.alert.alertId)).filter((e) => e.result === 'refused');
    expect(refusals.map((e) => e.action)).toEqual(['actor-revoke', 'actor-revoke', 'actor-need']);
  });
});
