import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  EventBridgeEvent,
} from 'aws-lambda';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import type { RecordedCall } from '../../../local/shared/slack-emulator-types';
import { REVOKE_LEASE_SECONDS } from '../../../services/decisions/states';
import type { StoredAuditEntry } from '../../../services/kernel/audit';
import type { Transition } from '../../../services/kernel/state';
import { sweep } from '../../../services/kernel/sweep';
import { AwsCallError } from '../../../services/shared/errors';
import { ruleFingerprint } from '../../../services/shared/ids';
import type { ExceptionItem, ViolationItem } from '../../../services/violations/items';
import { authorize, createGroup, documentClient, liveRuleIds, motoUrl } from '../../support/aws';
import { runCli } from '../../support/cli';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import {
  APPROVER,
  blockActionBody,
  ENGINEER,
  OUTSIDER,
  type SlackUser,
  signedEvent,
  viewSubmissionBody,
} from '../../support/slack-requests';

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
const startedAt = new Date(Date.now() - 1000).toISOString();
/** Every EC2 revoke the product made, by rule ID (the spy still calls the real adapter). */
const revokeCalls: string[] = [];
/** Rule IDs EC2 should refuse to revoke, with how many more times. */
const refuse = new Map<string, number>();

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
  # A group nothing uses keeps its severity here: these tests are about other things (exposure has its own).
  exposure: { unattached: keep }
decisions:
  revokers: { users: [${ENGINEER.id}, ${APPROVER.id}] }
  approvers: { users: [${ENGINEER.id}, ${APPROVER.id}] }
  principalToSlack:
    "${PRINCIPAL}": ${ENGINEER.id}
  keepDurations: [1h, 1d, 7d]
  permanentKeepFor: [low]
  revokeAttempts: 3
`),
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
  const real = wiring.ec2.revokeRules.bind(wiring.ec2);
  wiring.ec2.revokeRules = async (target, groupId, direction, ruleIds) => {
    revokeCalls.push(...ruleIds);
    const left = refuse.get(ruleIds[0]!) ?? 0;
    if (left > 0) {
      refuse.set(ruleIds[0]!, left - 1);
      throw new AwsCallError('RevokeSecurityGroupIngress failed: UnauthorizedOperation: not allowed', {
        awsCode: 'UnauthorizedOperation',
        requestId: 'req-refused',
      });
    }
    return real(target, groupId, direction, ruleIds);
  };
});

afterAll(() => env.stop());

async function getItem<T>(pk: string, sk: string): Promise<T> {
  const out = await documentClient().send(new GetCommand({ TableName: env.tableName, Key: { pk, sk } }));
  return out.Item as T;
}

const violation = (id: string) => getItem<ViolationItem>(`VIOLATION#${id}`, 'VIOLATION');
const drain = () => wiring.drainJobs!();
const revokesOf = (ruleId: string) => revokeCalls.filter((r) => r === ruleId).length;
const minutesFromNow = (m: number) => new Date(Date.now() + m * 60_000);
const runSweep = (now: Date) => sweep(wiring, dueHandlers(wiring), now);

interface Raised {
  groupId: string;
  ruleId: string;
  alertId: string;
  violationId: string;
  ts: string;
  record: Record<string, unknown>;
}

/** A world-open rule on a fresh group, its CloudTrail event delivered: one alert posted. */
async function raise(port = 22, extraPorts: number[] = []): Promise<Raised & { ruleIds: string[] }> {
  const { groupId } = await createGroup(REGION);
  const rules = [];
  for (const p of [port, ...extraPorts]) {
    const [ruleId] = await authorize(REGION, groupId, {
      IpProtocol: 'tcp',
      FromPort: p,
      ToPort: p,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    });
    rules.push({ ruleId: ruleId!, fromPort: p, cidr: '0.0.0.0/0' });
  }
  const record = authorizeIngressRecord({ groupId, rules });
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = await getItem<{ violationIds: string[]; ts: string; alertId: string }>(
    `ALERT#${record.eventID}`,
    'ALERT',
  );
  return {
    groupId,
    ruleId: rules[0]!.ruleId,
    ruleIds: rules.map((r) => r.ruleId),
    alertId: alert.alertId,
    violationId: alert.violationIds[0]!,
    ts: alert.ts,
    record,
  };
}

function press(
  actionId: string,
  value: string,
  options: { user?: SlackUser; ts: string; responseUrl?: string; triggerId?: string; retryNum?: number },
) {
  const body = blockActionBody({
    actionId,
    value,
    user: options.user ?? ENGINEER,
    messageTs: options.ts,
    channel: ALERT_CHANNEL,
    responseUrl: options.responseUrl ?? env.slack.responseUrl(),
    ...(options.triggerId ? { triggerId: options.triggerId } : {}),
  });
  return slackHttp(
    signedEvent(body, options.retryNum === undefined ? {} : { retryNum: options.retryNum }),
    context,
  );
}

function submitKeep(options: {
  metadata: string;
  justification: string;
  duration: string;
  user?: SlackUser;
}) {
  return slackHttp(
    signedEvent(
      viewSubmissionBody({
        callbackId: 'keep_modal',
        privateMetadata: options.metadata,
        user: options.user ?? APPROVER,
        values: {
          keep_justification: {
            justification_input: { type: 'plain_text_input', value: options.justification },
          },
          keep_duration: {
            duration_select: {
              type: 'static_select',
              selected_option: { text: { type: 'plain_text', text: 'x' }, value: options.duration },
            },
          },
        },
      }),
    ),
    context,
  );
}

/** The last chat.update of a message. */
function lastUpdate(ts: string): RecordedCall | undefined {
  return env.slack
    .callsTo('chat.update')
    .filter((c) => c.args.ts === ts)
    .at(-1);
}

function hasButtons(call: RecordedCall | undefined): boolean {
  return ((call?.args.blocks as { type: string }[]) ?? []).some((b) => b.type === 'actions');
}

async function auditOf(subjectId: string): Promise<StoredAuditEntry[]> {
  return wiring.store.auditFor(subjectId);
}

function responsesTo(url: string): Record<string, unknown>[] {
  const id = url.split('/').at(-1);
  return env.slack.responseUrlPosts.filter((p) => p.id === id).map((p) => p.body);
}

describe('deciding through Slack: Revoke', () => {
  it('revokes the rule by click and updates the message in place: outcome, who, when, no buttons', async () => {
    const r = await raise();
    const result = await press('violation_revoke', r.violationId, { ts: r.ts });
    expect(result.statusCode).toBe(200);
    await drain();

    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleId);
    expect(revokesOf(r.ruleId)).toBe(1);
    const v = await violation(r.violationId);
    expect(v).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id, decidedByName: ENGINEER.name });
    const update = lastUpdate(r.ts);
    expect(update).toBeDefined();
    expect(hasButtons(update)).toBe(false);
    const text = JSON.stringify(update!.args.blocks);
    expect(text).toContain('Revoked');
    expect(text).toContain(`<@${ENGINEER.id}>`);
    expect(text).toContain(`<!date^${Math.floor(new Date(v.decidedAt!).getTime() / 1000)}^`);
    const audit = await auditOf(r.violationId);
    expect(audit.at(-1)).toMatchObject({
      fromState: 'REVOKING',
      toState: 'REVOKED',
      actorType: 'slack-user',
      actorId: ENGINEER.id,
      actorName: ENGINEER.name,
      awsRequestId: expect.any(String),
      result: 'ok',
    });
  });

  it('revoke-all revokes every pending rule of the alert', async () => {
    const r = await raise(3389, [5432]);
    await press('alert_revoke_all', r.alertId, { ts: r.ts, user: APPROVER });
    await drain();
    const live = await liveRuleIds(REGION, r.groupId);
    for (const id of r.ruleIds) expect(live).not.toContain(id);
    expect(hasButtons(lastUpdate(r.ts))).toBe(false);
  });

  it('revoke-all on an alert whose rules are all decided is refused on record, with who pressed', async () => {
    const r = await raise(3389, [5432]);
    await press('alert_revoke_all', r.alertId, { ts: r.ts, user: APPROVER });
    await drain();
    const responseUrl = env.slack.responseUrl();

    await press('alert_revoke_all', r.alertId, { ts: r.ts, responseUrl });
    await drain();

    expect(String(responsesTo(responseUrl)[0]?.text)).toContain(
      'Every rule of this alert is already decided.',
    );
    expect((await auditOf(r.alertId)).at(-1)).toMatchObject({
      subjectType: 'alert',
      action: 'revoke',
      result: 'refused',
      actorId: ENGINEER.id,
      details: { code: 'ALREADY_DECIDED' },
    });
  });

  it('an unauthorised click changes nothing: an ephemeral refusal and an audit entry', async () => {
    const r = await raise();
    const responseUrl = env.slack.responseUrl();
    const updatesBefore = env.slack.callsTo('chat.update').length;
    const result = await press('violation_revoke', r.violationId, { ts: r.ts, user: OUTSIDER, responseUrl });
    expect(result.statusCode).toBe(200);
    await drain();

    expect(await liveRuleIds(REGION, r.groupId)).toContain(r.ruleId);
    expect(revokesOf(r.ruleId)).toBe(0);
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
    expect(env.slack.callsTo('chat.update')).toHaveLength(updatesBefore);
    const [reply] = responsesTo(responseUrl);
    expect(reply).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(String(reply!.text)).toContain('not on the list of people who may revoke');
    // Every refusal a person reads ends with its stable code (refusalText in services/kernel/refusal.ts).
    expect(String(reply!.text)).toMatch(/ \(NOT_AUTHORISED\)$/);
    expect((await auditOf(r.violationId)).at(-1)).toMatchObject({
      action: 'revoke',
      result: 'refused',
      actorId: OUTSIDER.id,
      actorName: OUTSIDER.name,
    });
  });

  it.each([
    ['an unknown violation ID', () => 'v-doesnotexist', 'does not know'],
    ['the violation ID of another alert', (other: Raised) => other.violationId, 'another alert'],
  ])('refuses a tampered button value: %s', async (_name, value, sentence) => {
    const r = await raise();
    const other = await raise(3389);
    const responseUrl = env.slack.responseUrl();
    await press('violation_revoke', value(other), { ts: r.ts, responseUrl });
    await drain();
    expect(String(responsesTo(responseUrl)[0]?.text)).toContain(sentence);
    expect(String(responsesTo(responseUrl)[0]?.text)).toMatch(/ \([A-Z_]+\)$/);
    expect(revokesOf(other.ruleId)).toBe(0);
    expect(await violation(other.violationId)).toMatchObject({ status: 'PENDING' });
  });
});

describe('deciding through Slack: Keep', () => {
  it('opens the dialog first, fills it in, and keeps by an approver with justification and expiry; a repeat event raises no alert', async () => {
    const r = await raise();
    const triggerId = `${Date.now()}.keep`;
    const result = await press('violation_keep', r.violationId, { ts: r.ts, user: APPROVER, triggerId });
    expect(result.statusCode).toBe(200);
    const [open] = env.slack.callsTo('views.open').filter((c) => c.args.trigger_id === triggerId);
    expect(open).toBeDefined();
    const opened = open!.args.view as { private_metadata: string; callback_id: string };
    expect(opened.callback_id).toBe('keep_modal');
    await drain();

    // The dialog now names the rule and offers exactly the allowed durations (no "permanent" for high).
    const update = env.slack.callsTo('views.update').at(-1)!;
    const view = update.args.view as {
      blocks: { block_id?: string; element?: { options?: { value: string }[] } }[];
    };
    expect(JSON.stringify(view.blocks)).toContain(r.groupId);
    const durations = view.blocks
      .find((b) => b.block_id === 'keep_duration')!
      .element!.options!.map((o) => o.value);
    expect(durations).toEqual(['3600', '86400', '604800']);

    const justification = 'Partner load test, "phase 2" <!channel> & friends';
    const submitted = await submitKeep({
      metadata: opened.private_metadata,
      justification,
      duration: '86400',
    });
    expect(submitted.statusCode).toBe(200);
    expect(submitted.body ?? '').toBe('');
    await drain();

    const v = await violation(r.violationId);
    expect(v).toMatchObject({ status: 'KEPT', justification, decidedBy: APPROVER.id });
    const keptFor = new Date(v.keptUntil!).getTime() - new Date(v.decidedAt!).getTime();
    expect(keptFor).toBe(86400_000);
    const exception = await getItem<ExceptionItem>(
      `EXCEPTION#${ruleFingerprint(v.account, v.region, v.rule)}`,
      'EXCEPTION',
    );
    expect(exception).toMatchObject({
      status: 'ACTIVE',
      expiresAt: v.keptUntil,
      justification,
      approvedBy: APPROVER.id,
    });
    expect(await liveRuleIds(REGION, r.groupId)).toContain(r.ruleId);
    const message = JSON.stringify(lastUpdate(r.ts)!.args.blocks);
    expect(message).toContain('Kept');
    expect(message).toContain('&lt;!channel&gt; &amp; friends');
    expect(message).not.toContain('<!channel>');
    expect(hasButtons(lastUpdate(r.ts))).toBe(false);
    expect((await auditOf(r.violationId)).at(-1)).toMatchObject({
      action: 'keep',
      toState: 'KEPT',
      justification,
      actorType: 'slack-user',
      actorId: APPROVER.id,
      actorName: APPROVER.name,
    });

    // The same rule changes again (a new CloudTrail event): no alert, no message.
    const posts = env.slack.callsTo('chat.postMessage').length;
    const again = authorizeIngressRecord({
      groupId: r.groupId,
      rules: [{ ruleId: r.ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
    });
    await cloudtrail(eventBridgeEvent(again) as unknown as EventBridgeEvent<string, unknown>);
    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(posts);
    expect(await getItem(`ALERT#${again.eventID}`, 'ALERT')).toBeUndefined();
  });

  it('keep-all keeps every pending rule of the alert with one justification', async () => {
    const r = await raise(3389, [5432]);
    const triggerId = `${Date.now()}.keepall`;
    await press('alert_keep_all', r.alertId, { ts: r.ts, user: APPROVER, triggerId });
    const open = env.slack.callsTo('views.open').find((c) => c.args.trigger_id === triggerId)!;
    await drain();
    const summary = JSON.stringify(env.slack.callsTo('views.update').at(-1)!.args.view);
    expect(summary).toContain('2 pending rules');
    const metadata = (open.args.view as { private_metadata: string }).private_metadata;
    await submitKeep({ metadata, justification: 'migration window', duration: '3600' });
    await drain();
    const alert = await getItem<{ violationIds: string[] }>(`ALERT#${r.alertId}`, 'ALERT');
    for (const id of alert.violationIds) {
      expect(await violation(id)).toMatchObject({ status: 'KEPT', justification: 'migration window' });
    }
    expect(await liveRuleIds(REGION, r.groupId)).toEqual(expect.arrayContaining(r.ruleIds));
    expect(hasButtons(lastUpdate(r.ts))).toBe(false);
  });

  it('answers an empty justification or a duration it did not offer inline, and changes nothing', async () => {
    const r = await raise();
    const metadata = JSON.stringify({ violationIds: [r.violationId], channel: ALERT_CHANNEL, ts: r.ts });
    const empty = await submitKeep({ metadata, justification: '   ', duration: '3600' });
    expect(empty.statusCode).toBe(200);
    expect(JSON.parse(empty.body!)).toEqual({
      response_action: 'errors',
      errors: { keep_justification: expect.stringContaining('Say why') },
    });
    const odd = await submitKeep({ metadata, justification: 'x', duration: '99' });
    expect(JSON.parse(odd.body!).errors).toEqual({ keep_duration: expect.any(String) });
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
  });

  it.each([
    ['someone who is not an approver', OUTSIDER, '86400', 'not on the list of people who may keep'],
    ['the person whose AWS identity made the change', ENGINEER, '86400', 'your own AWS identity'],
    ['a permanent keep of a high rule', APPROVER, 'permanent', 'may not be kept permanently'],
  ])('refuses %s on submit: ephemeral message and audit entry', async (_name, user, duration, sentence) => {
    const r = await raise();
    const metadata = JSON.stringify({ violationIds: [r.violationId], channel: ALERT_CHANNEL, ts: r.ts });
    const submitted = await submitKeep({ metadata, justification: 'please', duration, user });
    expect(submitted.statusCode).toBe(200);
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
    const ephemeral = env.slack
      .callsTo('chat.postEphemeral')
      .filter((c) => c.args.user === user.id)
      .at(-1);
    expect(ephemeral?.args).toMatchObject({
      channel: ALERT_CHANNEL,
      text: expect.stringContaining(sentence),
    });
    expect(String(ephemeral?.args.text)).toMatch(/ \([A-Z_]+\)$/);
    expect((await auditOf(r.violationId)).at(-1)).toMatchObject({
      action: 'keep',
      result: 'refused',
      actorId: user.id,
    });
  });

  it('replaces the dialog with the reason when a non-approver opens it', async () => {
    const r = await raise();
    await press('violation_keep', r.violationId, {
      ts: r.ts,
      user: OUTSIDER,
      triggerId: `${Date.now()}.outsider`,
    });
    await drain();
    const update = env.slack.callsTo('views.update').at(-1)!;
    const view = update.args.view as { submit?: unknown; blocks: unknown[] };
    expect(view.submit).toBeUndefined();
    expect(JSON.stringify(view.blocks)).toContain('not on the list of people who may keep');
    expect((await auditOf(r.violationId)).at(-1)).toMatchObject({ result: 'refused', actorId: OUTSIDER.id });
  });
});

describe('the clock', () => {
  it('revokes with actor "timeout" when the deadline passes', async () => {
    const r = await raise();
    await runSweep(minutesFromNow(16));
    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleId);
    expect(await violation(r.violationId)).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'timeout' });
    expect((await auditOf(r.violationId)).at(-1)).toMatchObject({
      actorType: 'timeout',
      actorId: 'timeout',
      toState: 'AUTO_REVOKED',
    });
    const update = lastUpdate(r.ts);
    expect(hasButtons(update)).toBe(false);
    expect(JSON.stringify(update!.args.blocks)).toContain('Auto-revoked');
  });

  it('a revoke EC2 refuses is retried with backoff, then FAILED with an alert in the thread', async () => {
    const r = await raise();
    refuse.set(r.ruleId, 10);
    await press('violation_revoke', r.violationId, { ts: r.ts });
    await drain();
    expect(await violation(r.violationId)).toMatchObject({ status: 'REVOKE_RETRY', revokeAttempts: 1 });
    expect(JSON.stringify(lastUpdate(r.ts)!.args.blocks)).toContain('retrying');

    await runSweep(minutesFromNow(10));
    expect(await violation(r.violationId)).toMatchObject({ status: 'REVOKE_RETRY', revokeAttempts: 2 });
    await runSweep(minutesFromNow(20));
    const v = await violation(r.violationId);
    expect(v).toMatchObject({ status: 'FAILED', revokeAttempts: 3 });
    expect(v.lastError).toContain('UnauthorizedOperation');
    expect(revokesOf(r.ruleId)).toBe(3);
    expect(await liveRuleIds(REGION, r.groupId)).toContain(r.ruleId);

    const notice = env.slack.callsTo('chat.postMessage').find((c) => c.args.thread_ts === r.ts);
    expect(notice?.args).toMatchObject({ channel: ALERT_CHANNEL });
    expect(String(notice!.args.text)).toContain(r.ruleId);
    expect(String(notice!.args.text)).toContain('UnauthorizedOperation');
    const errors = (await auditOf(r.violationId)).filter((a) => a.result === 'error');
    expect(errors.map((e) => e.toState)).toEqual(['REVOKE_RETRY', 'REVOKE_RETRY', 'FAILED']);
    expect(errors[0]).toMatchObject({
      awsRequestId: 'req-refused',
      error: expect.stringContaining('UnauthorizedOperation'),
    });

    // Another sweep leaves a FAILED violation alone.
    await runSweep(minutesFromNow(120));
    expect(revokesOf(r.ruleId)).toBe(3);
  });

  it('reconciles a claim whose process died after the EC2 revoke: recorded once, as REVOKED', async () => {
    const r = await raise();
    const realTransition = wiring.store.transition.bind(wiring.store);
    wiring.store.transition = (async (t: Transition) => {
      if (t.key.pk === `VIOLATION#${r.violationId}` && t.to === 'REVOKED')
        throw new Error('Lambda timed out');
      return realTransition(t);
    }) as typeof wiring.store.transition;
    try {
      await press('violation_revoke', r.violationId, { ts: r.ts });
      await drain();
    } finally {
      wiring.store.transition = realTransition;
    }
    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleId);
    expect(await violation(r.violationId)).toMatchObject({ status: 'REVOKING', dueKind: 'RECONCILE' });

    // Before the lease runs out nothing happens; after it, two overlapping sweeps record it once.
    await runSweep(minutesFromNow(1));
    expect((await violation(r.violationId)).status).toBe('REVOKING');
    const later = new Date(Date.now() + (REVOKE_LEASE_SECONDS + 30) * 1000);
    await Promise.all([runSweep(later), runSweep(later)]);
    expect(await violation(r.violationId)).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
    expect(revokesOf(r.ruleId)).toBe(1);
    const finals = (await auditOf(r.violationId)).filter((a) => a.toState === 'REVOKED');
    expect(finals).toHaveLength(1);
    expect(finals[0]!.details).toMatchObject({ reconciled: true });
    expect(JSON.stringify(lastUpdate(r.ts)!.args.blocks)).toContain('Revoked');
  });

  it('re-opens an expired exception as a fresh PENDING decision with a new message and deadline', async () => {
    const r = await raise();
    const metadata = JSON.stringify({ violationIds: [r.violationId], channel: ALERT_CHANNEL, ts: r.ts });
    await submitKeep({ metadata, justification: 'one hour only', duration: '3600' });
    await drain();
    const kept = await violation(r.violationId);
    expect(kept.status).toBe('KEPT');
    const posts = env.slack.callsTo('chat.postMessage').length;

    const sweepAt = new Date(new Date(kept.keptUntil!).getTime() + 60_000);
    await runSweep(sweepAt);
    const exception = await getItem<ExceptionItem>(
      `EXCEPTION#${ruleFingerprint(kept.account, kept.region, kept.rule)}`,
      'EXCEPTION',
    );
    expect(exception).toMatchObject({ status: 'EXPIRED' });
    const reopened = (await auditOf(r.violationId)).find((a) => a.action === 'expire');
    const freshId = (reopened!.details as { reopenedAs: string }).reopenedAs;
    const fresh = await violation(freshId);
    expect(fresh).toMatchObject({
      status: 'PENDING',
      dueKind: 'DEADLINE',
      rule: expect.objectContaining({ ruleId: r.ruleId }),
    });
    expect(new Date(fresh.deadline!).getTime()).toBe(sweepAt.getTime() + 15 * 60_000);
    const newPosts = env.slack.callsTo('chat.postMessage').slice(posts);
    const post = newPosts.find((c) => JSON.stringify(c.args.blocks).includes(freshId));
    expect(post).toBeDefined();
    expect(post!.args.thread_ts).toBeUndefined();
    expect((await violation(r.violationId)).status).toBe('KEPT');
  });
});

describe('races and retries: exactly one EC2 call and one outcome', () => {
  it('a click racing the sweeper', async () => {
    const r = await raise();
    // The deadline falls due just as someone clicks (a sweep's clock far ahead would also see the
    // click's fresh REVOKING lease as expired, which no real sweep can).
    const past = new Date(Date.now() - 1000).toISOString();
    await wiring.store.patch(
      { pk: `VIOLATION#${r.violationId}`, sk: 'VIOLATION' },
      { deadline: past },
      {
        kind: 'DEADLINE',
        at: past,
      },
    );
    await Promise.all([
      press('violation_revoke', r.violationId, { ts: r.ts }).then(drain),
      runSweep(new Date()),
    ]);
    await drain();
    expect(revokesOf(r.ruleId)).toBe(1);
    const v = await violation(r.violationId);
    expect(['REVOKED', 'AUTO_REVOKED']).toContain(v.status);
    const finals = (await auditOf(r.violationId)).filter(
      (a) => a.toState === 'REVOKED' || a.toState === 'AUTO_REVOKED',
    );
    expect(finals).toHaveLength(1);
    expect(finals[0]!.toState).toBe(v.status);
  });

  it('two clicks racing each other', async () => {
    const r = await raise();
    const urls = [env.slack.responseUrl(), env.slack.responseUrl()];
    await Promise.all([
      press('violation_revoke', r.violationId, { ts: r.ts, responseUrl: urls[0]! }),
      press('violation_revoke', r.violationId, { ts: r.ts, user: APPROVER, responseUrl: urls[1]! }),
    ]);
    await drain();
    expect(revokesOf(r.ruleId)).toBe(1);
    expect((await violation(r.violationId)).status).toBe('REVOKED');
    const claims = (await auditOf(r.violationId)).filter((a) => a.toState === 'REVOKING');
    expect(claims).toHaveLength(1);
    // The loser is told someone else got there first.
    const told = urls.flatMap(responsesTo).map((b) => String(b.text));
    expect(told.some((t) => /already (being )?revoked|already decided/.test(t))).toBe(true);
  });

  it('a Revoke pressed after the rule was decided is refused on record, with who pressed', async () => {
    const r = await raise();
    await press('violation_revoke', r.violationId, { ts: r.ts });
    await drain();
    const responseUrl = env.slack.responseUrl();

    await press('violation_revoke', r.violationId, { ts: r.ts, user: APPROVER, responseUrl });
    await drain();

    expect(revokesOf(r.ruleId)).toBe(1);
    expect(
      responsesTo(responseUrl)
        .map((b) => String(b.text))
        .join('\n'),
    ).toContain('already decided: revoked');
    expect((await auditOf(r.violationId)).at(-1)).toMatchObject({
      action: 'revoke',
      fromState: 'REVOKED',
      toState: null,
      result: 'refused',
      actorId: APPROVER.id,
      details: { code: 'ALREADY_DECIDED' },
    });
  });

  it('a Slack retry of the same click', async () => {
    const r = await raise();
    const responseUrl = env.slack.responseUrl();
    const [first, retry] = await Promise.all([
      press('violation_revoke', r.violationId, { ts: r.ts, responseUrl }),
      press('violation_revoke', r.violationId, { ts: r.ts, responseUrl, retryNum: 1 }),
    ]);
    expect(first.statusCode).toBe(200);
    expect(retry).toMatchObject({ statusCode: 200, headers: { 'x-slack-no-retry': '1' } });
    await drain();
    expect(revokesOf(r.ruleId)).toBe(1);
    expect((await violation(r.violationId)).status).toBe('REVOKED');
  });

  it('forged and unsigned clicks get 401 and change nothing', async () => {
    const r = await raise();
    const body = blockActionBody({ actionId: 'violation_revoke', value: r.violationId, messageTs: r.ts });
    expect((await slackHttp(signedEvent(body, { secret: 'wrong' }), context)).statusCode).toBe(401);
    expect((await slackHttp(signedEvent(body, { signature: null }), context)).statusCode).toBe(401);
    const stale = signedEvent(body, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect((await slackHttp(stale, context)).statusCode).toBe(401);
    await drain();
    expect(revokesOf(r.ruleId)).toBe(0);
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING', version: 1 });
  });
});

describe('audit export', () => {
  it('lists every transition of a decision in order (jsonl and csv)', async () => {
    const r = await raise();
    await press('violation_revoke', r.violationId, { ts: r.ts });
    await drain();
    const cliEnv = { SG_WARDEN_TABLE: env.tableName, AWS_ENDPOINT_URL: motoUrl(), AWS_REGION: REGION };
    const out = runCli(['audit', 'export', '--since', startedAt], { env: cliEnv });
    expect(out.code).toBe(0);
    const entries = out.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as StoredAuditEntry);
    const times = entries.map((e) => e.at);
    expect(times).toEqual([...times].sort());
    const mine = entries.filter((e) => e.subjectId === r.violationId);
    expect(mine.map((e) => [e.fromState, e.toState])).toEqual([
      [null, 'PENDING'],
      ['PENDING', 'REVOKING'],
      ['REVOKING', 'REVOKED'],
    ]);
    expect(mine[0]).toMatchObject({
      actorType: 'aws-principal',
      actorId: PRINCIPAL,
      actorName: 'AWSReservedSSO_Admin_0123/dev@example.com',
    });
    expect(mine[2]).toMatchObject({
      actorId: ENGINEER.id,
      actorName: ENGINEER.name,
      awsRequestId: expect.any(String),
    });
    // Every entry the table holds for this violation is in the export.
    expect(mine).toHaveLength((await auditOf(r.violationId)).length);

    const csv = runCli(['audit', 'export', '--since', startedAt, '--format', 'csv'], { env: cliEnv });
    expect(csv.code).toBe(0);
    const rows = csv.stdout.split('\r\n').filter((l) => l.split(',')[3] === r.violationId);
    expect(rows).toHaveLength(3);
    expect(rows[2]).toContain(',REVOKING,REVOKED,slack-user,');
  });
});
