import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  EventBridgeEvent,
} from 'aws-lambda';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import type { EmulatedMessage } from '../../../local/shared/slack-emulator-types';
import { keys } from '../../../services/kernel/state';
import { sweep } from '../../../services/kernel/sweep';
import type { AlertItem, ViolationItem } from '../../../services/violations/items';
import type { ReminderItem } from '../../../services/violations/reminders';
import { authorize, createGroup } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { APPROVER, blockActionBody, signedEvent } from '../../support/slack-requests';

type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const REGION = 'us-east-1';
const ONCALL_CHANNEL = 'C0ONCALL';
const context = {} as Context;

let env: HandlerEnv;
let wiring: Wiring;
let cloudtrail: CloudTrailHandler;
let slackHttp: HttpHandler;

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: null, medium: 1h, low: null }
  # The emulator's groups have nothing attached: keep their severity (this is not about exposure).
  exposure: { unattached: keep }
decisions:
  revokers: { users: [${APPROVER.id}] }
  approvers: { userGroups: [S0APPROVERS], users: [${APPROVER.id}] }
  remindBefore: 4m
  escalation: { channel: ${ONCALL_CHANNEL}, userGroup: S0ONCALL }
`),
    slack: { userGroups: { S0APPROVERS: [APPROVER.id], S0ONCALL: ['U0ONCALL'] } },
  });
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(() => env.stop());

interface Raised {
  alertId: string;
  violationId: string;
  ts: string;
  at: number;
}

/** A rule open to the internet on a fresh group, its event delivered: one alert posted. */
async function raise(rule: { fromPort: number; toPort: number }): Promise<Raised> {
  const { groupId } = await createGroup(REGION);
  const [ruleId] = await authorize(REGION, groupId, {
    IpProtocol: 'tcp',
    FromPort: rule.fromPort,
    ToPort: rule.toPort,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  const record = authorizeIngressRecord({
    groupId,
    rules: [{ ruleId: ruleId!, ...rule, cidr: '0.0.0.0/0' }],
  });
  const at = Date.now();
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = await wiring.store.get<AlertItem>(keys.alert(String(record.eventID)));
  return { alertId: alert!.alertId, violationId: alert!.violationIds[0]!, ts: alert!.ts!, at };
}

const critical = () => raise({ fromPort: 0, toPort: 65535 });
/** Port 22 to the world is high, which this config makes notify only. */
const notifyOnly = () => raise({ fromPort: 22, toPort: 22 });

const secondsAfter = (raised: Raised, seconds: number) => new Date(raised.at + seconds * 1000);
const runSweep = (now: Date) => sweep(wiring, dueHandlers(wiring), now);

/** Replies in an alert's thread, as the workspace holds them (a refused call posts nothing). */
function repliesTo(ts: string): EmulatedMessage[] {
  return [...env.slack.messages.values()]
    .filter((m) => m.threadTs === ts)
    .sort((a, b) => Number(a.ts) - Number(b.ts));
}

/** Escalations in the on-call channel that link to the alert. */
function escalationsOf(r: Raised): EmulatedMessage[] {
  return [...env.slack.messages.values()].filter(
    (m) => m.channel === ONCALL_CHANNEL && JSON.stringify(m.blocks).includes(`p${r.ts.replace('.', '')}`),
  );
}

/** The channel's top-level messages since `since` (a count of messages before). */
function channelMessages(): EmulatedMessage[] {
  return [...env.slack.messages.values()]
    .filter((m) => m.channel === ALERT_CHANNEL && !m.threadTs)
    .sort((a, b) => Number(a.ts) - Number(b.ts));
}

const textOf = (m: EmulatedMessage | undefined) => `${String(m?.text)} ${JSON.stringify(m?.blocks)}`;

describe('reminders before the deadline', () => {
  it('replies in the alert’s thread at remindBefore, mentioning the approvers, once', async () => {
    const r = await critical();
    await runSweep(secondsAfter(r, 50));
    expect(repliesTo(r.ts)).toHaveLength(0);

    await runSweep(secondsAfter(r, 62));
    const replies = repliesTo(r.ts);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.channel).toBe(ALERT_CHANNEL);
    const text = textOf(replies[0]);
    expect(text).toContain('auto-revoke in 4 minutes unless someone keeps it');
    expect(text).toContain('<!subteam^S0APPROVERS>');
    expect(text).toContain(`<@${APPROVER.id}>`);

    await runSweep(secondsAfter(r, 120));
    expect(repliesTo(r.ts)).toHaveLength(1);
    const audit = await wiring.store.auditFor(r.violationId);
    expect(audit.filter((e) => e.action === 'remind')).toEqual([
      expect.objectContaining({
        result: 'ok',
        actorType: 'system',
        fromState: 'PENDING',
        toState: 'PENDING',
        details: expect.objectContaining({ threadTs: r.ts, round: 1 }),
      }),
    ]);
  });

  it('says nothing when the rule was decided before its reminder', async () => {
    const r = await critical();
    const body = blockActionBody({
      actionId: 'violation_revoke',
      value: r.violationId,
      user: APPROVER,
      messageTs: r.ts,
      channel: ALERT_CHANNEL,
      responseUrl: env.slack.responseUrl(),
    });
    await slackHttp(signedEvent(body), context);
    await wiring.drainJobs!();
    expect((await wiring.store.get<ViolationItem>(keys.violation(r.violationId)))?.status).toBe('REVOKED');

    await runSweep(secondsAfter(r, 62));
    expect(repliesTo(r.ts)).toHaveLength(0);
    expect(escalationsOf(r)).toHaveLength(0);
    expect((await wiring.store.get<ReminderItem>(keys.reminder(r.violationId)))?.status).toBe('DONE');
  });
});

describe('escalation', () => {
  it('posts a critical rule still pending at its reminder to the escalation channel, with a link, once', async () => {
    const r = await critical();
    await runSweep(secondsAfter(r, 62));
    await runSweep(secondsAfter(r, 90));
    const escalations = escalationsOf(r);
    expect(escalations).toHaveLength(1);
    const text = textOf(escalations[0]);
    expect(text).toContain('<!subteam^S0ONCALL>');
    expect(text).toContain(`https://emulated.slack/archives/${ALERT_CHANNEL}/p${r.ts.replace('.', '')}`);
    const audit = (await wiring.store.auditFor(r.violationId)).filter((e) => e.action === 'escalate');
    expect(audit).toEqual([
      expect.objectContaining({
        result: 'ok',
        details: expect.objectContaining({
          channel: ONCALL_CHANNEL,
          alertTs: r.ts,
          link: expect.stringContaining('/archives/'),
        }),
      }),
    ]);
  });

  it('reminds and escalates exactly once however many sweeps overlap', async () => {
    const r = await critical();
    const now = secondsAfter(r, 62);
    await Promise.all([runSweep(now), runSweep(now), runSweep(now), runSweep(now)]);
    await Promise.all([runSweep(secondsAfter(r, 63)), runSweep(secondsAfter(r, 63))]);
    expect(repliesTo(r.ts)).toHaveLength(1);
    expect(escalationsOf(r)).toHaveLength(1);
    const audit = await wiring.store.auditFor(r.violationId);
    expect(audit.filter((e) => e.action === 'remind')).toHaveLength(1);
    expect(audit.filter((e) => e.action === 'escalate')).toHaveLength(1);
  });

  it('posts a reminder and an escalation Slack refused at the next sweep, still once each', async () => {
    const r = await critical();
    env.slack.failNext('chat.postMessage', { kind: 'error', error: 'internal_error' }, 2);
    await runSweep(secondsAfter(r, 62));
    expect(repliesTo(r.ts)).toHaveLength(0);
    expect(escalationsOf(r)).toHaveLength(0);
    await runSweep(secondsAfter(r, 62 + 31));
    await runSweep(secondsAfter(r, 62 + 200));
    expect(repliesTo(r.ts)).toHaveLength(1);
    expect(escalationsOf(r)).toHaveLength(1);
  });
});

describe('notify-only reminders', () => {
  it('posts one weekly line per channel counting what is undecided, oldest first', async () => {
    const first = await notifyOnly();
    const second = await notifyOnly();
    const before = channelMessages().length;
    const weekly = () =>
      channelMessages()
        .slice(before)
        .filter((m) => m.text.includes('still undecided in this channel'));
    // Twice in the same week: one line.
    await Promise.all([
      runSweep(secondsAfter(second, 7 * 86400 + 5)),
      runSweep(secondsAfter(second, 7 * 86400 + 5)),
    ]);
    await runSweep(secondsAfter(second, 8 * 86400));
    expect(weekly()).toHaveLength(1);
    const text = textOf(weekly()[0]);
    const firstLink = text.indexOf(`p${first.ts.replace('.', '')}`);
    const secondLink = text.indexOf(`p${second.ts.replace('.', '')}`);
    expect(firstLink).toBeGreaterThan(-1);
    expect(secondLink).toBeGreaterThan(firstLink);
    expect(text).toMatch(/\d+ rules still undecided in this channel/);
  });

  it('reminds after remindUndecided, then after a doubling wait, until decided', async () => {
    const r = await notifyOnly();
    const day = 86400;
    await runSweep(secondsAfter(r, day - 60));
    expect(repliesTo(r.ts)).toHaveLength(0);
    await runSweep(secondsAfter(r, day + 1));
    expect(repliesTo(r.ts)).toHaveLength(1);
    expect(textOf(repliesTo(r.ts)[0])).toContain('still undecided after 1 day');
    // The next after two days, then four.
    await runSweep(secondsAfter(r, 3 * day - 60));
    expect(repliesTo(r.ts)).toHaveLength(1);
    await runSweep(secondsAfter(r, 3 * day + 2));
    expect(repliesTo(r.ts)).toHaveLength(2);
    expect(textOf(repliesTo(r.ts)[1])).toContain('still undecided after 3 days');
    await runSweep(secondsAfter(r, 7 * day - 60));
    expect(repliesTo(r.ts)).toHaveLength(2);
    await runSweep(secondsAfter(r, 7 * day + 3));
    expect(repliesTo(r.ts)).toHaveLength(3);
    // A notify-only rule is never escalated unless critical.
    expect(escalationsOf(r)).toHaveLength(0);
  });
});
