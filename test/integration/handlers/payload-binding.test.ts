import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  EventBridgeEvent,
} from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import type { AlertItem, ViolationItem } from '../../../services/violations/items';
import { authorize, createGroup, liveRuleIds } from '../../support/aws';
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
 * Issue #19, case 7 ("every payload bound to its message") and case 5 for keep durations, against the
 * real Slack door and worker, moto and the Slack emulator.
 */

type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const REGION = 'us-east-1';
const PRINCIPAL = 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/dev@example.com';
const context = {} as Context;

let env: HandlerEnv;
let slackHttp: HttpHandler;
let cloudtrail: CloudTrailHandler;
let wiring: Wiring;

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
decisions:
  revokers: { users: [${ENGINEER.id}, ${APPROVER.id}] }
  approvers: { users: [${APPROVER.id}] }
  keepDurations: [1h, 1d]
  permanentKeepFor: [low]
`),
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(() => env.stop());

interface Raised {
  groupId: string;
  ruleId: string;
  alertId: string;
  violationId: string;
  ts: string;
}

/** SSH open to the world on a fresh group, its CloudTrail event delivered: one alert posted. */
async function raise(): Promise<Raised> {
  const { groupId } = await createGroup(REGION);
  const [ruleId] = await authorize(REGION, groupId, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  const record = authorizeIngressRecord({
    groupId,
    rules: [{ ruleId: ruleId!, fromPort: 22, cidr: '0.0.0.0/0' }],
    principalArn: PRINCIPAL,
  });
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = (await wiring.store.get<AlertItem>({ pk: `ALERT#${record.eventID}`, sk: 'ALERT' }))!;
  return {
    groupId,
    ruleId: ruleId!,
    alertId: alert.alertId,
    violationId: alert.violationIds[0]!,
    ts: alert.ts!,
  };
}

const violation = async (id: string) =>
  (await wiring.store.get<ViolationItem>({ pk: `VIOLATION#${id}`, sk: 'VIOLATION' }))!;
const drain = () => wiring.drainJobs!();
const lastAudit = async (subjectId: string) => (await wiring.store.auditFor(subjectId)).at(-1);

function submitKeep(options: { metadata: string; duration?: string; user?: SlackUser }) {
  return slackHttp(
    signedEvent(
      viewSubmissionBody({
        callbackId: 'keep_modal',
        privateMetadata: options.metadata,
        user: options.user ?? APPROVER,
        values: {
          keep_justification: {
            justification_input: { type: 'plain_text_input', value: 'partner load test' },
          },
          keep_duration: {
            duration_select: {
              type: 'static_select',
              selected_option: { text: { type: 'plain_text', text: 'x' }, value: options.duration ?? '3600' },
            },
          },
        },
      }),
    ),
    context,
  );
}

/** A signed button press whose payload names no message: no channel, no message, no container ts. */
function pressUnbound(
  actionId: string,
  value: string,
  user: SlackUser,
  responseUrl: string,
  triggerId: string,
) {
  const form = new URLSearchParams(blockActionBody({ actionId, value, user, responseUrl, triggerId }));
  const payload = JSON.parse(form.get('payload')!) as Record<string, unknown>;
  delete payload.channel;
  delete payload.message;
  payload.container = { type: 'view', view_id: 'V0ELSEWHERE' };
  return slackHttp(
    signedEvent(new URLSearchParams({ payload: JSON.stringify(payload) }).toString()),
    context,
  );
}

function ephemeralsTo(user: SlackUser): string[] {
  return env.slack
    .callsTo('chat.postEphemeral')
    .filter((c) => c.args.user === user.id)
    .map((c) => String(c.args.text));
}

describe('case 7: every payload bound to its message', () => {
  it('case 7: a signed Keep submission whose private_metadata names another alert’s violation is refused, audited, and the violation stays PENDING', async () => {
    const mine = await raise();
    const other = await raise();
    const before = ephemeralsTo(APPROVER).length;
    // The dialog claims to be about my alert and message, but names the other alert's rule.
    const forged = JSON.stringify({
      alertId: mine.alertId,
      violationIds: [other.violationId],
      channel: ALERT_CHANNEL,
      ts: mine.ts,
    });
    const submitted = await submitKeep({ metadata: forged });
    expect(submitted.statusCode).toBe(200);
    await drain();

    expect(await violation(other.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
    expect(await violation(mine.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
    expect(ephemeralsTo(APPROVER).slice(before).join('\n')).toContain('rule of another alert');
    expect(await lastAudit(other.violationId)).toMatchObject({
      action: 'keep',
      result: 'refused',
      actorId: APPROVER.id,
      details: { code: 'WRONG_MESSAGE' },
    });
    expect(await liveRuleIds(REGION, other.groupId)).toContain(other.ruleId);
  });

  it.each([
    ['no channel or ts at all', (v: Raised) => ({ violationIds: [v.violationId] })],
    ['an empty channel and ts', (v: Raised) => ({ violationIds: [v.violationId], channel: '', ts: '' })],
    ['a channel but no ts', (v: Raised) => ({ violationIds: [v.violationId], channel: ALERT_CHANNEL })],
  ])(
    'case 7: a Keep submission whose binding has %s is answered in the dialog, audited, and keeps nothing',
    async (_name, binding) => {
      const other = await raise();
      const submitted = await submitKeep({ metadata: JSON.stringify(binding(other)) });
      expect(submitted.statusCode).toBe(200);
      expect(JSON.parse(submitted.body!)).toEqual({
        response_action: 'errors',
        errors: { keep_justification: expect.stringContaining('does not say which alert it belongs to') },
      });
      await drain();

      expect(await violation(other.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
      expect(await lastAudit(other.violationId)).toMatchObject({
        action: 'keep',
        result: 'refused',
        actorId: APPROVER.id,
        details: { code: 'WRONG_MESSAGE' },
      });
    },
  );

  it('case 7: a Keep-all submission without its message, or a dialog that names nothing, is refused on record', async () => {
    const alert = await raise();
    const all = await submitKeep({ metadata: JSON.stringify({ alertId: alert.alertId }) });
    expect(JSON.parse(all.body!).response_action).toBe('errors');
    const nothing = await submitKeep({ metadata: '', user: ENGINEER });
    expect(JSON.parse(nothing.body!).response_action).toBe('errors');
    await drain();

    expect(await violation(alert.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
    expect(await lastAudit(alert.alertId)).toMatchObject({
      subjectType: 'alert',
      action: 'keep',
      result: 'refused',
      actorId: APPROVER.id,
    });
    expect(await lastAudit(ENGINEER.id)).toMatchObject({
      subjectType: 'request',
      action: 'keep',
      result: 'refused',
      details: { code: 'NOT_FOUND' },
    });
  });

  it('case 7: a Revoke press whose payload names no message is refused and audited; the rule stays', async () => {
    const r = await raise();
    const responseUrl = env.slack.responseUrl();
    const result = await pressUnbound(
      'violation_revoke',
      r.violationId,
      ENGINEER,
      responseUrl,
      `${Date.now()}.r`,
    );
    expect(result.statusCode).toBe(200);
    await drain();

    expect(await liveRuleIds(REGION, r.groupId)).toContain(r.ruleId);
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
    const id = responseUrl.split('/').at(-1);
    const reply = env.slack.responseUrlPosts.find((p) => p.id === id)?.body;
    expect(String(reply?.text)).toContain('does not say which alert message it came from');
    expect(await lastAudit(r.violationId)).toMatchObject({
      action: 'revoke',
      result: 'refused',
      actorId: ENGINEER.id,
      details: { code: 'WRONG_MESSAGE' },
    });
  });

  it('case 7: a Keep press whose payload names no message opens a dialog that only says why not', async () => {
    const r = await raise();
    const triggerId = `${Date.now()}.unbound-keep`;
    await pressUnbound('violation_keep', r.violationId, APPROVER, env.slack.responseUrl(), triggerId);
    const open = env.slack.callsTo('views.open').find((c) => c.args.trigger_id === triggerId);
    expect(open).toBeDefined();
    const opened = JSON.parse((open!.args.view as { private_metadata: string }).private_metadata);
    expect(opened).toEqual({ violationIds: [r.violationId] });
    await drain();

    const update = env.slack.callsTo('views.update').at(-1)!;
    const view = update.args.view as { submit?: unknown; blocks: unknown[] };
    expect(view.submit).toBeUndefined();
    expect(JSON.stringify(view.blocks)).toContain('does not say which alert message it came from');
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
    expect(await lastAudit(r.violationId)).toMatchObject({ action: 'keep', result: 'refused' });
  });

  it('case 7: a Keep dialog opened from the alert carries its full binding, and keeps', async () => {
    const r = await raise();
    const triggerId = `${Date.now()}.bound-keep`;
    await slackHttp(
      signedEvent(
        blockActionBody({
          actionId: 'violation_keep',
          value: r.violationId,
          user: APPROVER,
          channel: ALERT_CHANNEL,
          messageTs: r.ts,
          triggerId,
        }),
      ),
      context,
    );
    await drain();
    const update = env.slack.callsTo('views.update').at(-1)!;
    const metadata = (update.args.view as { private_metadata: string }).private_metadata;
    expect(JSON.parse(metadata)).toEqual({
      violationIds: [r.violationId],
      alertId: r.alertId,
      channel: ALERT_CHANNEL,
      ts: r.ts,
    });
    await submitKeep({ metadata });
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'KEPT', decidedBy: APPROVER.id });
  });
});

describe('case 5: typed names reach only own keys (keep durations)', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'case 5: a Keep submitted with the duration %s is answered in the dialog and keeps nothing',
    async (name) => {
      const r = await raise();
      const metadata = JSON.stringify({ violationIds: [r.violationId], channel: ALERT_CHANNEL, ts: r.ts });
      const submitted = await submitKeep({ metadata, duration: name });
      expect(submitted.statusCode).toBe(200);
      expect(JSON.parse(submitted.body!)).toEqual({
        response_action: 'errors',
        errors: { keep_duration: 'Pick one of the offered durations.' },
      });
      await drain();
      expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
    },
  );
});
